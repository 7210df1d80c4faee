"""Documents rendered by a real Celery worker on Redis and PostgreSQL, letters fanned out."""

import time
import zipfile
from datetime import date

import pytest
from django.core.management import call_command

from allocations.models import AllocationRow, Grant, Job, JobStatus
from allocations.services import compute_grant
from reporting import services
from reporting.documents import recipients
from reporting.models import JobKind

from .conftest import FIXTURES, SEED_000, SEED_002
from .factories import decide

pytestmark = [pytest.mark.services, pytest.mark.worker]


@pytest.fixture
def shared_media(tmp_path, monkeypatch, settings):
    """One MEDIA_ROOT for this process and the worker it starts."""
    media = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    settings.MEDIA_ROOT = media
    return media


def wait_for(job: Job, seconds: int = 120) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.finished:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.pk} still {job.status} at {job.progress} %")


@pytest.mark.breaks_books  # a run's rows deleted on purpose: the job must fail on it
def test_the_worker_renders_the_letters_batch_and_a_failure(shared_media, celery_worker_process):
    call_command("import_grant", str(FIXTURES / f"{SEED_000}.json"), "--review")
    grant = Grant.objects.get(slug=SEED_000)
    run = compute_grant(grant_id=grant.pk)
    run = decide(run_id=run.pk, decided_on=date(2020, 2, 20), decided_by="Äldrenämnden")

    job = wait_for(services.request_job(kind=JobKind.LETTERS, grant=grant, actor_label="test"))
    assert job.status == JobStatus.DONE, job.error
    assert job.parts_done == job.parts_total == len(recipients(run))
    with job.file.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        assert len(archive.namelist()) == job.parts_total

    call_command("import_grant", str(FIXTURES / f"{SEED_002}.json"))
    empty = Grant.objects.get(slug=SEED_002)
    AllocationRow.objects.filter(run=compute_grant(grant_id=empty.pk)).delete()
    failed = wait_for(
        services.request_job(kind=JobKind.DECISION_REPORT, grant=empty, actor_label="test")
    )
    assert failed.status == JobStatus.FAILED
    assert failed.error
    assert not failed.file
    assert celery_worker_process.poll() is None
