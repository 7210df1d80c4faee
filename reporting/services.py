"""Document and export jobs: asked for, rendered by the worker, stored as a file.

A job is queued on commit; the worker renders into memory or a temporary file
and stores the result only when it is complete, so a failure leaves a failed
job with a readable message and no file. A batch of letters fans out: one
subtask per few recipients, so several workers share it; the last one to
finish queues the ZIP.
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from allocations import audit, jobs
from allocations.models import (
    AllocationRun,
    AuditEntry,
    Grant,
    Job,
    JobPart,
    JobStatus,
    PermittedUse,
    Pot,
)
from applications import books

from . import pdf
from .documents import RenderError, latest_run, recipients
from .exporters import get_exporter
from .formulas import DEFAULT_DELIMITER
from .models import BooksCheck, JobKind, Need

# Recipients per letters subtask: small enough that two workers finish together.
LETTERS_PER_TASK = 5


# ---------------------------------------------------------------- asking


def request_job(
    *,
    kind: str,
    grant: Grant,
    params: dict | None = None,
    run: AllocationRun | None = None,
    user=None,
    actor_label: str = "",
) -> Job:
    """Record what was asked and queue it for the worker once the record is committed."""
    params = dict(params or {})
    if run is None and kind != JobKind.EXPORT:
        run = latest_run(grant, decided=kind == JobKind.LETTERS)
    return jobs.request(
        kind=kind,
        title=job_title(kind, grant, run, params),
        grant=grant,
        run=run,
        params=params,
        actor=user,
        actor_label=actor_label,
    )


def job_title(kind: str, grant: Grant, run: AllocationRun | None, params: dict) -> str:
    if kind == JobKind.DECISION_REPORT:
        label = _("Decision report") if run.is_decided else _("Proposed decision")
        return f"{label}: {grant.title} ({_('run')} {run.number})"
    if kind == JobKind.LETTERS:
        if run.is_redistribution:
            return (
                f"{_('Decision letters')}: {run.title_with_amount()} "
                f"({grant.title}, {_('run')} {run.number})"
            )
        return f"{_('Decision letters')}: {grant.title} ({_('run')} {run.number})"
    exporter = get_exporter(params.get("exporter", ""))
    return f"{exporter.verbose_name} ({params.get('format', 'xlsx')}): {grant.title}"


# ---------------------------------------------------------------- the worker's side
# `allocations.jobs.run_job` claims the job and calls the function its kind
# registered (in `apps.py`): `decision_report`, `start_letters` or `export`.


def _run_of(job: Job) -> AllocationRun:
    if job.run is None:
        raise RenderError(_("The allocation run this job was for no longer exists."))
    return job.run


def decision_report(job: Job) -> None:
    run = _run_of(job)
    data = pdf.render_decision(run, progress=lambda p: jobs.set_progress(job.pk, p))
    jobs.finish(job, name=decision_filename(run), content=ContentFile(data))


def decision_filename(run: AllocationRun) -> str:
    kind = "beslut" if run.is_decided else "forslag"
    return f"{run.grant.slug}-run-{run.number}-{kind}.pdf"


def export(job: Job) -> None:
    grant = job.grant
    if grant is None:
        raise RenderError(_("The grant this export was for no longer exists."))
    exporter = get_exporter(job.params.get("exporter", ""))(grant, job.params.get("options"))
    fmt = job.params.get("format", "xlsx")
    with tempfile.TemporaryFile() as out:
        exporter.write(
            fmt,
            out,
            progress=lambda p: jobs.set_progress(job.pk, p),
            delimiter=job.params.get("delimiter") or DEFAULT_DELIMITER,
        )
        out.seek(0)
        jobs.finish(job, name=exporter.filename(fmt), content=File(out))


# ---------------------------------------------------------------- letters, in parallel


def letter_recipients(run: AllocationRun) -> list:
    """The organisations a decided run writes to; refused, saying why, when there are none."""
    if not run.is_decided:
        raise RenderError(
            _("Run %(number)s is not decided: letters go out after the decision.")
            % {"number": run.number}
        )
    orgs = recipients(run)
    if not orgs:
        raise RenderError(_("Run %(number)s gives nothing to anyone.") % {"number": run.number})
    return orgs


def start_letters(job: Job) -> None:
    """Make the batch's parts and queue their subtasks; taken up again, it keeps the parts
    it made and queues those not yet done (a subtask finds a part already done or being
    rendered and leaves it)."""
    from . import tasks

    run = _run_of(job)
    orgs = letter_recipients(run)
    pdf.font_css()  # a missing font fails the batch here, before any subtask starts
    with transaction.atomic():
        if not job.parts.exists():
            JobPart.objects.bulk_create(
                JobPart(job=job, position=i, organisation=org, label=org.name)
                for i, org in enumerate(orgs, start=1)
            )
        parts = list(job.parts.order_by("position"))
        Job.objects.filter(pk=job.pk).update(
            parts_total=len(parts), progress=5, updated_at=timezone.now()
        )
        ids = [p.pk for p in parts if not p.done]
        chunks = [ids[i : i + LETTERS_PER_TASK] for i in range(0, len(ids), LETTERS_PER_TASK)]
        if not chunks:  # every letter was made before the worker died: count and assemble
            chunks = [[]]
        transaction.on_commit(
            lambda: [tasks.render_letter_parts.delay(job.pk, chunk) for chunk in chunks]
        )


def render_letter_parts(*, job_id: int, part_ids: list[int]) -> None:
    """One subtask of a batch: render these recipients' letters and count them done."""
    job = Job.objects.select_related("run__grant").filter(pk=job_id).first()
    if job is None or job.status != JobStatus.RUNNING:
        return  # failed or finished meanwhile: nothing more to do
    with translation.override(job.params.get("language") or settings.LANGUAGE_CODE):
        jobs.guarded(job_id, lambda: _render_parts(job, part_ids))


def _render_parts(job: Job, part_ids: list[int]) -> None:
    """Render the parts not yet done, each stored whole and marked done in one transaction.

    The parts are locked while rendered: a subtask delivered twice (its worker died, or
    the batch was taken up again) skips those another is rendering. A worker killed here
    leaves them not done; a file it left half-written is replaced when they are rendered
    again. The count is the parts done, so counting twice counts nothing twice.
    """
    from . import tasks

    with transaction.atomic():
        parts = list(
            JobPart.objects.select_for_update(skip_locked=True)
            .filter(pk__in=part_ids, done=False)
            .order_by("position")
        )
        if parts:
            run = _run_of(job)
            documents = pdf.render_letters(run, [p.organisation_id for p in parts])
            try:
                for part, data in zip(parts, documents, strict=True):
                    path = part.file.field.generate_filename(part, letter_filename(part))
                    if part.file.storage.exists(path):
                        part.file.storage.delete(path)
                    part.file.save(letter_filename(part), ContentFile(data), save=False)
                    part.done = True
                    part.save(update_fields=["file", "done"])
            except BaseException:
                for part in parts:  # rolled back: no file stays without its part
                    if part.file:
                        part.file.delete(save=False)
                raise
    with transaction.atomic():
        current = Job.objects.select_for_update().get(pk=job.pk)
        if current.status != JobStatus.RUNNING:
            for part in parts:  # the batch failed while these were rendered
                part.file.delete(save=False)
            return
        current.parts_done = current.parts.filter(done=True).count()
        current.progress = 5 + 85 * current.parts_done // max(current.parts_total, 1)
        current.save(update_fields=["parts_done", "progress", "updated_at"])
        if current.parts_total and current.parts_done >= current.parts_total:
            # Possibly queued twice (by two last subtasks): the assembly does it once.
            transaction.on_commit(lambda: tasks.assemble_letters.delay(job.pk))


def letter_filename(part: JobPart) -> str:
    return f"{part.position:04d}-{slugify(part.label)[:60] or 'mottagare'}.pdf"


def assemble_letters(*, job_id: int) -> None:
    """Put every letter of the batch into one ZIP; the job is done when it is stored.

    Under the job's lock: of two assemblies (queued twice, or delivered again after a
    worker died) one makes the ZIP and the other finds the job done.
    """
    if not jobs.hold(job_id):
        return
    try:
        job = Job.objects.select_related("run__grant").filter(pk=job_id).first()
        if job is None or job.status != JobStatus.RUNNING:
            return
        with translation.override(job.params.get("language") or settings.LANGUAGE_CODE):
            jobs.guarded(job_id, lambda: _assemble(job))
    finally:
        jobs.release(job_id)


def _assemble(job: Job) -> None:
    parts = list(job.parts.order_by("position"))
    missing = [p.label for p in parts if not p.done or not p.file]
    if missing:
        raise RenderError(
            _("%(count)s letters are missing from the batch (e.g. %(name)s).")
            % {"count": len(missing), "name": missing[0]}
        )
    run = _run_of(job)
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            for part in parts:
                with part.file.open("rb") as fh:
                    # A fixed timestamp: the same run gives the same ZIP.
                    info = zipfile.ZipInfo(part.file.name.rsplit("/", 1)[-1], _zip_date(run))
                    archive.writestr(info, fh.read())
        out.seek(0)
        jobs.finish(job, name=letters_filename(run), content=File(out))


def letters_filename(run: AllocationRun) -> str:
    """`<grant>-run-4-omfordelning-1-beslut.zip` for a redistribution round's letters."""
    kind = f"omfordelning-{run.round_number}-" if run.is_redistribution else ""
    return f"{run.grant.slug}-run-{run.number}-{kind}beslut.zip"


def _zip_date(run: AllocationRun) -> tuple:
    day = run.decided_on
    return (day.year, day.month, day.day, 0, 0, 0)


def letters_zip(run: AllocationRun, out, *, progress: Callable[[int], None] | None = None) -> int:
    """Every letter of a decided run into one ZIP, in this process (the command's way)."""
    orgs = letter_recipients(run)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for start in range(0, len(orgs), LETTERS_PER_TASK):
            chunk = orgs[start : start + LETTERS_PER_TASK]
            for i, (org, data) in enumerate(
                zip(chunk, pdf.render_letters(run, [o.pk for o in chunk]), strict=True),
                start=start + 1,
            ):
                name = f"{i:04d}-{slugify(org.name)[:60] or 'mottagare'}.pdf"
                archive.writestr(zipfile.ZipInfo(name, _zip_date(run)), data)
            if progress:
                progress(100 * min(start + LETTERS_PER_TASK, len(orgs)) // len(orgs))
    return len(orgs)


# ---------------------------------------------------------------- roadmap tags


@transaction.atomic
def tag_pot(*, pot: Pot, codes: list[str], actor=None, actor_label: str = "") -> Pot:
    """Tie a pot to roadmap needs (by their codes), with an audit entry."""
    known = set(Need.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(f"unknown roadmap needs: {', '.join(unknown)}")
    before = list(pot.roadmap_needs or [])
    if before == codes:
        return pot
    pot.roadmap_needs = codes
    pot.save(update_fields=["roadmap_needs"])
    audit.log(
        "pot.roadmap_needs",
        pot,
        grant=pot.grant,
        actor=actor,
        actor_label=actor_label,
        before={"roadmap_needs": before},
        after={"roadmap_needs": codes},
    )
    return pot


@transaction.atomic
def tag_use(*, use: PermittedUse, needs: list[Need], actor=None, actor_label: str = "") -> None:
    """Tie a permitted use to roadmap needs, with an audit entry."""
    before = sorted(use.roadmap_needs.values_list("code", flat=True))
    after = sorted(n.code for n in needs)
    if before == after:
        return
    use.roadmap_needs.set(needs)
    audit.log(
        "permitted_use.roadmap_needs",
        use,
        actor=actor,
        actor_label=actor_label,
        before={"roadmap_needs": before},
        after={"roadmap_needs": after},
    )


# ---------------------------------------------------------------- the books' check


def books_check_minutes() -> int:
    return settings.STIMULANS_BOOKS_CHECK_MINUTES


# The newest audit entry this statement sees, the snapshot's xmax (to make the xids below
# full), and the transactions of this database other than ours that have written audit entries
# and not ended: each holds a RowExclusiveLock on the table and the lock on its own
# transaction id (its subtransactions' too). pg_locks is read once, after the statement's
# snapshot was taken: a writer in flight then is still listed unless it committed within the
# statement. (A change whose first write is its audit entry takes the entry's id a moment
# before its transaction id: in that moment it holds the table's lock but no id to list.)
_AUDIT_NOW = """
WITH locks AS MATERIALIZED (
    SELECT locktype, database, relation, transactionid, virtualtransaction, mode, granted, pid
    FROM pg_locks
)
SELECT
    (SELECT COALESCE(MAX(id), 0) FROM {table}),
    pg_snapshot_xmax(pg_current_snapshot())::text,
    ARRAY(
        SELECT DISTINCT x.transactionid::text
        FROM locks w JOIN locks x ON x.virtualtransaction = w.virtualtransaction
        WHERE w.locktype = 'relation' AND w.relation = %s::regclass
          AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND w.mode = 'RowExclusiveLock' AND w.pid <> pg_backend_pid()
          AND x.locktype = 'transactionid' AND x.mode = 'ExclusiveLock' AND x.granted
    )
"""

# The newest audit entry, and whether one of the recorded transactions has committed since.
# pg_xact_status fails on an id not yet given out (a database restored into another cluster):
# only ids below the current snapshot's xmax are asked; one at or above it has not ended.
_AUDIT_SINCE = """
SELECT
    (SELECT COALESCE(MAX(id), 0) FROM {table}),
    EXISTS (
        SELECT FROM unnest(%s::text[]) AS recorded(xid)
        WHERE CASE WHEN recorded.xid::xid8 < pg_snapshot_xmax(pg_current_snapshot())
              THEN pg_xact_status(recorded.xid::xid8) = 'committed' ELSE false END
    )
"""


def _full_xid(xid: int, near: int) -> int:
    """The 64-bit transaction id (xid8) of the 32-bit `xid` that lies within 2^31 of `near`."""
    offset = (xid - near) % 2**32
    return near + (offset - 2**32 if offset >= 2**31 else offset)


def _audit_now() -> tuple[int, list[int]]:
    """The newest audit entry this transaction sees, and the transactions that have written
    audit entries it cannot see yet (`BooksCheck.in_flight`)."""
    if connection.vendor != "postgresql":
        # SQLite (development and the demo) writes one transaction at a time and has no such
        # question to ask: nothing is recorded, and `books_check_is_stale` asks nothing.
        return AuditEntry.objects.aggregate(newest=Max("id"))["newest"] or 0, []
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_AUDIT_NOW.format(table=table), [AuditEntry._meta.db_table])
        mark, xmax, writers = cursor.fetchone()
    return mark, sorted(_full_xid(int(xid), int(xmax)) for xid in writers)


@transaction.atomic
def check_books(*, grant: Grant, actor=None) -> BooksCheck:
    """Run the books' check of `grant` (`applications.books.check_grant`) and keep its result.

    The breaches are kept in every language of the site, each as the check words them, so
    the dashboard shows them in its reader's; a check that finds none is run once. What it
    could not see is kept with it: the newest audit entry it saw and, on PostgreSQL, the
    changes with audit entries not yet committed (`books_check_is_stale` asks about both).
    """
    began = time.perf_counter()
    mark, in_flight = _audit_now()
    found = [str(breach) for breach in books.check_grant(grant)]
    texts: dict[str, list[str]] = {}
    if found:
        active = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
        for code, _name in settings.LANGUAGES:
            if code == active:
                texts[code] = found
            else:
                with translation.override(code):
                    texts[code] = [str(breach) for breach in books.check_grant(grant)]
    check = BooksCheck(
        grant=grant,
        checked_at=timezone.now(),
        audit_mark=mark,
        in_flight=in_flight,
        breaches=texts,
        milliseconds=round((time.perf_counter() - began) * 1000),
        checked_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    # One row per grant; two checks at once (two pages, or a page and the beat) both store,
    # the later one wins.
    BooksCheck.objects.bulk_create(
        [check],
        update_conflicts=True,
        unique_fields=["grant"],
        update_fields=[
            "checked_at",
            "audit_mark",
            "in_flight",
            "breaches",
            "milliseconds",
            "checked_by",
        ],
    )
    return BooksCheck.objects.get(grant=grant)


def books_check_is_stale(check: BooksCheck | None) -> bool:
    """Whether the kept check may no longer say what the books are.

    Stale when a change was made since (every change through the services leaves an audit
    entry), when a change that had written its entry but not committed when the check began
    has committed since (its entry may be older than the newest the check saw: on
    PostgreSQL, where such changes are recorded; one rolled back or still open is not), or
    when it is older than twice the beat's interval (the beat is not running). One query; a
    change made past the services leaves no entry: the beat's next check finds it.
    """
    if check is None:
        return True
    if connection.vendor != "postgresql":
        # SQLite: nothing is recorded in flight (`_audit_now`); only the newest entry is asked.
        newest = AuditEntry.objects.aggregate(newest=Max("id"))["newest"] or 0
        committed = False
    else:
        table = connection.ops.quote_name(AuditEntry._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                _AUDIT_SINCE.format(table=table), [[str(xid) for xid in check.in_flight]]
            )
            newest, committed = cursor.fetchone()
    if newest > check.audit_mark or committed:
        return True
    return timezone.now() - check.checked_at > timedelta(minutes=2 * books_check_minutes())


def current_books_check(grant: Grant) -> BooksCheck:
    """The grant's kept books check, made again first if it is stale."""
    check = BooksCheck.objects.filter(grant=grant).select_related("checked_by").first()
    if books_check_is_stale(check):
        check = check_books(grant=grant)
    return check


def check_all_books() -> int:
    """The beat's task: check and keep every grant's books; returns how many were checked."""
    count = 0
    for grant in Grant.objects.order_by("slug"):
        check_books(grant=grant)
        count += 1
    return count
