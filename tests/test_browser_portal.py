"""A provider applies and an official approves, in a real browser (headless Chromium).

Everything goes through the pages as a person would use them: the sign-in form, links,
check boxes picked by their labels, the CSRF-protected forms, redirects.
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from allocations.models import GrantUnit, Organisation, PermittedUse, Pot
from applications import services
from applications.models import Application, ApplicationStatus, Membership

from .conftest import OFFICIAL_CODENAMES, SEED_000

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


def test_a_provider_applies_and_an_official_approves(browser_page, live_server, import_seed):
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    nara = Organisation.objects.get(slug="nara-omsorg-ab")
    home = GrantUnit.objects.get(grant=grant, unit__slug="vob-074")  # in no application yet
    official = User.objects.create_user("handlaggare", "h@example.invalid", PASSWORD)
    official.user_permissions.add(*Permission.objects.filter(codename__in=OFFICIAL_CODENAMES))
    provider = User.objects.create_user("nara", "nara@example.invalid", PASSWORD)
    Membership.objects.create(user=provider, organisation=nara)
    today = timezone.localdate()
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan särskilda boenden",
        opens_on=today,
        closes_on=today + timedelta(days=30),
        actor=official,
    )
    use = PermittedUse.objects.filter(agreement=grant.agreement).order_by("position").first()

    page = browser_page
    # The labels are read in English, the language of the source; amounts look the same.
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )

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
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    )
    sign_in(page, "handlaggare")
    assert page.url.endswith("/handlaggning/")
    page.goto(f"/handlaggning/utlysningar/{call.pk}/")  # the call's review list
    row = page.locator("tr", has=page.get_by_role("link", name=app.slug))
    assert "Nära Omsorg AB" in row.inner_text()
    click_and_wait(page, page.get_by_role("link", name=app.slug))
    page.get_by_label("Approve").check()
    click_and_wait(page, page.get_by_role("button", name="Record the review"))
    assert page.url.endswith(f"/handlaggning/utlysningar/{call.pk}/")
    assert f"Application {app.slug} is reviewed." in page.inner_text("main")
    app.refresh_from_db()
    assert (app.status, app.reviewed_by) == (ApplicationStatus.APPROVED, official)
    row = page.locator("tr", has=page.get_by_role("link", name=app.slug))
    assert "approved" in row.inner_text().lower()


def test_a_new_care_home_is_registered_applied_for_and_its_location_confirmed(
    browser_page, live_server, import_seed
):
    """The provider registers a home the grant does not know, applies with it; it is screened
    out until the official confirms where it is, and then it counts."""
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    nara = Organisation.objects.get(slug="nara-omsorg-ab")
    official = User.objects.create_user("handlaggare", "h@example.invalid", PASSWORD)
    official.user_permissions.add(*Permission.objects.filter(codename__in=OFFICIAL_CODENAMES))
    provider = User.objects.create_user("nara", "nara@example.invalid", PASSWORD)
    Membership.objects.create(user=provider, organisation=nara)
    today = timezone.localdate()
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan särskilda boenden",
        opens_on=today,
        closes_on=today + timedelta(days=30),
        actor=official,
    )
    use = PermittedUse.objects.filter(agreement=grant.agreement).order_by("position").first()
    page = browser_page
    english = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
    page.context.add_cookies(english)

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
    click_and_wait(page, page.get_by_role("button", name="Save and review before sending"))
    assert "None of the conditions is met" in page.inner_text("main")  # not confirmed yet
    click_and_wait(page, page.get_by_role("button", name="Send the application"))
    app = Application.objects.get(call=call, organisation=nara)
    assert app.status == ApplicationStatus.SUBMITTED

    # ------------------------------------------------------------ the official
    page.context.clear_cookies()
    page.context.add_cookies(english)
    sign_in(page, "handlaggare")
    page.goto(f"/handlaggning/utlysningar/{call.pk}/")
    row = page.locator("tr", has=page.get_by_role("link", name=app.slug))
    assert "location not confirmed" in row.inner_text()
    click_and_wait(page, page.get_by_role("link", name=app.slug))
    page.get_by_label("In the city").check()
    page.get_by_label("Share of residents placed by the city (%)").fill("95")
    click_and_wait(page, page.get_by_role("button", name="Confirm the location"))
    main = page.inner_text("main")
    assert "The unit's location is confirmed." in main
    assert "location not confirmed" not in main
    units = page.locator("table", has_text="Eligibility").inner_text()
    assert "Solgläntans vård- och omsorgsboende" in units
    assert "eligible" in units
    assert "None of the conditions is met" not in units
    gu = GrantUnit.objects.get(grant=grant, unit__name="Solgläntans vård- och omsorgsboende")
    assert (gu.in_city, str(gu.city_placed_share)) == (True, "0.9500")
