"""Stored jobs: computing through every door, who sees a job, and files that expire."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from allocations import jobs
from allocations.models import AllocationRun, Job, JobPart, JobStatus
from allocations.services import COMPUTE, ComputeRefused, request_compute
from reporting import services as reporting
from reporting.models import JobKind

from .conftest import SEED_000, SEED_001, SEED_003
from .factories import official_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def compute_fields(job: Job) -> tuple:
    job.refresh_from_db()
    return (job.kind, job.title, job.grant_id, job.status, job.progress, job.error, job.run_id)


# ---------------------------------------------------------------- one door, many callers


@pytest.mark.django_db(transaction=True)
def test_the_page_the_admin_and_the_command_make_the_same_job(import_seed):
    grant = import_seed(SEED_000)
    official = official_user()
    admin = User.objects.create_superuser("admin", "admin@example.invalid", "x")
    made = []

    page = signed_in(official, "sv").post(reverse("office:compute", args=[grant.pk]))
    made.append(Job.objects.latest("pk"))
    assert page.url == reverse("allocations:job", args=[made[-1].pk])

    button = signed_in(admin, "sv").post(
        reverse("admin:allocations_grant_compute", args=[grant.pk])
    )
    made.append(Job.objects.latest("pk"))
    assert button.url == reverse("allocations:job", args=[made[-1].pk])

    action = {"action": "compute_allocations", "_selected_action": [grant.pk]}
    signed_in(admin, "sv").post(reverse("admin:allocations_grant_changelist"), action)
    made.append(Job.objects.latest("pk"))

    call_command("allocate", SEED_000, stdout=open("/dev/null", "w"))  # noqa: SIM115
    made.append(Job.objects.latest("pk"))

    assert len({job.pk for job in made}) == 4  # each finished before the next was asked
    run = AllocationRun.objects.get(grant=grant)  # computing again changed nothing
    fields = {compute_fields(job) for job in made}
    assert len(fields) == 1, fields
    kind, _title, grant_id, status, progress, error, run_id = fields.pop()
    assert (kind, grant_id, status, progress, error, run_id) == (
        COMPUTE,
        grant.pk,
        JobStatus.DONE,
        100,
        "",
        run.pk,
    )
    who = [job.requested_by_label for job in made]
    assert who == ["handlaggare", "admin", "admin", "allocate (command)"]


def test_a_second_press_while_queued_returns_the_same_job(
    import_seed, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_000)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = request_compute(grant=grant, actor_label="one")
        second = request_compute(grant=grant, actor_label="two")
    assert second.pk == first.pk
    assert len(queued) == 1
    Job.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING)
    assert request_compute(grant=grant, actor_label="three").pk == first.pk
    Job.objects.filter(pk=first.pk).update(status=JobStatus.DONE)
    with django_capture_on_commit_callbacks(execute=True):
        third = request_compute(grant=grant, actor_label="four")
    assert third.pk != first.pk
    third.refresh_from_db()
    assert third.status == JobStatus.DONE


def test_a_stalled_computation_does_not_block_a_new_one(import_seed, settings):
    grant = import_seed(SEED_000)
    stuck = request_compute(grant=grant, actor_label="test")
    Job.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    )
    with translation.override("en"):
        fresh = request_compute(grant=grant, actor_label="test")
    assert fresh.pk != stuck.pk
    stuck.refresh_from_db()
    assert stuck.status == JobStatus.FAILED
    assert "No worker took this job" in stuck.error


def test_a_grant_the_engine_cannot_read_is_refused_and_nothing_is_queued(import_seed):
    grant = import_seed(SEED_003)
    grant.pots.filter(slug="lss-halsan").update(model=None)
    with translation.override("en"), pytest.raises(ComputeRefused, match="cannot be computed yet"):
        request_compute(grant=grant, actor_label="test")
    assert not Job.objects.exists()


def test_only_the_one_who_asked_administrators_and_officials_see_a_computation(
    import_seed, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_000)
    with django_capture_on_commit_callbacks(execute=True):
        job = request_compute(grant=grant, actor_label="test")
    url = reverse("allocations:job", args=[job.pk])
    stranger = User.objects.create_user("someone", password="x")
    assert signed_in(stranger).get(url).status_code == 403
    assert (
        signed_in(stranger).get(reverse("allocations:job-status", args=[job.pk])).status_code == 403
    )
    assert signed_in().get(url).status_code == 302  # to sign in
    page = signed_in(official_user()).get(url)
    assert page.status_code == 200
    assert (grant.title, reverse("office:grant", args=[grant.pk])) in page.context["links"]
    status = signed_in(official_user("another")).get(
        reverse("allocations:job-status", args=[job.pk])
    )
    assert status.json()["run"] == AllocationRun.objects.get(grant=grant).pk
    assert status.json()["download"] is None


# ---------------------------------------------------------------- files expire


def export_job(grant, capture) -> Job:
    with capture(execute=True):
        job = reporting.request_job(
            kind=JobKind.EXPORT,
            grant=grant,
            params={"exporter": "allocations", "format": "csv"},
            actor_label="test",
        )
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    return job


def test_an_old_file_is_deleted_and_its_job_expired_once(
    import_seed, settings, media, django_capture_on_commit_callbacks
):
    from allocations.services import compute_grant

    grant = import_seed(SEED_001, review=True)
    compute_grant(grant_id=grant.pk)
    old = export_job(grant, django_capture_on_commit_callbacks)
    new = export_job(grant, django_capture_on_commit_callbacks)
    part = JobPart.objects.create(job=old, position=1, label="a part", done=True)
    part.file.save("part.pdf", old.file.open("rb"), save=True)
    old_path, part_path, new_path = (
        media / old.file.name,
        media / part.file.name,
        media / new.file.name,
    )
    assert all(path.is_file() for path in (old_path, part_path, new_path))
    days = settings.STIMULANS_JOB_FILE_DAYS
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=days, hours=1))
    Job.objects.filter(pk=new.pk).update(finished_at=timezone.now() - timedelta(days=days - 1))

    from allocations.tasks import expire_job_files

    assert expire_job_files.delay().get() == 1  # the beat's task, as the beat sends it
    old.refresh_from_db()
    part.refresh_from_db()
    assert old.status == JobStatus.EXPIRED
    assert (bool(old.file), bool(part.file), part.done) == (False, False, False)
    assert not any(path.exists() for path in (old_path, part_path))
    assert new_path.is_file()
    assert jobs.expire_files() == 0  # idempotent: nothing more to do

    official = signed_in(official_user())
    page = official.get(reverse("allocations:job", args=[old.pk]))
    assert "The file has expired" in page.content.decode()
    assert official.get(reverse("allocations:download", args=[old.pk])).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        again = official.post(reverse("allocations:job-again", args=[old.pk]))
    remade = Job.objects.latest("pk")
    assert again.url == reverse("allocations:job", args=[remade.pk])
    assert (remade.kind, remade.params, remade.status) == (old.kind, old.params, JobStatus.DONE)
    assert (media / remade.file.name).is_file()


def test_a_file_already_gone_still_expires(
    import_seed, settings, media, django_capture_on_commit_callbacks
):
    from allocations.services import compute_grant

    grant = import_seed(SEED_001, review=True)
    compute_grant(grant_id=grant.pk)
    job = export_job(grant, django_capture_on_commit_callbacks)
    (media / job.file.name).unlink()
    later = timezone.now() + timedelta(days=settings.STIMULANS_JOB_FILE_DAYS + 1)
    assert jobs.expire_files(now=later) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.EXPIRED


# ---------------------------------------------------------------- the move from reporting


@pytest.mark.django_db(transaction=True)
def test_jobs_made_before_the_move_to_the_ledger_survive_it():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [
        ("allocations", "0008_redistribution_recipients"),
        ("reporting", "0001_documents_exports_roadmap"),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    job = old.get_model("reporting", "Job").objects.create(
        kind="export", title="made before", requested_by_label="test", status="done"
    )
    old.get_model("reporting", "JobPart").objects.create(job=job, position=1, label="a letter")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # forward again, every app
    moved = Job.objects.get(pk=job.pk)
    assert (moved.title, moved.status, moved.parts.get().label) == (
        "made before",
        "done",
        "a letter",
    )
