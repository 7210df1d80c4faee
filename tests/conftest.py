"""Shared fixtures. The suite runs on the real parts `make test` starts:
PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL)."""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from allocations import grantfile
from applications.grantfiles import import_grant

from .factories import official_user

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

SEED_000 = "aldrenamnden-2020-vardens-medarbetare"
SEED_001 = "aldrenamnden-2020-digital-utveckling"
SEED_002 = "storsthlm-2019-vardens-medarbetare"
SEED_003 = "aldrenamnden-2023-god-och-nara-vard"
SEEDS = (SEED_000, SEED_001, SEED_002, SEED_003)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Tests of PostgreSQL and Redis behaviour need the services `make test` starts.

    Outside `make test` (a bare `pytest` on SQLite) they are deselected with a
    warning; under `make test` (STIMULANS_TEST_SERVICES=1) they always run.

    The fault tests stop, kill and restart those services: they run last (after
    pytest-django's own ordering), so no other test inherits what they disturb.
    """
    items[:] = [i for i in items if not i.get_closest_marker("faults")] + [
        i for i in items if i.get_closest_marker("faults")
    ]
    if os.environ.get("STIMULANS_TEST_SERVICES") == "1":
        return
    keep, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("services") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
        print(
            f"\n{len(dropped)} tests need PostgreSQL and Redis: run `make test` to include them.",
            file=sys.stderr,
        )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "services: needs the PostgreSQL and Redis that `make test` starts"
    )
    config.addinivalue_line(
        "markers", "faults: kills, stops or races the real services (tests/test_faults.py)"
    )
    if not hasattr(config, "workerinput"):  # once per run, not in each xdist worker
        collect_static_files()


def collect_static_files() -> None:
    """Fill STATIC_ROOT as a deployment does, unless it is newer than every static file.

    The suite runs without DEBUG, on production's static storage (hashed names, served by
    WhiteNoise): a page naming a static file that does not exist fails here as it would there.
    """
    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.core.management import call_command

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists():
        collected = manifest.stat().st_mtime
        if all(
            Path(storage.path(path)).stat().st_mtime <= collected
            for finder in finders.get_finders()
            for path, storage in finder.list(None)
        ):
            return
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def no_session_left_behind(django_db_setup, django_db_blocker):
    """End the sessions a live server's threads leave open, so the test database can go.

    Without it, dropping the PostgreSQL test database at the end warns that another
    session still uses it.
    """
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


def _database_fixture(request) -> str | None:
    """The database fixture a test uses, if any: the books are checked in it after the test."""
    names = request.fixturenames
    marker = request.node.get_closest_marker("django_db")
    if "live_server" in names or "transactional_db" in names:
        return "transactional_db"
    if marker is not None and marker.kwargs.get("transaction"):
        return "transactional_db"
    if "db" in names or marker is not None:
        return "db"
    return None


@pytest.fixture(autouse=True)
def books_balance(request):
    """After every test that used the database, the books balance (what `check_books` checks).

    A test that breaks them on purpose says so with `@pytest.mark.breaks_books`.
    """
    database = _database_fixture(request)
    if database is None or request.node.get_closest_marker("breaks_books"):
        yield
        return
    # Requested here, so that the database is still there when this fixture finishes.
    request.getfixturevalue(database)
    yield
    from applications.books import check_all

    found = check_all()
    if found:
        lines = [f"{slug}: {breach}" for slug, breaches in found.items() for breach in breaches]
        pytest.fail("The books do not balance after the test:\n" + "\n".join(lines), False)


@pytest.fixture
def official(db):
    """An official (handläggare) who may also record decisions."""
    return official_user()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in Swedish: a request in English must not leak into the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def celery_eager(request):
    """Tasks run in-process, except in the tests that start a real worker."""
    from stimulans.celery import app

    eager = request.node.get_closest_marker("worker") is None
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = saved


def seed_data(slug: str) -> dict:
    return grantfile.parse((FIXTURES / f"{slug}.json").read_bytes())


def seed_json(slug: str) -> dict:
    return json.loads((FIXTURES / f"{slug}.json").read_text(encoding="utf-8"))


@pytest.fixture
def import_seed(db):
    def load(slug: str, **kwargs):
        return import_grant(seed_data(slug), **kwargs)

    return load


def fit_agreement(grant, **dates) -> None:
    """Give the grant's agreement the dates a test's calendar needs, checked as the admin checks.

    The seeds carry the real dates: seed 000's report-by date, 2020-01-31, lies before the
    spring 2020 call the tests play, and before any call opened today.
    """
    agreement = grant.agreement
    for field, value in dates.items():
        setattr(agreement, field, value)
    agreement.full_clean()
    agreement.save()


def dates_after(grant, decided_on) -> None:
    """Give the agreement report-by and repay-by dates after `decided_on` where they are not."""
    agreement = grant.agreement
    later = {
        field: decided_on + timedelta(days=days)
        for field, days in (("report_by", 300), ("repay_by", 360))
        if getattr(agreement, field) is not None and getattr(agreement, field) <= decided_on
    }
    if later:
        fit_agreement(grant, **later)


def worker_database_url() -> str:
    """The URL of the database pytest-django created, for processes of our own."""
    url = os.environ["DATABASE_URL"]
    base, _, _ = url.rpartition("/")
    return f"{base}/{connection.settings_dict['NAME']}"


def start_celery_worker(log_path: Path, **env: str) -> subprocess.Popen:
    """Start a real `celery worker` (solo pool) on the Redis broker and the test database;
    returns once a worker answers a ping. `env` adds to the environment it reads."""
    from stimulans.celery import app

    env = dict(os.environ, DATABASE_URL=worker_database_url(), **env)
    log = open(log_path, "a")  # noqa: SIM115 - the child keeps its own descriptor
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "stimulans",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname=test-worker@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited: {log_path.read_text()}")
            if app.control.ping(timeout=0.5):
                return proc
        raise RuntimeError("the worker did not answer within 60 s")
    except BaseException:
        stop_celery_worker(proc)
        raise


def stop_celery_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real `celery worker` on the Redis broker, using the test database."""
    proc = start_celery_worker(tmp_path / "worker.log")
    try:
        yield proc
    finally:
        stop_celery_worker(proc)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(live_server, monkeypatch, settings):
    """A page in headless Chromium (Debian's), pointed at the live test server.

    Playwright drives the system browser; nothing is downloaded. Its sync API
    runs an event loop in this thread, so Django's async-safety check is lifted
    for the test's own ORM calls.

    Any error in the browser's console fails the test: a script error, a resource that
    did not load, and every Content-Security-Policy violation (Chromium reports each one
    there, and the page's `securitypolicyviolation` events are reported too). A test that
    provokes one on purpose empties `page.console_errors` afterwards.
    """
    from playwright.sync_api import sync_playwright

    # The live server serves static files from where they lie (its own static handler, by
    # their plain names); gunicorn with WhiteNoise and hashed names is proved by
    # tests/test_newcomer.py and tests/test_healthz.py.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="sv-SE", base_url=live_server.url)
        context.add_init_script(
            'document.addEventListener("securitypolicyviolation", (e) => console.error('
            '"CSP violation: " + e.violatedDirective + " " + (e.blockedURI || "inline")));'
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.console_errors = errors
        page.on(
            "console",
            lambda msg: msg.type == "error" and errors.append(f"{page.url}: {msg.text}"),
        )
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        try:
            yield page
        finally:
            context.close()
            browser.close()
        if page.console_errors:
            pytest.fail("The browser's console shows errors:\n" + "\n".join(page.console_errors))
