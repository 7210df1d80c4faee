"""The officials' pages, driven as an official through the test client."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from allocations.models import (
    AllocationRun,
    AuditEntry,
    GrantUnit,
    Job,
    JobStatus,
    Organisation,
    PermittedUse,
    Pot,
    Unit,
)
from allocations.services import compute_grant
from applications import services
from applications.models import (
    Application,
    ApplicationStatus,
    ApplicationUnit,
    Call,
    ClaimDisposition,
    Membership,
    Notice,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
)

from .conftest import SEED_000, SEED_002, SEED_003, fit_agreement
from .factories import provider_user as provider

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def english():
    # Service messages are asserted in their source language; the site is Swedish first.
    with translation.override("en"):
        yield


@pytest.fixture
def office(client, official):
    client.force_login(official)
    client.defaults.update(EN)
    return client


@pytest.fixture
def seed000(import_seed):
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=date(2021, 1, 31))  # the tests decide in spring 2020
    return grant, Pot.objects.get(grant=grant, slug="sarskilda-boenden")


def page_text(response) -> str:
    # Collapses the template's layout, but not the no-break spaces inside amounts.
    return re.sub(r"[ \t\r\n]+", " ", response.content.decode())


def compute(office, grant, capture) -> AllocationRun:
    # The job is queued once the request's transaction commits; eager, it runs at once.
    with capture(execute=True):
        response = office.post(reverse("office:compute", args=[grant.pk]))
    job = Job.objects.filter(kind="compute", grant=grant).latest("pk")
    assert response.url == reverse("allocations:job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert job.run == grant.runs.get(redistributes=None)
    return job.run


def decide(office, run, **decision):
    data = {
        "decided_on": "2020-04-01",
        "decided_by": "Förvaltningschef",
        "delegation": "Äldrenämndens delegationsordning",
        "reference": "ÄN 2020/55",
        "requisition_by": "2020-05-01",
        **decision,
    }
    url = reverse("office:decide", args=[run.pk])
    summary = office.post(url, data)  # first what it will do, with the amounts
    assert summary.status_code == 200
    assert summary.context["ready"], summary.context["form"].errors
    run.refresh_from_db()
    assert not run.is_decided
    response = office.post(url, {**data, "confirmed": "yes"})
    assert response.status_code == 302, response.context["form"].errors
    run.refresh_from_db()
    assert run.is_decided
    return run


def accept(req: Requisition, user) -> Requisition:
    use = PermittedUse.objects.filter(agreement=req.run.grant.agreement).first()
    return services.accept_requisition(
        req=req,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={use: req.amount},
        actor=user,
    )


# ---------------------------------------------------------------- start and calls


def test_start_shows_grants_calls_and_what_waits(office, seed000, official):
    grant, pot = seed000
    today = timezone.localdate()
    fit_agreement(grant, report_by=today + timedelta(days=365))  # the call is open today
    services.open_call(
        pot=pot, title="Öppen", opens_on=today, closes_on=today + timedelta(days=5), actor=official
    )
    Application.objects.filter(grant=grant, slug="ans-021").update(status="submitted")
    submitted = Application.objects.filter(status="submitted").count()
    response = office.get(reverse("office:start"))
    assert response.status_code == 200
    assert response.context["counts"]["submitted"] == submitted > 0
    assert response.context["open_count"] == 1
    text = page_text(response)
    assert grant.title in text
    assert "Öppen" in text
    assert "8\u00a0209\u00a0071\u00a0kr" in text  # the grant's amount, through the kronor filter


def test_open_and_close_a_call(office, seed000):
    grant, pot = seed000
    url = reverse("office:call_new")
    bad = {"pot": pot.pk, "title": "X", "opens_on": "2020-03-10", "closes_on": "2020-03-01"}
    response = office.post(url, bad)
    assert response.status_code == 200
    assert "A call cannot close before it opens." in response.context["form"].errors["closes_on"]
    assert response.context["form"]["title"].value() == "X"  # the input is kept
    for tampered in ("abc", "999999999", "99999999999999999999999"):
        response = office.post(url, {**bad, "pot": tampered, "closes_on": "2020-03-31"})
        assert response.status_code == 200
        assert "pot" in response.context["form"].errors
    assert not Call.objects.exists()

    # The call closes before the agreement's first date: the money is decided, then spent.
    response = office.post(url, {**bad, "closes_on": "2021-01-31"})
    assert response.context["form"].errors["closes_on"] == [
        "The call must close before the agreement's report-by date (2021-01-31): the money is "
        "decided after the call closes, and then spent."
    ]
    fit_agreement(grant, spend_by=date(2020, 12, 31))
    response = office.post(url, {**bad, "closes_on": "2021-01-15"})
    assert (
        "the agreement's spend-by date (2020-12-31)"
        in response.context["form"].errors["closes_on"][0]
    )
    response = office.post(url, {**bad, "closes_on": "2020-12-30"})
    assert response.status_code == 302
    Call.objects.all().delete()

    today = timezone.localdate()
    fit_agreement(grant, spend_by=None, report_by=today + timedelta(days=365))
    good = {
        "pot": pot.pk,
        "title": "Intresseanmälan",
        "opens_on": today.isoformat(),
        "closes_on": (today + timedelta(days=10)).isoformat(),
    }
    response = office.post(url, good)
    call = Call.objects.get()
    assert response.url == reverse("office:call", args=[call.pk])
    listing = office.get(reverse("office:calls"), {"state": "open"})
    assert list(listing.context["page"]) == [call]
    assert list(office.get(reverse("office:calls"), {"state": "closed"}).context["page"]) == []

    close = reverse("office:call_close", args=[call.pk])
    assert "closes at the end of today" in page_text(office.get(close))
    office.post(close)  # not confirmed: the page again
    call.refresh_from_db()
    assert call.closes_on == today + timedelta(days=10)
    office.post(close, {"confirmed": "yes"})
    call.refresh_from_db()
    assert call.closes_on == today


# ---------------------------------------------------------------- review


def places_by_status(pot) -> dict[str, int]:
    rows = (
        ApplicationUnit.objects.filter(application__pot=pot)
        .values("application__status")
        .annotate(total=Sum(Coalesce("places", "grant_unit__places")))
    )
    return {r["application__status"]: r["total"] for r in rows}


def test_review_list_counts_sums_and_filters(office, seed000):
    _grant, pot = seed000
    url = reverse("office:pot_review", args=[pot.pk])
    response = office.get(url)
    assert response.status_code == 200
    summary = {row["status"]: row for row in response.context["summary"]}
    apps = Application.objects.filter(pot=pot)
    assert summary[""]["count"] == apps.count()
    expected = places_by_status(pot)
    for status, places in expected.items():
        assert summary[status]["count"] == apps.filter(status=status).count()
        assert summary[status]["measure"] == places
    assert summary[""]["measure"] == sum(expected.values())
    assert "Places applied for" in page_text(response)

    # ans-011 names vob-071, outside the city with too few placed by the city.
    ineligible = office.get(url, {"eligibility": "ineligible"})
    slugs = {row["app"].slug for row in ineligible.context["rows"]}
    assert "ans-011" in slugs
    assert "The condition" in page_text(ineligible) or "None of the conditions" in page_text(
        ineligible
    )
    eligible = office.get(url, {"eligibility": "eligible"})
    assert "ans-011" not in {row["app"].slug for row in eligible.context["rows"]}
    assert len(slugs) + eligible.context["page"].paginator.count == apps.count()
    summary = {row["status"]: row for row in ineligible.context["summary"]}
    assert summary[""]["eligible"] < summary[""]["measure"]

    org = Organisation.objects.get(slug="omsorg-norr-ab")
    by_provider = office.get(url, {"organisation": org.pk})
    assert {row["app"].organisation_id for row in by_provider.context["rows"]} == {org.pk}
    rejected = office.get(url, {"status": "rejected"})
    assert all(row["app"].status == "rejected" for row in rejected.context["rows"])


def test_a_filter_select_writes_its_options_escaped_as_the_template_would():
    from django.utils.safestring import mark_safe

    from applications.forms.filters import Control

    plain = [("", "all"), (1, "Vård & omsorg"), (2, '"Q" <AB>')]
    select = Control(name="o", id="id_o", label="O", kind="select", value="2", choices=plain)
    assert select.options_html == (
        '<option value="">all</option><option value="1">Vård &amp; omsorg</option>'
        '<option value="2" selected>&quot;Q&quot; &lt;AB&gt;</option>'
    )
    # A label marked safe is written as it is, the others escaped one by one.
    select.choices = [*plain, ("<3>", mark_safe("<b>fet</b>"))]
    select.value = "<3>"
    assert select.options_html == (
        '<option value="">all</option><option value="1">Vård &amp; omsorg</option>'
        '<option value="2">&quot;Q&quot; &lt;AB&gt;</option>'
        '<option value="&lt;3&gt;" selected><b>fet</b></option>'
    )

    # A control with its label is written as the shared template writes it, byte for byte.
    from django.template.loader import render_to_string

    box = Control(name="q", id="id_q", label='Sök "<namn>"', kind="search", value="a&b")
    for control in (select, box, Control(name="n", id="id_n", label="N", kind="text", maxlength=9)):
        assert control.html == render_to_string("applications/_control.html", {"c": control})
    assert 'maxlength="9"' in control.html
    assert "&quot;&lt;namn&gt;&quot;" in box.html


def test_review_list_for_amounts_sums_requested_and_granted(office, import_seed):
    grant = import_seed(SEED_003)
    pot = Pot.objects.get(grant=grant, slug="ssk-ansokan")
    response = office.get(reverse("office:pot_review", args=[pot.pk]))
    total = response.context["summary"][-1]
    apps = Application.objects.filter(pot=pot)
    assert total["requested"] == sum(a.requested_amount or 0 for a in apps)
    assert total["granted"] == sum(a.granted_amount or 0 for a in apps)
    assert "Requested" in page_text(response)


def many_applications(grant, call, org, n: int) -> None:
    start = Application.objects.filter(grant=grant).count()
    units = Unit.objects.bulk_create(
        Unit(
            slug=f"many-{n}-{i}", name=f"Hem {i}", type="care_home", organisation=org, places=10 + i
        )
        for i in range(n)
    )
    grant_units = GrantUnit.objects.bulk_create(
        GrantUnit(
            grant=grant,
            unit=u,
            type="care_home",
            organisation=org,
            places=u.places,
            in_city=i % 3 != 0,
            city_placed_share="0.5",
        )
        for i, u in enumerate(units)
    )
    apps = Application.objects.bulk_create(
        Application(
            grant=grant,
            pot=call.pot,
            call=call,
            slug=f"many-{n}-{i:05d}",
            organisation=org,
            status=ApplicationStatus.SUBMITTED,
            requested_amount=1000,
            position=start + i,
        )
        for i in range(n)
    )
    ApplicationUnit.objects.bulk_create(
        ApplicationUnit(application=a, grant_unit=gu)
        for a, gu in zip(apps, grant_units, strict=True)
    )
    services.refresh_screening(call.pot)  # as an import does: pages only read the verdicts
    if connection.vendor == "postgresql":
        # Applications arrive over weeks, and the planner knows the tables when an official
        # reads the list; rows made a moment ago in this transaction it has never seen.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


@pytest.mark.parametrize("params", [{}, {"eligibility": "ineligible", "status": "submitted"}])
def test_review_list_makes_the_same_queries_for_10_and_1000(office, seed000, official, params):
    grant, pot = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    counts = []
    for n in (10, 1000):
        call = services.open_call(
            pot=pot,
            title=f"{n}",
            opens_on=date(2020, 3, 1),
            closes_on=date(2020, 3, 2),
            actor=official,
        )
        many_applications(grant, call, org, n)
        url = reverse("office:call", args=[call.pk])
        office.get(url, params)  # the session is read once before
        with CaptureQueriesContext(connection) as queries:
            response = office.get(url, params)
        assert response.status_code == 200
        assert response.context["summary"][-1]["count"] == (n if not params else n - n * 2 // 3)
        counts.append(len(queries))
        Application.objects.filter(call=call).delete()
    assert counts[0] == counts[1]
    # Pinned, so that no change adds one silently: the user and permissions, the call, the
    # figures, the rows, their units and the audit of those, the decided runs, the providers
    # (and the session, kept in the database in the tests).
    assert counts[0] == 10, [q["sql"][:60] for q in queries.captured_queries]


def test_approve_and_reject_through_the_page(office, seed000, official):
    grant, pot = seed000
    app = Application.objects.get(grant=grant, slug="ans-021")
    url = reverse("office:review_application", args=[app.pk])
    response = office.post(url, {"decision": "reject", "reason": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    response = office.post(url, {"decision": "maybe"})
    assert response.context["form"].errors["decision"]
    assert Application.objects.get(pk=app.pk).status == app.status == ApplicationStatus.SUBMITTED

    response = office.post(url, {"decision": "reject", "reason": "Under 80 %"})
    assert response.url == reverse("office:pot_review", args=[pot.pk])
    app.refresh_from_db()
    assert (app.status, app.status_reason) == (ApplicationStatus.REJECTED, "Under 80 %")
    page = office.get(reverse("office:application", args=[app.pk]))
    assert "Under 80 %" in page_text(page)
    assert "Application rejected" in page_text(page)  # the shared history

    office.post(url, {"decision": "approve"})
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPROVED


def test_approving_an_amounts_application_needs_the_granted_amount(office, import_seed):
    grant = import_seed(SEED_003)
    app = Application.objects.get(grant=grant, slug="ssk-001")
    url = reverse("office:review_application", args=[app.pk])
    response = office.post(url, {"decision": "approve", "granted_amount": ""})
    assert response.context["form"].errors["granted_amount"]
    response = office.post(url, {"decision": "approve", "granted_amount": "1" * 30})
    assert response.context["form"].errors["granted_amount"]
    office.post(url, {"decision": "approve", "granted_amount": "200 000"})
    app.refresh_from_db()
    assert app.granted_amount == 200_000


# ---------------------------------------------------------------- decision


def test_compute_and_decide_through_the_pages(office, seed000, django_capture_on_commit_callbacks):
    grant, pot = seed000
    run = compute(office, grant, django_capture_on_commit_callbacks)
    page = office.get(reverse("office:run", args=[run.pk]))
    text = page_text(page)
    assert "Record the decision" in text
    results = {r.pot.slug: r for r in page.context["pot_results"]}
    assert results["sarskilda-boenden"].rate is not None
    assert "\u00a0kr" in text
    units = office.get(reverse("office:run_units", args=[run.pk]), {"pot": pot.pk})
    assert units.context["page"].paginator.count == run.rows.filter(unit__isnull=False).count()
    why = office.get(reverse("office:run_units", args=[run.pk]), {"show": "ineligible"})
    assert why.context["page"].paginator.count == run.ineligible.count()

    url = reverse("office:decide", args=[run.pk])
    early = {
        "decided_on": "2020-04-01",
        "decided_by": "Äldrenämnden",
        "requisition_by": "2020-03-01",
    }
    response = office.post(url, early)
    assert response.status_code == 200
    assert response.context["form"].errors["requisition_by"]
    assert response.context["form"]["decided_by"].value() == "Äldrenämnden"
    response = office.post(url, {**early, "decided_by": "   ", "requisition_by": ""})
    assert response.context["form"].errors["decided_by"]
    run.refresh_from_db()
    assert not run.is_decided

    run = decide(office, run)
    assert sum(run.requisitions.values_list("amount", flat=True)) == 8_209_071
    assert run.requisitions.filter(due_on=date(2020, 5, 1)).count() == run.requisitions.count()
    again = office.post(url, {"decided_on": "2020-04-02", "decided_by": "x"})
    assert again.status_code == 200
    assert "a decision is not changed" in str(again.context["form"].non_field_errors())
    run.refresh_from_db()
    assert run.decided_on == date(2020, 4, 1)
    assert "Decided on 2020-04-01" in page_text(office.get(reverse("office:run", args=[run.pk])))
    listing = office.get(reverse("office:requisitions"), {"run": run.pk})
    assert listing.context["page"].paginator.count == run.requisitions.count()
    assert sum(b.decided for b in listing.context["pots"]) == 8_209_071


def test_a_decision_dated_out_of_order_is_a_field_error_and_writes_nothing(
    office, seed000, official, django_capture_on_commit_callbacks
):
    grant, pot = seed000  # the agreement's report-by date is 2021-01-31
    run = compute(office, grant, django_capture_on_commit_callbacks)
    services.open_call(
        pot=pot,
        title="Intresseanmälan",
        opens_on=date(2020, 3, 1),
        closes_on=date(2020, 3, 31),
        actor=official,
    )
    url = reverse("office:decide", args=[run.pk])
    audited = AuditEntry.objects.count()
    decision = {
        "decided_on": "2020-03-15",
        "decided_by": "Äldrenämnden",
        "requisition_by": "2021-02-15",
    }

    errors = office.post(url, decision).context["form"].errors

    assert errors["decided_on"] == [
        "The decision cannot be dated before the call “Intresseanmälan” closes (2020-03-31): "
        "it decides on the applications to the call."
    ]
    assert errors["requisition_by"] == [
        "The recipients must requisition before the agreement's report-by date (2021-01-31): "
        "they report on the money they requisitioned."
    ]
    late = {**decision, "decided_on": "2021-01-31", "requisition_by": ""}
    errors = office.post(url, late).context["form"].errors
    assert errors["decided_on"] == [
        "The decision must be dated before the agreement's report-by date (2021-01-31): the "
        "recipients report on the money after it is decided."
    ]
    swedish = page_text(office.post(url, decision, HTTP_ACCEPT_LANGUAGE="sv"))
    assert "Beslutet kan inte dateras före den 2020-03-31" in swedish
    run.refresh_from_db()
    assert not run.is_decided
    assert not run.requisitions.exists()
    assert AuditEntry.objects.count() == audited

    # On the day the call closes the decision may be taken.
    run = decide(office, run, decided_on="2020-03-31", requisition_by="2020-04-30")
    assert run.decided_on == date(2020, 3, 31)


@pytest.mark.django_db(transaction=True)
def test_an_eager_computation_shows_its_result_at_once(office, import_seed):
    grant = import_seed(SEED_002)
    response = office.post(reverse("office:compute", args=[grant.pk]), follow=True)
    assert "is computed: run 1" in page_text(response)


def test_a_queued_computation_is_followed_on_its_page_and_pressed_twice_is_one_job(
    office, seed000, django_capture_on_commit_callbacks
):
    grant, _pot = seed000
    url = reverse("office:compute", args=[grant.pk])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = office.post(url)
    job = Job.objects.get(kind="compute", grant=grant)
    assert first.url == reverse("allocations:job", args=[job.pk])
    assert "Waiting for the worker" in page_text(office.get(first.url))
    grant_page = page_text(office.get(reverse("office:grant", args=[grant.pk])))
    assert "computation of this grant is under way" in grant_page
    with django_capture_on_commit_callbacks(execute=False) as again:
        second = office.post(url)
    assert second.url == first.url  # the same job, not a second one
    assert not again
    assert Job.objects.filter(kind="compute").count() == 1
    for callback in queued:
        callback()
    page = office.get(first.url)
    assert "is computed: run 1" in page_text(page)
    assert ("Run 1", reverse("office:run", args=[grant.runs.get().pk])) in page.context["links"]
    assert "under way" not in page_text(office.get(reverse("office:grant", args=[grant.pk])))


def test_a_grant_the_engine_refuses_fails_the_job_with_the_reason(
    office, import_seed, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_003)
    # Approved amounts beyond the pot: valid input, but the engine refuses to divide it.
    Pot.objects.filter(grant=grant, slug="ssk-ansokan").update(amount=1_000_000)
    Pot.objects.filter(grant=grant, slug="ssk-samordning").update(takes_rest=False, amount=800_000)
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(reverse("office:compute", args=[grant.pk]))
    job = Job.objects.get(kind="compute", grant=grant)
    assert job.status == JobStatus.FAILED
    assert "could not be computed: pot ssk-ansokan" in job.error
    assert "could not be computed: pot ssk-ansokan" in page_text(office.get(response.url))
    assert not AllocationRun.objects.filter(grant=grant).exists()
    assert job.run is None


def test_published_differences_are_shown(office, import_seed, django_capture_on_commit_callbacks):
    grant = import_seed(SEED_002)
    run = compute(office, grant, django_capture_on_commit_callbacks)
    page = office.get(reverse("office:run", args=[run.pk]))
    assert page.context["differences"]
    assert "Differences from the published table" in page_text(page)


# ---------------------------------------------------------------- requisitions, payments, reports


@pytest.fixture
def decided(office, seed000, django_capture_on_commit_callbacks):
    grant, pot = seed000
    run = decide(office, compute(office, grant, django_capture_on_commit_callbacks))
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider(org)
    req = accept(run.requisitions.get(organisation=org, pot=pot), user)
    return run, req, user


def test_a_payment_beyond_the_balance_is_a_form_error(office, decided):
    _run, req, _user = decided
    url = reverse("office:record_payment", args=[req.pk])
    response = office.post(
        url, {"paid_on": "2020-05-10", "amount": req.amount + 1, "reference": "VER-1"}
    )
    assert response.status_code == 200
    assert response.context["payment_form"].errors["amount"]
    assert not Payment.objects.exists()
    for amount in ("0", "-5", "abc", "9" * 40):
        response = office.post(url, {"paid_on": "2020-05-10", "amount": amount, "reference": "V"})
        assert response.status_code == 200
    response = office.post(url, {"paid_on": "2020-13-45", "amount": "100", "reference": "V"})
    assert response.context["payment_form"].errors["paid_on"]
    assert not Payment.objects.exists()

    office.post(url, {"paid_on": "2020-05-10", "amount": "100 000", "reference": "VER-1"})
    page = office.get(reverse("office:requisition", args=[req.pk]))
    balance = page.context["balance"]
    assert (balance.decided, balance.requisitioned, balance.paid, balance.left) == (
        req.amount,
        req.amount,
        100_000,
        req.amount - 100_000,
    )
    assert page.context["pot_balance"][0].paid == 100_000
    unpaid = office.get(reverse("office:requisitions"), {"status": "unpaid"})
    assert [r for r, _b, _c in unpaid.context["rows"]] == [req]


def pay_and_report(req, user, official, used: int):
    services.record_payment(
        req=req, paid_on=date(2020, 5, 10), amount=req.amount, reference="VER-1", actor=official
    )
    report = services.report_for(req)
    use = PermittedUse.objects.filter(agreement=req.run.grant.agreement).first()
    services.save_report(
        report=report, lines={use: used}, achievements="Utbildning", benefit="Trygghet", actor=user
    )
    return services.submit_report(report=report, actor=user)


def test_review_a_usage_report(office, decided, official):
    _run, req, user = decided
    report = pay_and_report(req, user, official, 30_000)
    listing = office.get(reverse("office:reports"), {"status": "submitted"})
    assert list(listing.context["page"]) == [report]
    url = reverse("office:review_report", args=[report.pk])
    response = office.post(url, {"decision": "return", "comment": ""})
    assert response.context["form"].errors["comment"]
    office.post(url, {"decision": "return", "comment": "Fyll i nyttan."})
    report.refresh_from_db()
    assert report.status == ReportStatus.RETURNED
    services.submit_report(report=report, actor=user)
    office.post(url, {"decision": "accept", "comment": ""})
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED
    page = office.get(reverse("office:report", args=[report.pk]))
    assert page.context["unspent"] == req.amount - 30_000
    assert page.context["form"] is None


def test_claim_repay_and_redistribute_in_two_steps(office, decided, official):
    run, req, user = decided
    report = pay_and_report(req, user, official, 30_000)
    services.review_report(report=report, accept=True, comment="", actor=official)
    unspent = req.amount - 30_000
    claimable = office.get(reverse("office:requisitions"), {"status": "claimable"})
    rows = [(r, c) for r, _b, c in claimable.context["rows"]]
    assert (req, ("unspent", unspent)) in rows
    assert all(c for _r, c in rows)

    url = reverse("office:claim", args=[req.pk])
    response = office.post(url, {"amount": unspent + 1, "disposition": "redistribute"})
    assert response.context["claim_form"].errors["amount"]
    response = office.post(url, {"amount": 1000, "disposition": "elsewhere"})
    assert response.context["claim_form"].errors["disposition"]
    assert not RepaymentClaim.objects.exists()

    first, second = 40_000, unspent - 40_000
    rounds = []
    for amount in (first, second):
        claimed = {"amount": amount, "due_on": "2020-11-30", "disposition": "redistribute"}
        office.post(url, {**claimed, "confirmed": "yes"})
        claim = RepaymentClaim.objects.latest("pk")
        assert claim.disposition == ClaimDisposition.REDISTRIBUTE
        response = office.post(
            reverse("office:claim_repaid", args=[claim.pk]), {"paid_on": "not a date"}
        )
        assert response.status_code == 200
        office.post(reverse("office:claim_repaid", args=[claim.pk]), {"paid_on": "2020-11-02"})
        claim.refresh_from_db()
        assert claim.paid_on == date(2020, 11, 2)
        waiting = office.get(reverse("office:claims"))
        assert waiting.context["waiting"] == [(req.pot, amount)]
        choose = reverse("office:redistribute", args=[req.pot.pk])
        page = office.get(choose)
        everyone = [str(o.pk) for o in page.context["candidates"]]
        total = page.context["amount"]
        response = office.post(
            reverse("office:redistribute_confirm", args=[req.pot.pk]),
            {"amount": total, "organisations": everyone, "confirmed": "yes"},
        )
        rounds.append(AllocationRun.objects.get(redistributes=req.pot))
        assert response.url == reverse("office:run", args=[rounds[-1].pk])

    # The second claim joins the round not yet decided: the round holds both. It is decided
    # before the agreement's report-by date (2021-01-31), so its recipients can report too.
    assert rounds[0].pk == rounds[1].pk
    again = rounds[-1]
    again.refresh_from_db()
    assert again.redistributed_amount == again.allocated() == unspent
    page = office.get(reverse("office:run", args=[again.pk]))
    assert f"Redistribution 1 of money repaid from {req.pot.name}" in page_text(page)
    decision = {"decided_on": "2020-12-01", "decided_by": "Förvaltningschef", "requisition_by": ""}
    unconfirmed = office.post(reverse("office:decide", args=[again.pk]), decision)
    assert unconfirmed.context["form"].errors["confirm"]
    response = office.post(
        reverse("office:decide", args=[again.pk]),
        {**decision, "confirm": "on", "confirmed": "yes"},
    )
    assert response.status_code == 302
    assert sum(again.requisitions.values_list("amount", flat=True)) == unspent
    nothing = office.post(
        reverse("office:redistribute", args=[req.pot.pk]),
        {"create": "1", "amount": unspent, "organisations": everyone},
    )
    assert "No money claimed back" in page_text(nothing)
    assert AllocationRun.objects.filter(redistributes=req.pot).count() == 1
    run.refresh_from_db()
    assert run.allocated() == 8_209_071


def test_declined_money_is_taken_back(office, import_seed, django_capture_on_commit_callbacks):
    grant = import_seed(SEED_002)
    run = compute(office, grant, django_capture_on_commit_callbacks)
    decide(
        office, run, decided_on="2019-11-01", decided_by="Storsthlm", requisition_by="2019-12-31"
    )
    req = run.requisitions.get(organisation__slug="danderyd-kommun")
    services.decline_requisition(req=req, reason="Vi avstår", actor=provider(req.organisation))
    office.post(
        reverse("office:claim", args=[req.pk]),
        {"amount": req.amount, "disposition": "return", "confirmed": "yes"},
    )
    claim = RepaymentClaim.objects.get()
    assert claim.paid_on == timezone.localdate()  # nothing was paid: taken back at once
    outstanding = office.get(reverse("office:claims"), {"state": "outstanding"})
    assert list(outstanding.context["page"]) == []


# ---------------------------------------------------------------- access


def office_urls(ids: dict) -> list[tuple[str, str]]:
    get = ["start", "calls", "call_new", "requisitions", "claims", "reports"]
    get_pk = ["grant", "call", "pot_review", "application", "run", "run_units"]
    get_pk += ["requisition", "report"]
    post_pk = ["compute", "call_close", "redistribute", "review_application", "decide"]
    post_pk += ["record_payment", "claim", "claim_repaid", "review_report"]
    urls = [("get", reverse(f"office:{name}")) for name in get]
    urls += [("get", reverse(f"office:{name}", args=[ids[name]])) for name in get_pk]
    urls += [("post", reverse(f"office:{name}", args=[ids[name]])) for name in post_pk]
    return urls


@pytest.fixture
def everything(decided, official):
    run, req, user = decided
    report = pay_and_report(req, user, official, 10)
    services.review_report(report=report, accept=True, comment="", actor=official)
    claim = services.claim_repayment(
        req=req,
        amount=1,
        due_on=date(2020, 12, 31),
        disposition="return",
        today=date(2020, 6, 1),
        actor=official,
    )
    call = services.open_call(
        pot=req.pot,
        title="C",
        opens_on=date(2020, 3, 1),
        closes_on=date(2020, 3, 2),
        actor=official,
    )
    app = Application.objects.filter(grant=run.grant).first()
    ids = {
        "grant": run.grant_id,
        "compute": run.grant_id,
        "call": call.pk,
        "call_close": call.pk,
        "pot_review": req.pot_id,
        "redistribute": req.pot_id,
        "application": app.pk,
        "review_application": app.pk,
        "run": run.pk,
        "run_units": run.pk,
        "decide": run.pk,
        "requisition": req.pk,
        "record_payment": req.pk,
        "claim": req.pk,
        "claim_repaid": claim.pk,
        "report": report.pk,
        "review_report": report.pk,
    }
    return ids, user


def test_providers_and_strangers_are_refused_everywhere(everything):
    ids, user = everything
    client = Client()
    urls = office_urls(ids)
    assert len(urls) == 23
    before = (
        Payment.objects.count(),
        RepaymentClaim.objects.count(),
        AllocationRun.objects.count(),
    )
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url
    client.force_login(user)
    for method, url in urls:
        assert getattr(client, method)(url).status_code == 403, url
    # A made-up id gets the same answer as a real one.
    assert client.get(reverse("office:run", args=[999999])).status_code == 403
    after = (Payment.objects.count(), RepaymentClaim.objects.count(), AllocationRun.objects.count())
    assert before == after


def test_officials_get_404_for_what_does_not_exist(office, seed000):
    for name in ("grant", "call", "run", "requisition", "report", "application", "pot_review"):
        assert office.get(reverse(f"office:{name}", args=[2**62])).status_code == 404, name
    assert office.post(reverse("office:claim_repaid", args=[2**62])).status_code == 404
    assert office.get(reverse("office:record_payment", args=[1])).status_code == 405


def test_every_page_answers_an_official_and_survives_tampered_filters(office, everything):
    ids, _user = everything
    for method, url in office_urls(ids):
        if method == "get":
            assert office.get(url).status_code == 200, url
            junk = {
                "page": "999999",
                "status": "bogus",
                "organisation": "abc",
                "grant": "99999999999999999999999",
                "run": "-1",
                "pot": "x",
                "state": "?",
                "eligibility": "<script>",
                "disposition": "nowhere",
                "show": "ineligible",
            }
            assert office.get(url, junk).status_code == 200, url
            huge = dict.fromkeys(("organisation", "grant", "run", "pot", "page"), "9" * 30)
            assert office.get(url, huge).status_code == 200, url
        else:
            response = office.post(url, {"decision": "x", "amount": "1e9", "paid_on": "0000-00-00"})
            assert response.status_code in (200, 302), url


# ---------------------------------------------------------------- admin and invitations


def test_the_admin_lists_the_workflow_records(admin_client, everything):
    admin_client.defaults.update(EN)
    for model in ("membership", "call", "requisition", "payment", "usagereport", "repaymentclaim"):
        response = admin_client.get(reverse(f"admin:applications_{model}_changelist"))
        assert response.status_code == 200, model
    assert "Invite provider user" in page_text(
        admin_client.get(reverse("admin:applications_membership_changelist"))
    )


def test_an_invited_user_sets_a_password_once_and_signs_in(
    admin_client, client, seed000, django_capture_on_commit_callbacks
):
    admin_client.defaults.update(EN)
    org = Organisation.objects.get(slug="vardhem-syd-ab")
    url = reverse("admin:applications_membership_invite")
    for email in ("not an address", "a" * 150 + "@example.invalid"):
        response = admin_client.post(url, {"email": email, "organisation": org.pk})
        assert response.context["form"].errors["email"]
    response = admin_client.post(url, {"email": "a@example.invalid", "organisation": "9" * 30})
    assert response.context["form"].errors["organisation"]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"email": "Anna@Example.invalid", "organisation": org.pk})
    assert response.status_code == 302
    user = User.objects.get(email="anna@example.invalid")
    assert not user.has_usable_password()
    assert Membership.objects.filter(user=user, organisation=org).exists()
    assert len(mail.outbox) == 1
    assert Notice.objects.get(kind="invitation").status == "sent"  # recorded, sent by the task
    link = re.search(r"https?://\S+/inbjudan/\S+/", mail.outbox[0].body).group(0)
    path = link.split("testserver", 1)[1]

    response = client.get(path, **EN)
    assert response.status_code == 302  # the token moves into the session
    form_url = response.url
    response = client.get(form_url, **EN)
    assert response.context["validlink"]
    response = client.post(form_url, {"new_password1": "kort", "new_password2": "kort"}, **EN)
    assert response.context["form"].errors
    response = client.post(
        form_url,
        {"new_password1": "Hemligt-lösen-42", "new_password2": "Hemligt-lösen-42"},
        **EN,
    )
    assert response.status_code == 302
    assert client.login(
        request=HttpRequest(), username="anna@example.invalid", password="Hemligt-lösen-42"
    )
    client.logout()
    spent = client.get(path, follow=True, **EN)
    assert not spent.context["validlink"]
    assert client.get("/handlaggning/inbjudan/xx/yy/", **EN).status_code == 200

    # Inviting again for the same organisation is refused; another organisation only tells.
    response = admin_client.post(url, {"email": "anna@example.invalid", "organisation": org.pk})
    assert response.context["form"].errors["email"]
    other = Organisation.objects.get(slug="omsorg-norr-ab")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"email": "anna@example.invalid", "organisation": other.pk})
    assert user.memberships.count() == 2
    assert "/inbjudan/" not in mail.outbox[-1].body


def test_recording_a_decision_needs_the_decide_permission(seed000, client):
    """Handling cases is not enough: the decision is its own permission, as in the admin."""
    grant, _pot = seed000
    run = compute_grant(grant_id=grant.pk, actor=None)
    clerk = User.objects.create_user("clerk", "c@example.invalid", "x")
    clerk.user_permissions.add(Permission.objects.get(codename="handle_cases"))
    client.force_login(clerk)
    client.defaults.update(EN)
    page = client.get(reverse("office:run", args=[run.pk]))
    assert page.status_code == 200
    assert b"permission to decide" in page.content
    assert b'action="' + reverse("office:decide", args=[run.pk]).encode() not in page.content
    answer = client.post(
        reverse("office:decide", args=[run.pk]),
        {
            "decided_on": "2020-04-01",
            "decided_by": "Förvaltningschef",
            "delegation": "Delegationsordning",
            "reference": "ÄN 2020/1",
        },
    )
    assert answer.status_code == 403
    run.refresh_from_db()
    assert not run.is_decided


def test_an_invitation_link_holds_longer_than_a_password_reset_and_then_expires(db, settings):
    from django.contrib.auth.tokens import default_token_generator

    from applications.invitations import invitation_tokens

    user = User.objects.create_user("inbjuden", "inbjuden@example.invalid")
    user.set_unusable_password()
    user.save()
    now = invitation_tokens._num_seconds(invitation_tokens._now())
    secret = invitation_tokens.secret
    three_days = invitation_tokens._make_token_with_timestamp(user, now - 3 * 86400, secret)
    too_old = invitation_tokens._make_token_with_timestamp(
        user, now - (settings.STIMULANS_INVITATION_DAYS * 86400 + 60), secret
    )

    assert invitation_tokens.check_token(user, invitation_tokens.make_token(user))
    assert invitation_tokens.check_token(user, three_days)
    assert not invitation_tokens.check_token(user, too_old)
    assert not invitation_tokens.check_token(user, "nonsense")
    # A password reset's link is not an invitation's, nor the other way round.
    assert not invitation_tokens.check_token(user, default_token_generator.make_token(user))
    assert not default_token_generator.check_token(user, invitation_tokens.make_token(user))
