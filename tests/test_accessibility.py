"""Every page, to every role, in Chromium: WCAG 2.1 AA (DOS-lagen, EN 301 549).

One crawl, with the demo loaded (`load_demo`) and its workflow played on through the services
until every URL names a real object. It visits every URL the resolver knows (the URLs and their
arguments as `tests/test_permission_matrix.py` finds them) and Django's admin (its index, each
app's list, each registered model's changelist, add page and first object's change page, and
each model admin's own views) as each of

- `anon`: not signed in;
- `provider-a`, `provider-b`: the demo providers utforare-a (Omsorg Norr AB) and utforare-b;
- `official`: the demo official handlaggare;
- `admin`: the demo administrator,

follows redirects, and on every HTML page reached (an error page once per role and status);
as the official it also continues the claim and the decision forms to their confirmation pages,
which sum up with the amounts what will happen:

1. runs axe-core (vendored in tests/vendor/) with the rules tagged wcag2a, wcag2aa, wcag21a and
   wcag21aa: no violation;
2. at a 375 px wide viewport, the page does not scroll sideways (WCAG 1.4.10 Reflow): a wide
   table scrolls inside its own labelled region, never the page;
3. the page has a `lang`, and the language menu names each language in that language, marked
   with its `lang`;
4. after the crawl, the HTML every page was served with passes the Nu Html Checker (vendored
   vnu.jar, run once on all pages): no error.

axe-core is injected as a Playwright init script (the DevTools protocol evaluates it before the
page's own scripts), which the Content-Security-Policy does not govern: the pages are checked
under the policy they are served with, unrelaxed, and `browser_page` still fails on any CSP
violation or console error. Every failure of every page is collected and reported together,
with the role, the page and what to fix.
"""

import json
import os
import re
import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from allocations.models import Grant, Organisation, PermittedUse
from applications import services, units
from applications.management.commands.load_demo import DEMO_GRANT, DEMO_POT
from applications.models import (
    Application,
    ApplicationUnit,
    Call,
    RequisitionStatus,
)

from .factories import owner_draft, played_on
from .test_permission_matrix import application_patterns, url_kwargs

pytestmark = pytest.mark.django_db(transaction=True)

VENDOR = Path(__file__).resolve().parent / "vendor"
AXE = VENDOR / "axe-core-4.14.1" / "axe.min.js"
VNU = VENDOR / "vnu-jar-26.9.27" / "vnu.jar"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
NARROW = 375  # px: WCAG 1.4.10 Reflow asks for 320 CSS px; a small phone is 375
WIDE = {"width": 1280, "height": 900}
NARROW_RULES = ["scrollable-region-focusable"]

# Role -> the demo user it signs in as.
ROLES = {
    "anon": None,
    "provider-a": "utforare-a",
    "provider-b": "utforare-b",
    "official": "handlaggare",
    "admin": "admin",
}

# The checks of one page, run in it once axe-core is there.
CHECK_PAGE = """async ({tags, rules}) => {
  await new Promise((done) => setTimeout(done, 20));  // what the page's scripts do after load
  const result = await axe.run(document, {
    runOnly: tags ? {type: "tag", values: tags} : {type: "rule", values: rules},
    resultTypes: ["violations"],
  });
  const languages = [...document.querySelectorAll("select[name=language] option")].map(
    (o) => ({value: o.value, lang: o.lang, text: o.textContent.trim()}));
  return {
    lang: document.documentElement.lang,
    languages,
    violations: result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({
        target: n.target.join(" "),
        detail: (n.any.concat(n.all, n.none)[0] || {}).message || n.failureSummary,
      })),
    })),
  };
}"""

# At the narrow width: how far the page scrolls sideways, and the elements that stick out
# (each one whose parent does not), named so they can be found in the template.
CHECK_REFLOW = """() => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    [...e.classList].map((c) => "." + c).join("");
  const out = [];
  const scrolls = (e) =>
    ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(e).overflowX);
  for (const e of document.body.querySelectorAll("*")) {
    const right = e.getBoundingClientRect().right;
    const parent = e.parentElement.getBoundingClientRect().right;
    let inside = false;  // within something that scrolls or clips it: not the page's scroll
    for (let a = e.parentElement; a && a !== document.body && !inside; a = a.parentElement) {
      inside = scrolls(a);
    }
    if (right > width + 0.5 && parent <= width + 0.5 && !inside) {
      const path = [];
      for (let a = e; a && a !== document.body && path.length < 4; a = a.parentElement) {
        path.unshift(name(a));
      }
      out.push(path.join(" > ") + " (right edge at " + Math.round(right) + " px)");
    }
  }
  return {scroll: root.scrollWidth, width, out: out.slice(0, 5)};
}"""


# ---------------------------------------------------------------- the demo, played on


def demo_world(settings) -> dict:
    """The demo, then its grant played on through the services until every URL names an
    object: the providers' drafts, a decided run, a requisition accepted, paid, reported and
    accepted, a claim, a finished export job, an invited user. Returns the URL arguments."""
    settings.DEBUG = True  # load_demo runs only under DEBUG; the pages are served without it
    call_command("load_demo", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.DEBUG = False
    users = {role: User.objects.get(username=name) for role, name in ROLES.items() if name}
    official, owner = users["official"], users["provider-a"]
    grant = Grant.objects.get(slug=DEMO_GRANT)
    pot = grant.pots.get(slug=DEMO_POT)
    call = Call.objects.get(pot=pot)
    owner_org = Organisation.objects.get(slug="omsorg-norr-ab")
    other_org = Organisation.objects.get(slug="vardhem-syd-ab")
    today = timezone.localdate()
    draft = owner_draft(
        call=call,
        organisation=owner_org,
        actor=owner,
        intended_use="Kompetensutveckling för undersköterskor.",
        contact_name="Anna Andersson",
        contact_email="anna@example.invalid",
        contact_phone="08-123 45 67",
    )
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement).order_by("pk"))
    # Vårdhem Syd AB applies with two homes new to the grant, stating their facts: one as
    # the grant's figures stand, one differing (more places, a smaller share placed by the
    # city), so the facts verification page has differences to mark.
    other_user = users["provider-b"]
    sent = services.start_application(
        call=call, organisation=other_org, actor=other_user, today=today
    )
    homes = [
        units.create_unit(
            organisation=other_org,
            actor=other_user,
            name=name,
            type="care_home",
            places=40,
            customers=None,
        )
        for name in ("Solgläntan", "Björkhagen")
    ]
    units.save_draft_with_new_units(
        app=sent,
        units=[],
        new_units=[
            units.NewUnitChoice(homes[0], places=40, in_city=True, city_placed_share=Decimal(1)),
            units.NewUnitChoice(
                homes[1], places=46, in_city=True, city_placed_share=Decimal("0.75")
            ),
        ],
        uses=uses[:1],
        intended_use="Handledning i lågaffektivt bemötande.",
        contact_name="Britt Berg",
        contact_email="britt@example.invalid",
        contact_phone="",
        payment_method="bankgiro",
        payment_account="5050-1055",
        will_report=True,
        declared=True,
        actor=other_user,
    )
    services.submit_application(app=sent, actor=other_user, today=today)
    # An imported application with a unit that is not eligible: its reason is shown in red.
    ineligible = ApplicationUnit.objects.filter(eligible=False).values("application")
    submitted = Application.objects.filter(grant=grant, pk__in=ineligible).order_by("pk").first()

    played = played_on(
        grant=grant,
        pot=pot,
        call=call,
        owner_org=owner_org,
        owner=owner,
        official=official,
        draft=draft,
        submitted=submitted,
        achievements="Tolv undersköterskor har gått en utbildning i demensvård.",
    )
    run, req = played["run"], played["requisition"]
    objects, invitation = played["objects"], played["invitation"]
    # A recipient with no portal users whose requisition waits: an official answers for it.
    providers = Organisation.objects.filter(memberships__isnull=False)
    unanswered = (
        run.requisitions.filter(status=RequisitionStatus.PENDING)
        .exclude(organisation__in=providers)
        .order_by("pk")
        .first()
    )
    # Another demo grant's latest run, not decided: its decision form, then its confirmation.
    undecided = next(
        latest
        for other in Grant.objects.exclude(pk=grant.pk).order_by("pk")
        if (latest := other.runs.order_by("-number").first()) and not latest.is_decided
    )
    # The keys are those of the permission matrix's world (see its `url_kwargs`).
    objects["answer_requisition"] = objects["invite_recipient_user"] = unanswered.pk
    # Pages no URL name reaches with the objects above: visited by every role as well.
    extra = [
        reverse("office:requisition", args=[unanswered.pk]),
        reverse("office:decide", args=[undecided.pk]),
    ]
    # Forms the official continues to their confirmation page, which sums up with the
    # amounts what will happen, with what the official types in: the claim of what is left
    # unspent as the form proposes it; the decision on the other grant, dated within its
    # agreement (the seed's years, not today) by its board.
    report_by = undecided.grant.agreement.report_by
    confirmations = [
        (reverse("office:claim", args=[req.pk]), {}),
        (
            reverse("office:decide", args=[undecided.pk]),
            {
                "decided_on": (report_by - timedelta(days=60)).isoformat(),
                "decided_by": undecided.grant.decision_body or "Äldrenämnden",
            },
        ),
    ]
    return {
        "users": users,
        "objects": objects,
        "invitation": invitation,
        "extra": extra,
        "confirmations": confirmations,
    }


# ---------------------------------------------------------------- the URLs


STANDARD_ADMIN_VIEWS = ("_changelist", "_add", "_change", "_history", "_delete")


def admin_urls() -> list[str]:
    """The admin's index and app lists, and for each registered model its changelist, add
    page, first object's change page and the model admin's own views (an object's, for
    its first object)."""
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    labels = sorted({model._meta.app_label for model in admin.site._registry})
    urls += [reverse("admin:app_list", kwargs={"app_label": label}) for label in labels]
    for model, model_admin in admin.site._registry.items():
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        first = model._default_manager.order_by("pk").first()
        urls += [reverse(f"admin:{info}_changelist"), reverse(f"admin:{info}_add")]
        if first is not None:
            urls.append(reverse(f"admin:{info}_change", args=[first.pk]))
        for pattern in model_admin.get_urls():
            name = pattern.name or ""
            if not name.startswith(info) or name.endswith(STANDARD_ADMIN_VIEWS):
                continue
            if "object_id" in pattern.pattern.converters or "<path:object_id>" in str(
                pattern.pattern
            ):
                if first is not None:
                    urls.append(reverse(f"admin:{name}", args=[first.pk]))
            else:
                urls.append(reverse(f"admin:{name}"))
    return urls


def every_url(world: dict) -> tuple[list[str], list[str]]:
    """Every URL to visit, and the URLs whose arguments the world cannot fill."""
    urls, unfilled = [], []
    for name, pattern in sorted(application_patterns().items()):
        try:
            kwargs = url_kwargs(name, pattern, world["objects"], world["invitation"])
            urls.append(reverse(name, kwargs=kwargs))
        except (KeyError, AssertionError, NoReverseMatch) as exc:
            unfilled.append(
                f"{name} ({pattern.pattern}): no object for its arguments ({exc!r}); give "
                "`demo_world` in tests/test_accessibility.py one (and the matrix's world)"
            )
    return urls + world["extra"] + admin_urls(), unfilled


# ---------------------------------------------------------------- the crawl


def sign_in_as(page, live_server, user: User | None) -> None:
    """The browser carries `user`'s session (or none), made as Django's test client makes it."""
    context = page.context
    context.clear_cookies()
    if user is None:
        return
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def is_html(headers: dict) -> bool:
    return headers.get("content-type", "").startswith("text/html")


def page_failures(role: str, path: str, checked: dict, reflow: dict) -> list[str]:
    where = f"[{role}] {path}"
    failures = []
    for violation in checked["violations"]:
        for node in violation["nodes"]:
            failures.append(
                f"{where}: axe {violation['id']} ({violation['impact']}): {node['target']}: "
                f"{node['detail']}"
            )
    if reflow["scroll"] > reflow["width"]:
        failures.append(
            f"{where}: scrolls sideways at {NARROW} px by {reflow['scroll'] - reflow['width']} px: "
            + "; ".join(reflow["out"])
        )
    if not checked["lang"]:
        failures.append(f"{where}: <html> has no lang")
    for option in checked["languages"]:
        if option["lang"] != option["value"]:
            failures.append(
                f"{where}: the language menu's {option['text']!r} is not marked "
                f'lang="{option["value"]}"'
            )
    return failures


def validate_html(saved: dict[Path, str]) -> list[str]:
    """The Nu Html Checker on every saved page at once: its errors, by page."""
    done = subprocess.run(
        ["java", "-jar", str(VNU), "--errors-only", "--format", "json", *map(str, saved)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.stderr.strip().startswith("{"), (done.returncode, done.stderr[-2000:])
    by_name = {path.name: where for path, where in saved.items()}
    failures = []
    for message in json.loads(done.stderr)["messages"]:
        where = by_name.get(Path(urlsplit(message.get("url", "")).path).name, message.get("url"))
        failures.append(
            f"{where}: html line {message.get('lastLine')}: {message.get('message')} "
            f"({(message.get('extract') or '').strip()[:120]!r})"
        )
    assert done.returncode == (1 if failures else 0), (done.returncode, done.stderr[-2000:])
    return failures


def test_every_page_to_every_role_meets_wcag_21_aa(browser_page, live_server, settings, tmp_path):
    started = time.monotonic()
    world = demo_world(settings)
    urls, failures = every_url(world)
    only = os.environ.get("STIMULANS_A11Y_ONLY")  # a regular expression: a quicker run while fixing
    if only:
        urls = [url for url in urls if re.search(only, url)]
    # A context of its own on `browser_page`'s browser, with the CSP bypassed: axe-core adds
    # <style> elements to read the CSSOM of @import'ed sheets (css-orientation-lock), which
    # the policy would block. The CSP itself is proved by tests/test_security_headers.py and
    # the other browser tests; this context still fails on any console error.
    context = browser_page.context.browser.new_context(
        locale="sv-SE", base_url=live_server.url, bypass_csp=True, viewport=WIDE
    )
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.set_default_timeout(30_000)
    console: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and console.append(msg.text))
    page.on("pageerror", lambda exc: console.append(str(exc)))
    saved: dict[Path, str] = {}
    seen: set[tuple] = set()

    def check(role: str, path: str, status: int, body: bytes) -> list[str]:
        """The checks of the page the browser shows, served as `body`."""
        slug = re.sub(r"[^a-z0-9]+", "-", path)
        file = tmp_path / f"{len(saved):03d}-{role}-{slug}.html"
        file.write_bytes(body)
        saved[file] = f"[{role}] {path}"
        checked = page.evaluate(CHECK_PAGE, {"tags": WCAG_TAGS})
        page.set_viewport_size({"width": NARROW, "height": WIDE["height"]})
        reflow = page.evaluate(CHECK_REFLOW)
        # What only the narrow layout shows: a region that scrolls must take the focus.
        before = time.monotonic()
        narrow = page.evaluate(CHECK_PAGE, {"rules": NARROW_RULES})
        timing["narrow"] += time.monotonic() - before
        page.set_viewport_size(WIDE)
        checked["violations"] += narrow["violations"]
        if status >= 400:  # the browser reports the status: it is meant
            console[:] = [e for e in console if "server responded with a status" not in e]
        found = page_failures(role, path, checked, reflow)
        found += [f"[{role}] {path}: console: {e}" for e in console]
        console.clear()
        return found

    timing = {"narrow": 0.0}
    try:
        for role in ROLES:
            sign_in_as(page, live_server, world["users"].get(role))
            for url in urls:
                probe = page.request.get(url)
                if probe.status == 405 or not is_html(probe.headers):
                    continue  # a view for POST only, a download, JSON
                path = urlsplit(probe.url).path
                # An error page is the same page whichever URL it answers.
                key = (role, probe.status) if probe.status >= 400 else (role, path)
                if key in seen:
                    continue
                seen.add(key)
                response = page.goto(probe.url)
                failures += check(role, path, response.status, response.body())
            if role == "official":
                for url, typed in world["confirmations"]:
                    if only and not re.search(only, url):
                        continue
                    # The form as the page fills it in, continued: the summary to confirm.
                    page.goto(url)
                    for name, value in typed.items():
                        page.locator(f"#confirmation [name={name}]").fill(value)
                    with page.expect_navigation() as posted:
                        page.locator("#confirmation button.btn-primary").click()
                    response = posted.value
                    assert page.locator("#confirm-summary").is_visible(), page.url
                    path = urlsplit(page.url).path + " (confirmation)"
                    failures += check(role, path, response.status, response.body())
    finally:
        context.close()
    crawled = time.monotonic()
    failures += validate_html(saved)
    print(
        f"\n{len(saved)} pages of {len(urls)} URLs × {len(ROLES)} roles: crawl "
        f"{crawled - started:.0f} s (axe at {NARROW} px {timing['narrow']:.0f} s of it), "
        f"Nu Html Checker {time.monotonic() - crawled:.0f} s, "
        f"{len(failures)} failures"
    )
    if not only:
        assert {role for role, _ in seen} == set(ROLES)
        assert len(saved) > 150  # every area was reached, not just sign-in pages
    assert not failures, f"{len(failures)} accessibility failures:\n" + "\n".join(failures)
