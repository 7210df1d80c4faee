"""The audit trail: every change to a money-bearing record says who and when."""

from django.db import models

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
        type(obj),
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
