"""Backup and restore: one grant with everything about it, or the whole database, as one file.

An archive (`stimulans-backup`, version 1) is a ZIP file:

- `manifest.json`: the format and version, when the archive was made, what it holds (one
  grant or all), the number of records per model, the migrations the database had, and the
  SHA-256 and size of every other member;
- `records.json`: the records in Django's serializer format, in an order they can be
  inserted in (what a record points to comes before it). References to users, content
  types and the roadmap are natural keys (a username, an app label and model, a code);
  everything else keeps the primary keys it had;
- `users.json`: for one grant, the usernames its records name (never a password); for the
  whole database, the accounts themselves with their password hashes (as `pg_dump` would);
- `files/<name>`: every stored file the records name (decision reports, letters, exports),
  under the name the storage gave it.

Restoring checks the manifest and every checksum before it writes anything, then writes
everything in one transaction and removes the files it stored if that fails. One grant is
restored beside the other grants: the organisations, units, agreement and roadmap it names
are matched by their ids (slug, code; an agreement by all its details) and created only when
missing; its own records keep their ids when those are free, and get new ones otherwise (every
reference, including the audit trail's and the notices' object ids, follows). The whole
database is restored into an empty one, ids and all.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.files.base import ContentFile
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from allocations import audit
from allocations.models import (
    Agreement,
    AllocationRow,
    AllocationRun,
    AuditEntry,
    Dataset,
    DatasetValue,
    Grant,
    GrantOrganisation,
    GrantUnit,
    Ineligibility,
    Job,
    JobPart,
    Organisation,
    PermittedUse,
    Pot,
    PotResult,
    Unit,
)
from applications.books import check_all
from applications.models import (
    Application,
    ApplicationUnit,
    ApplicationUse,
    Call,
    Membership,
    Notice,
    Payment,
    RepaymentClaim,
    Requisition,
    RequisitionLine,
    UsageLine,
    UsageReport,
)

from .models import (
    DecisionSection,
    DecisionText,
    Need,
    NeedItem,
    Roadmap,
    Signatory,
    StrategicArea,
)

FORMAT = "stimulans-backup"
VERSION = 1
MANIFEST = "manifest.json"
RECORDS = "records.json"
USERS = "users.json"
FILES = "files/"
APPS = ("allocations", "applications", "reporting")
# The apps whose migrations decide whether the records fit this database's tables.
SCHEMA_APPS = (*APPS, "auth", "contenttypes")

NeedUse = Need.permitted_uses.through

# Records of one grant that are shared with other grants: matched on restore by their ids in
# the grant file (or, for an agreement, by every detail), created only when missing.
SHARED = (
    Organisation,
    Unit,
    Agreement,
    PermittedUse,
    Roadmap,
    StrategicArea,
    Need,
    NeedItem,
    NeedUse,
)
# Records of the workflow that belong to no grant: in the whole database's archive only.
NOT_PER_GRANT = (Membership,)


class BackupError(Exception):
    """The archive cannot be made or restored as asked; the message says why."""


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


# ---------------------------------------------------------------- what one grant is


def grant_sections(grant: Grant) -> list[tuple[type[models.Model], models.QuerySet]]:
    """Every record of one grant, shared ones first, each list in an order it can be inserted in."""
    owned = _owned(grant)
    orgs: set[int] = set()
    units: set[int] = set()
    for model, qs in owned:
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is Organisation:
                orgs.update(qs.exclude(**{f.attname: None}).values_list(f.attname, flat=True))
            elif f.is_relation and f.related_model is Unit:
                units.update(qs.exclude(**{f.attname: None}).values_list(f.attname, flat=True))
    orgs.update(Unit.objects.filter(pk__in=units).values_list("organisation_id", flat=True))
    agreement = Agreement.objects.filter(pk=grant.agreement_id)
    uses = PermittedUse.objects.filter(agreement_id=grant.agreement_id)
    codes = {code for needs in grant.pots.values_list("roadmap_needs", flat=True) for code in needs}
    needs = Need.objects.filter(models.Q(code__in=codes) | models.Q(permitted_uses__in=uses))
    roadmaps = Roadmap.objects.filter(areas__needs__in=needs).distinct()
    shared = [
        (Organisation, Organisation.objects.filter(pk__in=orgs)),
        (Unit, Unit.objects.filter(pk__in=units)),
        (Agreement, agreement),
        (PermittedUse, uses),
        (Roadmap, roadmaps),
        (StrategicArea, StrategicArea.objects.filter(roadmap__in=roadmaps)),
        (Need, Need.objects.filter(area__roadmap__in=roadmaps)),
        (NeedItem, NeedItem.objects.filter(need__area__roadmap__in=roadmaps)),
        (NeedUse, NeedUse.objects.filter(permitteduse__in=uses)),
    ]
    return shared + owned


def _owned(grant: Grant) -> list[tuple[type[models.Model], models.QuerySet]]:
    """The records that are this grant's alone."""
    applications = Application.objects.filter(grant=grant)
    requisitions = Requisition.objects.filter(run__grant=grant)
    reports = UsageReport.objects.filter(requisition__run__grant=grant)
    claims = RepaymentClaim.objects.filter(requisition__run__grant=grant)
    concerns = models.Q(pk__in=[])
    for model, qs in (
        (Application, applications),
        (Requisition, requisitions),
        (UsageReport, reports),
        (RepaymentClaim, claims),
    ):
        ct = ContentType.objects.get_for_model(model)
        concerns |= models.Q(content_type=ct, object_id__in=qs.values("pk"))
    return [
        (Grant, Grant.objects.filter(pk=grant.pk)),
        (GrantOrganisation, GrantOrganisation.objects.filter(grant=grant)),
        (GrantUnit, GrantUnit.objects.filter(grant=grant)),
        (Dataset, Dataset.objects.filter(grant=grant)),
        (DatasetValue, DatasetValue.objects.filter(dataset__grant=grant)),
        (Pot, Pot.objects.filter(grant=grant)),
        (AllocationRun, AllocationRun.objects.filter(grant=grant)),
        (PotResult, PotResult.objects.filter(run__grant=grant)),
        (AllocationRow, AllocationRow.objects.filter(run__grant=grant)),
        (Ineligibility, Ineligibility.objects.filter(run__grant=grant)),
        (Call, Call.objects.filter(pot__grant=grant)),
        (Application, applications),
        (ApplicationUnit, ApplicationUnit.objects.filter(application__grant=grant)),
        (ApplicationUse, ApplicationUse.objects.filter(application__grant=grant)),
        (Requisition, requisitions),
        (RequisitionLine, RequisitionLine.objects.filter(requisition__run__grant=grant)),
        (Payment, Payment.objects.filter(requisition__run__grant=grant)),
        (UsageReport, reports),
        (UsageLine, UsageLine.objects.filter(report__requisition__run__grant=grant)),
        (RepaymentClaim, claims),
        (Notice, Notice.objects.filter(concerns)),
        (DecisionText, DecisionText.objects.filter(grant=grant)),
        (DecisionSection, DecisionSection.objects.filter(text__grant=grant)),
        (Signatory, Signatory.objects.filter(text__grant=grant)),
        (Job, Job.objects.filter(grant=grant)),
        (JobPart, JobPart.objects.filter(job__grant=grant)),
        (AuditEntry, AuditEntry.objects.filter(grant=grant)),
    ]


# ---------------------------------------------------------------- what the whole database is


def whole_models() -> list[type[models.Model]]:
    """Every table of the three apps (and the roadmap's links), in an order to fill them in."""
    found: list[type[models.Model]] = []
    for label in APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                found.append(model)
    return _dependency_order(found)


def _dependency_order(found: list[type[models.Model]]) -> list[type[models.Model]]:
    ordered: list[type[models.Model]] = []
    pending = list(found)
    while pending:
        for model in pending:
            needs = {
                f.related_model
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model in found and f.related_model is not model
            }
            if needs <= set(ordered):
                ordered.append(model)
                pending.remove(model)
                break
        else:
            raise BackupError(f"the tables refer to each other in a cycle: {pending}")
    return ordered


# ---------------------------------------------------------------- writing an archive


class _Encoder(DjangoJSONEncoder):
    """Django's encoder, but a moment keeps its microseconds: restored, it is the same moment."""

    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


def _fields(model: type[models.Model]) -> list[str]:
    # Many-to-many links are stored as their own tables (`NeedUse`), never inside a record.
    return [f.name for f in model._meta.concrete_fields if not f.primary_key]


def _serialize(model: type[models.Model], qs: models.QuerySet) -> list[dict]:
    return serializers.serialize(
        "python",
        qs.order_by("pk").iterator(chunk_size=2000),
        fields=_fields(model),
        use_natural_foreign_keys=True,
    )


def _user_fields(model) -> Iterable[models.Field]:
    User = get_user_model()
    return (f for f in model._meta.concrete_fields if f.is_relation and f.related_model is User)


def backup(path: Path, *, grant: Grant | None = None) -> dict:
    """Write one grant (or, without one, the whole database) to an archive at `path`.

    The records are read in one transaction (a snapshot, on PostgreSQL); the archive is
    written beside `path` and moved into place only when it is complete. Returns the manifest.
    """
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:  # the first statement of the transaction: every query reads one moment
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        sections, users, missing = _read(grant)
    records = [record for _model, serialized in sections for record in serialized]
    counts: dict[str, int] = {}
    for model, serialized in sections:
        counts[model._meta.label_lower] = counts.get(model._meta.label_lower, 0) + len(serialized)
    members: dict[str, dict] = {}
    directory = path.resolve().parent
    fd, temporary = tempfile.mkstemp(prefix=".backup-", suffix=".zip", dir=directory)
    os.close(fd)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:

            def put(name: str, data: bytes) -> None:
                archive.writestr(name, data)
                members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

            put(RECORDS, _dumps(records))
            put(USERS, _dumps(users))
            stored = 0
            for model, storage_field, name in _file_references(sections):
                member = FILES + name
                if member in members or (model, name) in missing:
                    continue
                with storage_field.storage.open(name, "rb") as fh:
                    put(member, fh.read())
                stored += 1
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "created_at": timezone.now().isoformat(),
                "scope": "grant" if grant else "all",
                "grant": grant.slug if grant else None,
                "counts": counts,
                "users": len(users["usernames"] if grant else users["users"]),
                "files": stored,
                "missing_files": sorted(name for _model, name in missing),
                "migrations": _migrations(),
                "members": members,
            }
            archive.writestr(MANIFEST, _dumps(manifest))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return manifest


def _dumps(data) -> bytes:
    return json.dumps(data, cls=_Encoder, ensure_ascii=False, indent=1).encode() + b"\n"


def _read(grant: Grant | None):
    if grant is not None:
        chosen = grant_sections(grant)
    else:
        chosen = [(model, model._base_manager.all()) for model in whole_models()]
    sections = [(model, _serialize(model, qs)) for model, qs in chosen]
    User = get_user_model()
    if grant is not None:
        names: set[str] = set()
        for model, qs in chosen:
            for f in _user_fields(model):
                ids = qs.exclude(**{f.attname: None}).values_list(f.attname, flat=True)
                names.update(User.objects.filter(pk__in=ids).values_list("username", flat=True))
        users = {"usernames": sorted(names)}
    else:
        users = {
            "groups": serializers.serialize(
                "python",
                Group.objects.order_by("pk"),
                use_natural_foreign_keys=True,
                use_natural_primary_keys=True,
            ),
            "users": serializers.serialize(
                "python",
                User.objects.order_by("pk"),
                use_natural_foreign_keys=True,
                use_natural_primary_keys=True,
            ),
        }
    missing = set()
    for model, f, name in _file_references(sections):
        if not f.storage.exists(name):
            missing.add((model, name))
    return sections, users, missing


def _file_references(sections) -> Iterable[tuple[type[models.Model], models.FileField, str]]:
    """(model, field, stored name) of every file the records name."""
    for model, serialized in sections:
        file_fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
        for record in serialized:
            for f in file_fields:
                name = record["fields"].get(f.name)
                if name:
                    yield model, f, name


def _migrations() -> dict[str, list[str]]:
    applied = MigrationRecorder(connection).applied_migrations()
    found: dict[str, list[str]] = defaultdict(list)
    for app_label, name in sorted(applied):
        if app_label in SCHEMA_APPS:
            found[app_label].append(name)
    return dict(found)


# ---------------------------------------------------------------- reading an archive


@dataclass
class Archive:
    """An archive whose manifest and every checksum have been checked; nothing written yet."""

    path: Path
    manifest: dict
    records: list[dict]
    users: dict

    @property
    def scope(self) -> str:
        return self.manifest["scope"]

    def file(self, name: str) -> bytes:
        member = FILES + name
        expected = self.manifest["members"].get(member)
        if expected is None:
            raise BackupError(f"{self.path}: the archive does not hold the file {name}")
        with zipfile.ZipFile(self.path) as archive:
            data = archive.read(member)
        if hashlib.sha256(data).hexdigest() != expected["sha256"]:
            raise BackupError(f"{self.path}: {member} has changed since it was checked")
        return data


def open_archive(path: Path) -> Archive:
    """Read and check an archive: its manifest, then every member against its checksum.

    Raises `BackupError`, saying what is wrong, for anything but a complete, unchanged
    archive of a known format.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if MANIFEST not in names:
                raise BackupError(f"{path} has no {MANIFEST}: it is not a stimulans backup")
            manifest = json.loads(archive.read(MANIFEST))
            _check_manifest(path, manifest)
            listed = set(manifest["members"])
            if names - {MANIFEST} != listed:
                extra = sorted(names - {MANIFEST} - listed)
                absent = sorted(listed - names)
                raise BackupError(
                    f"{path}: the members do not match the manifest"
                    + (f"; not listed: {', '.join(extra[:5])}" if extra else "")
                    + (f"; missing: {', '.join(absent[:5])}" if absent else "")
                )
            contents = {}
            for name, expected in sorted(manifest["members"].items()):
                digest, size = hashlib.sha256(), 0
                with archive.open(name) as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        if name in (RECORDS, USERS):
                            contents.setdefault(name, io.BytesIO()).write(chunk)
                if size != expected.get("size") or digest.hexdigest() != expected.get("sha256"):
                    raise BackupError(
                        f"{path}: {name} does not match its checksum in the manifest "
                        "(the archive was changed or damaged); nothing was restored"
                    )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise BackupError(
            f"{path} is not a complete archive ({exc}); it may be truncated or damaged"
        ) from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path}: the manifest cannot be read ({exc})") from None
    try:
        records = json.loads(contents[RECORDS].getvalue())
        users = json.loads(contents[USERS].getvalue())
    except (KeyError, ValueError) as exc:
        raise BackupError(f"{path}: the records cannot be read ({exc})") from None
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        counts[record["model"]] += 1
    if {k: v for k, v in counts.items() if v} != {k: v for k, v in manifest["counts"].items() if v}:
        raise BackupError(f"{path}: the records do not match the counts in the manifest")
    return Archive(path=path, manifest=manifest, records=records, users=users)


def _check_manifest(path: Path, manifest: dict) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a stimulans backup (format {manifest.get('format')!r})")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"{path} is a stimulans backup of version {manifest.get('version')}; this version "
            f"reads version {VERSION}"
        )
    if manifest.get("scope") not in ("grant", "all"):
        raise BackupError(f"{path}: unknown scope {manifest.get('scope')!r}")
    for name in (RECORDS, USERS):
        if name not in manifest.get("members", {}):
            raise BackupError(f"{path}: the manifest lists no {name}")


# ---------------------------------------------------------------- restoring


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
    here = _migrations()
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
    existing = Grant.objects.select_for_update().filter(slug=slug).first()
    if existing is not None:
        if not replace:
            raise BackupError(
                f"grant '{slug}' exists in this database; use --replace to restore it over it"
            )
        decided = existing.runs.decided().order_by("number").first()
        if decided is not None:
            raise BackupError(
                f"grant '{slug}' has a decided allocation (run {decided.number}, decided "
                f"{decided.decided_on:%Y-%m-%d}); a decision cannot be replaced"
            )
        _delete_undecided(existing)
    created_users = _users(archive.users["usernames"], create_users)
    sections = _sections(archive.records)
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
