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


def test_the_browser_enforces_the_content_security_policy(browser_page):
    """Chromium refuses inline script and style on our pages (and says so in the console)."""
    page = browser_page
    page.goto("/accounts/login/")
    # Our own script ran: the language select is wired to submit its form.
    assert page.locator("select[data-submit-on-change]").count() == 1
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
            const div = document.createElement("div");
            div.setAttribute("style", "width: 123px");
            div.id = "styled";
            document.body.append(div);
        }"""
    )
    page.wait_for_timeout(200)  # violations are reported asynchronously
    assert page.evaluate("window.inlineRan") is None
    assert page.evaluate("document.getElementById('styled').offsetWidth") != 123
    refused = [e for e in page.console_errors if "CSP violation" in e]
    assert any("script-src" in e for e in refused), page.console_errors
    assert any("style-src" in e for e in refused), page.console_errors
    page.console_errors.clear()  # provoked on purpose
