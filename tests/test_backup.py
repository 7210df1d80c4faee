"""Backup and restore: dump → wipe → restore gives the same grant, to the byte.

A grant is taken through the whole workflow with the services (decided, requisitioned,
paid, reported, claimed back, redistributed in a decided round, notices recorded, roadmap
tags, a decision text, its decision report, letters and an export rendered into stored
files). Everything is exported, backed up, wiped from the database and the file storage
(TRUNCATE, which the freeze triggers on decided runs do not stop, and the media folder
removed), restored from the archive alone, and exported again.

Compared: the CSV and JSON exports byte for byte; the xlsx exports cell by cell after
parsing (an xlsx file carries the moment it was written in its document properties); the
stored files by SHA-256; the audit trail entry by entry; and `check_books` after every test.
"""

import hashlib
import io
import json
import shutil
import zipfile
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from openpyxl import load_workbook

from allocations.models import AllocationRun, AuditEntry, Grant, Job, JobPart, Organisation, Pot
from allocations.services import compute_grant
from applications import services
from applications.grantfiles import export_grant, import_grant
from applications.models import (
    ClaimAccount,
    ClaimDisposition,
    ClaimRepayment,
    Notice,
    Payment,
    RepaymentClaim,
    ReportAttachment,
    Requisition,
)
from reporting import backup as backups
from reporting import services as reporting_services
from reporting.exporters import get_exporter
from reporting.models import DecisionSection, DecisionText, JobKind, Need, Signatory

from .conftest import SEED_000, SEED_002, SEED_003, seed_data
from .factories import decide as decide_run
from .factories import official_user, provider_user
from .test_reporting_workflow import accept, decide, report

pytestmark = pytest.mark.django_db

# A minimal PDF and PNG: the attachments are known by these first bytes.
ATTACHMENTS = {
    "kvitto.pdf": b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
    "bild.png": b"\x89PNG\r\n\x1a\n" + bytes(range(64)),
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def wipe(media) -> None:
    """Empty every table the product has, users included, and the file storage.

    TRUNCATE fires no row triggers, so the decided runs go too; `RESTART IDENTITY` sets
    every id sequence back, so what is made afterwards takes the ids the old records had.
    """
    tables = [m._meta.db_table for m in backups.whole_models()]
    User = get_user_model()
    tables += [
        User._meta.db_table,
        User.groups.through._meta.db_table,
        User.user_permissions.through._meta.db_table,
        "django_admin_log",
        "django_session",
    ]
    with connection.cursor() as cursor:
        # The test's transaction holds deferred key checks; they are made before the TRUNCATE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    shutil.rmtree(media, ignore_errors=True)
    assert not Grant.objects.exists()


def follow(official, capture) -> Grant:
    """Seed 003 through every step, with the services the pages call."""
    call_command("loaddata", "roadmap-2021", verbosity=0)
    grant = Grant.objects.get(pk=_import(SEED_003).pk)
    provider = provider_user(Organisation.objects.filter(grants=grant).first(), "utforare")
    for org in Organisation.objects.filter(grants=grant):
        provider.memberships.get_or_create(organisation=org)
    run = decide(compute_grant(grant_id=grant.pk, actor=official), official)
    pot = Pot.objects.get(grant=grant, slug="prioriterade-omraden")
    reqs = list(run.requisitions.filter(pot=pot).order_by("amount", "pk"))
    full, declined, half, late = reqs[-1], reqs[0], reqs[-2], reqs[1]
    accept(full, official)
    services.record_payment(
        req=full, paid_on=date(2023, 7, 1), amount=full.amount, reference="V1", actor=official
    )
    # Attachments to the report, in the private storage: a PDF and a PNG.
    usage = services.report_for(full)
    for name, data in ATTACHMENTS.items():
        services.add_attachment(report=usage, name=name, content=io.BytesIO(data), actor=official)
    report(full, 100_000, official, accept_it=True)
    services.set_claim_account(
        grant=grant,
        pays_to="administration",
        payee="",
        payment_method="plusgiro",
        payment_account="4 77 88-5",
        reference_prefix="ÄN2023",
        days_to_pay=30,
        actor=official,
    )
    claim = services.claim_repayment(
        req=full,
        amount=full.amount - 100_000,
        due_on=date(2024, 3, 31),
        disposition=ClaimDisposition.REDISTRIBUTE,
        today=date(2024, 2, 1),
        actor=official,
    )
    # Repaid in two parts: the second settles it.
    services.record_repayment(claim=claim, amount=1_000, paid_on=date(2024, 2, 20), actor=official)
    services.mark_claim_repaid(claim=claim, paid_on=date(2024, 3, 1), actor=official)
    decide(services.redistribute(pot=pot, actor=official), official, date(2024, 6, 30))
    services.decline_requisition(req=declined, reason="Vi avstår", actor=official)
    services.claim_repayment(
        req=declined,
        amount=declined.amount,
        due_on=None,
        disposition=ClaimDisposition.RETURN_TO_STATE,
        today=date(2023, 7, 5),
        actor=official,
    )
    accept(half, official)
    services.record_payment(
        req=half, paid_on=date(2023, 7, 2), amount=half.amount // 2, reference="V3", actor=official
    )
    report(half, 50_000, official)
    services.claim_repayment(
        req=late,
        amount=late.amount,
        due_on=None,
        disposition=ClaimDisposition.RETURN_TO_STATE,
        today=date(2023, 7, 10),
        actor=official,
    )
    # The words around the decision, and the roadmap it works towards.
    text = DecisionText.objects.create(grant=grant, subtitle="Stimulansmedel 2023", summary="…")
    DecisionSection.objects.create(text=text, heading="Uppföljning", body="Varje år.")
    Signatory.objects.create(text=text, name="Anna Andersson", title="Förvaltningschef")
    reporting_services.tag_pot(pot=pot, codes=["god-och-nara-vard"], actor=official)
    use = grant.agreement.permitted_uses.first()
    reporting_services.tag_use(use=use, needs=[Need.objects.first()], actor=official)
    # Stored files: the decision report, the round's letters and an export.
    for kind, params in (
        (JobKind.DECISION_REPORT, None),
        (JobKind.LETTERS, None),
        (JobKind.EXPORT, {"exporter": "usage", "format": "xlsx", "options": {}}),
    ):
        with capture(execute=True):
            job = reporting_services.request_job(
                kind=kind, grant=grant, params=params, user=official
            )
        job.refresh_from_db()
        assert job.status == "done", job.error
    assert Notice.objects.exists()
    assert JobPart.objects.exclude(file="").exists()
    return grant


def _import(slug):
    return import_grant(seed_data(slug), review=True)


def written(grant: Grant, exporter: str, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    get_exporter(exporter)(grant, options).write(fmt, out)
    return out.getvalue()


def cells(data: bytes) -> list:
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return [
        (ws.title, [tuple(c.value for c in row) for row in ws.iter_rows()])
        for ws in workbook.worksheets
    ]


def everything(slug: str) -> dict:
    """Every export of the grant, the stored files' digests, and its audit trail."""
    grant = Grant.objects.get(slug=slug)
    out = {"grant file": json.dumps(export_grant(grant), ensure_ascii=False, indent=2)}
    for run in grant.runs.order_by("number"):
        n = run.number
        out[f"allocations {n} csv"] = written(grant, "allocations", "csv", run=n)
        out[f"allocations {n} xlsx"] = cells(written(grant, "allocations", "xlsx", run=n))
        if run.is_decided:
            out[f"360giving {n} json"] = written(grant, "360giving", "json", run=n)
            out[f"360giving {n} csv"] = written(grant, "360giving", "csv", run=n)
    if grant.runs.decided().exists():
        for name in ("usage", "payments"):
            out[f"{name} csv"] = written(grant, name, "csv")
            out[f"{name} xlsx"] = cells(written(grant, name, "xlsx"))
    files = {}
    for attachment in ReportAttachment.objects.filter(report__requisition__run__grant=grant):
        files[f"attachment {attachment.name}"] = (attachment.kind, _digest(attachment.file))
    for job in Job.objects.filter(grant=grant):
        if job.file:
            files[job.title] = _digest(job.file)
        for part in job.parts.exclude(file=""):
            files[f"{job.title} #{part.position}"] = _digest(part.file)
    out["files"] = files
    out["audit"] = [
        (e.at, e.actor_label, e.actor and e.actor.username, e.action, e.object_type, e.after)
        for e in AuditEntry.objects.filter(grant=grant).exclude(action="grant.restored")
    ]
    out["counts"] = {
        "requisitions": Requisition.objects.filter(run__grant=grant).count(),
        "payments": Payment.objects.filter(requisition__run__grant=grant).count(),
        "claims": sorted(
            RepaymentClaim.objects.filter(requisition__run__grant=grant).values_list(
                "amount", "paid_on", "payee", "payment_account", "payment_reference"
            )
        ),
        "repayments": sorted(
            ClaimRepayment.objects.filter(claim__requisition__run__grant=grant).values_list(
                "amount", "paid_on"
            )
        ),
        "claim account": list(
            ClaimAccount.objects.filter(grant=grant).values_list(
                "payee", "payment_method", "payment_account", "reference_prefix"
            )
        ),
        # Each notice still concerns the record it was about (its id followed the record).
        "notices": sorted(
            (n.kind, n.subject, n.body, n.status, str(n.concerns))
            for n in Notice.objects.all()
            if _grant_of(n.concerns) == grant.pk
        ),
        "decision sections": DecisionSection.objects.filter(text__grant=grant).count(),
        "tags": (
            list(grant.pots.order_by("slug").values_list("slug", "roadmap_needs")),
            sorted(grant.agreement.permitted_uses.values_list("code", "roadmap_needs__code")),
        ),
    }
    return out


def _grant_of(obj) -> int:
    if isinstance(obj, RepaymentClaim | Payment):
        obj = obj.requisition
    return obj.run.grant_id if isinstance(obj, Requisition) else obj.grant_id


def _digest(f) -> str:
    with f.open("rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def files_in(media) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


@pytest.fixture
def followed(official, django_capture_on_commit_callbacks):
    return follow(official, django_capture_on_commit_callbacks)


def test_one_grant_restored_from_its_archive_alone_is_the_same_to_the_byte(
    followed, official, media, tmp_path
):
    other = _import(SEED_002)
    compute_grant(grant_id=other.pk)
    before = everything(followed.slug)
    before_other = everything(other.slug)
    ids = dict(AllocationRun.objects.filter(grant=followed).values_list("number", "pk"))
    call_command("backup", "--grant", followed.slug, "-o", tmp_path / "a.zip", verbosity=0)
    call_command("backup", "--grant", other.slug, "-o", tmp_path / "b.zip", verbosity=0)
    manifest = json.loads(zipfile.ZipFile(tmp_path / "a.zip").read("manifest.json"))
    assert (manifest["scope"], manifest["grant"]) == ("grant", followed.slug)
    assert manifest["counts"]["allocations.allocationrun"] == 2
    assert manifest["files"] == len(files_in(media)) > 0  # every stored file is this grant's

    wipe(media)
    # The new server has its accounts: the official exists, with a password of its own.
    official_user("handlaggare", password="ny")
    call_command("restore", tmp_path / "b.zip", verbosity=0)
    out = io.StringIO()
    call_command("restore", tmp_path / "a.zip", stdout=out)
    assert "with their ids" in out.getvalue()
    assert "The books balance" in out.getvalue()

    assert everything(followed.slug) == before
    assert everything(other.slug) == before_other
    call_command("check_books", verbosity=0)
    # The ids were free, so they are the ones they were.
    assert dict(AllocationRun.objects.filter(grant=followed).values_list("number", "pk")) == ids
    user = get_user_model().objects.get(username="handlaggare")
    assert user.check_password("ny")  # a restore never touches a password
    restored = AuditEntry.objects.get(grant__slug=followed.slug, action="grant.restored")
    assert restored.after["archive"] == "a.zip"
    # What is made after the restore takes ids after the restored ones.
    assert compute_grant(grant_id=_import(SEED_000).pk).pk > max(ids.values())


def test_one_grant_restored_beside_grants_that_took_its_ids_gets_new_ones(
    db, media, tmp_path, django_capture_on_commit_callbacks
):
    wipe(media)  # from 1: the grant restored below had the ids the other one takes
    grant = follow(official_user("handlaggare"), django_capture_on_commit_callbacks)
    before = everything(grant.slug)
    call_command("backup", "--grant", grant.slug, "-o", tmp_path / "a.zip", verbosity=0)

    wipe(media)
    other = _import(SEED_002)
    run = compute_grant(grant_id=other.pk)
    decide_run(run_id=run.pk, decided_on=date(2020, 8, 25), decided_by="Regionen")
    before_other = everything(other.slug)
    assert Grant.objects.filter(pk=grant.pk).exists()  # the id is taken

    with pytest.raises(CommandError, match="users who do not exist here: handlaggare"):
        call_command("restore", tmp_path / "a.zip", verbosity=0)
    assert not Grant.objects.filter(slug=grant.slug).exists()
    assert files_in(media) == []
    out = io.StringIO()
    call_command("restore", tmp_path / "a.zip", "--create-missing-users", stdout=out)
    assert "under new ids" in out.getvalue()

    user = get_user_model().objects.get(username="handlaggare")
    assert not user.is_active
    assert not user.has_usable_password()
    assert everything(grant.slug) == before
    assert everything(other.slug) == before_other
    assert Grant.objects.get(slug=grant.slug).pk != grant.pk
    call_command("check_books", verbosity=0)


def test_the_whole_database_restored_into_an_empty_one_is_the_same(
    followed, official, media, tmp_path
):
    other = _import(SEED_002)
    compute_grant(grant_id=other.pk)
    before = {slug: everything(slug) for slug in (followed.slug, other.slug)}
    counts = {m: m._base_manager.count() for m in backups.whole_models()}
    call_command("backup", "-o", tmp_path / "all.zip", verbosity=0)
    stored = {name: (media / name).read_bytes() for name in files_in(media)}

    wipe(media)
    out = io.StringIO()
    call_command("restore", tmp_path / "all.zip", stdout=out)
    assert "the whole database (2 grants)" in out.getvalue()

    assert {slug: everything(slug) for slug in before} == before
    call_command("check_books", verbosity=0)
    after = {m: m._base_manager.count() for m in backups.whole_models()}
    assert after == {m: n + (2 if m is AuditEntry else 0) for m, n in counts.items()}
    assert {name: (media / name).read_bytes() for name in files_in(media)} == stored
    user = get_user_model().objects.get(username="handlaggare")
    assert user.check_password("x")
    assert user.has_perm("applications.handle_cases")
    assert get_user_model().objects.get(username="utforare").memberships.exists()
    # The id sequences follow: what is made next gets ids of its own.
    compute_grant(grant_id=_import(SEED_000).pk)

    with pytest.raises(CommandError, match="restored into an empty database"):
        call_command("restore", tmp_path / "all.zip", verbosity=0)


def tampered(path, out, member: str, change) -> None:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, change(data) if info.filename == member else data)


def recrafted(path, out, change) -> None:
    """The archive with its records changed and its manifest made to agree: only the
    restore itself can find what is wrong."""
    with zipfile.ZipFile(path) as src:
        manifest = json.loads(src.read("manifest.json"))
        records = change(json.loads(src.read("records.json")))
        manifest["counts"] = {}
        for record in records:
            manifest["counts"][record["model"]] = manifest["counts"].get(record["model"], 0) + 1
        records = json.dumps(records).encode()
        manifest["members"]["records.json"] = {
            "sha256": hashlib.sha256(records).hexdigest(),
            "size": len(records),
        }
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "records.json":
                    data = records
                elif info.filename == "manifest.json":
                    data = json.dumps(manifest).encode()
                dst.writestr(info, data)


def test_a_tampered_or_truncated_archive_is_refused_and_nothing_is_written(
    followed, media, tmp_path
):
    call_command("backup", "--grant", followed.slug, "-o", tmp_path / "a.zip", verbosity=0)
    wipe(media)
    official_user("handlaggare")
    cases = {
        "records": ("records.json", lambda d: d.replace(b'"amount": ', b'"amount": 9', 1)),
        "file": (
            next(n for n in zipfile.ZipFile(tmp_path / "a.zip").namelist() if n.endswith(".pdf")),
            lambda d: d[:-1] + b"x",
        ),
    }
    for name, (member, change) in cases.items():
        tampered(tmp_path / "a.zip", tmp_path / f"{name}.zip", member, change)
        with pytest.raises(CommandError, match="does not match its checksum"):
            call_command("restore", tmp_path / f"{name}.zip", verbosity=0)
    data = (tmp_path / "a.zip").read_bytes()
    (tmp_path / "short.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(CommandError, match="not a complete archive"):
        call_command("restore", tmp_path / "short.zip", verbosity=0)
    assert not Grant.objects.exists()
    assert not AuditEntry.objects.exists()
    assert files_in(media) == []

    # An archive made to agree with itself still brings no account with a password along.
    def with_a_user(records):
        user = {"username": "intruder", "password": "pbkdf2_sha256$1$x$y", "is_superuser": True}
        return [{"model": "auth.user", "pk": 999, "fields": user}, *records]

    recrafted(tmp_path / "a.zip", tmp_path / "user.zip", with_a_user)
    with pytest.raises(CommandError, match=r"records that are no grant's: auth\.user"):
        call_command("restore", tmp_path / "user.zip", verbosity=0)
    assert not get_user_model().objects.filter(username="intruder").exists()
    assert not Grant.objects.exists()

    call_command("restore", tmp_path / "a.zip", verbosity=0)
    assert Grant.objects.filter(slug=followed.slug).exists()


def test_a_restore_that_fails_half_way_leaves_no_record_and_no_file(followed, media, tmp_path):
    call_command("backup", "--grant", followed.slug, "-o", tmp_path / "a.zip", verbosity=0)
    wipe(media)
    official_user("handlaggare")

    def unknown_actor(records):
        # The audit trail comes last, after the jobs have put their files back.
        entry = next(r for r in reversed(records) if r["model"] == "allocations.auditentry")
        entry["fields"]["actor"] = ["nobody"]
        return records

    recrafted(tmp_path / "a.zip", tmp_path / "bad.zip", unknown_actor)
    with pytest.raises(CommandError, match="cannot be read back"):
        call_command("restore", tmp_path / "bad.zip", verbosity=0)
    assert not Grant.objects.exists()
    assert not Organisation.objects.exists()
    assert files_in(media) == []


def test_a_grant_that_exists_is_replaced_only_when_asked_and_never_when_decided(
    followed, media, tmp_path
):
    call_command("backup", "--grant", followed.slug, "-o", tmp_path / "a.zip", verbosity=0)
    with pytest.raises(CommandError, match="exists in this database; use --replace"):
        call_command("restore", tmp_path / "a.zip", verbosity=0)
    with pytest.raises(CommandError, match="a decision cannot be replaced"):
        call_command("restore", tmp_path / "a.zip", "--replace", verbosity=0)

    undecided = _import(SEED_002)
    compute_grant(grant_id=undecided.pk)
    before = everything(undecided.slug)
    call_command("backup", "--grant", undecided.slug, "-o", tmp_path / "b.zip", verbosity=0)
    call_command("restore", tmp_path / "b.zip", "--replace", verbosity=0)
    assert everything(undecided.slug) == before


def test_every_table_is_in_a_grants_archive_or_said_not_to_be_per_grant(followed):
    per_grant = {model for model, _qs in backups.grant_sections(followed)}
    assert set(backups.whole_models()) == per_grant | set(backups.NOT_PER_GRANT)
