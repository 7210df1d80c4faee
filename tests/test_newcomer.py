"""A newcomer's first hour, in a real browser, on the production shape.

The web runs on gunicorn, background work on a real Celery worker over Redis, the data in
PostgreSQL; headless Chromium (Debian's) drives every page as the people who use them do, in
Swedish. The administrator sets up an agreement, a grant, its organisations and care homes
and a budget tree with a per-place pot and a tiered pot in the admin, opens a call and
invites two provider users. Each provider applies for its own homes; one home is outside the
city and the page says so, in words. The official reviews, computes (a stored job, its page
polling), closes the call, decides, renders the decision report and the letters and
downloads the xlsx export. A provider reads its decision and letter, requisitions, is paid,
and reports its use with money left over; the official accepts the report, claims the money
back for redistribution, registers it repaid and redistributes it. The books balance at the
end. Screenshots of the key pages go to a folder the test prints.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import openpyxl
import pypdf
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from django.utils.translation import gettext

from allocations.models import AllocationRun, Grant, PermittedUse
from allocations.wording import format_kronor
from applications.books import check_all
from applications.models import Requisition, UsageReport

from .conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, worker_database_url
from .factories import official_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

# Until WhiteNoise serves /static/ with DEBUG off, the test's server serves it itself
# (`tests/gunicorn_settings.py`); then this line becomes "stimulans.settings".
SERVER_SETTINGS = "tests.gunicorn_settings"

PASSWORD = "Ett-långt-lösenord-42"
HOST = "127.0.0.1"
JOB_SECONDS = 120  # the longest a stored job may take on a busy machine


def t(msgid: str) -> str:
    """The Swedish the pages show for `msgid`; a msgid the catalogue lacks fails here."""
    text = gettext(msgid)
    assert text != msgid, f"no Swedish for {msgid!r}"
    return text


def kr(amount: int) -> str:
    """An amount as the pages show it, spaces made plain: `1 200 000 kr`."""
    return format_kronor(amount)


def plain(text: str) -> str:
    """Text with every run of white space (the no-break spaces in amounts too) one space."""
    return " ".join(text.split())


# ---------------------------------------------------------------- the production shape


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def production(transactional_db, tmp_path, monkeypatch, request):
    """gunicorn with DEBUG off on the test database, and a Celery worker, sharing media."""
    # This thread's connection may date from before the fault tests restarted PostgreSQL:
    # a test process is no request, so no health check renews it. Start afresh.
    connections.close_all()
    media = tmp_path / "media"
    media.mkdir()
    # The worker (conftest's fixture) inherits this environment: both write the same files.
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop, our ORM
    request.getfixturevalue("celery_worker_process")
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    broker = os.environ["CELERY_BROKER_URL"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE=SERVER_SETTINGS,
        DATABASE_URL=worker_database_url(),
        CACHE_URL=broker.rsplit("/", 1)[0] + "/1",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        STIMULANS_BASE_URL=base_url,
        PYTHONPATH=str(ROOT),
    )
    log_path = tmp_path / "gunicorn.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "stimulans.wsgi:application",
            f"--bind={HOST}:{port}",
            "--workers=2",
            "--timeout=120",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()}")
            try:
                with urlopen(f"{base_url}/accounts/login/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"gunicorn did not answer:\n{log_path.read_text()}"
                    ) from None
                time.sleep(0.2)
        yield base_url, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class Walk:
    """The browser, and what a person notices: the page, its messages, its errors."""

    def __init__(self, page, shots: Path, log_path: Path):
        self.page = page
        self.shots = shots
        self.log_path = log_path
        self.errors: list[str] = []
        self.count = 0
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("response", self._response)

    def _console(self, message) -> None:
        # The admin's pages name no icon, so the browser asks for /favicon.ico on its own.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def _response(self, response) -> None:
        if response.status >= 500:
            self.errors.append(f"{response.status} from {response.url}")

    def check(self) -> None:
        """No server error, no browser error so far; the page is no error page."""
        assert not self.errors, "\n".join(self.errors)
        heading = (
            self.page.locator("h1").first.inner_text() if self.page.locator("h1").count() else ""
        )
        assert heading != "Något gick fel", self.page.url  # templates/500.html

    def go(self, path: str) -> None:
        response = self.page.goto(path)
        status = response.status if response is not None else None
        assert status == 200, (path, status)
        self.check()

    def click(self, locator) -> None:
        """Click what leads to another page and wait for it."""
        with self.page.expect_navigation():
            locator.click()
        self.check()

    def button(self, name: str, exact: bool = True) -> None:
        self.click(self.page.get_by_role("button", name=name, exact=exact))

    def main(self) -> str:
        return plain(self.page.locator("main").inner_text())

    def body(self) -> str:
        return plain(self.page.locator("body").inner_text())

    def messages(self) -> str:
        """The messages the last action left (the product's pages and the admin's)."""
        found = self.page.locator("main .alert, ul.messagelist li, .errornote, .errorlist")
        return plain(" ".join(found.all_inner_texts()))

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=self.shots / f"{self.count:02d}-{name}.png", full_page=True)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.page.context.clear_cookies()
        self.go("/accounts/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.click(self.page.locator("main form button, #login-form [type=submit]").first)

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self.page.fill(f"[name='{name}']", value)

    def autocomplete(self, field_id: str, text: str) -> None:
        """Choose `text` in one of the admin's search-as-you-type fields (select2)."""
        page = self.page
        page.locator(f"#{field_id} + .select2").click()
        page.locator(".select2-container--open .select2-search__field").fill(text)
        page.locator(".select2-container--open .select2-results__option", has_text=text).click()
        assert page.locator(f"#{field_id}").input_value(), field_id

    def admin_save(self, *, stay: bool = False) -> None:
        self.click(self.page.locator("input[name=_continue]" if stay else "input[name=_save]"))
        if self.page.locator(".errornote, .errorlist").count():
            self.shot("failed-save")
        assert self.page.locator(".errornote, .errorlist").count() == 0, self.body()
        assert self.page.locator("ul.messagelist li.success").count() == 1, self.body()

    def wait_for_job(self) -> str:
        """Wait on a stored job's page (it reloads itself) until the job is done."""
        assert "/jobs/" in self.page.url, self.page.url
        finished = self.page.locator("main .alert-success, main .alert-danger")
        finished.first.wait_for(timeout=JOB_SECONDS * 1000)
        self.check()
        outcome = self.messages()
        assert self.page.locator("main .alert-success").count() == 1, outcome
        return outcome

    def invitation_link(self, email: str) -> str:
        """The link in the invitation e-mail: a notice the worker sends (its body as sent)."""
        from applications.models import Notice

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for notice in Notice.objects.filter(kind="invitation").order_by("-pk"):
                if email in notice.recipients:
                    found = re.findall(r"(http://\S+/inbjudan/\S+/)", notice.body)
                    if found and notice.status == "sent":
                        return found[-1]
            time.sleep(0.2)
        raise AssertionError(f"no invitation sent to {email}")


@pytest.fixture
def walk(production):
    from playwright.sync_api import sync_playwright

    base_url, log_path = production
    # Not under pytest's temporary directory: other runs on the machine prune that one.
    shots = Path(os.environ.get("STIMULANS_SCREENSHOTS", ROOT / "var" / "screenshots" / "newcomer"))
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(
            locale="sv-SE", base_url=base_url, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield Walk(page, shots, log_path)
        finally:
            context.close()
            browser.close()


# ---------------------------------------------------------------- the first hour


def test_a_newcomers_first_hour(walk, capsys):
    started = time.monotonic()
    with capsys.disabled():
        print(f"\nnewcomer: screenshots in {walk.shots}")
    page = walk.page
    today = timezone.localdate()
    User.objects.create_superuser("admin", "admin@example.invalid", PASSWORD)
    official_user("handlaggare", password=PASSWORD)

    # ============================================================ the administrator
    walk.sign_in("admin")
    organisations = [
        ("stockholms-stad", "Stockholms stad", "municipality", "public"),
        ("solrosen-omsorg-ab", "Solrosen Omsorg AB", "private_provider", "private"),
        ("lindens-vard-ab", "Lindens Vård AB", "private_provider", "private"),
    ]
    for slug, name, kind, ownership in organisations:
        walk.go("/admin/allocations/organisation/add/")
        walk.fill({"slug": slug, "name": name})
        page.select_option("select[name=kind]", kind)
        page.select_option("select[name=ownership]", ownership)
        walk.admin_save()

    agreement = "Överenskommelse om kompetenslyft i äldreomsorgen"
    walk.go("/admin/allocations/agreement/add/")
    walk.fill(
        {
            "title": agreement,
            "year": str(today.year),
            # The admin offers `[]` here and then refuses it: the parties must be named.
            "parties": '["Staten", "Sveriges Kommuner och Regioner"]',
            "purpose": "Att höja kompetensen hos personalen i äldreomsorgen.",
            "spend_by": (today + timedelta(days=180)).isoformat(),
            "report_by": (today + timedelta(days=270)).isoformat(),
            "repay_by": (today + timedelta(days=300)).isoformat(),
            "repay_to": "Socialstyrelsen",
        }
    )
    uses = ["Utbildning av undersköterskor", "Handledning av nyanställda"]
    for i, label in enumerate(uses):
        page.locator("#permitted_uses-group .add-row a").click()
        walk.fill(
            {
                f"permitted_uses-{i}-code": f"anvandning-{i + 1}",
                f"permitted_uses-{i}-label": label,
                f"permitted_uses-{i}-position": str(i),
            }
        )
    walk.admin_save()

    grant_amount, per_place_amount, tiered_amount = 1_500_000, 1_200_000, 300_000
    walk.go("/admin/allocations/grant/add/")
    walk.fill(
        {
            "slug": "kompetenslyftet",
            "title": "Kompetenslyftet i äldreomsorgen",
            "reference": "ÄN 2025/101",
            "received_from": "Socialstyrelsen",
            "recipient": "Stockholms stad",
            "amount": str(grant_amount),
            "decision_body": "Äldrenämnden",
            "delegated_to": "Förvaltningschef",
        }
    )
    page.select_option("select[name=agreement]", label=f"{agreement} ({today.year})")
    page.select_option("select[name=administered_by]", label="Stockholms stad")
    for i, name in enumerate(["Solrosen Omsorg AB", "Lindens Vård AB"]):
        page.locator("#grantorganisation_set-group .add-row a").click()
        walk.autocomplete(f"id_grantorganisation_set-{i}-organisation", name)
    walk.admin_save(stay=True)
    grant = Grant.objects.get(slug="kompetenslyftet")

    pots = [
        (
            "per-plats",
            "Per plats i särskilda boenden",
            per_place_amount,
            '{"type": "per_unit", "measure": "places", "applicants_only": true, '
            '"eligible": {"unit_types": ["care_home"], '
            '"all": [{"field": "in_city", "op": "eq", "value": true}]}}',
        ),
        (
            "grundbelopp",
            "Grundbelopp efter storlek",
            tiered_amount,
            '{"type": "tiered", "applicants_only": false, "tiers": ['
            '{"unit_type": "care_home", "measure": "places", "min": 10, "max": 50, '
            '"amount": 40000}, '
            '{"unit_type": "care_home", "measure": "places", "min": 51, "max": null, '
            '"amount": 70000}]}',
        ),
    ]
    for position, (slug, name, amount, model) in enumerate(pots):
        walk.go(f"/admin/allocations/grant/{grant.pk}/change/")
        walk.click(page.get_by_role("link", name=t("Add a pot")))
        walk.fill(
            {
                "slug": slug,
                "name": name,
                "position": str(position),
                "amount": str(amount),
                "model": model,
            }
        )
        walk.admin_save()

    # The care homes: the city's register, and their figures for this grant.
    homes = [
        # slug, name, organisation, places, in the city
        ("solrosen-1", "Solrosens vård- och omsorgsboende", "Solrosen Omsorg AB", 40, True),
        ("solrosen-2", "Blåklintens vård- och omsorgsboende", "Solrosen Omsorg AB", 30, False),
        ("linden-1", "Lindens vård- och omsorgsboende", "Lindens Vård AB", 60, True),
    ]
    for slug, name, organisation, places, in_city in homes:
        walk.go("/admin/allocations/unit/add/")
        walk.fill({"slug": slug, "name": name, "places": str(places)})
        page.select_option("select[name=type]", "care_home")
        walk.autocomplete("id_organisation", organisation)
        page.locator("input[name=in_city]").set_checked(in_city)
        walk.admin_save()
    for position, (_slug, name, organisation, places, in_city) in enumerate(homes):
        walk.go("/admin/allocations/grantunit/add/")
        page.select_option("select[name=grant]", label="Kompetenslyftet i äldreomsorgen")
        walk.autocomplete("id_unit", name)
        walk.autocomplete("id_organisation", organisation)
        page.select_option("select[name=type]", "care_home")
        walk.fill({"places": str(places), "position": str(position)})
        page.locator("input[name=in_city]").set_checked(in_city)
        if not in_city:
            walk.fill({"city_placed_share": "0.5"})
        walk.admin_save()

    walk.go(f"/admin/allocations/grant/{grant.pk}/change/")
    tree = plain(page.locator(".budget-tree").inner_text())
    for amount in (grant_amount, per_place_amount, tiered_amount):
        assert kr(amount) in tree, tree
    assert "Per plats i särskilda boenden" in tree
    assert "Grundbelopp efter storlek" in tree
    walk.shot("admin-budget-tree")

    call_title = "Ansökan om kompetenslyft per plats"
    walk.go("/admin/applications/call/add/")
    closes_on = today + timedelta(days=30)
    walk.autocomplete("id_pot", "Per plats i särskilda boenden")
    walk.fill(
        {
            "title": call_title,
            "instructions": "Ansök för era vård- och omsorgsboenden i staden.",
            "opens_on": today.isoformat(),
            "closes_on": closes_on.isoformat(),
        }
    )
    walk.admin_save()

    providers = [
        ("sara@solrosen.example", "Solrosen Omsorg AB"),
        ("lars@linden.example", "Lindens Vård AB"),
    ]
    for email, organisation in providers:
        walk.go("/admin/applications/membership/invite/")
        walk.fill({"email": email})
        page.select_option("select[name=organisation]", label=organisation)
        walk.click(page.locator("input[type=submit]"))
        assert f"{email} " in walk.body(), walk.body()

    # ============================================================ the providers apply
    for email, _organisation in providers:
        page.context.clear_cookies()
        link = walk.invitation_link(email)
        walk.go(link)
        walk.fill({"new_password1": PASSWORD, "new_password2": PASSWORD})
        walk.button(t("Set my password"))
        assert t("Your password is set. Sign in with it.") in walk.messages()

    # Each provider applies for its own homes; Solrosen's second home is outside the city.
    applications = [
        (
            "sara@solrosen.example",
            ["Solrosens vård- och omsorgsboende", "Blåklintens vård- och omsorgsboende"],
            "Sara Solberg",
        ),
        ("lars@linden.example", ["Lindens vård- och omsorgsboende"], "Lars Lind"),
    ]
    refusal = "Villkoret uppfylls inte: enheten ska ligga i staden."
    for email, names, contact in applications:
        walk.sign_in(email)
        assert page.url.endswith("/portal/"), page.url
        walk.click(page.get_by_role("link", name=call_title).first)
        walk.button(t("Start an application"))
        for name in names:
            page.get_by_label(name, exact=True).check()
        page.get_by_label(uses[0], exact=True).check()
        walk.fill(
            {
                "intended_use": "Undersköterskeutbildning för medarbetarna.",
                "contact_name": contact,
                "contact_email": email,
            }
        )
        page.select_option("select[name=payment_method]", "bankgiro")
        walk.fill({"payment_account": "5050-1055"})
        page.locator("input[name=will_report]").check()
        page.locator("input[name=declare_facts]").check()
        if len(names) > 1:
            walk.shot("portal-apply")
        walk.button(t("Save and review before sending"))
        for name in names:
            row = plain(page.locator("tr", has_text=name).inner_text())
            if name.startswith("Blåklinten"):
                assert refusal in row, row  # refused, and why, in words
            else:
                assert t("meets the rule") in row, row
        if len(names) > 1:
            walk.shot("portal-apply-refused-unit")
        walk.button(t("Send the application"))
        assert "Ansökan är inskickad." in walk.messages()

    # ============================================================ the official
    walk.sign_in("handlaggare")
    assert page.url.endswith("/handlaggning/"), page.url
    walk.click(page.get_by_role("link", name=call_title).first)
    listing = walk.main()
    assert "Solrosen Omsorg AB" in listing, listing
    # The homes are the administration's own, not added by an application: nothing to confirm.
    assert "läget inte bekräftat" not in listing, listing
    assert "Lindens Vård AB" in listing, listing
    walk.shot("office-review-list")
    review_list = page.url
    for organisation in ("Solrosen Omsorg AB", "Lindens Vård AB"):
        row = page.locator("tbody tr", has_text=organisation)
        walk.click(row.get_by_role("link").first)
        page.get_by_label(t("recommend"), exact=True).check()
        walk.button(t("Record the review"))
        assert page.url == review_list, page.url
        assert t("recommended") in plain(
            page.locator("tbody tr", has_text=organisation).inner_text()
        )
    # Applications may come in until the call closes; the decision waits for that.
    walk.click(page.get_by_role("link", name=t("Close the call")))
    walk.button(t("Close the call"))  # on the page that says what closing does
    assert f"Utlysningen ”{call_title}” stänger vid dagens slut." in walk.messages()

    walk.go(f"/handlaggning/bidrag/{grant.pk}/")
    walk.button(t("Compute the allocation"))
    outcome = walk.wait_for_job()
    assert "Kompetenslyftet i äldreomsorgen" in outcome, outcome
    walk.click(page.get_by_role("link", name=t("Run %(number)s") % {"number": 1}))
    result = walk.main()
    # 100 places in the city share the per-place pot: 12 000 kr a place; Blåklinten, outside
    # the city, takes none. The tiered pot gives each home by its size: 40 000 kr for 10–50
    # places (Solrosen, Blåklinten), 70 000 kr for more (Linden).
    eligible_places = 40 + 60
    rate = per_place_amount // eligible_places
    tiered_given = 40_000 + 40_000 + 70_000
    allocated = per_place_amount + tiered_given
    assert kr(allocated) in result, result
    assert f"{rate:,}".replace(",", " ") + ",00 kr" in result, result
    assert kr(tiered_given) in result, result
    assert kr(tiered_amount - tiered_given) in result, result
    walk.shot("office-run-result")

    decided_on = today
    walk.fill(
        {
            "decided_on": decided_on.isoformat(),
            "delegation": "Äldrenämndens delegationsordning",
            "requisition_by": (today + timedelta(days=14)).isoformat(),
        }
    )
    assert page.locator("[name=decided_by]").input_value() == "Äldrenämnden"
    walk.button(t("Record the decision"))
    assert "kan inte ändras" in walk.main()  # the confirmation, with the amounts
    walk.button(t("Record the decision"))
    run = AllocationRun.objects.get(grant=grant, redistributes=None)
    assert t("Decision recorded: %(run)s.") % {"run": run.title()} in walk.messages()
    assert f"{decided_on.isoformat()}" in walk.main()

    # The decision report, the letters and the export: jobs on the worker.
    documents = f"/reporting/grants/{grant.slug}/documents/"
    walk.go(documents)
    walk.button(t("Render the decision report"))
    walk.wait_for_job()
    walk.shot("decision-report-job")
    walk.go(documents)
    walk.button(t("Render the letters"))
    walk.wait_for_job()
    letters = plain(page.locator("main ul").last.inner_text())
    assert "Solrosen Omsorg AB" in letters, letters
    assert "Lindens Vård AB" in letters, letters
    walk.shot("decision-letters")
    walk.go(documents)
    page.select_option("select[name=exporter]", "allocations")
    page.select_option("select[name=format]", "xlsx")
    walk.button(t("Export"))
    walk.wait_for_job()
    with page.expect_download() as download:
        page.get_by_role("link", name=t("Download")).click()
    assert download.value.suggested_filename.endswith(".xlsx"), download.value.suggested_filename
    workbook = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    summary = list(workbook.worksheets[0].iter_rows(values_only=True))
    by_pot = {row[0]: row for row in summary if row and row[0] in ("per-plats", "grundbelopp")}
    assert by_pot["per-plats"][2:5] == (per_place_amount, per_place_amount, 0), summary
    assert by_pot["grundbelopp"][2:5] == (
        tiered_amount,
        tiered_given,
        tiered_amount - tiered_given,
    ), summary

    # ============================================================ a provider's decision
    solrosen_share = 40 * rate
    walk.sign_in("sara@solrosen.example")
    walk.click(page.get_by_role("link", name=t("Decisions")).first)
    decisions = walk.main()
    assert kr(solrosen_share) in decisions, decisions
    assert kr(40_000 + 40_000) in decisions, decisions
    walk.shot("provider-decisions")
    walk.click(page.get_by_role("link", name="Per plats i särskilda boenden").first)
    assert kr(solrosen_share) in plain(page.locator("#decided-amount").inner_text())
    basis = plain(page.locator("#basis").inner_text())
    assert "Solrosens vård- och omsorgsboende" in basis, basis
    assert "40 platser" in basis, basis
    assert "Blåklinten" not in basis, basis
    with page.expect_download() as download:
        page.get_by_role("link", name=t("The decision letter (PDF)")).click()
    letter = plain(" ".join(p.extract_text() for p in pypdf.PdfReader(download.value.path()).pages))
    assert "Solrosen Omsorg AB" in letter, letter
    assert kr(solrosen_share) in letter, letter
    walk.shot("provider-decision")
    requisition = page.url

    use_ids = list(
        PermittedUse.objects.filter(agreement__title=agreement)
        .order_by("position")
        .values_list("pk", flat=True)
    )
    planned = (300_000, solrosen_share - 300_000)
    page.select_option("select[name=payment_method]", "bankgiro")
    walk.fill({"payment_account": "5050-1055"})
    walk.fill({f"use_{pk}": str(amount) for pk, amount in zip(use_ids, planned, strict=True)})
    walk.button(t("Requisition"))
    assert t("requisitioned") in walk.main().lower(), walk.main()

    # ============================================================ paid, used, reported
    req = Requisition.objects.get(
        run=run, organisation__slug="solrosen-omsorg-ab", pot__slug="per-plats"
    )
    walk.sign_in("handlaggare")
    walk.go(f"/handlaggning/rekvisitioner/{req.pk}/")
    walk.fill(
        {
            "paid_on": today.isoformat(),
            "amount": str(solrosen_share),
            "reference": "VER-2025-0417",
        }
    )
    walk.button(t("Record the payment"))
    assert "VER-2025-0417" in walk.main()

    left_over = 30_000
    used = (planned[0] - 10_000, planned[1] - 20_000)
    walk.sign_in("sara@solrosen.example")
    walk.go(requisition)
    assert "VER-2025-0417" in walk.main()
    walk.go(f"/portal/beslut/{req.pk}/aterrapportering/")
    walk.fill({f"use_{pk}": str(amount) for pk, amount in zip(use_ids, used, strict=True)})
    walk.fill(
        {
            "achievements": "Tolv undersköterskor gick utbildningen.",
            "benefit": "Tryggare omsorg för de boende.",
        }
    )
    walk.button(t("Save and submit"))
    assert kr(left_over) in plain(page.locator("#unspent").inner_text())
    walk.shot("provider-usage-report")

    # ============================================================ claimed back, redistributed
    report = UsageReport.objects.get(requisition=req)
    walk.sign_in("handlaggare")
    walk.go(f"/handlaggning/aterrapporter/{report.pk}/")
    assert kr(left_over) in walk.main()
    page.get_by_label(t("accept"), exact=True).check()
    walk.button(t("Record the review"))
    assert t("accepted") in walk.main(), walk.main()
    walk.go(f"/handlaggning/rekvisitioner/{req.pk}/")
    assert kr(left_over) in walk.main()
    walk.fill({"amount": str(left_over), "due_on": (today + timedelta(days=60)).isoformat()})
    page.locator("input[name=disposition][value=redistribute]").check()
    walk.button(t("Make the claim"))
    assert kr(left_over) in walk.main()  # the confirmation names the amount
    walk.button(t("Make the claim"))
    walk.fill({"paid_on": today.isoformat()})
    walk.button(t("Mark as repaid"))
    claims = plain(page.locator("#claims").inner_text())
    assert kr(left_over) in claims, claims
    assert today.isoformat() in claims, claims

    walk.go(f"/handlaggning/potter/{req.pot_id}/omfordela/")
    assert kr(left_over) in walk.main()
    walk.button(t("Preview the amounts"))
    preview = plain(page.locator("#preview").inner_text())
    # 30 000 kr over the same 100 places: 300 kr a place.
    assert kr(40 * 300) in preview, preview
    assert kr(60 * 300) in preview, preview
    walk.shot("redistribution-preview")
    walk.button(t("Create the redistribution round"))
    walk.button(t("Create the redistribution round"))  # confirmed on its own page
    heading = plain(page.locator("h1").inner_text())
    assert kr(left_over) in heading, heading
    walk.fill(
        {
            "decided_on": today.isoformat(),
            "requisition_by": (today + timedelta(days=14)).isoformat(),
        }
    )
    page.locator("input[name=confirm]").check()
    walk.button(t("Record the decision"))
    walk.button(t("Record the decision"))  # confirmed on its own page
    decided = t("Decided on %(date)s by %(by)s.") % {"date": today, "by": "Äldrenämnden"}
    assert decided in walk.main(), walk.main()
    walk.shot("redistribution-decided")
    round_ = AllocationRun.objects.get(grant=grant, redistributes__slug="per-plats")
    assert round_.decided_on == today
    assert sorted(Requisition.objects.filter(run=round_).values_list("amount", flat=True)) == [
        40 * 300,
        60 * 300,
    ]

    # ============================================================ the books
    walk.check()
    assert check_all() == {}
    out = io.StringIO()
    call_command("check_books", stdout=out)
    assert "Räkenskaperna stämmer" in out.getvalue(), out.getvalue()
    with capsys.disabled():
        print(
            f"newcomer: {walk.count} screenshots in {walk.shots}; "
            f"{time.monotonic() - started:.0f} s in the browser"
        )
