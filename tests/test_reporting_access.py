"""Who sees what in reporting: officials everything, a provider only its own letter."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from allocations.models import AllocationRow, Job, JobStatus
from allocations.services import compute_grant
from applications.models import Membership
from reporting import services
from reporting.documents import recipients
from reporting.models import JobKind

from .conftest import SEED_001
from .factories import decide
from .test_reporting_pdf import amounts, flat, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def handler(name="handlaggare") -> User:
    """An official by the product's rule: `handle_cases`, not staff."""
    user = User.objects.create_user(name, password="x")
    user.user_permissions.add(Permission.objects.get(codename="handle_cases"))
    return User.objects.get(pk=user.pk)


def member_of(org, name) -> User:
    user = User.objects.create_user(name, password="x")
    Membership.objects.create(user=user, organisation=org)
    return user


@pytest.fixture
def decided(import_seed):
    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    run = decide(run_id=run.pk, decided_on=date(2020, 8, 25), decided_by="Äldrenämnden")
    a, b = recipients(run)[:2]
    return grant, run, a, b


def letter_url(run, org) -> str:
    return reverse("reporting:provider-letter", args=[run.pk, org.slug])


def figures(run, org) -> set[int]:
    rows = list(
        AllocationRow.objects.filter(run=run, organisation=org, amount__gt=0).values_list(
            "pot_id", "amount"
        )
    )
    per_pot: dict[int, int] = {}
    for pot_id, amount in rows:
        per_pot[pot_id] = per_pot.get(pot_id, 0) + amount
    return {a for _p, a in rows} | set(per_pot.values()) | {sum(a for _p, a in rows)}


def test_a_provider_gets_its_own_letter_and_nothing_of_another(decided, client):
    _grant, run, a, b = decided
    mine, theirs = figures(run, a), figures(run, b)
    assert max(theirs) not in mine  # the two recipients' totals can be told apart
    client.force_login(member_of(a, "utforare-a"))

    response = client.get(letter_url(run, a))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    words = flat(pdf_text(response.content))
    assert a.name in words
    assert b.name not in words
    found = set(amounts(words))
    assert max(mine) in found
    assert found <= mine, f"amounts not of {a.name}: {sorted(found - mine)}"

    assert client.get(letter_url(run, b)).status_code == 404
    assert (
        client.get(reverse("reporting:provider-letter", args=[run.pk, "no-such"])).status_code
        == 404
    )
    assert (
        client.get(reverse("reporting:provider-letter", args=[run.pk + 99, a.slug])).status_code
        == 404
    )


def test_an_undecided_run_has_no_letter(import_seed, client):
    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    org = recipients(run)[0]
    client.force_login(member_of(org, "utforare-a"))
    assert client.get(letter_url(run, org)).status_code == 404


def test_a_letter_the_batch_rendered_is_served_as_sent(
    decided, client, django_capture_on_commit_callbacks
):
    grant, run, a, _b = decided
    with django_capture_on_commit_callbacks(execute=True):
        job = services.request_job(kind=JobKind.LETTERS, grant=grant, run=run)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    part = job.parts.get(organisation=a)
    with part.file.open("rb") as fh:
        sent = fh.read()
    client.force_login(member_of(a, "utforare-a"))
    response = client.get(letter_url(run, a))
    assert b"".join(response.streaming_content) == sent


def test_anonymous_users_are_sent_to_sign_in(decided, client):
    grant, run, a, _b = decided
    for url in (
        letter_url(run, a),
        reverse("reporting:grants"),
        reverse("reporting:dashboard", args=[grant.slug]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "login" in response["Location"]


def test_providers_are_kept_out_of_the_officials_pages(decided, client):
    grant, run, a, _b = decided
    job = services.request_job(kind=JobKind.DECISION_REPORT, grant=grant, run=run)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE)
    client.force_login(member_of(a, "utforare-a"))
    for url in (
        reverse("reporting:grants"),
        reverse("reporting:dashboard", args=[grant.slug]),
        reverse("reporting:documents", args=[grant.slug]),
        reverse("reporting:needs", args=[grant.slug]),
        reverse("reporting:followup"),
        reverse("reporting:import-units"),
        reverse("allocations:job", args=[job.pk]),
        reverse("allocations:job-status", args=[job.pk]),
        reverse("allocations:download", args=[job.pk]),
        reverse("allocations:download-part", args=[job.pk, 1]),
    ):
        assert client.get(url).status_code == 403, url
    assert (
        client.post(
            reverse("reporting:documents", args=[grant.slug]), {"action": "letters"}
        ).status_code
        == 403
    )
    assert Job.objects.count() == 1


def test_officials_with_handle_cases_use_the_pages_without_being_staff(decided, client):
    grant, run, _a, b = decided
    official = handler()
    assert not official.is_staff
    client.force_login(official)
    for url in (
        reverse("reporting:grants"),
        reverse("reporting:dashboard", args=[grant.slug]),
        reverse("reporting:documents", args=[grant.slug]),
        reverse("reporting:followup"),
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        reverse("reporting:documents", args=[grant.slug]),
        {"action": "export", "exporter": "allocations", "format": "csv"},
    )
    assert response.status_code == 302
    job = Job.objects.get()
    assert client.get(reverse("allocations:job", args=[job.pk])).status_code == 200
    # An official reads any recipient's letter.
    assert client.get(letter_url(run, b)).status_code == 200


def test_an_inactive_official_is_refused(decided, client):
    grant, _run, _a, _b = decided
    official = handler()
    official.is_active = False
    official.save()
    client.force_login(official)
    response = client.get(reverse("reporting:dashboard", args=[grant.slug]))
    assert response.status_code in (302, 403)


def test_the_providers_decision_page_links_to_its_letter_and_figures(import_seed, client):
    from applications import services as workflow

    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    run = workflow.decide(
        run=run,
        decided_on=date(2020, 8, 25),
        decided_by="Äldrenämnden",
        delegation="",
        reference="ÄN 2020/1",
        requisition_by=None,
        actor=None,
    )
    req = run.requisitions.select_related("organisation").first()
    client.force_login(member_of(req.organisation, "utforare"))
    page = client.get(reverse("portal:requisition", args=[req.pk])).content.decode()
    letter = letter_url(run, req.organisation)
    usage = reverse("reporting:provider-usage", args=[grant.slug, req.organisation.slug, "xlsx"])
    assert letter in page
    assert usage in page
    answer = client.get(letter)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    assert req.organisation.name in flat(pdf_text(answer.content))
    assert client.get(usage).status_code == 200
