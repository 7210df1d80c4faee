"""End to end on the real parts: import → allocate through a Celery worker → rows in PostgreSQL."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from allocations.models import AllocationRow, AllocationRun, AuditEntry

from .conftest import FIXTURES, SEED_002, SEED_003

pytestmark = [pytest.mark.services, pytest.mark.worker]


def test_allocate_runs_in_a_real_worker_and_stores_rows_in_postgresql(
    celery_worker_process, capsys
):
    assert connection.vendor == "postgresql"
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    assert settings.CELERY_BROKER_URL.startswith("redis://")

    call_command("import_grant", str(FIXTURES / f"{SEED_003}.json"))
    call_command("allocate", SEED_003)
    out = capsys.readouterr().out
    assert "51 810 636 kr" in out
    assert "160 000 kr" in out

    run = AllocationRun.objects.get(grant__slug=SEED_003)
    assert run.allocated() == 51_650_636
    assert AllocationRow.objects.filter(run=run, pot__slug="grundstod-sdf").count() == 11
    # The worker, not this process, did the computing: the task runs under its own label.
    entry = AuditEntry.objects.get(action="run.computed")
    assert entry.actor_label == "allocate (command)"
    assert celery_worker_process.poll() is None


def test_the_worker_reports_a_grant_that_cannot_be_computed(celery_worker_process):
    from django.core.management import CommandError

    from allocations.models import Job, JobStatus, Pot

    call_command("import_grant", str(FIXTURES / f"{SEED_003}.json"))
    # Approved amounts beyond the pot: valid input, but the engine refuses to divide it.
    Pot.objects.filter(slug="ssk-ansokan").update(amount=1_000_000)
    Pot.objects.filter(slug="ssk-samordning").update(takes_rest=False, amount=800_000)
    with pytest.raises(CommandError, match="ssk-ansokan"):
        call_command("allocate", SEED_003)
    assert Job.objects.get().status == JobStatus.FAILED
    assert not AllocationRun.objects.exists()


@pytest.mark.breaks_books  # a fixed model giving more than its pot, on purpose
def test_a_tree_the_engine_cannot_read_is_refused_before_it_is_queued(celery_worker_process):
    from django.core.management import CommandError

    from allocations.models import Job, Pot

    call_command("import_grant", str(FIXTURES / f"{SEED_002}.json"))
    Pot.objects.filter(slug="befolkningsandel").update(
        model={"type": "fixed", "amounts": {"stockholms-stad": 30_000_000}}
    )
    with pytest.raises(CommandError, match="10 000 000 kr"):
        call_command("allocate", SEED_002)
    assert not Job.objects.exists()
    assert not AllocationRun.objects.exists()


def test_a_compute_job_on_the_worker_is_the_record_an_eager_one_is(celery_worker_process):
    from django.utils import translation

    from allocations import jobs
    from allocations.models import Grant, JobStatus, Pot
    from allocations.services import request_compute
    from stimulans.celery import app

    call_command("import_grant", str(FIXTURES / f"{SEED_003}.json"))
    grant = Grant.objects.get(slug=SEED_003)

    with translation.override("en"):
        queued = request_compute(grant=grant, actor_label="test")
    assert queued.status == JobStatus.QUEUED  # a worker's job: not run in this process
    on_worker = jobs.wait(queued, seconds=120)
    assert on_worker.status == JobStatus.DONE, on_worker.error
    assert on_worker.progress == 100
    assert on_worker.started_at <= on_worker.finished_at
    run = AllocationRun.objects.get(grant=grant)
    assert on_worker.run == run
    assert run.allocated() == 51_650_636

    app.conf.task_always_eager = True
    try:
        with translation.override("en"):
            eager = request_compute(grant=grant, actor_label="test")
    finally:
        app.conf.task_always_eager = False
    eager.refresh_from_db()
    assert eager.pk != on_worker.pk

    def record(job):
        return (job.kind, job.title, job.grant_id, job.status, job.progress, job.error, job.run_id)

    assert record(eager) == record(on_worker)

    # A pot the engine refuses: the job fails with the reason in words and stores no run.
    digest = run.result_digest
    Pot.objects.filter(grant=grant, slug="ssk-ansokan").update(amount=1_000_000)
    Pot.objects.filter(grant=grant, slug="ssk-samordning").update(takes_rest=False, amount=800_000)
    with translation.override("en"):
        failed = jobs.wait(request_compute(grant=grant, actor_label="test"), seconds=120)
    assert failed.status == JobStatus.FAILED
    assert f"“{grant}” could not be computed: pot ssk-ansokan" in failed.error
    assert failed.run is None
    assert AllocationRun.objects.filter(grant=grant).count() == 1
    run.refresh_from_db()
    assert run.result_digest == digest
    assert celery_worker_process.poll() is None
