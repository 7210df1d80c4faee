"""Document jobs: asked for, rendered by the worker, stored; a failure is a readable message."""

import io
import zipfile
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from allocations import jobs
from allocations.models import AllocationRow, Grant, Job, JobStatus
from allocations.services import compute_grant
from reporting import services
from reporting.documents import RenderError, recipients
from reporting.models import JobKind

from .conftest import SEED_000, SEED_001, SEED_002
from .factories import decide, official_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def official(db):
    return official_user("handlaggare")


def decided(import_seed, slug):
    grant = import_seed(slug, review=True)
    run = compute_grant(grant_id=grant.pk)
    return grant, decide(run_id=run.pk, decided_on=date(2020, 8, 25), decided_by="Äldrenämnden")


def ask(capture, **kwargs) -> Job:
    with capture(execute=True):
        job = services.request_job(**kwargs)
    job.refresh_from_db()
    return job


def test_a_decision_report_job_stores_the_pdf_and_who_asked(
    import_seed, official, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_002)
    run = compute_grant(grant_id=grant.pk)
    job = ask(
        django_capture_on_commit_callbacks, kind=JobKind.DECISION_REPORT, grant=grant, user=official
    )
    assert job.status == JobStatus.DONE
    assert job.progress == 100
    assert job.requested_by == official
    assert job.run == run
    assert job.error == ""
    assert job.file.name.endswith(f"{SEED_002}-run-1-forslag.pdf")
    with job.file.open("rb") as fh:
        assert len(PdfReader(fh).pages) >= 2


def test_a_letters_job_fans_out_and_zips_one_pdf_per_recipient(
    import_seed, official, django_capture_on_commit_callbacks, monkeypatch
):
    grant, run = decided(import_seed, SEED_000)
    from reporting import tasks

    calls = []
    original = tasks.render_letter_parts.delay
    monkeypatch.setattr(
        tasks.render_letter_parts, "delay", lambda *a: calls.append(a) or original(*a)
    )
    job = ask(django_capture_on_commit_callbacks, kind=JobKind.LETTERS, grant=grant, user=official)
    orgs = recipients(run)
    assert job.status == JobStatus.DONE, job.error
    assert job.parts_total == job.parts_done == len(orgs)
    assert len(calls) == -(-len(orgs) // services.LETTERS_PER_TASK)  # one subtask per chunk
    with job.file.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        assert len(archive.namelist()) == len(orgs)
    assert all(part.done and part.file for part in job.parts.all())


def test_letters_need_a_decided_run(import_seed, official):
    grant = import_seed(SEED_000)
    compute_grant(grant_id=grant.pk)
    with pytest.raises(RenderError):
        services.request_job(kind=JobKind.LETTERS, grant=grant, user=official)
    assert not Job.objects.exists()


def test_an_export_job_streams_to_a_file(import_seed, official, django_capture_on_commit_callbacks):
    grant = import_seed(SEED_001, review=True)
    compute_grant(grant_id=grant.pk)
    job = ask(
        django_capture_on_commit_callbacks,
        kind=JobKind.EXPORT,
        grant=grant,
        params={"exporter": "allocations", "format": "xlsx"},
        user=official,
    )
    assert job.status == JobStatus.DONE, job.error
    assert job.file.name.endswith(".xlsx")


# ---------------------------------------------------------------- bad input


def test_a_broken_template_fails_the_job_with_a_message_and_no_file(
    import_seed, official, settings, tmp_path, django_capture_on_commit_callbacks
):
    broken = tmp_path / "templates" / "reporting" / "documents"
    broken.mkdir(parents=True)
    (broken / "decision.html").write_text("{% extends 'reporting/documents/base.html' %}{% if %}")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path / "templates", *settings.TEMPLATES[0]["DIRS"]]}
    ]
    grant = import_seed(SEED_002)
    compute_grant(grant_id=grant.pk)
    job = ask(
        django_capture_on_commit_callbacks, kind=JobKind.DECISION_REPORT, grant=grant, user=official
    )
    assert job.status == JobStatus.FAILED
    assert "reporting/documents/decision.html" in job.error
    assert not job.file
    assert not list(settings.MEDIA_ROOT.rglob("*.pdf"))


def test_a_missing_font_fails_the_job_and_the_letters_batch_before_it_starts(
    import_seed, official, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.STIMULANS_DOCUMENT_FONT_DIR = tmp_path / "no-fonts"
    grant, _run = decided(import_seed, SEED_000)
    for kind in (JobKind.DECISION_REPORT, JobKind.LETTERS):
        job = ask(django_capture_on_commit_callbacks, kind=kind, grant=grant, user=official)
        assert job.status == JobStatus.FAILED
        assert "DejaVuSans.ttf" in job.error
        assert not job.file
        assert not job.parts.exclude(file="").exists()


@pytest.mark.breaks_books  # a run's rows changed on purpose: the report must refuse it
def test_an_empty_grant_fails_with_a_message(
    import_seed, official, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_002)
    run = compute_grant(grant_id=grant.pk)
    AllocationRow.objects.filter(run=run).delete()  # a run that gave nothing
    job = ask(
        django_capture_on_commit_callbacks, kind=JobKind.DECISION_REPORT, grant=grant, user=official
    )
    assert job.status == JobStatus.FAILED
    assert grant.title in job.error
    assert not job.file


@pytest.mark.breaks_books  # a run's rows changed on purpose: the report must refuse it
def test_totals_that_do_not_tie_are_refused(
    import_seed, official, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_002)
    run = compute_grant(grant_id=grant.pk)
    row = AllocationRow.objects.filter(run=run).first()
    AllocationRow.objects.filter(pk=row.pk).update(amount=row.amount + 1)
    job = ask(
        django_capture_on_commit_callbacks, kind=JobKind.DECISION_REPORT, grant=grant, user=official
    )
    assert job.status == JobStatus.FAILED
    assert "20000001" in job.error.replace(" ", "").replace("\u00a0", "")


def test_a_grant_never_computed_is_refused_when_asked(import_seed, official):
    grant = import_seed(SEED_002)
    with pytest.raises(RenderError, match=grant.title):
        services.request_job(kind=JobKind.DECISION_REPORT, grant=grant, user=official)


def test_a_part_failing_fails_the_batch_and_removes_every_letter(
    import_seed, official, django_capture_on_commit_callbacks, monkeypatch
):
    grant, _run = decided(import_seed, SEED_000)
    from reporting import pdf

    real = pdf.render_letters
    calls = {"n": 0}

    def flaky(run, ids):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(run, ids)

    monkeypatch.setattr(pdf, "render_letters", flaky)
    job = ask(django_capture_on_commit_callbacks, kind=JobKind.LETTERS, grant=grant, user=official)
    assert job.status == JobStatus.FAILED
    assert "disk full" in job.error
    assert not job.file
    assert not job.parts.exclude(file="").exists()
    assert not list(default_storage.listdir(f"jobs/{job.pk}/parts")[1])


def test_a_job_whose_worker_died_shows_as_failed(import_seed, official, settings):
    grant = import_seed(SEED_002)
    run = compute_grant(grant_id=grant.pk)
    job = Job.objects.create(
        kind=JobKind.DECISION_REPORT,
        title="x",
        grant=grant,
        run=run,
        status=JobStatus.RUNNING,
        requested_by_label="test",
    )
    Job.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    )
    shown = signed_in(official).get(reverse("allocations:job", args=[job.pk]))
    assert shown.context["job"].status == JobStatus.FAILED
    assert "worker stopped" in shown.context["job"].error
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING  # a page only reads

    assert jobs.fail_stalled() == 1  # the beat's sweep records it
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert "worker stopped" in job.error


# ---------------------------------------------------------------- the pages


def test_the_pages_ask_show_progress_and_serve_the_file(
    import_seed, official, client, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_002)
    compute_grant(grant_id=grant.pk)
    client.force_login(official)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            reverse("reporting:documents", args=[grant.slug]), {"action": "decision_report"}
        )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("allocations:job", args=[job.pk])
    page = client.get(response["Location"])
    assert b'http-equiv="refresh"' in page.content  # queued: the page updates itself
    assert client.get(reverse("allocations:job-status", args=[job.pk])).json()["status"] == "queued"
    for callback in queued:
        callback()
    status = client.get(reverse("allocations:job-status", args=[job.pk])).json()
    assert status["status"] == "done"
    assert status["progress"] == 100
    download = client.get(status["download"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    assert b'http-equiv="refresh"' not in client.get(response["Location"]).content


def test_only_officials_see_the_pages(import_seed, client):
    grant = import_seed(SEED_002)
    url = reverse("reporting:dashboard", args=[grant.slug])
    assert client.get(url).status_code == 302  # to sign in
    provider = get_user_model().objects.create_user("utforare", password="x")
    client.force_login(provider)
    assert client.get(url).status_code == 403
    assert client.get(reverse("reporting:grants")).status_code == 403
    assert Grant.objects.filter(slug=grant.slug).exists()


def test_the_letters_pdf_is_real_text(import_seed, official, django_capture_on_commit_callbacks):
    grant, _run = decided(import_seed, SEED_000)
    job = ask(django_capture_on_commit_callbacks, kind=JobKind.LETTERS, grant=grant, user=official)
    part = job.parts.order_by("position").first()
    with part.file.open("rb") as fh:
        text = PdfReader(io.BytesIO(fh.read())).pages[0].extract_text()
    assert part.label in text.replace("\n", " ")
