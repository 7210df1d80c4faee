"""A provider applies and an official approves, in a real browser (headless Chromium).

Everything goes through the pages as a person would use them: the sign-in form, links,
check boxes picked by their labels, the CSRF-protected forms, redirects.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from allocations.models import GrantUnit, Organisation, PermittedUse, Pot
from applications import services
from applications.models import Application, ApplicationStatus

from .conftest import SEED_000, fit_agreement
from .factories import official_user, provider_user

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Ett-långt-lösenord-42"


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def click_and_wait(page, locator) -> None:
    with page.expect_navigation():
        locator.click()


@dataclass
class World:
    grant: object
    call: object
    use: object
    official: User


@pytest.fixture
def world(browser_page, live_server, import_seed) -> World:
    """Seed 000, a call open today on its per-place pot, an official, and the provider "nara"
    (Nära Omsorg AB); the browser reads the pages in English, the source's language."""
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    official = official_user(password=PASSWORD)
    provider_user(Organisation.objects.get(slug="nara-omsorg-ab"), "nara", password=PASSWORD)
    today = timezone.localdate()
    fit_agreement(grant, report_by=today + timedelta(days=365))  # the call is open today
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan särskilda boenden",
        opens_on=today,
        closes_on=today + timedelta(days=30),
        actor=official,
    )
    use = PermittedUse.objects.filter(agreement=grant.agreement).order_by("position").first()
    english(browser_page, live_server)
    return World(grant, call, use, official)


def english(page, live_server) -> None:
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )


def test_a_provider_applies_and_an_official_approves(world, browser_page, live_server):
    grant, call, use, official = world.grant, world.call, world.use, world.official
    nara = Organisation.objects.get(slug="nara-omsorg-ab")
    home = GrantUnit.objects.get(grant=grant, unit__slug="vob-074")  # in no application yet
    page = browser_page

    # ------------------------------------------------------------ the provider
    sign_in(page, "nara")
    assert page.url.endswith("/portal/")
    click_and_wait(page, page.get_by_role("link", name=call.title))
    assert re.search(r"Indicative rate now: 1\s200,05\skr per place", page.inner_text("main"))
    click_and_wait(page, page.get_by_role("button", name="Start an application"))
    assert page.url.endswith("/andra/")

    page.get_by_label(home.unit.name, exact=True).check()
    page.get_by_label(use.label, exact=True).check()
    page.get_by_label("Describe the intended use").fill("Handledning för nyanställda.")
    page.get_by_label("Contact person").fill("Nora Nilsson")
    page.get_by_label("Contact e-mail").fill("nora@example.invalid")
    page.get_by_label("Payment method").select_option("bankgiro")
    page.get_by_label("Account number").fill("5050-1055")
    page.get_by_label("We will report back what the money was used for").check()
    page.get_by_label("We declare that the facts we state for each unit", exact=False).check()
    click_and_wait(page, page.get_by_role("button", name="Save draft"))
    assert "The draft is saved." in page.inner_text("main")
    app = Application.objects.get(call=call, organisation=nara)
    assert list(app.units.all()) == [home]
    assert app.payment_account == "5050-1055"

    click_and_wait(page, page.get_by_role("button", name="Save and review before sending"))
    assert page.url.endswith("/granska/")
    preview = page.inner_text("main")
    assert home.unit.name in preview
    assert "meets the rule" in preview
    assert "Put this right" not in preview
    click_and_wait(page, page.get_by_role("button", name="Send the application"))
    assert "The application is sent." in page.inner_text("main")
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SUBMITTED

    # ------------------------------------------------------------ the official
    page.context.clear_cookies()
    english(page, live_server)
    sign_in(page, "handlaggare")
    assert page.url.endswith("/handlaggning/")
    page.goto(f"/handlaggning/utlysningar/{call.pk}/")  # the call's review list
    row = page.locator("tr", has=page.get_by_role("link", name=app.slug))
    assert "Nära Omsorg AB" in row.inner_text()
    click_and_wait(page, page.get_by_role("link", name=app.slug))
    page.get_by_label("Recommend").check()
    click_and_wait(page, page.get_by_role("button", name="Record the review"))
    assert page.url.endswith(f"/handlaggning/utlysningar/{call.pk}/")
    assert f"Application {app.slug} is reviewed." in page.inner_text("main")
    app.refresh_from_db()
    assert (app.status, app.reviewed_by) == (ApplicationStatus.APPROVED, official)
    row = page.locator("tr", has=page.get_by_role("link", name=app.slug))
    assert "recommended" in row.inner_text().lower()


def test_a_new_care_home_is_registered_applied_for_and_its_location_confirmed(
    world, browser_page, live_server
):
    """The provider registers a home the grant does not know, applies with it; it is screened
    out until the official confirms where it is, and then it counts."""
    grant, call, use = world.grant, world.call, world.use
    nara = Organisation.objects.get(slug="nara-omsorg-ab")
    page = browser_page

    # ------------------------------------------------------------ the provider
    sign_in(page, "nara")
    click_and_wait(page, page.get_by_role("link", name="Units"))
    click_and_wait(page, page.get_by_role("link", name="Register a unit"))
    page.get_by_label("Name").fill("Solgläntans vård- och omsorgsboende")
    page.get_by_label("Places").fill("36")
    click_and_wait(page, page.get_by_role("button", name="Register"))
    assert "The unit is registered." in page.inner_text("main")

    page.goto(f"/portal/utlysningar/{call.pk}/")
    click_and_wait(page, page.get_by_role("button", name="Start an application"))
    page.get_by_role("checkbox", name="Solgläntans vård- och omsorgsboende").check()
    page.get_by_label(use.label, exact=True).check()
    page.get_by_label("Describe the intended use").fill("Introduktion för nyanställda.")
    page.get_by_label("Contact person").fill("Nora Nilsson")
    page.get_by_label("Contact e-mail").fill("nora@example.invalid")
    page.get_by_label("Payment method").select_option("bankgiro")
    page.get_by_label("Account number").fill("5050-1055")
    page.get_by_label("We will report back what the money was used for").check()
    page.get_by_label("We declare that the facts we state for each unit", exact=False).check()
    click_and_wait(page, page.get_by_role("button", name="Save and review before sending"))
    assert "None of the conditions is met" in page.inner_text("main")  # not confirmed yet
    click_and_wait(page, page.get_by_role("button", name="Send the application"))
    app = Application.objects.get(call=call, organisation=nara)
    assert app.status == ApplicationStatus.SUBMITTED

    # ------------------------------------------------------------ the official
    page.context.clear_cookies()
    english(page, live_server)
    sign_in(page, "handlaggare")
    page.goto(f"/handlaggning/utlysningar/{call.pk}/")
    row = page.locator("tr", has=page.get_by_role("link", name=app.slug))
    assert "location not confirmed" in row.inner_text()
    click_and_wait(page, page.get_by_role("link", name=app.slug))
    page.get_by_label("In the city").check()
    page.get_by_label("Share of residents placed by the city (%)").fill("95")
    # Not what the application states (not in the city): a correction, which needs its reason.
    click_and_wait(page, page.get_by_role("button", name="Confirm the location"))
    assert "Give the reason for correcting a stated figure." in page.inner_text("main")
    page.get_by_label("Reason for a correction").fill("Placeringsregistret 2020-03-01.")
    click_and_wait(page, page.get_by_role("button", name="Confirm the location"))
    main = page.inner_text("main")
    assert "The location of Solgläntans vård- och omsorgsboende is confirmed" in main
    assert "location not confirmed" not in main
    units = page.locator("table", has_text="Eligibility").inner_text()
    assert "Solgläntans vård- och omsorgsboende" in units
    assert "eligible" in units
    assert "None of the conditions is met" not in units
    gu = GrantUnit.objects.get(grant=grant, unit__name="Solgläntans vård- och omsorgsboende")
    assert (gu.in_city, str(gu.city_placed_share)) == (True, "0.9500")
