"""The audit trail: every change to a money-bearing record says who and when."""

import json
from collections.abc import Sequence

from django.db import connection, models
from django.utils import timezone

from .models import AuditEntry, Grant


def actor_name(actor, actor_label: str = "") -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.get_username()
    return actor_label or "system"


def log(
    action: str,
    obj: models.Model,
    *,
    grant: Grant | None = None,
    actor=None,
    actor_label: str = "",
    before=None,
    after=None,
) -> AuditEntry:
    saved = entry(
        action, obj, grant=grant, actor=actor, actor_label=actor_label, before=before, after=after
    )
    saved.save()
    return saved


def entry(
    action: str,
    obj: models.Model,
    *,
    grant: Grant | None = None,
    actor=None,
    actor_label: str = "",
    before=None,
    after=None,
) -> AuditEntry:
    """An entry like `log`'s, not yet saved: for a service that writes many at once
    (`AuditEntry.objects.bulk_create`) in the transaction of its change."""
    return entry_of(
        action,
        obj._meta.model,  # not type(obj): `request.user` is a lazy object standing for a User
        obj.pk,
        str(obj),
        grant=grant,
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=after,
    )


def entry_of(
    action: str,
    model: type[models.Model],
    pk,
    text: str,
    *,
    grant: Grant | None = None,
    actor=None,
    actor_label: str = "",
    before=None,
    after=None,
) -> AuditEntry:
    """`entry` for a record a service holds as values, not as an instance: its model, its
    primary key and what `str()` of it would say."""
    return AuditEntry(
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_name(actor, actor_label),
        action=action,
        object_type=model._meta.label_lower,
        object_id=str(pk),
        object_repr=text[:300],
        grant=grant,
        before=before,
        after=after,
    )


def log_many(
    action: str,
    model: type[models.Model],
    changes: Sequence[tuple],
    *,
    grant: Grant | None = None,
    actor=None,
    actor_label: str = "",
) -> int:
    """`log` for many records of one model, one entry each, with one statement: for a service
    that changes hundreds of records it holds as values. `changes` are `(primary key, what
    str() of the record says, before, after)`. Returns how many entries were written."""
    if not changes:
        return 0
    if connection.vendor != "postgresql":
        AuditEntry.objects.bulk_create(
            [
                entry_of(
                    action,
                    model,
                    pk,
                    text,
                    grant=grant,
                    actor=actor,
                    actor_label=actor_label,
                    before=before,
                    after=after,
                )
                for pk, text, before, after in changes
            ],
            batch_size=500,
        )
        return len(changes)
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    # The same values `entry_of` gives each entry, the varying ones as one array per column.
    ids, texts, befores, afters = [], [], [], []
    for pk, text, before, after in changes:
        ids.append(str(pk))
        texts.append(text[:300])
        befores.append(None if before is None else json.dumps(before))
        afters.append(None if after is None else json.dumps(after))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditEntry._meta.db_table} (at, actor_id, actor_label, action, "
            "object_type, object_id, object_repr, grant_id, before, after) "
            "SELECT %s, %s, %s, %s, %s, v.id, v.text, %s, v.before, v.after "
            "FROM unnest(%s::text[], %s::text[], %s::jsonb[], %s::jsonb[]) "
            "AS v(id, text, before, after)",
            [
                timezone.now(),
                user.pk if user else None,
                actor_name(actor, actor_label),
                action,
                model._meta.label_lower,
                grant.pk if grant else None,
                ids,
                texts,
                befores,
                afters,
            ],
        )
        return cursor.rowcount
