"""The provider's unit register in the portal, new units in an application, and e-mail links."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from allocations import audit
from allocations.models import (
    AuditEntry,
    GrantUnit,
    Organisation,
    PermittedUse,
    Pot,
    Unit,
)
from allocations.services import compute_grant
from applications import services
from applications.models import ApplicationUnit, ClaimDisposition
from applications.reminders import send_report_reminders

from .conftest import SEED_000, fit_agreement
from .factories import provider_user as provider
from .factories import signed_in as browser
from .test_settings import settings_outcome

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
BASE = "https://stimulans.example.se"


def today():
    return timezone.localdate()


@pytest.fixture
def seed(import_seed, official):
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


@pytest.fixture
def norr(seed):
    return Organisation.objects.get(slug="omsorg-norr-ab")


@pytest.fixture
def syd(seed):
    return Organisation.objects.get(slug="vardhem-syd-ab")


def unit_post(**overrides) -> dict:
    data = {"name": "Solgläntan", "type": "care_home", "places": "1200", "customers": ""}
    data.update(overrides)
    return data


def decide(grant, official):
    run = compute_grant(grant_id=grant.pk, actor=official)
    return services.decide(
        run=run,
        decided_on=today() - timedelta(days=2),
        decided_by="Förvaltningschef",
        delegation="Äldrenämndens delegationsordning",
        reference="ÄN 2020/55",
        requisition_by=today() + timedelta(days=14),
        actor=official,
    )


# ---------------------------------------------------------------- the list


def test_the_list_shows_only_the_organisations_own_units(norr, syd):
    user = provider(norr, "norr")
    Unit.objects.create(
        slug="norr-hemtjanst",
        name="Norr hemtjänst",
        type="home_care",
        organisation=norr,
        customers=1250,
    )
    html = browser(user).get(reverse("portal:units")).content.decode()
    for unit in Unit.objects.filter(organisation=norr):
        assert unit.name in html
    for unit in Unit.objects.filter(organisation=syd):
        assert unit.name not in html
    assert "Vårdhem Syd AB" not in html
    assert f"1{NBSP}250" in html  # customers the Swedish way, also in English

    by_type = browser(user).get(reverse("portal:units"), {"type": "home_care"}).content.decode()
    assert "Norr hemtjänst" in by_type
    assert "Vård- och omsorgsboendet 013" not in by_type
    # Another organisation's id in the filter is no filter: still only the user's own.
    tampered = browser(user).get(reverse("portal:units"), {"organisation": syd.pk})
    assert "Vård- och omsorgsboendet 014" not in tampered.content.decode()


def test_the_list_is_paginated(norr):
    user = provider(norr, "norr")
    Unit.objects.bulk_create(
        Unit(slug=f"norr-{n:03d}", name=f"Enhet {n:03d}", type="care_home", organisation=norr)
        for n in range(30)
    )
    html = browser(user).get(reverse("portal:units")).content.decode()
    assert "Page 1 of 2" in html
    assert "Page 2 of 2" in browser(user).get(reverse("portal:units"), {"page": 2}).content.decode()


# ---------------------------------------------------------------- register and change


def test_registering_a_unit_is_audited_and_shown_in_its_history(norr):
    user = provider(norr, "norr")
    response = browser(user).post(reverse("portal:unit_new"), unit_post(organisation=str(norr.pk)))
    unit = Unit.objects.get(name="Solgläntan")
    assert response.status_code == 302
    assert response.url == reverse("portal:unit_edit", args=[unit.pk])
    assert unit.organisation == norr
    assert unit.slug == "omsorg-norr-ab-solglantan"
    assert (unit.type, unit.places, unit.customers) == ("care_home", 1200, None)
    # Not the provider's to declare: the least favourable value until the administration says.
    assert (unit.in_city, unit.city_placed_share) == (False, Decimal(0))
    entry = AuditEntry.objects.get(action="unit.created", object_id=str(unit.pk))
    assert entry.actor == user
    assert entry.after["places"] == 1200

    html = browser(user).get(response.url).content.decode()
    assert "Unit registered" in html
    assert "norr" in html  # who


def test_changing_a_unit_is_audited_field_by_field(norr):
    user = provider(norr, "norr")
    unit = Unit.objects.get(slug="vob-013")
    url = reverse("portal:unit_edit", args=[unit.pk])
    response = browser(user).post(
        url, unit_post(name="Vård- och omsorgsboendet 013", places="45", customers="3")
    )
    assert response.status_code == 302
    unit.refresh_from_db()
    assert (unit.places, unit.customers) == (45, 3)
    entry = AuditEntry.objects.get(action="unit.changed", object_id=str(unit.pk))
    assert entry.actor == user
    assert entry.before == {"places": 37, "customers": None}
    assert entry.after == {"places": 45, "customers": 3}
    html = browser(user).get(url).content.decode()
    assert "Unit changed" in html
    assert "Places: 37 → 45" in html

    # Saving without a change writes no entry.
    browser(user).post(url, unit_post(name=unit.name, places="45", customers="3"))
    assert AuditEntry.objects.filter(action="unit.changed", object_id=str(unit.pk)).count() == 1


def test_a_tampered_organisation_is_a_form_error_never_a_write(norr, syd):
    user = provider(norr, "norr")
    before = (Unit.objects.count(), AuditEntry.objects.count())
    response = browser(user).post(reverse("portal:unit_new"), unit_post(organisation=str(syd.pk)))
    assert response.status_code == 200
    assert response.context["form"].errors["organisation"]
    assert (Unit.objects.count(), AuditEntry.objects.count()) == before

    # Changing a unit has no organisation field: a posted one changes nothing.
    unit = Unit.objects.get(slug="vob-013")
    browser(user).post(
        reverse("portal:unit_edit", args=[unit.pk]),
        unit_post(name=unit.name, places="37", organisation=str(syd.pk)),
    )
    unit.refresh_from_db()
    assert unit.organisation == norr


def test_another_organisations_unit_is_404_on_get_and_post(norr, syd):
    user = provider(norr, "norr")
    theirs = Unit.objects.get(slug="vob-014")
    url = reverse("portal:unit_edit", args=[theirs.pk])
    assert browser(user).get(url).status_code == 404
    assert browser(user).post(url, unit_post(places="1")).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.places) == ("Vård- och omsorgsboendet 014", 75)
    assert not AuditEntry.objects.filter(object_id=str(theirs.pk), action="unit.changed").exists()
    assert browser(user).get(reverse("portal:unit_edit", args=[2**40])).status_code == 404


def test_an_official_may_read_a_unit_but_not_change_it(norr, official):
    unit = Unit.objects.get(slug="vob-013")
    url = reverse("portal:unit_edit", args=[unit.pk])
    response = browser(official).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Vård- och omsorgsboendet 013" in html
    assert "disabled" in html
    assert "You do not act for this organisation." in html
    response = browser(official).post(url, unit_post(name="Ändrat", places="1"))
    assert response.status_code == 302
    unit.refresh_from_db()
    assert (unit.name, unit.places) == ("Vård- och omsorgsboendet 013", 37)
    # Nor register one: the official acts for no organisation.
    response = browser(official).post(reverse("portal:unit_new"), unit_post())
    assert response.status_code == 302
    assert not Unit.objects.filter(name="Solgläntan").exists()


def test_changing_the_register_changes_no_grant_and_no_decided_run(seed, norr, official):
    grant, _pot, _call = seed
    user = provider(norr, "norr")
    run = decide(grant, official)
    unit = Unit.objects.get(slug="vob-013")
    gu = GrantUnit.objects.get(grant=grant, unit=unit)
    figures = (gu.type, gu.places, gu.customers, gu.in_city, gu.city_placed_share)
    rows = list(run.rows.order_by("pk").values_list("unit_id", "quantity", "amount"))
    digest = run.result_digest

    response = browser(user).post(
        reverse("portal:unit_edit", args=[unit.pk]),
        unit_post(name="Nytt namn", type="home_care", places="999", customers="5"),
    )
    assert response.status_code == 302
    unit.refresh_from_db()
    assert (unit.name, unit.type, unit.places) == ("Nytt namn", "home_care", 999)
    gu.refresh_from_db()
    assert (gu.type, gu.places, gu.customers, gu.in_city, gu.city_placed_share) == figures
    run.refresh_from_db()
    assert run.result_digest == digest
    assert list(run.rows.order_by("pk").values_list("unit_id", "quantity", "amount")) == rows
    # Computing the grant again gives the same result: the grant's figures are its own.
    again = compute_grant(grant_id=grant.pk, actor=official)
    assert again.pk != run.pk
    assert again.result_digest == digest
    html = browser(user).get(reverse("portal:unit_edit", args=[unit.pk])).content.decode()
    assert grant.title in html  # the grant's own figures are shown beside the register


# ---------------------------------------------------------------- a new unit in an application


def application_post(grant, units: list[str], **overrides) -> dict:
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement)[:1])
    data = {
        "units": units,
        "uses": [str(u.pk) for u in uses],
        "intended_use": "Kompetensutveckling.",
        "contact_name": "Anna Andersson",
        "contact_email": "anna@example.invalid",
        "payment_method": "bankgiro",
        "payment_account": "5050-1055",
        "will_report": "on",
        "declare_facts": "on",
    }
    data.update(overrides)
    return data


def test_applying_with_a_new_unit_adds_it_to_the_grant_for_the_administration_to_check(
    seed, norr, official
):
    grant, _pot, call = seed
    user = provider(norr, "norr")
    client = browser(user)
    client.post(reverse("portal:unit_new"), unit_post(organisation=str(norr.pk), places="30"))
    unit = Unit.objects.get(name="Solgläntan")
    app = services.start_application(call=call, organisation=norr, actor=user, today=today())
    url = reverse("portal:application_edit", args=[app.pk])
    html = client.get(url).content.decode()
    assert "Solgläntan" in html
    assert "new in this grant — the administration checks its figures" in html
    assert not GrantUnit.objects.filter(unit=unit).exists()  # looking adds nothing

    key = f"new-{unit.pk}"
    response = client.post(url, application_post(grant, [key], **{f"places_{key}": "32"}))
    assert response.status_code == 302, response.context["form"].errors
    gu = GrantUnit.objects.get(grant=grant, unit=unit)
    # The register's type and places; the figure the provider gives is the application's.
    assert (gu.organisation, gu.type, gu.places, gu.customers) == (norr, "care_home", 30, None)
    assert (gu.in_city, gu.city_placed_share) == (False, Decimal(0))
    link = ApplicationUnit.objects.get(application=app)
    assert (link.grant_unit, link.places) == (gu, 32)
    entry = AuditEntry.objects.get(action="grantunit.created", object_id=str(gu.pk))
    assert (entry.actor, entry.grant, entry.after["application"]) == (user, grant, app.slug)
    unit.refresh_from_db()
    assert unit.places == 30  # the register is as it was

    # Still marked as new, now among the grant's units; saving again adds nothing.
    html = client.get(url).content.decode()
    assert "new in this grant — the administration checks its figures" in html
    client.post(url, application_post(grant, [str(gu.pk)], **{f"places_{gu.pk}": "32"}))
    assert GrantUnit.objects.filter(unit=unit).count() == 1

    # The pot asks whether it is in the city or mostly placed by the city: not yet known,
    # so it is screened out with the reason, not counted.
    reason = services.eligibility_preview(app)[unit.slug]
    assert reason is not None
    assert reason[0] == "any"
    review = client.get(reverse("portal:application_review", args=[app.pk])).content.decode()
    assert "None of the conditions is met" in review

    # The administration confirms the figures (the unit-in-grant admin, audited).
    before = {"in_city": False}
    gu.in_city = True
    gu.save()
    audit.log("grantunit.changed", gu, grant=grant, actor=official, before=before, after={})
    assert services.eligibility_preview(app)[unit.slug] is None
    html = client.get(url).content.decode()
    assert "new in this grant" not in html


def test_a_unit_of_another_organisation_cannot_be_posted_as_new(seed, norr, syd):
    grant, _pot, call = seed
    user = provider(norr, "norr")
    theirs = Unit.objects.create(
        slug="syd-ny", name="Syds nya hem", type="care_home", organisation=syd, places=10
    )
    app = services.start_application(call=call, organisation=norr, actor=user, today=today())
    url = reverse("portal:application_edit", args=[app.pk])
    assert "Syds nya hem" not in browser(user).get(url).content.decode()
    response = browser(user).post(url, application_post(grant, [f"new-{theirs.pk}"]))
    assert response.status_code == 200
    assert response.context["form"].errors["units"]
    assert not GrantUnit.objects.filter(unit=theirs).exists()
    # Nor a unit of its own that the grant knows already, posted as new.
    known = Unit.objects.get(slug="vob-013")
    response = browser(user).post(url, application_post(grant, [f"new-{known.pk}"]))
    assert response.status_code == 200
    assert GrantUnit.objects.filter(unit=known).count() == 1


def test_a_grant_that_divides_among_all_its_units_takes_no_new_unit(seed, norr):
    grant, pot, call = seed
    pot.model = {**pot.model, "applicants_only": False}
    pot.save()
    user = provider(norr, "norr")
    Unit.objects.create(
        slug="norr-ny", name="Norrs nya hem", type="care_home", organisation=norr, places=10
    )
    app = services.start_application(call=call, organisation=norr, actor=user, today=today())
    url = reverse("portal:application_edit", args=[app.pk])
    assert "Norrs nya hem" not in browser(user).get(url).content.decode()
    unit = Unit.objects.get(slug="norr-ny")
    response = browser(user).post(url, application_post(grant, [f"new-{unit.pk}"]))
    assert response.status_code == 200
    assert not GrantUnit.objects.filter(unit=unit).exists()


# ---------------------------------------------------------------- links in e-mails


@override_settings(STIMULANS_BASE_URL=BASE)
def test_e_mails_link_to_the_portal_page_they_are_about(
    seed, norr, official, django_capture_on_commit_callbacks
):
    grant, pot, call = seed
    user = provider(norr, "norr")
    gu = GrantUnit.objects.get(grant=grant, unit__slug="vob-013")
    ApplicationUnit.objects.filter(grant_unit=gu).delete()  # free it from ans-010
    app = services.start_application(call=call, organisation=norr, actor=user, today=today())
    with django_capture_on_commit_callbacks(execute=True):
        browser(user).post(
            reverse("portal:application_edit", args=[app.pk]),
            application_post(grant, [str(gu.pk)], **{f"places_{gu.pk}": "37"}),
        )
        services.submit_application(app=app, actor=user, today=today())
    assert f"{BASE}/portal/ansokningar/{app.pk}/" in mail.outbox[-1].body
    # Plain text: a name with "&" or quotes arrives as written, not as HTML entities.
    assert not any(e in mail.outbox[-1].body for e in ("&amp;", "&quot;", "&#x27;"))
    assert f"{app.pot.name}" in mail.outbox[-1].body

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = decide(grant, official)
    req = run.requisitions.get(organisation=norr, pot=pot)
    mine = [m for m in mail.outbox if user.email in m.to]
    assert len(mine) == 1
    assert f"{BASE}/portal/beslut/{req.pk}/" in mine[0].body

    use = PermittedUse.objects.filter(agreement=grant.agreement).first()
    services.accept_requisition(
        req=req,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={use: req.amount},
        actor=user,
    )
    mail.outbox.clear()
    report_by = grant.agreement.report_by
    with django_capture_on_commit_callbacks(execute=True):
        assert send_report_reminders(today=report_by - timedelta(days=3)) >= 1
    mine = [m for m in mail.outbox if user.email in m.to]
    assert f"{BASE}/portal/beslut/{req.pk}/" in mine[0].body

    services.record_payment(
        req=req, paid_on=today(), amount=req.amount, reference="VER-1", actor=official
    )
    report = services.report_for(req)
    services.save_report(
        report=report, lines={use: req.amount - 1000}, achievements="a", benefit="b", actor=user
    )
    services.submit_report(report=report, actor=user)
    services.review_report(report=report, accept=True, comment="", actor=official)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_repayment(
            req=req,
            amount=1000,
            due_on=today() + timedelta(days=30),
            disposition=ClaimDisposition.RETURN_TO_STATE,
            today=today(),
            actor=official,
        )
    assert f"{BASE}/portal/beslut/{req.pk}/" in mail.outbox[-1].body


@pytest.mark.parametrize("value", ["stimulans.example.se", "ftp://x", "https://"])
def test_a_malformed_base_url_stops_start_up_naming_the_variable(tmp_path, value):
    result = settings_outcome(STIMULANS_DATA_DIR=str(tmp_path), STIMULANS_BASE_URL=value, DEBUG="1")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "STIMULANS_BASE_URL must start with http:// or https://" in result.stderr


def test_the_official_confirms_a_new_units_location_on_the_application(seed, norr, official):
    grant, pot, call = seed
    official.user_permissions.add(Permission.objects.get(codename="decide_allocationrun"))
    user = provider(norr, "norr")
    client = browser(user)
    client.post(reverse("portal:unit_new"), unit_post(organisation=str(norr.pk), places="30"))
    unit = Unit.objects.get(name="Solgläntan")
    app = services.start_application(call=call, organisation=norr, actor=user, today=today())
    key = f"new-{unit.pk}"
    # The provider states that it lies in the city, 90 % placed by the city.
    stated = {f"in_city_{key}": "yes", f"share_{key}": "90"}
    client.post(
        reverse("portal:application_edit", args=[app.pk]), application_post(grant, [key], **stated)
    )
    services.submit_application(app=app, actor=user, today=today())
    gu = GrantUnit.objects.get(grant=grant, unit=unit)
    url = reverse("office:confirm_location", args=[app.pk, gu.pk])
    office = browser(official)

    # Both lists flag it; the application's page offers the confirmation, as stated.
    listing = office.get(reverse("office:call", args=[call.pk])).content.decode()
    assert "new in this grant — location not confirmed" in listing
    page = office.get(reverse("office:application", args=[app.pk])).content.decode()
    assert url in page
    assert f'name="unit-{gu.pk}-city_placed_percent" value="90"' in page

    # The provider cannot confirm its own unit; junk is a form error and writes nothing.
    assert client.post(url, {f"unit-{gu.pk}-city_placed_percent": "100"}).status_code == 403
    bad = office.post(
        url, {f"unit-{gu.pk}-in_city": "on", f"unit-{gu.pk}-city_placed_percent": "140"}
    )
    assert bad.status_code == 200
    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share) == (False, Decimal(0))

    # A figure other than the stated one is a correction, which needs its reason.
    corrected = {f"unit-{gu.pk}-in_city": "on", f"unit-{gu.pk}-city_placed_percent": "92,5"}
    unexplained = office.post(url, corrected)
    assert unexplained.status_code == 200
    assert "Give the reason for correcting a stated figure." in unexplained.content.decode()
    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share) == (False, Decimal(0))
    assert not AuditEntry.objects.filter(action__contains="verified").exists()

    answer = office.post(
        url, {**corrected, f"unit-{gu.pk}-reason": "Placeringsregistret 2020-03-01"}, follow=True
    )
    assert answer.redirect_chain[-1][1] == 302
    assert "The location of Solgläntan is confirmed" in answer.content.decode()
    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share) == (True, Decimal("0.925"))
    # One door: the verification's entries, the unit's and the application's.
    entry = AuditEntry.objects.filter(action="grantunit.facts_verified", object_id=str(gu.pk)).get()
    assert entry.actor == official
    assert (entry.before["in_city"], entry.before["city_placed_share"]) == (False, "0.0000")
    assert entry.after["corrected"] == ["city_placed_share"]
    assert entry.after["stated"]["city_placed_share"] == "0.9000"
    assert entry.after["reason"] == "Placeringsregistret 2020-03-01"
    history = AuditEntry.objects.get(action="application.facts_verified", object_id=str(app.pk))
    assert history.after["corrected"] == {"Solgläntan": {"city_placed_share": ["0.9000", "0.9250"]}}
    assert not AuditEntry.objects.filter(action="grantunit.changed", object_id=str(gu.pk))
    # Its verdict is made again on the confirmed figures: now it counts.
    link = ApplicationUnit.objects.get(application=app, grant_unit=gu)
    assert (link.eligible, link.screened_with) == (True, services.screening_key(pot))
    assert link.verified_by == official
    page = office.get(reverse("office:application", args=[app.pk])).content.decode()
    assert "location not confirmed" not in page
    assert "Unit facts verified" in page
    listing = office.get(reverse("office:call", args=[call.pk])).content.decode()
    assert "location not confirmed" not in listing

    # A unit that is not the application's is a 404; so is another application's URL.
    other = GrantUnit.objects.filter(grant=grant).exclude(pk=gu.pk).first()
    assert (
        office.post(reverse("office:confirm_location", args=[app.pk, other.pk])).status_code == 404
    )

    # Once the grant is decided its units' figures are not confirmed here any more.
    decide(grant, official)
    refused = office.post(
        url, {f"unit-{gu.pk}-in_city": "", f"unit-{gu.pk}-city_placed_percent": "0"}, follow=True
    )
    assert "The grant is decided" in refused.content.decode()
    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share) == (True, Decimal("0.925"))
