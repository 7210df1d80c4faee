"""Restoring a checked archive: one grant beside the others, or the whole database."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.files.base import ContentFile
from django.core.management.color import no_style
from django.db import connection, models, transaction

from allocations import audit
from allocations.models import (
    Agreement,
    AuditEntry,
    Grant,
    Organisation,
    PermittedUse,
    Unit,
)
from applications.books import check_all
from applications.models import (
    Application,
    Call,
    Notice,
)

from ..models import (
    Need,
    NeedItem,
    Roadmap,
    StrategicArea,
)
from .archive import Archive, migrations
from .records import SHARED, BackupError, NeedUse, per_grant_models, whole_models


# ---------------------------------------------------------------- restoring
@dataclass
class Restored:
    """What a restore wrote."""

    scope: str
    grants: list[str]
    counts: dict[str, int]
    files: int
    kept_ids: bool
    created_users: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    breaches: dict[str, list] = field(default_factory=dict)


def restore(
    archive: Archive,
    *,
    replace: bool = False,
    create_users: bool = False,
    actor_label: str = "restore",
) -> Restored:
    """Write a checked archive into this database and its file storage. All or nothing."""
    _check_schema(archive)
    saved: list[tuple] = []
    try:
        with transaction.atomic():
            if archive.scope == "grant":
                result = _restore_grant(archive, replace, create_users, saved)
            else:
                result = _restore_all(archive, saved)
            for slug in result.grants:
                grant = Grant.objects.get(slug=slug)
                audit.log(
                    "grant.restored",
                    grant,
                    grant=grant,
                    actor_label=actor_label,
                    after={
                        "archive": archive.path.name,
                        "made": archive.manifest["created_at"],
                        "scope": archive.scope,
                        "kept_ids": result.kept_ids,
                    },
                )
            result.breaches = check_all() if archive.scope == "all" else check_all(result.grants[0])
            result.files = len(saved)
    except BaseException:
        for storage, name in saved:
            storage.delete(name)
        raise
    return result


def _check_schema(archive: Archive) -> None:
    here = migrations()
    newer = [
        f"{app}.{name}"
        for app, names in archive.manifest["migrations"].items()
        for name in names
        if name not in here.get(app, [])
    ]
    if newer:
        raise BackupError(
            f"{archive.path} was made by a newer version of stimulans (migrations "
            f"{', '.join(newer[:5])} are not applied here): upgrade and migrate first"
        )


def _sections(records: list[dict]) -> list[tuple[type[models.Model], list[dict]]]:
    """The records grouped by model, in the archive's order."""
    sections: list[tuple[type[models.Model], list[dict]]] = []
    for record in records:
        try:
            model = apps.get_model(record["model"])
        except (LookupError, ValueError):
            raise BackupError(
                f"the archive holds records of an unknown model {record['model']}"
            ) from None
        if not sections or sections[-1][0] is not model:
            sections.append((model, []))
        sections[-1][1].append(record)
    return sections


def _objects(records: list[dict]) -> list[models.Model]:
    try:
        return [d.object for d in serializers.deserialize("python", records)]
    except serializers.base.DeserializationError as exc:
        raise BackupError(f"a record cannot be read back: {exc}") from None


def _insert(obj: models.Model) -> None:
    # `raw`: the stored moments (created at, recorded at) are kept, not set to now.
    obj.save_base(raw=True, force_insert=True)


# ---- the whole database


def _restore_all(archive: Archive, saved: list) -> Restored:
    User = get_user_model()
    holding = [m._meta.verbose_name_plural for m in whole_models() if m._base_manager.exists()]
    if holding:
        raise BackupError(
            "this database already holds records (" + ", ".join(map(str, holding[:3])) + "); a "
            "whole-database archive is restored into an empty database: create one, run "
            "`manage.py migrate`, and restore again"
        )
    names = [u["fields"]["username"] for u in archive.users["users"]]
    taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
    if taken:
        raise BackupError(
            f"these users exist here already and would be overwritten: {', '.join(taken)}"
        )
    for item in serializers.deserialize("python", archive.users["groups"]):
        item.save()
    for item in serializers.deserialize("python", archive.users["users"]):
        item.save()  # with the password hash they had: a whole backup is restored as it was
    counts: dict[str, int] = {}
    restored_models = []
    for model, records in _sections(archive.records):
        for obj in _objects(records):
            _store_files(archive, obj, saved)
            _insert(obj)
        counts[model._meta.label_lower] = counts.get(model._meta.label_lower, 0) + len(records)
        restored_models.append(model)
    _reset_sequences(restored_models)
    return Restored(
        scope="all",
        grants=list(Grant.objects.order_by("slug").values_list("slug", flat=True)),
        counts=counts,
        files=0,
        kept_ids=True,
        created_users=names,
    )


def _reset_sequences(restored: list[type[models.Model]]) -> None:
    """Records inserted with their ids leave the id sequences behind; move them past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), restored)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _store_files(archive: Archive, obj: models.Model, saved: list) -> None:
    """Put the record's files back in their storage; the record names where they went."""
    for f in obj._meta.concrete_fields:
        if not isinstance(f, models.FileField):
            continue
        name = getattr(obj, f.attname).name if getattr(obj, f.attname) else ""
        if not name or name in archive.manifest["missing_files"]:
            continue
        stored = f.storage.save(name, ContentFile(archive.file(name)))
        saved.append((f.storage, stored))
        setattr(obj, f.attname, stored)


# ---- one grant


def _restore_grant(archive: Archive, replace: bool, create_users: bool, saved: list) -> Restored:
    slug = archive.manifest["grant"]
    sections = _sections(archive.records)
    foreign = sorted({m._meta.label_lower for m, _r in sections} - _labels(per_grant_models()))
    if foreign:
        raise BackupError(
            f"a grant's archive holds records that are no grant's: {', '.join(foreign)}"
        )
    existing = Grant.objects.select_for_update().filter(slug=slug).first()
    if existing is not None:
        if not replace:
            raise BackupError(
                f"grant '{slug}' exists in this database; use --replace to restore it over it"
            )
        refusal = existing.replace_refusal()
        if refusal:
            raise BackupError(refusal)
        _delete_undecided(existing)
    created_users = _users(archive.users.get("usernames", []), create_users)
    shared = [(m, r) for m, r in sections if m in SHARED]
    owned = [(m, r) for m, r in sections if m not in SHARED]
    mapping: dict[type[models.Model], dict] = defaultdict(dict)
    warnings: list[str] = []
    counts: dict[str, int] = {}
    for model, records in shared:
        for obj in _objects(records):
            _restore_shared(model, obj, archive.records, mapping, warnings)
        counts[model._meta.label_lower] = len(records)
    keep = not any(
        model._base_manager.filter(pk__in=[r["pk"] for r in records]).exists()
        for model, records in owned
    )
    for model, records in owned:
        objects = _objects(records)
        self_fk = next(
            (f for f in model._meta.concrete_fields if f.is_relation and f.related_model is model),
            None,
        )
        if self_fk is not None:
            objects = _parents_first(objects, self_fk)
        for obj in objects:
            old = obj.pk
            _remap(obj, mapping)
            _remap_generic(obj, mapping)
            _store_files(archive, obj, saved)
            if not keep:
                obj.pk = None
            _insert(obj)
            mapping[model][old] = obj.pk
        counts[model._meta.label_lower] = len(records)
    if keep:
        _reset_sequences([model for model, _records in owned])
    return Restored(
        scope="grant",
        grants=[slug],
        counts=counts,
        files=0,
        kept_ids=keep,
        created_users=created_users,
        warnings=warnings,
    )


def _labels(found) -> set[str]:
    return {model._meta.label_lower for model in found}


def _delete_undecided(grant: Grant) -> None:
    """Remove a grant nothing has been decided on, to restore the archive's in its place.

    Its audit entries and jobs stay (their grant is emptied), as when a grant is imported again.
    """
    applications = Application.objects.filter(grant=grant)
    ct = ContentType.objects.get_for_model(Application)
    Notice.objects.filter(content_type=ct, object_id__in=applications.values("pk")).delete()
    applications.delete()
    Call.objects.filter(pot__grant=grant).delete()
    for run in grant.runs.all():
        run.delete()
    grant.delete()


def _users(usernames: list[str], create: bool) -> list[str]:
    """The users the grant's records name must be here; made (inactive, no password) if asked."""
    User = get_user_model()
    here = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    missing = [name for name in usernames if name not in here]
    if missing and not create:
        raise BackupError(
            "the archive names users who do not exist here: "
            + ", ".join(missing)
            + ". Create them first (the admin, or `manage.py createsuperuser`), or restore with "
            "--create-missing-users to make them inactive and without a password"
        )
    for name in missing:
        user = User(username=name, is_active=False)
        user.set_unusable_password()
        user.save()
    return missing


SHARED_KEYS = {
    Organisation: ("slug",),
    Unit: ("slug",),
    PermittedUse: ("agreement_id", "code"),
    Roadmap: ("slug",),
    StrategicArea: ("code",),
    Need: ("code",),
    NeedItem: ("need_id", "kind", "position"),
    NeedUse: ("need_id", "permitteduse_id"),
}
# What a matched organisation or unit is compared on, to say when it differs from the archive's.
COMPARED = {
    Organisation: ("name", "kind", "ownership", "org_number"),
    Unit: ("name", "type", "places", "customers", "in_city", "city_placed_share"),
}


def _restore_shared(model, obj, records, mapping, warnings) -> None:
    old = obj.pk
    _remap(obj, mapping)
    if model is Agreement:
        found = _matching_agreement(obj, records, old)
    else:
        keys = {name: getattr(obj, name) for name in SHARED_KEYS[model]}
        found = model._base_manager.filter(**keys).first()
    if found is None:
        obj.pk = None
        _insert(obj)
        found = obj
    else:
        for name in COMPARED.get(model, ()):
            if getattr(found, name) != getattr(obj, name):
                warnings.append(
                    f"{model._meta.verbose_name} '{found.slug}' is kept as it is here; "
                    f"its {name} differs from the archive's ({getattr(found, name)!r} here, "
                    f"{getattr(obj, name)!r} in the archive)"
                )
    if not hasattr(model, "natural_key"):
        mapping[model][old] = found.pk


def _matching_agreement(obj: Agreement, records: list[dict], old: int) -> Agreement | None:
    """An agreement here with every detail and permitted use the same (as import_grant shares)."""
    label = PermittedUse._meta.label_lower
    uses = sorted(
        (r["fields"]["position"], r["pk"], r["fields"]["code"], r["fields"]["label"])
        for r in records
        if r["model"] == label and r["fields"]["agreement"] == old
    )
    wanted = [(code, text) for _position, _pk, code, text in uses]
    names = [f.attname for f in Agreement._meta.concrete_fields if not f.primary_key]
    for candidate in Agreement.objects.filter(title=obj.title, year=obj.year):
        same = all(getattr(candidate, n) == getattr(obj, n) for n in names)
        if same and list(candidate.permitted_uses.values_list("code", "label")) == wanted:
            return candidate
    return None


def _parents_first(objects: list[models.Model], fk) -> list[models.Model]:
    """A tree's records with every parent before its children (a pot before the pots in it)."""
    held = {obj.pk for obj in objects}
    done: set = set()
    ordered: list[models.Model] = []
    pending = list(objects)
    while pending:
        # A parent the archive does not hold is reported by `_remap` when it is inserted.
        ready = [
            o
            for o in pending
            if getattr(o, fk.attname) in done or getattr(o, fk.attname) not in held
        ]
        if not ready:
            raise BackupError(f"the {fk.model._meta.verbose_name_plural} refer to each other")
        for o in ready:
            done.add(o.pk)
            ordered.append(o)
        pending = [o for o in pending if o.pk not in done]
    return ordered


def _remap(obj: models.Model, mapping: dict) -> None:
    """Point the record's references at the records they became here."""
    for f in obj._meta.concrete_fields:
        if not f.is_relation or hasattr(f.related_model, "natural_key"):
            continue  # users, content types and the roadmap were found by their natural keys
        old = getattr(obj, f.attname)
        if old is None:
            continue
        if old not in mapping.get(f.related_model, {}):
            raise BackupError(
                f"{obj._meta.label_lower} {obj.pk} refers to {f.related_model._meta.label_lower} "
                f"{old}, which the archive does not hold"
            )
        setattr(obj, f.attname, mapping[f.related_model][old])


def _remap_generic(obj: models.Model, mapping: dict) -> None:
    """The audit trail and the notices name their object by model and id: follow those too."""
    if isinstance(obj, AuditEntry):
        try:
            model = apps.get_model(obj.object_type)
        except (LookupError, ValueError):
            return
        ids = mapping.get(model, {})
        if obj.object_id.isdigit() and int(obj.object_id) in ids:
            obj.object_id = str(ids[int(obj.object_id)])
    elif isinstance(obj, Notice):
        model = ContentType.objects.get_for_id(obj.content_type_id).model_class()
        ids = mapping.get(model, {})
        if obj.object_id in ids:
            obj.object_id = ids[obj.object_id]
