"""Providers state their units' eligibility facts; officials verify them (issue 11)."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from allocations.models import AuditEntry, GrantUnit, Organisation, PermittedUse, Pot
from allocations.services import compute_grant
from allocations.tables import ImportRefused
from applications import services, units
from applications.models import Application, ApplicationUnit
from applications.placements import import_placements
from applications.services import UnitChoice, Verification, WorkflowError

from .conftest import SEED_000, fit_agreement
from .factories import provider_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    from django.utils import translation

    with translation.override("en"):
        yield


def today():
    return timezone.localdate()


@pytest.fixture
def seed(import_seed, official):
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=today() + timedelta(days=365))
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan",
        opens_on=today() - timedelta(days=1),
        closes_on=today() + timedelta(days=30),
        actor=official,
    )
    return grant, pot, call


@pytest.fixture
def norr(seed):
    return Organisation.objects.get(slug="omsorg-norr-ab")


def draft_fields(app, **overrides):
    fields = {
        "uses": list(PermittedUse.objects.filter(agreement=app.grant.agreement)[:1]),
        "intended_use": "Kompetensutveckling.",
        "contact_name": "Anna",
        "contact_email": "anna@example.invalid",
        "contact_phone": "",
        "payment_method": "bankgiro",
        "payment_account": "5050-1055",
        "will_report": True,
    }
    fields.update(overrides)
    return fields


def new_home(org, user, name="Solgläntan", places=40):
    return units.create_unit(
        organisation=org, actor=user, name=name, type="care_home", places=places, customers=None
    )


def apply_with_new_home(seed, org, user, *, declared=True, in_city=True, share="0.90"):
    """A provider applies with a care home new to the grant, stating where it lies."""
    grant, _pot, call = seed
    unit = new_home(org, user)
    app = services.start_application(call=call, organisation=org, actor=user, today=today())
    units.save_draft_with_new_units(
        app=app,
        units=[],
        new_units=[
            units.NewUnitChoice(unit, places=42, in_city=in_city, city_placed_share=Decimal(share))
        ],
        declared=declared,
        actor=user,
        **draft_fields(app),
    )
    return app, GrantUnit.objects.get(grant=grant, unit=unit)


def test_a_statement_is_screened_at_once_but_leaves_the_grant_alone(seed, norr):
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user, declared=False)
    link = ApplicationUnit.objects.get(application=app)
    # The rule took what was stated: in the city, 42 places.
    assert link.eligible is True
    assert link.measure == 42
    assert services.eligibility_preview(app) == {gu.unit.slug: None}
    # The grant's own figures are untouched: not in the city, nobody placed, 40 places.
    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share, gu.places) == (False, Decimal(0), 40)
    # Without the declaration it cannot be sent.
    problems = services.submission_problems(app)
    assert "Declare that the facts you state for your units are true." in problems
    with pytest.raises(WorkflowError, match="facts you state"):
        services.submit_application(app=app, actor=user, today=today())

    # Stated as outside the city with a small share: ineligible, with the reason in words.
    unit_link = ApplicationUnit.objects.get(application=app)
    units.save_draft_with_new_units(
        app=app,
        units=[
            UnitChoice(
                unit_link.grant_unit, places=42, in_city=False, city_placed_share=Decimal("0.5")
            )
        ],
        new_units=[],
        declared=True,
        actor=user,
        **draft_fields(app),
    )
    link = ApplicationUnit.objects.get(application=app)
    assert link.eligible is False
    assert link.reason[0] == "any"
    app.refresh_from_db()
    assert app.facts_declared_by == user
    assert app.facts_declared_at is not None
    assert "true" in app.facts_declaration
    stated = AuditEntry.objects.get(action="application.facts_stated", object_id=str(app.pk))
    assert stated.after["units"]["Solgläntan"] == {
        "in_city": False,
        "city_placed_share": "0.5000",
        "places": 42,
        "customers": None,
    }
    # Saved again unchanged: still declared, no second statement.
    units.save_draft_with_new_units(
        app=app,
        units=[
            UnitChoice(link.grant_unit, places=42, in_city=False, city_placed_share=Decimal("0.5"))
        ],
        new_units=[],
        actor=user,
        **draft_fields(app),
    )
    app.refresh_from_db()
    assert app.facts_declared_at is not None
    # Changed without declaring again: the old declaration no longer covers it.
    units.save_draft_with_new_units(
        app=app,
        units=[
            UnitChoice(link.grant_unit, places=43, in_city=False, city_placed_share=Decimal("0.5"))
        ],
        new_units=[],
        actor=user,
        **draft_fields(app),
    )
    app.refresh_from_db()
    assert app.facts_declared_at is None


def test_verification_sets_the_grants_figures_in_bulk_with_audit(seed, norr, official):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    link = ApplicationUnit.objects.get(application=app)
    with pytest.raises(WorkflowError, match="at least one"):
        services.verify_facts(grant=grant, verifications=[], actor=official)

    verified = services.verify_facts(
        grant=grant, verifications=[Verification(link.pk)], actor=official
    )
    assert verified == 1
    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share, gu.places) == (True, Decimal("0.9"), 42)
    link.refresh_from_db()
    assert link.verified_by == official
    assert link.eligible is True
    assert gu.pk not in units.unconfirmed_grant_units([gu.pk])
    entry = AuditEntry.objects.get(action="grantunit.facts_verified")
    assert entry.before["in_city"] is False
    assert entry.after["in_city"] is True
    assert entry.after["application"] == app.slug
    assert entry.actor == official
    history = AuditEntry.objects.get(action="application.facts_verified", object_id=str(app.pk))
    assert history.after["units"] == ["Solgläntan"]
    assert history.after["corrected"] == {}


def test_a_correction_needs_a_reason_and_is_what_counts(seed, norr, official):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    link = ApplicationUnit.objects.get(application=app)
    correction = Verification(link.pk, places=41, city_placed_share=Decimal("0.7"))
    with pytest.raises(WorkflowError, match="reason"):
        services.verify_facts(grant=grant, verifications=[correction], actor=official)
    gu.refresh_from_db()
    assert gu.places == 40
    assert not AuditEntry.objects.filter(action__contains="verified")

    services.verify_facts(
        grant=grant,
        verifications=[correction],
        reason="Placeringsregistret 2020-03-01",
        actor=official,
    )
    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share, gu.places) == (True, Decimal("0.7"), 41)
    link.refresh_from_db()
    # What was stated stays readable; the verdict is made on what was verified.
    assert services.stated_facts(link).places == 42
    assert link.measure == 41
    assert link.verification_note == "Placeringsregistret 2020-03-01"
    history = AuditEntry.objects.get(action="application.facts_verified")
    assert history.after["corrected"] == {
        "Solgläntan": {"city_placed_share": ["0.9000", "0.7"], "places": [42, 41]}
    }
    assert history.after["reason"] == "Placeringsregistret 2020-03-01"


def test_a_decided_grant_refuses_verification(seed, norr, official):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    link = ApplicationUnit.objects.get(application=app)
    run = compute_grant(grant_id=grant.pk, actor=official)
    services.decide(
        run=run,
        decided_on=today() - timedelta(days=2),
        decided_by="Förvaltningschef",
        delegation="Delegationsordning",
        reference="ÄN 1",
        requisition_by=today() + timedelta(days=14),
        actor=official,
    )
    with pytest.raises(WorkflowError, match="decided"):
        services.verify_facts(grant=grant, verifications=[Verification(link.pk)], actor=official)
    gu.refresh_from_db()
    assert gu.in_city is False


def test_review_no_longer_carries_unverified_figures(seed, norr, official):
    _grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    services.review_application(app=app, approve=True, actor=official)
    gu.refresh_from_db()
    assert (gu.in_city, gu.places) == (False, 40)  # stated 42 in the city: not verified yet


def test_last_years_figures_come_from_the_previous_grant_of_the_same_kind(seed, norr):
    grant, _pot, _call = seed
    assert services.previous_grant(grant) is None
    assert services.previous_facts(grant, [1, 2]) == {}


# ---------------------------------------------------------------- the placement register


def xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_placement_register_verifies_what_it_confirms(seed, norr, official):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    # A second new home stated at 85 %, which the register puts at 60 %.
    other = new_home(norr, user, name="Björkhagen")
    units.save_draft_with_new_units(
        app=app,
        units=[
            UnitChoice(gu, places=42, in_city=True, city_placed_share=Decimal("0.9")),
        ],
        new_units=[units.NewUnitChoice(other, in_city=False, city_placed_share=Decimal("0.85"))],
        declared=True,
        actor=user,
        **draft_fields(app),
    )
    services.submit_application(app=app, actor=user, today=today())
    content = xlsx(
        [
            ["id", "share", "date"],
            [gu.unit.slug, "90 %", "2020-03-01"],
            [other.slug, "0,60", "2020-03-01"],
            ["vob-999", "1", "2020-03-01"],
        ]
    )
    report = import_placements(grant=grant, content=content, name="reg.xlsx", actor=official)
    assert report.verified == [(2, "Solgläntan")]
    assert report.differing == [(3, "Björkhagen", Decimal("0.85"), Decimal("0.6"))]
    assert report.unmatched == [(4, "vob-999")]
    gu.refresh_from_db()
    assert gu.in_city is True
    assert gu.city_placed_share == Decimal("0.9")
    other_gu = GrantUnit.objects.get(grant=grant, unit=other)
    assert other_gu.city_placed_share == Decimal(0)  # differs: left for the official
    entry = AuditEntry.objects.get(action="grantunit.facts_verified")
    assert entry.after["source"] == "placements"
    assert "reg.xlsx" in entry.after["reason"]

    # Imported again: already verified, nothing more changes.
    again = import_placements(grant=grant, content=content, name="reg.xlsx", actor=official)
    assert again.verified == []
    assert again.already == [(2, "Solgläntan")]
    assert AuditEntry.objects.filter(action="grantunit.facts_verified").count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id;share;date\nvob-001;1,5;2020-03-01\n", "between 0 and 1"),
        (b"id;share;date\nvob-001;NaN;2020-03-01\nvob-002;sNaN %;2020-03-01\n", "not a share"),
        (b"id;share\nvob-001;1\n", "Missing columns: date"),
        (b"id;share;date\nvob-001;1;1 mars\n", "not a date"),
        (b"id;share;date\nvob-001;1;2020-03-01\nvob-001;1;2020-03-01\n", "also on row 2"),
        (b"\x00\x01\x02binary", "neither an Excel workbook"),
        (b"PK\x03\x04 not really a zip", "neither an Excel workbook"),
    ],
)
def test_a_bad_placement_file_changes_nothing(seed, norr, official, content, message):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    # A good row for the unit beside the bad one: still nothing is verified.
    with pytest.raises(ImportRefused) as refused:
        import_placements(grant=grant, content=content, name="reg.csv", actor=official)
    assert message in str(refused.value)
    gu.refresh_from_db()
    assert gu.in_city is False
    assert not AuditEntry.objects.filter(action__contains="verified").exists()


def test_the_command_imports_through_the_same_service(seed, norr, official, tmp_path):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    path = tmp_path / "reg.csv"
    path.write_text(f"id,share,date\n{gu.unit.slug},0.9,2020-03-01\nokand,1,2020-03-01\n")
    out = io.StringIO()
    call_command("import_placements", grant.slug, str(path), stdout=out)
    assert "Verified: 1 units." in out.getvalue()
    assert "okand" in out.getvalue()
    gu.refresh_from_db()
    assert gu.in_city is True
    with pytest.raises(CommandError, match="no grant"):
        call_command("import_placements", "nope", str(path))
    assert Application.objects.filter(pk=app.pk).exists()


# ---------------------------------------------------------------- the pages


def app_post(grant, unit_keys, **overrides):
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement)[:1])
    data = {
        "units": unit_keys,
        "uses": [str(u.pk) for u in uses],
        "intended_use": "Kompetensutveckling.",
        "contact_name": "Anna",
        "contact_email": "anna@example.invalid",
        "payment_method": "bankgiro",
        "payment_account": "5050-1055",
        "will_report": "on",
    }
    data.update(overrides)
    return data


def test_the_form_offers_what_can_take_part_and_greys_the_rest(seed, norr, official):
    grant, pot, call = seed
    user = provider_user(norr)
    client = signed_in(user)
    home_care = units.create_unit(
        organisation=norr,
        actor=user,
        name="Norr hemtjänst",
        type="home_care",
        places=None,
        customers=300,
    )
    home = new_home(norr, user)
    app = services.start_application(call=call, organisation=norr, actor=user, today=today())
    url = reverse("portal:application_edit", args=[app.pk])
    html = client.get(url).content.decode()
    # The home care office is of a type the pot does not take: greyed, with the reason.
    assert "Norr hemtjänst" in html
    assert "Cannot be chosen: this pot does not take its type." in html
    assert f'value="new-{home_care.pk}"' not in html
    assert f'value="new-{home.pk}"' in html
    # A unit another sent application to the pot names is greyed with that application.
    taken = (
        ApplicationUnit.objects.filter(
            application__pot=pot,
            application__organisation=norr,
            application__status__in=("submitted", "approved"),
        )
        .select_related("grant_unit__unit", "application")
        .first()
    )
    assert f"already applied for in application {taken.application.slug}" in html
    assert f'name="units" value="{taken.grant_unit_id}"' not in html
    # Posting a greyed unit anyway is a form error; nothing is saved.
    response = client.post(url, app_post(grant, [str(taken.grant_unit_id)]))
    assert response.status_code == 200
    assert not ApplicationUnit.objects.filter(application=app).exists()

    # Stating the new home's facts, declared: the verdict is shown at once, the grant untouched.
    key = f"new-{home.pk}"
    data = app_post(
        grant,
        [key],
        **{
            f"in_city_{key}": "yes",
            f"share_{key}": "90,0",  # typed the Swedish way
            f"places_{key}": "42",
            "declare_facts": "on",
        },
    )
    assert client.post(url, data).status_code == 302
    link = ApplicationUnit.objects.get(application=app)
    assert link.stated_in_city is True
    assert link.stated_city_placed_share == Decimal("0.9")
    assert link.places == 42
    app.refresh_from_db()
    assert app.facts_declared_by == user
    assert "takes part" in client.get(url).content.decode()
    assert GrantUnit.objects.get(pk=link.grant_unit_id).in_city is False
    assert services.submission_problems(app) == []


def test_the_official_verifies_on_the_list_with_a_reason_for_corrections(seed, norr, official):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    link = ApplicationUnit.objects.get(application=app)
    url = reverse("office:facts", args=[grant.pk])
    # Officials only: a provider is refused, and changes nothing.
    assert signed_in(user).get(url).status_code == 403
    assert signed_in(user).post(url, {"links": [link.pk]}).status_code == 403
    office = signed_in(official)
    html = office.get(url).content.decode()
    assert "Solgläntan" in html
    assert "table-danger" in html  # stated in the city; the grant says not
    assert 'data-select-all="links"' in html
    # A correction without a reason: shown again with the error, nothing changed.
    response = office.post(url, {"links": [link.pk], f"places_{link.pk}": "41"})
    assert response.status_code == 200
    assert "Give the reason for correcting a stated figure." in response.content.decode()
    gu.refresh_from_db()
    assert gu.places == 40
    # With the reason it is verified, and the application's history says so.
    response = office.post(
        url, {"links": [link.pk], f"places_{link.pk}": "41", "reason": "Avtalet säger 41."}
    )
    assert response.status_code == 302
    gu.refresh_from_db()
    assert (gu.in_city, gu.places) == (True, 41)
    page = office.get(reverse("office:application", args=[app.pk])).content.decode()
    assert "Unit facts verified" in page
    assert "Avtalet säger 41." in page


def test_the_import_page_reports_and_refuses(seed, norr, official):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    url = reverse("office:facts_import", args=[grant.pk])
    office = signed_in(official)
    bad = SimpleUploadedFile("reg.csv", b"id;share\nx;1\n", content_type="text/csv")
    response = office.post(url, {"file": bad})
    assert "Missing columns: date" in response.content.decode()
    gu.refresh_from_db()
    assert gu.in_city is False
    good = SimpleUploadedFile(
        "reg.csv",
        f"id;share;date\n{gu.unit.slug};0,9;2020-03-01\nokand;1;2020-03-01\n".encode(),
        content_type="text/csv",
    )
    html = office.post(url, {"file": good}).content.decode()
    assert "Row 3: okand" in html
    gu.refresh_from_db()
    assert gu.in_city is True
    assert signed_in(user).post(url, {"file": good}).status_code == 403


def test_approved_reads_recommended_until_a_decision_grants(seed, norr, official):
    grant, _pot, _call = seed
    user = provider_user(norr)
    app, _gu = apply_with_new_home(seed, norr, user)
    services.submit_application(app=app, actor=user, today=today())
    services.review_application(app=app, approve=True, actor=official)
    portal = signed_in(user)
    page = portal.get(reverse("portal:application", args=[app.pk])).content.decode()
    assert "recommended" in page
    assert ">granted<" not in page
    assert "Application recommended" in page
    sv = signed_in(user, "sv").get(reverse("portal:application", args=[app.pk])).content.decode()
    assert "tillstyrkt" in sv
    assert "beviljad" not in sv
    run = compute_grant(grant_id=grant.pk, actor=official)
    services.decide(
        run=run,
        decided_on=today() - timedelta(days=2),
        decided_by="Förvaltningschef",
        delegation="Delegationsordning",
        reference="ÄN 1",
        requisition_by=today() + timedelta(days=14),
        actor=official,
    )
    # The imported applications of Omsorg Norr AB to the pot are granted money now.
    listed = portal.get(reverse("portal:applications")).content.decode()
    assert ">granted<" in listed
