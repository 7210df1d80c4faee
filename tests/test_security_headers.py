"""Security headers on every response, no inline script or style anywhere, CSRF on every form,
cookies out of scripts' reach (OWASP ASVS 14.4, 3.4, 4.2.2)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from allocations.models import Job, JobStatus, Organisation
from allocations.services import compute_grant
from reporting.models import JobKind

from .conftest import SEED_003
from .factories import finished_export, official_user, provider_user, signed_in

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
# Documents are laid out for WeasyPrint's PDFs, never served to a browser as a page.
PDF_TEMPLATES = TEMPLATES / "reporting" / "documents"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I | re.S)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S)
SCRIPT_URL = re.compile(r"javascript:", re.I)


def inline_code(html: str) -> list[str]:
    """Whatever a strict CSP would refuse to run or apply in this HTML."""
    found = []
    for name, pattern in (
        ("inline <script>", INLINE_SCRIPT),
        ("style= attribute", STYLE_ATTRIBUTE),
        ("<style> element", STYLE_ELEMENT),
        ("on…= handler", EVENT_HANDLER),
        ("javascript: URL", SCRIPT_URL),
    ):
        found += [f"{name}: {m.group(0)[:80]!r}" for m in pattern.finditer(html)]
    return found


def page_templates() -> list[Path]:
    return sorted(
        path for path in TEMPLATES.rglob("*.html") if not path.is_relative_to(PDF_TEMPLATES)
    )


def test_the_policy_in_the_settings_is_the_strict_one():
    from stimulans.middleware import policy

    assert policy(settings.SECURE_CSP) == CSP
    for directive in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in settings.SECURE_CSP[directive]
        assert "'unsafe-eval'" not in settings.SECURE_CSP[directive]


def test_no_template_has_inline_script_or_style():
    templates = page_templates()
    assert len(templates) > 40  # the scan sees the site's pages
    found = {
        str(path.relative_to(TEMPLATES)): problems
        for path in templates
        if (problems := inline_code(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_scan_finds_what_it_looks_for():
    """The patterns above catch each kind of inline code (so a clean scan means something)."""
    assert len(inline_code("<script>alert(1)</script>")) == 1
    assert inline_code('<script src="/static/x.js"></script>') == []
    assert len(inline_code('<td class="x" style="width: 1rem">')) == 1
    assert len(inline_code("<style>p { }</style>")) == 1
    assert len(inline_code('<select onchange="this.form.submit()">')) == 1
    assert len(inline_code('<a href="javascript:void(0)">')) == 1
    assert inline_code('<p class="pre-line" data-style="x">') == []


FORM_OPEN = re.compile(r"<form\b[^>]*>", re.I | re.S)


def test_every_post_form_carries_the_csrf_token():
    forms = 0
    missing = []
    for path in page_templates():
        text = path.read_text(encoding="utf-8")
        for match in FORM_OPEN.finditer(text):
            if not re.search(r"method\s*=\s*[\"']?post", match.group(0), re.I):
                continue
            forms += 1
            end = text.find("</form>", match.end())
            body = text[match.end() : end if end != -1 else len(text)]
            if "{% csrf_token %}" not in body:
                missing.append(f"{path.relative_to(TEMPLATES)}: {match.group(0)}")
    assert forms > 30
    assert missing == []


def test_no_view_is_exempt_from_csrf():
    sources = [
        path
        for app in ("allocations", "applications", "reporting", "stimulans")
        for path in (ROOT / app).rglob("*.py")
    ]
    assert [str(p) for p in sources if "csrf_exempt" in p.read_text(encoding="utf-8")] == []
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


@pytest.mark.django_db
def test_a_post_without_the_csrf_token_is_refused():
    User.objects.create_user("anna", "anna@example.invalid", "Ett-långt-lösenord-42")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("login"), {"username": "anna", "password": "Ett-långt-lösenord-42"}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_session_and_csrf_cookies_are_out_of_scripts_reach():
    User.objects.create_user("anna", "anna@example.invalid", "Ett-långt-lösenord-42")
    client = Client()
    login = client.get(reverse("login"))
    assert login.cookies[settings.CSRF_COOKIE_NAME]["httponly"] is True
    response = client.post(
        reverse("login"), {"username": "anna", "password": "Ett-långt-lösenord-42"}
    )
    assert response.status_code == 302
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"] is True
    # Nothing of ours reads a cookie from a script.
    scripts = (ROOT / "static" / "stimulans").rglob("*.js")
    assert all("cookie" not in path.read_text(encoding="utf-8") for path in scripts)


@pytest.fixture
def area_pages(import_seed, tmp_path, settings):
    """A signed-in client and a URL for a representative page of every area."""
    settings.MEDIA_ROOT = tmp_path / "media"
    grant = import_seed(SEED_003)
    run = compute_grant(grant_id=grant.pk)
    official = official_user("o")
    provider = provider_user(Organisation.objects.order_by("pk").first(), "p")
    admin = User.objects.create_superuser("admin", "admin@example.invalid", "x")
    job = finished_export(run=run, requested_by=official)
    running = Job.objects.create(
        kind=JobKind.EXPORT,
        title="Export",
        grant=grant,
        run=run,
        status=JobStatus.RUNNING,
        progress=40,
        requested_by=official,
        requested_by_label="o",
    )
    return [
        (None, reverse("login"), 200),
        (None, reverse("password_reset"), 200),
        (None, reverse("portal:start"), 302),  # to the sign-in page
        (None, "/no-such-page/", 404),
        (provider, reverse("portal:start"), 200),
        (provider, reverse("account"), 200),
        (provider, reverse("office:start"), 403),
        (official, reverse("office:start"), 200),
        (official, reverse("office:run", args=[run.pk]), 200),
        (official, reverse("reporting:dashboard", args=[grant.slug]), 200),
        (official, reverse("reporting:documents", args=[grant.slug]), 200),
        (official, reverse("allocations:job", args=[job.pk]), 200),
        (official, reverse("allocations:job", args=[running.pk]), 200),
        (official, reverse("allocations:job-status", args=[job.pk]), 200),
        (official, reverse("allocations:download", args=[job.pk]), 200),
        (admin, reverse("admin:index"), 200),
        (admin, reverse("admin:allocations_grant_change", args=[grant.pk]), 200),
    ]


def test_every_area_answers_with_the_security_headers(area_pages):
    for user, url, status in area_pages:
        response = signed_in(user, language="sv").get(url)
        assert response.status_code == status, url
        for header, value in HEADERS.items():
            assert response.headers.get(header) == value, (url, header)
        if response["Content-Type"].startswith("text/html"):
            # What the views and the charts render obeys the policy too.
            assert inline_code(response.content.decode()) == [], url
