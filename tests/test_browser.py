"""The pages in a real browser: headless Chromium against the live test server."""

import re

import pytest
from django.contrib.auth.models import User

from allocations.services import compute_grant

from .conftest import SEED_003

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, username, password):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button")


def test_an_administrator_sees_the_budget_tree_with_balances(browser_page, import_seed):
    grant = import_seed(SEED_003)
    compute_grant(grant_id=grant.pk)
    User.objects.create_superuser("admin", "admin@example.invalid", "demo-password-1")
    page = browser_page
    sign_in(page, "admin", "demo-password-1")
    page.goto(f"/admin/allocations/grant/{grant.pk}/change/")
    body = page.inner_text("body")
    # Swedish thousands separators (non-breaking spaces) and the open-application balance.
    assert re.search(r"36\s310\s636\skr", body)
    assert re.search(r"160\s000\skr", body)
    assert "Vidareutbildning sjuksköterskor" in body


def test_the_language_switch_changes_the_interface(browser_page):
    page = browser_page
    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "sv"
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Sign in" in page.inner_text("h1")
