"""The whole workflow with the keyboard alone, in a real browser (headless Chromium).

A provider applies, an official reviews, computes and decides, and the provider requisitions
the money: every step by Tab, Enter, Space and typing into the focused field, never a click
or a fill. After every Tab the focused control must show that it has focus (an outline or a
box shadow of its own, WCAG 2.4.7), and every page starts with a skip link to its content.
"""

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from allocations.models import AllocationRun, GrantUnit, Organisation, PermittedUse, Pot
from applications import services
from applications.models import Application, ApplicationStatus, Requisition, RequisitionStatus
from applications.services.facts import DECLARATION

from .conftest import SEED_000, fit_agreement
from .factories import official_user, provider_user

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Ett-långt-lösenord-42"

# What the focused element is, and whether it shows its focus.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const words = (text) => (text || "").trim().replace(/\\s+/g, " ");
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    name: el.getAttribute("name") || "",
    href: el.getAttribute("href") || "",
    text: words(el.innerText),
    label: words(el.labels && el.labels.length ? el.labels[0].innerText : ""),
    summary: el.hasAttribute("data-error-summary"),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
    shadow: style.boxShadow !== "none" && style.boxShadow !== "",
    shown: box.width > 0 && box.height > 0,
  };
}"""


class Keyboard:
    """Moves through a page as a keyboard user does, checking that focus is always seen."""

    def __init__(self, page):
        self.page = page
        self.steps = 0

    def focused(self) -> dict | None:
        return self.page.evaluate(FOCUSED)

    def tab_to(self, match, *, limit: int = 400) -> dict:
        passed = []
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            self.steps += 1
            now = self.focused()
            if now is None:  # past the last control: the browser's own controls
                passed.append("(out of the page)")
                continue
            assert now["shown"], f"focus on an element that is not shown: {now}"
            assert now["outline"] or now["shadow"], f"focus is not visible on {now}"
            passed.append(f"{now['tag']} {now['id'] or now['href']} {now['text'] or now['label']}")
            if match(now):
                return now
        raise AssertionError("never reached; passed:\n" + "\n".join(passed[-60:]))

    def follow(self, key: str = "Enter") -> None:
        with self.page.expect_navigation():
            self.page.keyboard.press(key)

    def go(self, match) -> None:
        """To a link or button by Tab, and Enter."""
        self.tab_to(match)
        self.follow()

    def fill(self, match, text: str) -> None:
        """Tab to a field, clear it and type (the keyboard's way of filling it)."""
        self.tab_to(match)
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(text)

    def skip_to_content(self) -> None:
        """The first Tab of a page just opened reaches the skip link; Enter moves to the content."""
        now = self.tab_to(lambda f: True, limit=1)
        assert now["href"] == "#main", now
        self.page.keyboard.press("Enter")
        assert self.page.evaluate("() => document.activeElement.id") == "main"


def declaration() -> str:
    """The declaration's words as the Swedish user reads them."""
    with translation.override("sv"):
        return str(DECLARATION)


def sv(words: str) -> str:
    """The interface's words as a Swedish user reads them (the browser asks for sv-SE)."""
    with translation.override("sv"):
        return gettext(words)


def text(words: str):
    return lambda f: f["text"] == words


def label(words: str):
    return lambda f: f["label"].lower().startswith(words.lower())


def sign_in(keys: Keyboard, username: str) -> None:
    keys.page.context.clear_cookies()
    keys.page.goto("/accounts/login/")
    # The sign-in form has focus at once.
    assert label(sv("username"))(keys.focused()), keys.focused()
    keys.page.keyboard.type(username)
    keys.fill(label(sv("password")), PASSWORD)
    keys.follow()


def test_apply_review_decide_and_requisition_with_the_keyboard_alone(
    browser_page, live_server, import_seed
):
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    official = official_user(password=PASSWORD)
    nara = Organisation.objects.get(slug="nara-omsorg-ab")
    provider_user(nara, "nara", password=PASSWORD)
    today = timezone.localdate()
    fit_agreement(grant, report_by=today + timedelta(days=365))
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan särskilda boenden",
        opens_on=today - timedelta(days=1),
        closes_on=today,  # still open for the application; the decision may be dated today
        actor=official,
    )
    use = PermittedUse.objects.filter(agreement=grant.agreement).order_by("position").first()
    home = GrantUnit.objects.get(grant=grant, unit__slug="vob-074")  # in no application yet
    page = browser_page
    page.goto("/accounts/login/")
    keys = Keyboard(page)

    # ------------------------------------------------------------ the provider applies
    sign_in(keys, "nara")
    assert page.url.endswith("/portal/")
    keys.skip_to_content()
    keys.go(text(call.title))
    keys.go(text(sv("Start an application")))
    assert page.url.endswith("/andra/")
    keys.tab_to(label(home.unit.name))
    page.keyboard.press("Space")
    keys.tab_to(label(use.label))
    page.keyboard.press("Space")
    keys.fill(label(sv("Describe the intended use")), "Handledning för nyanställda.")
    keys.fill(label(sv("Contact person")), "Nora Nilsson")
    keys.fill(label(sv("Contact e-mail")), "nora@example.invalid")
    keys.tab_to(label(sv("Payment method")))
    page.keyboard.type("Bankgiro")
    keys.fill(label(sv("Account number")), "5050-1056")  # a wrong check digit
    keys.tab_to(label(sv("We will report back what the money was used for and what it achieved.")))
    page.keyboard.press("Space")
    keys.tab_to(label(declaration()[:60]))
    page.keyboard.press("Space")  # the declaration (intygande) of the stated facts
    keys.go(text(sv("Save and review before sending")))

    # Sent back: focus is on the summary of errors, whose link leads to the field.
    now = keys.focused()
    assert now["summary"], now
    assert now["outline"], now
    with translation.override("sv"):
        count = ngettext(
            "There is %(counter)s error in the form", "There are %(counter)s errors in the form", 1
        )
    assert count % {"counter": 1} in now["text"]
    link = keys.tab_to(lambda f: f["tag"] == "a")
    assert link["href"] == "#id_payment_account"
    page.keyboard.press("Enter")
    assert keys.focused()["id"] == "id_payment_account"
    page.keyboard.press("Control+A")
    page.keyboard.type("5050-1055")
    keys.go(text(sv("Save and review before sending")))
    assert page.url.endswith("/granska/")
    assert sv("meets the rule") in page.inner_text("main")
    keys.skip_to_content()
    keys.go(text(sv("Send the application")))
    assert sv("The application is sent. A confirmation goes by e-mail.") in page.inner_text("main")
    app = Application.objects.get(call=call, organisation=nara)
    assert app.status == ApplicationStatus.SUBMITTED
    assert list(app.units.all()) == [home]
    assert app.payment_account == "5050-1055"

    # ------------------------------------------------------------ the official reviews
    sign_in(keys, "handlaggare")
    assert page.url.endswith("/handlaggning/")
    keys.skip_to_content()
    keys.go(text(call.title))
    keys.go(text(app.slug))
    keys.tab_to(label(sv("recommend")))
    page.keyboard.press("Space")
    keys.go(text(sv("Record the review")))
    assert sv("Application %s is reviewed.") % app.slug in page.inner_text("main")
    app.refresh_from_db()
    assert (app.status, app.reviewed_by) == (ApplicationStatus.APPROVED, official)

    # ------------------------------------------------------------ and decides
    keys.skip_to_content()
    keys.go(text(grant.title))  # the breadcrumb
    keys.go(text(sv("Compute the allocation")))
    run = AllocationRun.objects.filter(grant=grant).latest("number")
    keys.skip_to_content()
    keys.go(lambda f: f["tag"] == "a" and f["href"].endswith(f"/korningar/{run.pk}/"))
    keys.skip_to_content()
    keys.go(text(sv("Record the decision")))
    # The confirmation page says what the decision does, with the amounts, before it is made.
    assert "8\u00a0209\u00a0071\u00a0kr" in page.inner_text("main")
    assert not AllocationRun.objects.get(pk=run.pk).is_decided
    keys.skip_to_content()
    keys.go(text(sv("Record the decision")))
    assert sv("Decision recorded: %(run)s.").split("%")[0] in page.inner_text("main")
    run.refresh_from_db()
    assert run.is_decided
    req = Requisition.objects.get(run=run, organisation=nara)
    assert req.status == RequisitionStatus.PENDING

    # ------------------------------------------------------------ the provider requisitions
    sign_in(keys, "nara")
    keys.skip_to_content()
    keys.go(lambda f: f["href"].endswith(f"/beslut/{req.pk}/"))
    assert sv("Requisition the money") in page.inner_text("main")
    keys.tab_to(label(sv("Payment method")))
    page.keyboard.type("Bankgiro")
    keys.fill(label(sv("Account number")), "5050-1055")
    keys.fill(label(use.label), f"{req.amount:,}".replace(",", " "))
    keys.go(text(sv("Requisition")))
    req.refresh_from_db()
    assert req.status == RequisitionStatus.ACCEPTED, page.inner_text("main")
    assert {line.use_id: line.amount for line in req.lines.all() if line.amount} == {
        use.pk: req.amount
    }
    assert keys.steps > 40  # the walk really went through the pages by Tab
