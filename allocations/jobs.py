"""Stored background jobs: one way to run work a user waits for, eager or on a worker.

A job is recorded and queued on commit; the generic task (`tasks.run_job`)
claims it and calls the function its kind registered here. The function
reports progress, then either finishes the job (with the run it produced or
the file it made) or raises: a `JobRefused` becomes the job's reason in words,
anything else a readable error. The page polls the record, so it reads the
same whether the work ran in this process (no broker configured) or on a worker.

Each app registers its kinds from its `AppConfig.ready()`: the ledger its
computation, reporting its documents and exports. An app above the owner of a
kind may let more users see its jobs and add links to them (`allow`), so the
ledger never needs to know the pages built on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from stimulans.roles import is_administrator

from . import audit
from .models import AllocationRun, Grant, Job, JobStatus

logger = logging.getLogger(__name__)

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
# How often a job whose worker died while doing it is taken up again before it is failed.
MAX_ATTEMPTS = 3
# The namespace of the PostgreSQL advisory locks a worker holds on the jobs it is doing.
LOCK_NAMESPACE = 0x5354494D


class JobRefused(Exception):
    """The work cannot be done as asked; the message says why, for the person who asked."""


class Unavailable(JobRefused):
    """The queue of background work does not answer: nothing was started."""


def unavailable_reason() -> str:
    return _(
        "Background work is unavailable right now: the queue does not answer. Nothing was "
        "started. Try again in a while; if it persists, tell the administrator."
    )


@dataclass
class Kind:
    name: str
    label: str | Promise
    run: Callable[[Job], None]
    # Who besides administrators and the one who asked may see its jobs: `user -> bool`.
    viewers: list[Callable] = field(default_factory=list)
    # Links shown on a job's page: functions `(job, user) -> [(label, url), …]`.
    links: list[Callable] = field(default_factory=list)
    # What a finished job says instead of "The file is ready.": `job -> str`.
    summary: Callable[[Job], str] | None = None


_KINDS: dict[str, Kind] = {}


def register(
    name: str,
    *,
    label: str | Promise,
    run: Callable[[Job], None],
    summary: Callable[[Job], str] | None = None,
) -> Kind:
    """Make a kind of job known; called once, from the owning app's `ready()`."""
    if name in _KINDS and _KINDS[name].run is not run:
        raise ValueError(f"job kind {name!r} is registered twice")
    kind = _KINDS.get(name) or Kind(name, label, run, summary=summary)
    _KINDS[name] = kind
    return kind


def allow(name: str, *, viewers: Callable | None = None, links: Callable | None = None) -> None:
    """Let more users see jobs of a kind, or show more links on their page (from a higher app)."""
    kind = get_kind(name)
    if viewers is not None and viewers not in kind.viewers:
        kind.viewers.append(viewers)
    if links is not None and links not in kind.links:
        kind.links.append(links)


def get_kind(name: str) -> Kind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r} is registered") from None


def kind_label(name: str) -> str:
    kind = _KINDS.get(name)
    return str(kind.label) if kind else name


# ---------------------------------------------------------------- asking


def request(
    *,
    kind: str,
    title: str,
    grant: Grant | None = None,
    run: AllocationRun | None = None,
    params: dict | None = None,
    actor=None,
    actor_label: str = "",
    once_per_grant: bool = False,
) -> Job:
    """Record what was asked and queue it for the worker once the record is committed.

    With `once_per_grant`, a job of this kind already queued or running for the
    grant is returned instead of a second one (the grant's row is locked while
    looking, so two presses at once find the same job).
    """
    get_kind(kind)
    params = dict(params or {})
    params.setdefault("language", translation.get_language() or settings.LANGUAGE_CODE)
    with transaction.atomic():
        if once_per_grant:
            Grant.objects.select_for_update().filter(pk=grant.pk).first()
            active = active_job(kind=kind, grant=grant)
            if active is not None:
                return active
        job = Job.objects.create(
            kind=kind,
            title=title,
            grant=grant,
            run=run,
            params=params,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            requested_by_label=audit.actor_name(actor, actor_label),
        )
        transaction.on_commit(lambda: send(job.pk))
    job.refresh_from_db()
    if job.status == JobStatus.FAILED and job.error == unavailable_reason():
        raise Unavailable(job.error)
    return job


def send(job_id: int) -> None:
    """Hand a recorded job to the queue; a queue that does not answer fails the job, saying so.

    Nothing was done yet, so nothing is half-done: the job is recorded as failed with
    the reason, not left queued for a worker that will never hear of it.
    """
    from . import tasks

    try:
        tasks.run_job.delay(job_id)
    except Exception as exc:  # the broker's and its client's errors differ; each is "not sent"
        if tasks.run_job.app.conf.task_always_eager:
            raise  # run in this process: the work failed, not the sending
        logger.warning("job %s could not be queued: %s: %s", job_id, type(exc).__name__, exc)
        fail(job_id, unavailable_reason())


def active_job(*, kind: str, grant: Grant, record: bool = True) -> Job | None:
    """The job of this kind queued or running for the grant, if one is (and not stalled).

    A stalled job found on the way is recorded as failed; a page that only reads passes
    `record=False` and leaves that to the beat's sweep (`fail_stalled`).
    """
    for job in Job.objects.filter(kind=kind, grant=grant, status__in=ACTIVE).order_by("-pk"):
        if not (expire_stalled(job) if record else as_shown(job)).finished:
            return job
    return None


def again(*, job: Job, actor=None, actor_label: str = "") -> Job:
    """Ask once more for what a job was asked to do, e.g. a file that has expired."""
    return request(
        kind=job.kind,
        title=job.title,
        grant=job.grant,
        run=job.run,
        params=job.params,
        actor=actor,
        actor_label=actor_label,
    )


def wait(job: Job, *, seconds: float) -> Job:
    """Poll the record until the job has finished; `TimeoutError` if it has not in time."""
    if transaction.get_connection().in_atomic_block:
        # The job is queued when the transaction commits: waiting inside it waits forever.
        raise RuntimeError("jobs.wait() inside a transaction: the job has not been queued yet")
    deadline = time.monotonic() + seconds
    while True:
        job.refresh_from_db()
        if expire_stalled(job).finished:
            return job
        if time.monotonic() >= deadline:
            raise TimeoutError(f"job {job.pk} is still {job.status}")
        time.sleep(0.2)


# ---------------------------------------------------------------- the worker's side


def run_job(*, job_id: int) -> None:
    """Claim the job and run what its kind registered; a task delivered twice does it once."""
    if not hold(job_id):
        return  # another worker is doing it
    try:
        job = claim(job_id)
        if job is None:
            return
        with translation.override(job.params.get("language") or settings.LANGUAGE_CODE):
            try:
                kind = get_kind(job.kind)
            except LookupError as exc:
                fail(job.pk, str(exc))
                return
            guarded(job.pk, lambda: kind.run(job))
    finally:
        release(job_id)


def hold(job_id: int, *, seconds: float = 5) -> bool:
    """Take the job's lock for this worker's database session, waiting a little for it.

    A worker holds it for as long as it works on the job; PostgreSQL lets go of it when
    the worker's connection ends, also when the worker is killed. So a task that finds
    its job running and the lock free knows the worker before it died. The wait gives
    a killed worker's session the moment PostgreSQL needs to notice it is gone. Without
    PostgreSQL (the embedded install) there is one process and nothing to lock.
    """
    if connection.vendor != "postgresql":
        return True
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, _key(job_id)])
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


def release(job_id: int) -> None:
    if connection.vendor != "postgresql" or connection.connection is None:
        return  # a closed connection has let go of its locks already
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, _key(job_id)])


def _key(job_id: int) -> int:
    return job_id & 0x7FFFFFFF


def claim(job_id: int) -> Job | None:
    """Mark a queued job running, under the job's lock (`hold`).

    A job found running lost its worker (a live one would hold the lock): it is taken
    up again from the start, as its work is one transaction or made of idempotent
    parts, until it has been tried `MAX_ATTEMPTS` times; then it fails, saying why.
    A finished job is left alone.
    """
    # A queued job, the usual case, is marked running by one conditional UPDATE (no transaction
    # of its own, no row lock held across round trips), then read with who asked for it (the
    # work records them: an audit entry, a run's author).
    now = timezone.now()
    started = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        started_at=now,
        progress=1,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if started:
        return Job.objects.select_related("requested_by").filter(pk=job_id).first()
    with transaction.atomic():
        # Who asked comes with the job: the work records them (an audit entry, a run's author).
        job = (
            Job.objects.select_for_update(of=("self",))
            .select_related("requested_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status not in ACTIVE:
            return None
        if job.status == JobStatus.RUNNING:
            logger.warning("job %s lost its worker; taking it up again", job_id)
            if job.attempts >= MAX_ATTEMPTS:
                fail_locked(
                    job,
                    _(
                        "The worker stopped %(count)s times while doing this job, so it is "
                        "not tried again. Tell the administrator."
                    )
                    % {"count": job.attempts},
                )
                return None
        else:
            job.started_at = timezone.now()
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.progress = 1
        job.save(update_fields=["status", "started_at", "progress", "attempts", "updated_at"])
        return job


def set_progress(job_id: int, progress: int) -> None:
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        progress=max(0, min(99, progress)), updated_at=timezone.now()
    )


def finish(
    job: Job, *, run: AllocationRun | None = None, name: str = "", content: File | None = None
) -> None:
    """The job is done: keep the run it produced and/or the file it made."""
    if content is not None:
        # A file left at the same name by a worker killed while writing it is replaced,
        # not kept beside the new one under another name.
        path = job.file.field.generate_filename(job, name)
        if job.file.name != path and job.file.storage.exists(path):
            job.file.storage.delete(path)
        job.file.save(name, content, save=False)
    if run is not None:
        job.run = run
    job.status = JobStatus.DONE
    job.progress = 100
    job.finished_at = timezone.now()
    job.save()


def fail(job_id: int, message: str) -> None:
    """The job failed: say why, and keep no file, not even part of one."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status == JobStatus.FAILED:
            return
        fail_locked(job, message)


def fail_locked(job: Job, message: str) -> None:
    job.status = JobStatus.FAILED
    job.error = message
    job.finished_at = timezone.now()
    discard_files(job)
    job.save()


def discard_files(job: Job) -> None:
    if job.file:
        job.file.delete(save=False)
    for part in job.parts.exclude(file=""):
        part.file.delete(save=False)
        part.done = False
        part.save(update_fields=["file", "done"])


def guarded(job_id: int, work: Callable[[], None]) -> None:
    """Run the work; whatever goes wrong becomes the job's readable error."""
    try:
        work()
    except JobRefused as exc:
        fail(job_id, str(exc))
    except SoftTimeLimitExceeded:
        fail(job_id, _("The job took too long and was stopped. Try again later."))
    except Exception as exc:
        logger.exception("job %s failed", job_id)
        fail(
            job_id,
            _(
                "Something went wrong while doing this job (%(error)s). Try again; "
                "if it happens again, tell the administrator."
            )
            % {"error": f"{type(exc).__name__}: {exc}"},
        )


def _stalled_reason(job: Job) -> str:
    if job.status == JobStatus.QUEUED:
        return _("No worker took this job in time: is the worker running? Ask again.")
    return _(
        "The worker stopped without finishing this job (it may have been restarted). Ask again."
    )


def expire_stalled(job: Job) -> Job:
    """A job no worker finished is failed rather than left as a bar that never moves."""
    if job.stalled():
        fail(job.pk, _stalled_reason(job))
        job.refresh_from_db()
    return job


def as_shown(job: Job) -> Job:
    """A job as a page shows it: a stalled one reads as failed, saying why. Nothing is written
    (a page only reads); the beat's sweep, `fail_stalled`, records it."""
    if job.stalled():
        job.status, job.error = JobStatus.FAILED, _stalled_reason(job)
    return job


def fail_stalled() -> int:
    """On the beat: record as failed every job no worker finished in time."""
    failed = 0
    for job in Job.objects.filter(status__in=ACTIVE).order_by("pk"):
        if job.stalled():
            expire_stalled(job)
            failed += 1
    return failed


def expire_files(*, now=None) -> int:
    """Delete the files of jobs finished longer ago than files are kept; mark them expired.

    Idempotent: an expired job is not looked at again, and a file already gone
    from the storage is no error. Returns how many jobs expired.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.STIMULANS_JOB_FILE_DAYS)
    expired = 0
    old = Job.objects.filter(status=JobStatus.DONE, finished_at__lt=cutoff).exclude(file="")
    for job_id in old.values_list("pk", flat=True):
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=job_id, status=JobStatus.DONE).first()
            if job is None:
                continue
            discard_files(job)
            job.status = JobStatus.EXPIRED
            job.save(update_fields=["file", "status", "updated_at"])
            expired += 1
    return expired


# ---------------------------------------------------------------- who sees it, and its page


def may_see(user, job: Job) -> bool:
    """Administrators, the one who asked, and whoever the job's kind lets see it."""
    if not (user.is_authenticated and user.is_active):
        return False
    if is_administrator(user) or (
        job.requested_by_id is not None and job.requested_by_id == user.pk
    ):
        return True
    kind = _KINDS.get(job.kind)
    return kind is not None and any(rule(user) for rule in kind.viewers)


def links(job: Job, user) -> list[tuple[str, str]]:
    """Where to go from a job's page; a later app's link replaces an earlier one's of a name."""
    kind = _KINDS.get(job.kind)
    found: dict[str, str] = {}
    for provider in kind.links if kind else ():
        for label, url in provider(job, user):
            found[str(label)] = url
    return list(found.items())


def summary(job: Job) -> str:
    kind = _KINDS.get(job.kind)
    if job.status == JobStatus.DONE and kind is not None and kind.summary is not None:
        return kind.summary(job)
    return ""
