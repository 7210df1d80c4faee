"""Writing an archive, and reading one back with every checksum checked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from allocations.models import (
    Grant,
)

from .records import (
    FILES,
    FORMAT,
    MANIFEST,
    RECORDS,
    SCHEMA_APPS,
    USERS,
    VERSION,
    BackupError,
    grant_sections,
    whole_models,
)

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
                "migrations": migrations(),
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


def migrations() -> dict[str, list[str]]:
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
    well_formed = isinstance(records, list) and all(
        isinstance(r, dict)
        and isinstance(r.get("model"), str)
        and isinstance(r.get("fields"), dict)
        for r in records
    )
    wanted = ("usernames",) if manifest["scope"] == "grant" else ("groups", "users")
    if not well_formed or not all(isinstance(users.get(k), list) for k in wanted):
        raise BackupError(f"{path}: the records are not in the form a backup writes them")
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        counts[record["model"]] += 1
    if {k: v for k, v in counts.items() if v} != {k: v for k, v in manifest["counts"].items() if v}:
        raise BackupError(f"{path}: the records do not match the counts in the manifest")
    return Archive(path=path, manifest=manifest, records=records, users=users)


def _check_manifest(path: Path, manifest: dict) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a stimulans backup")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"{path} is a stimulans backup of version {manifest.get('version')}; this version "
            f"reads version {VERSION}"
        )
    if manifest.get("scope") not in ("grant", "all"):
        raise BackupError(f"{path}: unknown scope {manifest.get('scope')!r}")
    kinds = {
        "created_at": str,
        "counts": dict,
        "members": dict,
        "migrations": dict,
        "missing_files": list,
    }
    for key, kind in kinds.items():
        if not isinstance(manifest.get(key), kind):
            raise BackupError(f"{path}: the manifest has no valid {key!r}")
    if manifest["scope"] == "grant" and not isinstance(manifest.get("grant"), str):
        raise BackupError(f"{path}: the manifest does not say which grant it holds")
    for name in (RECORDS, USERS):
        if name not in manifest["members"]:
            raise BackupError(f"{path}: the manifest lists no {name}")
