"""The provider portal, page by page, as a provider user drives it through the test client."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from allocations.models import (
    AllocationRun,
    GrantUnit,
    Organisation,
    PermittedUse,
    Pot,
    PotResult,
    Unit,
)
from allocations.services import compute_grant
from allocations.wording import format_kronor, format_rate
from applications import services
from applications.models import (
    Application,
    ApplicationStatus,
    ApplicationUnit,
    Call,
    ClaimDisposition,
    Membership,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageReport,
)

from .conftest import SEED_000, SEED_003, fit_agreement
from .factories import provider_user as provider
from .factories import signed_in as browser

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


def kr(amount: int) -> str:
    """An amount as the pages show it (the kronor filter, with no-break spaces)."""
    return format_kronor(amount, nbsp=True)


def today():
    return timezone.localdate()


@pytest.fixture
def seed000(import_seed, official):
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=today() + timedelta(days=365))  # the call is open today
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan särskilda boenden",
        opens_on=today() - timedelta(days=1),
        closes_on=today() + timedelta(days=30),
        actor=official,
    )
    return grant, pot, call


def new_unit(grant, org, slug, *, places=50, in_city=True, share="1") -> GrantUnit:
    unit = Unit.objects.create(
        slug=slug, name=f"Hemmet {slug}", type="care_home", organisation=org, places=places
    )
    return GrantUnit.objects.create(
        grant=grant,
        unit=unit,
        type="care_home",
        organisation=org,
        places=places,
        in_city=in_city,
        city_placed_share=Decimal(share),
    )


def application_post(grant, units, **overrides) -> dict:
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement)[:2])
    data = {
        "units": [str(u.pk) for u in units],
        "uses": [str(u.pk) for u in uses],
        "intended_use": "Kompetensutveckling för undersköterskor.",
        "contact_name": "Anna Andersson",
        "contact_email": "anna@example.invalid",
        "contact_phone": "08-123 456",
        "payment_method": "bankgiro",
        "payment_account": "5050-1055",
        "will_report": "on",
        "declare_facts": "on",
    }
    for unit in units:
        data[f"places_{unit.pk}"] = str(unit.places)
    data.update(overrides)
    return data


def decide(grant, official, *, decided_on=None, requisition_by=None) -> AllocationRun:
    run = compute_grant(grant_id=grant.pk, actor=official)
    return services.decide(
        run=run,
        decided_on=decided_on or today() - timedelta(days=2),
        decided_by="Förvaltningschef",
        delegation="Äldrenämndens delegationsordning",
        reference="ÄN 2020/55",
        requisition_by=requisition_by or today() + timedelta(days=14),
        actor=official,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# ---------------------------------------------------------------- start page


def test_start_page_lists_organisations_calls_applications_decisions_and_tasks(seed000, official):
    grant, pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    other = Organisation.objects.get(slug="vardhem-syd-ab")
    user = provider(org, "norr")
    run = decide(grant, official)
    req = run.requisitions.get(organisation=org, pot=pot)
    draft = services.start_application(call=call, organisation=org, actor=user, today=today())
    foreign = services.start_application(
        call=call, organisation=other, actor=provider(other, "syd"), today=today()
    )

    response = browser(user).get(reverse("portal:start"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Omsorg Norr AB" in html
    assert call.title in html
    assert "ans-010" in html  # its imported applications, with status
    assert "granted" in html  # approved in review and now decided: the money is granted
    assert draft.slug in html
    assert foreign.slug not in html
    assert "Vårdhem Syd AB" not in html
    assert kr(req.amount) in html
    # What to do next, with due dates: the draft by the call's closing, the requisition by due_on.
    assert "Submit the application to" in html
    assert call.closes_on.isoformat() in html
    assert "Requisition or decline the money" in html
    assert req.due_on.isoformat() in html

    # The menu: every list of the portal, the page shown marked current, a page deeper down
    # its section.
    menu = [reverse(f"portal:{name}") for name in ("start", "tasks", "calls")]
    menu += [reverse(f"portal:{name}") for name in ("applications", "decisions", "units")]
    deeper = {
        reverse("portal:application_edit", args=[draft.pk]): reverse("portal:applications"),
        reverse("portal:call", args=[call.pk]): reverse("portal:calls"),
        reverse("portal:requisition", args=[req.pk]): reverse("portal:decisions"),
    }
    for url in [*menu, *deeper]:
        html = browser(user).get(url).content.decode()
        nav = re.search(r'<ul class="navbar-nav me-auto">(.*?)</ul>', html, re.S).group(1)
        assert re.findall(r'href="([^"]+)"', nav) == menu, url
        current = re.findall(r'class="nav-link active" href="([^"]+)" aria-current="(\w+)"', nav)
        assert current == ([(url, "page")] if url in menu else [(deeper[url], "true")]), url


def test_start_page_tasks_cover_reports_and_claims(seed000, official):
    grant, _pot, _call = seed000
    org = Organisation.objects.get(slug="socialforvaltningen")
    user = provider(org, "social")
    # Decided two months ago; the report was due yesterday.
    run = decide(
        grant,
        official,
        decided_on=today() - timedelta(days=60),
        requisition_by=today() - timedelta(days=50),
    )
    fit_agreement(grant, report_by=today() - timedelta(days=1))
    req = run.requisitions.get(organisation=org)
    use = PermittedUse.objects.filter(agreement=grant.agreement).first()
    services.accept_requisition(
        req=req,
        payment_method="plusgiro",
        payment_account="902001-7",
        lines={use: req.amount},
        actor=user,
    )
    html = browser(user).get(reverse("portal:start")).content.decode()
    assert "Report what the money from" in html
    assert grant.agreement.report_by.isoformat() in html
    assert "overdue" in html  # the report-by date has passed

    services.record_payment(
        req=req, paid_on=today(), amount=req.amount, reference="VER-1", actor=official
    )
    report = services.report_for(req)
    services.save_report(
        report=report, lines={use: 600_000}, achievements="a", benefit="b", actor=user
    )
    services.submit_report(report=report, actor=user)
    services.review_report(report=report, accept=True, comment="", actor=official)
    services.claim_repayment(
        req=req,
        amount=400_000,
        due_on=today() + timedelta(days=40),
        disposition=ClaimDisposition.RETURN_TO_STATE,
        today=today(),
        actor=official,
    )
    html = browser(user).get(reverse("portal:start")).content.decode()
    assert "Report what the money from" not in html
    assert "Repay unused money" in html
    assert (today() + timedelta(days=40)).isoformat() in html
    assert kr(400_000) in html

    response = browser(user).get(reverse("portal:tasks"), {"kind": "claim"})
    assert "Repay unused money" in response.content.decode()
    response = browser(user).get(reverse("portal:tasks"), {"kind": "requisition"})
    assert "Repay unused money" not in response.content.decode()


def test_start_page_orders_tasks_alike_by_organisation(seed000):
    """Tasks due the same day with the same title (one per organisation) go by organisation
    name, whatever the order the drafts were started in."""
    _grant, _pot, call = seed000
    syd = Organisation.objects.get(slug="vardhem-syd-ab")
    norr = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider(syd, "syd")
    Membership.objects.create(user=user, organisation=norr)
    for org in (syd, norr):
        services.start_application(call=call, organisation=org, actor=user, today=today())
    for name in ("start", "tasks"):
        html = browser(user).get(reverse(f"portal:{name}")).content.decode()
        assert 0 < html.index("Omsorg Norr AB</td>") < html.index("Vårdhem Syd AB</td>"), name


def _bulk_rows(grant, pot, org, call, first: int, count: int) -> None:
    """`count` more drafts, decisions (pending, requisitioned, declined) and claims for `org`."""
    Application.objects.bulk_create(
        Application(
            grant=grant,
            pot=pot,
            call=call,
            slug=f"bulk-{n:05d}",
            organisation=org,
            status=ApplicationStatus.DRAFT,
            position=1000 + n,
        )
        for n in range(first, first + count)
    )
    runs = AllocationRun.objects.bulk_create(
        AllocationRun(
            grant=grant,
            number=1000 + n,
            result_digest="x",
            grant_amount=grant.amount,
            computed_at=timezone.now(),
            decided_on=today(),
        )
        for n in range(first, first + count)
    )
    statuses = [RequisitionStatus.PENDING, RequisitionStatus.ACCEPTED, RequisitionStatus.DECLINED]
    reqs = Requisition.objects.bulk_create(
        Requisition(
            run=run,
            organisation=org,
            pot=pot,
            amount=1000 + i,
            due_on=today() + timedelta(days=i % 20),
            status=statuses[i % 3],
        )
        for i, run in enumerate(runs)
    )
    RepaymentClaim.objects.bulk_create(
        RepaymentClaim(requisition=req, reason="unspent", amount=10, due_on=today())
        for req in reqs[::3]
    )
    if connection.vendor == "postgresql":
        # The planner knows the tables when a provider reads its lists; rows made a moment
        # ago in this transaction it has never seen (and may plan a minute's nested loop).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


LISTS = ("start", "tasks", "applications", "decisions", "calls")


QUERIES_OF_START = 9


def _count_queries(user) -> dict[str, int]:
    client = browser(user)
    counts = {}
    for name in LISTS:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(f"portal:{name}"))
        assert response.status_code == 200
        counts[name] = len(queries)
    return counts


@pytest.mark.breaks_books  # 1000 runs and requisitions made in bulk, only to count queries
def test_start_page_and_lists_make_as_many_queries_for_1000_rows_as_for_10(seed000):
    grant, pot, call = seed000
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider(org, "trygg")
    norr = Organisation.objects.get(slug="omsorg-norr-ab")
    Membership.objects.create(user=user, organisation=norr)
    _bulk_rows(grant, pot, org, call, 0, 10)
    few = _count_queries(user)
    _bulk_rows(grant, pot, org, call, 10, 990)
    many = _count_queries(user)
    assert few == many
    assert many["start"] <= 20, many
    html = browser(user).get(reverse("portal:start"), {"ap": "7"}).content.decode()
    assert "Page 7 of" in html


def test_start_page_counts_its_applications_with_the_organisations(seed000, official):
    grant, pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider(org, "norr")
    decide(grant, official)
    client = browser(user)

    def start(**params) -> tuple[str, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            html = client.get(reverse("portal:start"), params).content.decode()
        return html, [q["sql"] for q in queries]

    own = Application.objects.filter(organisation=org)
    assert 0 < own.count() < 10
    html, statements = start()
    # The page's queries, pinned: the session and its user; the organisations, read with the
    # memberships and counting their applications; the drafts, the requisitions to act on
    # and the claims (the tasks); the open calls; a page of applications and of decisions.
    assert len(statements) == QUERIES_OF_START, statements
    counts = [sql for sql in statements if "COUNT(" in sql]
    assert len(counts) == 1
    assert '"applications_membership"' in counts[0]
    assert "Page 1 of" not in html
    assert "Repay unused money" not in html  # a requisition without a claim asks for nothing
    assert all(app.slug in html for app in own)
    Application.objects.bulk_create(
        Application(
            grant=grant,
            pot=pot,
            call=call,
            slug=f"more-{n:02d}",
            organisation=org,
            status=ApplicationStatus.DRAFT,
            position=100 + n,
        )
        for n in range(15 - own.count())
    )
    html, statements = start()
    assert len(statements) == QUERIES_OF_START  # a full first page needs no count of its own
    assert "Page 1 of 2" in html
    assert "?ap=2" in html
    row = '<tr><td><a href="/portal/ansokningar/'  # a row of the applications' table
    assert html.count(row) == 10
    html, statements = start(ap="2")
    assert len(statements) == QUERIES_OF_START
    assert html.count(row) == 5
    assert "Page 2 of 2" in html
    assert start(ap="1")[0].count(row) == 10


def test_the_organisations_read_with_their_counts_are_the_users_memberships(seed000):
    """`own_organisations` fills the organisation ids every permission check trusts: the same
    as `organisation_ids` reads, for none, one or two memberships and for an inactive user;
    and each organisation's count of applications, once however many members it has."""
    from applications.permissions import own_organisations
    from stimulans.roles import organisation_ids

    norr = Organisation.objects.get(slug="omsorg-norr-ab")
    syd = Organisation.objects.get(slug="vardhem-syd-ab")
    none = User.objects.create(username="ingen")
    one = provider(norr, "en")
    provider(norr, "kollega")  # another member of the same organisation
    two = provider(norr, "tva")
    Membership.objects.create(user=two, organisation=syd)
    gone = provider(syd, "slutat")
    gone.is_active = False
    gone.save()
    for user in (none, one, two, gone):
        rows = own_organisations(User.objects.get(pk=user.pk))  # ids not read yet
        fresh = User.objects.get(pk=user.pk)
        assert {row["pk"] for row in rows} == organisation_ids(fresh), user
        for row in rows:
            assert (
                row["application_count"]
                == Application.objects.filter(organisation_id=row["pk"]).count()
            )
    assert [row["name"] for row in own_organisations(two)] == sorted([norr.name, syd.name])


# ---------------------------------------------------------------- call page


def test_call_page_shows_purpose_rule_dates_rate_and_a_button_per_organisation(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider(org, "norr")
    second = Organisation.objects.get(slug="stiftelsen-ljusgarden")
    Membership.objects.create(user=user, organisation=second)
    response = browser(user).get(reverse("portal:call", args=[call.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    agreement = grant.agreement
    assert agreement.purpose in html
    for use in agreement.permitted_uses.all():
        assert use.label in html
    # The rule in sentences, as an official would write it, from the pot's rule.
    assert (
        "Care homes and service houses can take part. The home must be located in "
        f"{grant.recipient} or have at least 80 per cent of its residents placed by the city."
    ) in html
    assert call.closes_on.isoformat() in html
    assert agreement.report_by.isoformat() in html
    rate, applied = services.indicative_rate(call)
    assert rate is not None
    assert format_rate(rate).replace(" ", NBSP) in html
    assert f"{applied:,} places applied for so far" in html
    assert html.count("Start an application") == 2
    # The provider's applications to the pot from before the call are shown beside the button.
    assert "Application ans-010 to this pot is recommended." in html


def test_call_page_of_an_unknown_call_is_404(seed000):
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    client = browser(provider(org, "norr"))
    assert client.get("/portal/utlysningar/999999/").status_code == 404
    assert client.get("/portal/utlysningar/99999999999999999999999/").status_code == 404


# ---------------------------------------------------------------- the application


def test_the_application_flow_draft_review_submit_read_only_withdraw(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider(org, "trygg")
    good = new_unit(grant, org, "vob-900", places=50)
    far = new_unit(grant, org, "vob-901", places=30, in_city=False, share="0.50")
    client = browser(user)

    response = client.post(reverse("portal:apply", args=[call.pk]), {"organisation": org.pk})
    app = Application.objects.get(call=call, organisation=org)
    assert response.status_code == 302
    assert response.url == reverse("portal:application_edit", args=[app.pk])

    edit_url = reverse("portal:application_edit", args=[app.pk])
    html = client.get(edit_url).content.decode()
    assert "Hemmet vob-900" in html
    assert "Hemmet vob-901" in html
    foreign = GrantUnit.objects.filter(grant=grant).exclude(organisation=org).first()
    assert foreign.unit.name not in html

    data = application_post(grant, [good, far], **{f"places_{good.pk}": "52", "review": "1"})
    response = client.post(edit_url, data)
    assert response.status_code == 302
    assert response.url == reverse("portal:application_review", args=[app.pk])
    link = ApplicationUnit.objects.get(application=app, grant_unit=good)
    assert link.places == 52  # corrected
    assert ApplicationUnit.objects.get(application=app, grant_unit=far).places is None

    review_url = reverse("portal:application_review", args=[app.pk])
    html = client.get(review_url).content.decode()
    assert (
        "None of the conditions is met: the unit must be located in the city or have at "
        "least 80 per cent of its residents placed by the city."
    ) in html
    assert "meets the rule" in html
    assert "Send the application" in html

    response = client.post(review_url, follow=True)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SUBMITTED
    assert set(app.unit_reasons) == {"vob-901"}
    assert "The application is sent." in " ".join(messages_of(response))

    # Read-only now: the form sends the user to the application, and a post changes nothing.
    response = client.get(edit_url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:application", args=[app.pk])
    assert "can no longer be changed" in " ".join(messages_of(response))
    client.post(edit_url, application_post(grant, [good], intended_use="Något annat"))
    app.refresh_from_db()
    assert app.intended_use == "Kompetensutveckling för undersköterskor."
    assert app.units.count() == 2

    html = client.get(reverse("portal:application", args=[app.pk])).content.decode()
    assert "Application started" in html
    assert "Application submitted" in html
    assert "trygg" in html  # who
    assert "None of the conditions is met" in html  # the ineligible unit, with its reason

    withdraw_url = reverse("portal:application_withdraw", args=[app.pk])
    assert "Yes, withdraw it" in client.get(withdraw_url).content.decode()
    client.post(withdraw_url)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.WITHDRAWN
    html = client.get(reverse("portal:application", args=[app.pk])).content.decode()
    assert "Application withdrawn" in html


def test_the_official_reason_and_ineligible_units_show_on_the_application(seed000, official):
    grant, _pot, _call = seed000
    org = Organisation.objects.get(slug="vardhem-syd-ab")
    user = provider(org, "syd")
    app = Application.objects.get(grant=grant, slug="ans-021")
    services.review_application(app=app, approve=False, reason="Under 80 %", actor=official)
    html = browser(user).get(reverse("portal:application", args=[app.pk])).content.decode()
    assert "Under 80 %" in html
    assert "Application rejected" in html
    assert "handlaggare" in html


def test_a_posted_unit_of_another_organisation_is_a_form_error_and_writes_nothing(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider(org, "trygg")
    app = services.start_application(call=call, organisation=org, actor=user, today=today())
    foreign = GrantUnit.objects.filter(grant=grant).exclude(organisation=org).first()
    data = application_post(grant, [foreign], intended_use="Inte sparat")
    response = browser(user).post(reverse("portal:application_edit", args=[app.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors["units"]
    assert "Select a valid choice" in response.content.decode()
    app.refresh_from_db()
    assert app.intended_use == ""
    assert not ApplicationUnit.objects.filter(application=app).exists()
    # What was typed is still there.
    assert "Inte sparat" in response.content.decode()


def test_the_form_of_ones_own_application_reads_no_permissions_an_official_is_told_why(
    seed000, official
):
    _grant, _pot, call = seed000
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider(org, "trygg")
    app = services.start_application(call=call, organisation=org, actor=user, today=today())
    url = reverse("portal:application_edit", args=[app.pk])
    client = browser(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert app.slug in response.content.decode()
    assert not [q for q in queries if "auth_permission" in q["sql"]]
    # The page's queries, pinned: the session, the user, its organisations; the application
    # with its parents, read with only the fields the page uses (`APPLICATION_FORM_FIELDS`: a
    # field read but not named there would add a query here), its units; the organisation's
    # units in the grant and new to it, those another application names; the permitted uses
    # and the application's.
    assert len(queries) == 10, [q["sql"] for q in queries]
    # An official acting for no organisation finds it through the officials' rule: not 404,
    # but sent to the application with the reason the form is not for them.
    response = browser(official).get(url, follow=True)
    assert response.redirect_chain == [(reverse("portal:application", args=[app.pk]), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "You do not act for this organisation."
    ]


def test_wrong_input_gives_errors_next_to_the_fields_never_a_500(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider(org, "trygg")
    unit = new_unit(grant, org, "vob-900")
    app = services.start_application(call=call, organisation=org, actor=user, today=today())
    url = reverse("portal:application_edit", args=[app.pk])
    client = browser(user)
    for places in ("abc", "-5", "99999999999999999999999", "1.5"):
        data = application_post(grant, [unit], **{f"places_{unit.pk}": places})
        response = client.post(url, data)
        assert response.status_code == 200, places
        assert f"places_{unit.pk}" in response.context["form"].errors
    data = application_post(grant, [unit], payment_account="5050-1056", contact_email="nope")
    response = client.post(url, data)
    form = response.context["form"]
    assert "check digit" in str(form.errors["payment_account"])
    assert "contact_email" in form.errors
    assert 'value="5050-1056"' in response.content.decode()
    response = client.post(url, {"units": ["x", "99999999999999999999999"], "uses": ["-1"]})
    assert response.status_code == 200
    assert {"units", "uses"} <= set(response.context["form"].errors)
    # Figures of a unit that is not ticked are not checked.
    response = client.post(url, {f"places_{unit.pk}": "abc"})
    assert response.status_code == 302
    assert not ApplicationUnit.objects.filter(application=app).exists()


def test_another_organisations_pages_are_404(seed000, official):
    grant, pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    other = Organisation.objects.get(slug="vardhem-syd-ab")
    user = provider(org, "norr")
    theirs = services.start_application(
        call=call, organisation=other, actor=provider(other, "syd"), today=today()
    )
    run = decide(grant, official)
    their_req = run.requisitions.get(organisation=other, pot=pot)
    client = browser(user)
    for name in ("application", "application_edit", "application_review", "application_withdraw"):
        assert client.get(reverse(f"portal:{name}", args=[theirs.pk])).status_code == 404, name
        assert client.post(reverse(f"portal:{name}", args=[theirs.pk])).status_code == 404, name
    for name in ("requisition", "report"):
        assert client.get(reverse(f"portal:{name}", args=[their_req.pk])).status_code == 404, name
        assert client.post(reverse(f"portal:{name}", args=[their_req.pk])).status_code == 404, name
    theirs.refresh_from_db()
    assert theirs.status == ApplicationStatus.DRAFT
    # Applying in the name of an organisation the user does not act for.
    response = client.post(reverse("portal:apply", args=[call.pk]), {"organisation": other.pk})
    assert response.status_code == 302
    assert (
        not Application.objects.filter(call=call, organisation=other).exclude(pk=theirs.pk).exists()
    )


def test_a_closed_call_refuses_submit_and_says_so(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider(org, "trygg")
    unit = new_unit(grant, org, "vob-900")
    app = services.start_application(call=call, organisation=org, actor=user, today=today())
    client = browser(user)
    client.post(reverse("portal:application_edit", args=[app.pk]), application_post(grant, [unit]))
    Call.objects.filter(pk=call.pk).update(
        opens_on=today() - timedelta(days=30), closes_on=today() - timedelta(days=1)
    )
    review_url = reverse("portal:application_review", args=[app.pk])
    html = client.get(review_url).content.decode()
    closed_on = (today() - timedelta(days=1)).isoformat()
    assert f"The call closed on {closed_on}" in html
    assert "Send the application" not in html
    response = client.post(review_url, follow=True)
    assert f"The call closed on {closed_on}" in " ".join(messages_of(response))
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DRAFT
    html = client.get(reverse("portal:call", args=[call.pk])).content.decode()
    assert "applications can no longer be sent" in html
    assert "Start an application" not in html


def test_an_approved_amounts_pot_asks_for_the_amount(import_seed, official):
    grant = import_seed(SEED_003)
    fit_agreement(grant, spend_by=today() + timedelta(days=365))  # the call is open today
    pot = Pot.objects.get(grant=grant, slug="ssk-ansokan")
    call = services.open_call(
        pot=pot,
        title="Vidareutbildning",
        opens_on=today(),
        closes_on=today() + timedelta(days=10),
        actor=official,
    )
    org = Organisation.objects.filter(grants=grant).exclude(slug="aldreforvaltningen").first()
    user = provider(org, "ssk")
    app = services.start_application(call=call, organisation=org, actor=user, today=today())
    client = browser(user)
    url = reverse("portal:application_edit", args=[app.pk])
    data = application_post(grant, [])
    del data["units"]
    client.post(url, data)
    html = client.get(reverse("portal:application_review", args=[app.pk])).content.decode()
    assert "Say how much you apply for." in html
    response = client.post(url, {**data, "requested_amount": "250 000 kr"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.requested_amount == 250_000
    html = client.get(reverse("portal:application_review", args=[app.pk])).content.decode()
    assert kr(250_000) in html
    assert "Put this right" not in html


# ---------------------------------------------------------------- decisions and requisitions


@pytest.fixture
def decided(seed000, official):
    grant, _pot, _call = seed000
    run = decide(grant, official)
    org = Organisation.objects.get(slug="socialforvaltningen")
    user = provider(org, "social")
    req = run.requisitions.get(organisation=org)  # LSS-hälsan: a fixed 1 000 000 kr
    return grant, run, req, user


def test_the_decision_page_shows_the_basis_of_a_per_unit_amount(seed000, official):
    grant, pot, _call = seed000
    run = decide(grant, official)
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    req = run.requisitions.get(organisation=org, pot=pot)
    html = browser(provider(org, "norr")).get(reverse("portal:requisition", args=[req.pk]))
    html = html.content.decode()
    rate = PotResult.objects.get(run=run, pot=pot).rate
    row = run.rows.filter(organisation=org, pot=pot).select_related("unit").first()
    assert f"{row.quantity} places × {format_rate(rate).replace(' ', NBSP)}" in html
    assert kr(req.amount) in html
    assert grant.agreement.report_by.isoformat() in html
    assert req.due_on.isoformat() in html
    assert "Requisition the money" in html


def test_requisition_amounts_that_do_not_add_up_are_a_form_error(decided):
    grant, _run, req, user = decided
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement))
    url = reverse("portal:requisition", args=[req.pk])
    client = browser(user)
    data = {
        "action": "accept",
        "payment_method": "plusgiro",
        "payment_account": "902001-7",
        f"use_{uses[0].pk}": "600 000",
        f"use_{uses[1].pk}": "399 999",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"add up to {kr(999_999)}; they must add up to {kr(1_000_000)}" in html
    assert 'value="399 999"' in html
    req.refresh_from_db()
    assert req.status == RequisitionStatus.PENDING

    response = client.post(url, {**data, f"use_{uses[1].pk}": "400 000 kr"})
    assert response.status_code == 302
    req.refresh_from_db()
    assert req.status == RequisitionStatus.ACCEPTED
    assert {line.use_id: line.amount for line in req.lines.all()} == {
        uses[0].pk: 600_000,
        uses[1].pk: 400_000,
    }
    html = client.get(url).content.decode()
    assert "Money requisitioned" in html
    assert "Write the usage report" in html
    # Answered once only.
    response = client.post(url, {"action": "decline", "decline_reason": "x"}, follow=True)
    assert "already been answered" in " ".join(messages_of(response))


def test_requisition_with_an_unknown_use_or_a_bad_account_is_a_form_error(decided):
    _grant, _run, req, user = decided
    response = browser(user).post(
        reverse("portal:requisition", args=[req.pk]),
        {
            "action": "accept",
            "payment_method": "bankgiro",
            "payment_account": "5050-1056",
            "use_999999": "1000000",  # not a heading of this agreement: not a field at all
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "check digit" in html
    assert f"add up to {kr(0)}" in html
    req.refresh_from_db()
    assert req.status == RequisitionStatus.PENDING
    assert not req.lines.exists()


def test_declining_needs_a_reason(decided):
    _grant, _run, req, user = decided
    url = reverse("portal:requisition", args=[req.pk])
    client = browser(user)
    response = client.post(url, {"action": "decline", "decline_reason": "   "})
    assert response.status_code == 200
    assert response.context["decline_form"].errors["decline_reason"]
    client.post(url, {"action": "decline", "decline_reason": "Vi avstår i år."})
    req.refresh_from_db()
    assert (req.status, req.decline_reason) == (RequisitionStatus.DECLINED, "Vi avstår i år.")
    html = client.get(url).content.decode()
    assert "Vi avstår i år." in html
    assert "Requisition the money" not in html


# ---------------------------------------------------------------- usage reports


def test_usage_report_computes_unspent_and_goes_back_when_returned(decided, official):
    grant, _run, req, user = decided
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement))
    services.accept_requisition(
        req=req,
        payment_method="plusgiro",
        payment_account="902001-7",
        lines={uses[0]: 1_000_000},
        actor=user,
    )
    url = reverse("portal:report", args=[req.pk])
    client = browser(user)
    html = client.get(url).content.decode()
    assert "Nothing has been paid out yet" in html
    services.record_payment(
        req=req, paid_on=today(), amount=1_000_000, reference="VER-1", actor=official
    )
    # Unspent is computed, never typed: a posted value is ignored.
    response = client.post(url, {f"use_{uses[0].pk}": "300 000", "unspent": "1", "save": "1"})
    assert response.status_code == 302
    html = client.get(url).content.decode()
    assert f'id="unspent">{kr(700_000)}' in html

    # More than was paid out: an error, nothing saved.
    response = client.post(url, {f"use_{uses[0].pk}": "1 000 001", "save": "1"})
    assert response.status_code == 200
    assert "has been paid out" in response.content.decode()

    # Submitting needs the texts.
    response = client.post(url, {f"use_{uses[0].pk}": "300 000", "submit": "1"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"achievements", "benefit"} <= set(errors)
    response = client.post(
        url,
        {
            f"use_{uses[0].pk}": "300 000",
            f"use_{uses[1].pk}": "200 000",
            "achievements": "Utbildade 40 undersköterskor.",
            "benefit": "Tryggare vård.",
            "submit": "1",
        },
    )
    assert response.status_code == 302
    report = req.report
    report.refresh_from_db()
    assert report.status == ReportStatus.SUBMITTED
    assert services.unspent(report) == 500_000
    html = client.get(url).content.decode()
    assert "Save and submit" not in html
    assert "Utbildade 40 undersköterskor." in html
    assert f'id="unspent">{kr(500_000)}' in html

    services.review_report(
        report=report, accept=False, comment="Beskriv nyttan närmare.", actor=official
    )
    html = client.get(url).content.decode()
    assert "Beskriv nyttan närmare." in html
    assert "Save and submit" in html
    assert "Usage report returned for completion" in html


def test_a_report_waits_for_the_requisition(decided):
    _grant, _run, req, user = decided
    response = browser(user).get(reverse("portal:report", args=[req.pk]))
    assert response.status_code == 302
    assert response.url == reverse("portal:requisition", args=[req.pk])


GARBAGE = [
    {},
    {"action": "accept"},
    {"action": "decline", "decline_reason": "\x00"},
    {"action": "nonsense", "organisation": "x"},
    {
        "action": "accept",
        "payment_method": "swish",
        "payment_account": "\x00" * 30,
        "use_1": "99999999999999999999999999",
        "units": ["-1", "x"],
        "uses": ["99999999999999999999999999"],
        "places_1": "\x00",
        "intended_use": "\x00",
        "contact_email": "@",
        "requested_amount": "1e9",
        "organisation": "99999999999999999999999999",
        "achievements": "x" * 20_000,
        "submit": "1",
        "review": "1",
    },
]


def test_odd_posts_to_every_page_never_give_a_500(decided, seed000):
    _grant, _run, req, user = decided
    _same_grant, _pot, call = seed000
    app = services.start_application(
        call=call, organisation=req.organisation, actor=user, today=today()
    )
    client = browser(user)
    urls = [
        reverse("portal:apply", args=[call.pk]),
        reverse("portal:application_edit", args=[app.pk]),
        reverse("portal:application_review", args=[app.pk]),
        reverse("portal:requisition", args=[req.pk]),
        reverse("portal:report", args=[req.pk]),
    ]
    for url in urls:
        for data in GARBAGE:
            response = client.post(url, data)
            assert response.status_code in (200, 302), (url, data)
    req.refresh_from_db()
    app.refresh_from_db()
    assert req.status == RequisitionStatus.PENDING
    assert app.status == ApplicationStatus.DRAFT
    assert app.intended_use == ""
    use = PermittedUse.objects.filter(agreement=req.run.grant.agreement).first()
    services.accept_requisition(
        req=req,
        payment_method="plusgiro",
        payment_account="902001-7",
        lines={use: req.amount},
        actor=user,
    )
    for data in [*GARBAGE, {f"use_{use.pk}": "-1", "benefit": "\x00"}]:
        response = client.post(reverse("portal:report", args=[req.pk]), data)
        assert response.status_code in (200, 302), data
    assert not UsageReport.objects.filter(requisition=req, status=ReportStatus.SUBMITTED).exists()


# ---------------------------------------------------------------- lists


def test_lists_filter_and_paginate_and_survive_odd_parameters(seed000, official):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider(org, "norr")
    draft = services.start_application(call=call, organisation=org, actor=user, today=today())
    run = decide(grant, official)
    client = browser(user)
    html = client.get(reverse("portal:applications"), {"status": "draft"}).content.decode()
    assert draft.slug in html
    assert "ans-010" not in html
    html = client.get(reverse("portal:applications"), {"status": "approved"}).content.decode()
    assert "ans-010" in html
    assert draft.slug not in html
    html = client.get(reverse("portal:applications"), {"q": "ans-011"}).content.decode()
    assert "ans-011" in html
    assert "ans-010" not in html
    req = run.requisitions.get(organisation=org)
    url = reverse("portal:requisition", args=[req.pk])
    decisions = reverse("portal:decisions")
    assert url in client.get(decisions, {"status": "pending"}).content.decode()
    assert url not in client.get(decisions, {"status": "declined"}).content.decode()
    html = client.get(reverse("portal:calls"), {"state": "closed"}).content.decode()
    assert call.title not in html
    html = client.get(reverse("portal:calls")).content.decode()
    assert call.title in html
    odd = {"page": "-1", "status": "nonsense", "organisation": "abc", "state": "x", "q": "'"}
    for name in ("start", "tasks", "calls", "applications", "decisions"):
        response = client.get(reverse(f"portal:{name}"), {**odd, "ap": "x", "tp": "99999"})
        assert response.status_code == 200, name
    # Another organisation in the filter shows nothing of theirs.
    other = Organisation.objects.get(slug="vardhem-syd-ab")
    html = client.get(reverse("portal:applications"), {"organisation": other.pk}).content.decode()
    assert "ans-020" not in html


def test_a_user_without_an_organisation_is_told_so(db):
    user = User.objects.create_user("ingen", "ingen@example.invalid", "x")
    html = browser(user).get(reverse("portal:start")).content.decode()
    assert "not linked to any organisation" in html


def test_the_portal_needs_a_sign_in(db):
    response = browser().get(reverse("portal:start"))
    assert response.status_code == 302
    assert reverse("login") in response.url


# ---------------------------------------------------------------- password reset


def test_password_reset_by_e_mail(db):
    User.objects.create_user("anna", "anna@example.invalid", "old password 1")
    client = browser()
    assert "Forgot your password?" in client.get(reverse("login")).content.decode()
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": "anna@example.invalid"})
    assert response.url == reverse("password_reset_done")
    assert "Check your e-mail" in client.get(response.url).content.decode()
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    link = next(line for line in body.splitlines() if "/accounts/reset/" in line)
    path = link.split("testserver", 1)[1].strip()
    response = client.get(path, follow=True)
    assert "Choose a new password" in response.content.decode()
    set_url = response.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "kort", "new_password2": "kort"})
    assert response.status_code == 200
    assert response.context["form"].errors
    new = "Ett långt nytt lösenord 42"
    response = client.post(set_url, {"new_password1": new, "new_password2": new}, follow=True)
    assert "Your password is changed" in response.content.decode()
    assert User.objects.get(username="anna").check_password(new)
    bad = client.get(path.replace(path.split("/")[-2], "bad-token"), follow=True)
    assert "The link is not valid" in bad.content.decode()
