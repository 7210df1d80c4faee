"""The stored verdicts on application units: always what the engine would say now.

The review list and the live rate sum the verdicts in SQL instead of screening every unit on
every request, so they must never go stale: a new draft is screened when saved, and a change
to the pot's model, to a unit's figures for the grant or to a confirmed figure is noticed.
"""

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from allocations import engine, grantfile
from allocations.models import GrantUnit, Organisation, PermittedUse, Pot
from applications import services
from applications.models import Application, ApplicationStatus, ApplicationUnit
from applications.services import UnitChoice

from .conftest import SEED_000, fit_agreement
from .test_admin import post_change

pytestmark = pytest.mark.django_db


@pytest.fixture
def seed000(import_seed):
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=date(2021, 1, 31))  # the call below runs in 2020
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    official = User.objects.create_user("handlaggare", "h@example.invalid", "x")
    official.user_permissions.add(Permission.objects.get(codename="handle_cases"))
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan",
        opens_on=date(2020, 3, 1),
        closes_on=date(2020, 3, 31),
        actor=official,
    )
    return grant, pot, call, official


def live(pot: Pot) -> dict[tuple[int, str], tuple[int, engine.Reason | None]]:
    """Each application unit's verdict, screened now by the engine: what must be stored."""
    model = grantfile.to_model(pot.model)
    measure = services.pot_measure(pot)
    found = {}
    links = ApplicationUnit.objects.filter(application__pot=pot).select_related(
        "grant_unit__unit", "grant_unit__organisation"
    )
    for link in links:
        unit = services.confirmed_unit(link)
        found[link.application_id, link.grant_unit.unit.slug] = (
            unit.measure(measure) or 0,
            engine.screen_unit(model, unit),
        )
    return found


def stored(pot: Pot) -> dict[tuple[int, str], tuple[int, engine.Reason | None]]:
    apps = Application.objects.filter(pot=pot)
    return {
        (app_id, u.slug): (u.measure, u.reason)
        for app_id, units in services.screen_applications(pot, apps).items()
        for u in units
    }


def test_stored_verdicts_equal_the_engines_for_every_seed_application(seed000):
    _grant, pot, _call, _official = seed000
    verdicts = stored(pot)
    assert verdicts == live(pot)
    assert any(reason for _measure, reason in verdicts.values())  # some homes are ineligible
    assert services.refresh_screening(pot) == 0  # nothing left to screen


def test_a_saved_draft_is_screened_at_once(seed000):
    grant, pot, call, _official = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    app = services.start_application(
        call=call, organisation=org, actor=None, today=date(2020, 3, 2)
    )
    gu = GrantUnit.objects.filter(grant=grant, organisation=org).first()
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement)[:1])
    for other in Application.objects.filter(grant=grant, organisation=org).exclude(pk=app.pk):
        if other.status == ApplicationStatus.SUBMITTED:
            services.withdraw_application(app=other, actor=None)
        else:
            services.review_application(app=other, approve=False, reason="Ny ansökan", actor=None)
    services.save_draft(
        app=app,
        actor=None,
        units=[UnitChoice(gu, places=gu.places + 3)],
        uses=uses,
        intended_use="Utbildning",
        contact_name="A",
        contact_email="a@example.invalid",
        contact_phone="",
        payment_method="bankgiro",
        payment_account="5050-1055",
        will_report=True,
    )
    link = ApplicationUnit.objects.get(application=app)
    assert link.screened_with == services.screening_key(pot)
    assert link.measure == gu.places + 3


def test_a_pot_model_changed_in_the_admin_screens_again_at_once(seed000, admin_client):
    _grant, pot, _call, _official = seed000
    before = stored(pot)
    # Every care home is now ineligible: the pot takes home-care offices only.
    model = dict(pot.model)
    model["eligible"] = {**model.get("eligible", {}), "unit_types": ["home_care"]}

    response = post_change(admin_client, pot, model=json.dumps(model))

    assert response.status_code == 302
    pot.refresh_from_db()
    key = services.screening_key(pot)
    assert not ApplicationUnit.objects.filter(application__pot=pot).exclude(screened_with=key)
    after = stored(pot)
    assert after == live(pot)
    assert after != before
    assert all(reason and reason[0] == "unit_type" for _m, reason in after.values())


def test_a_unit_figure_changed_in_the_admin_screens_again_at_once(seed000, admin_client):
    _grant, pot, _call, _official = seed000
    eligible = ApplicationUnit.objects.filter(application__pot=pot, eligible=True).first()
    gu = eligible.grant_unit

    response = post_change(admin_client, gu, in_city="", city_placed_share="0")

    assert response.status_code == 302
    eligible.refresh_from_db()
    assert eligible.screened_with == services.screening_key(pot)
    verdicts = stored(pot)
    assert verdicts == live(pot)
    assert verdicts[eligible.application_id, gu.unit.slug][1] is not None


def test_the_review_list_only_reads_the_verdicts(seed000):
    _grant, pot, call, official = seed000
    link = ApplicationUnit.objects.filter(application__pot=pot).first()
    ApplicationUnit.objects.filter(pk=link.pk).update(screened_with="")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(official)

    for url in (
        reverse("office:pot_review", args=[pot.pk]),
        reverse("office:call", args=[call.pk]),
    ):
        assert client.get(url).status_code == 200

    assert ApplicationUnit.objects.get(pk=link.pk).screened_with == ""


def test_the_live_rate_counts_only_eligible_places_of_sent_applications(seed000):
    _grant, pot, call, _official = seed000
    rate, applied = services.indicative_rate(call)
    expected = sum(
        measure
        for (app_id, _slug), (measure, reason) in live(pot).items()
        if reason is None
        and Application.objects.get(pk=app_id).status
        in (ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED)
    )
    assert applied == expected > 0
    assert rate == Fraction(services.pot_amount(pot), expected)


def test_a_verification_screens_again_every_application_naming_the_unit(seed000):
    """`verify_facts` screens from what it holds: the verdicts it stores are the engine's."""
    grant, pot, _call, official = seed000
    sent = ApplicationUnit.objects.filter(
        application__pot=pot,
        application__status__in=[ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED],
    ).order_by("pk")
    first, *others = sent
    assert others
    # Any other application naming the unit (no official verifies it now) is screened again
    # too: its own statement still counts there, over the grant's figures as verified.
    twice = ApplicationUnit.objects.filter(grant_unit=first.grant_unit).exclude(pk=first.pk)
    services.verify_facts(
        grant=grant,
        verifications=[
            services.Verification(first.pk, in_city=False, city_placed_share=Decimal(0)),
            *(services.Verification(link.pk) for link in others),
        ],
        reason="Placeringsregistret",
        actor=official,
    )
    key = services.screening_key(pot)
    assert not ApplicationUnit.objects.filter(application__pot=pot).exclude(screened_with=key)
    verdicts = stored(pot)
    assert verdicts == live(pot)
    assert verdicts[first.application_id, first.grant_unit.unit.slug][1] is not None
    for link in twice:
        assert ApplicationUnit.objects.get(pk=link.pk).screened_with == key
