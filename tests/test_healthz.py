"""`/healthz` for the load balancer, and the web as production serves it (gunicorn, WhiteNoise),
beside the development server's static files."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from .conftest import ROOT

pytestmark = pytest.mark.services

ALL_OK = {"database": "ok", "broker": "ok", "cache": "ok"}


def closed_port() -> int:
    """A port nothing listens on (the kernel just handed it out and it was let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_url(db: int) -> str:
    return os.environ["CELERY_BROKER_URL"].rsplit("/", 1)[0] + f"/{db}"


def redis_cache(url: str) -> dict:
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def healthz(client: Client, **headers) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get("/healthz", **headers)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, json.loads(response.content), time.monotonic() - started


@pytest.mark.django_db
def test_all_parts_reachable(settings):
    settings.CACHES = redis_cache(redis_url(1))
    status, body, _ = healthz(Client())
    assert (status, body) == (200, ALL_OK)


@pytest.mark.django_db
def test_a_closed_broker_port_answers_503_quickly_and_says_no_more(settings):
    port = closed_port()
    settings.CACHES = redis_cache(redis_url(1))
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    status, body, seconds = healthz(Client())
    assert (status, body) == (503, {"database": "ok", "broker": "error", "cache": "ok"})
    assert seconds < settings.STIMULANS_HEALTHZ_TIMEOUT + 1


@pytest.mark.django_db
def test_a_closed_cache_port_answers_503(settings):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{closed_port()}/1")
    status, body, _ = healthz(Client())
    assert (status, body) == (503, {"database": "ok", "broker": "ok", "cache": "error"})


@pytest.mark.django_db
def test_an_embedded_install_reports_its_in_process_parts(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    status, body, _ = healthz(Client())
    assert (status, body) == (
        200,
        {"database": "ok", "broker": "in-process", "cache": "in-process"},
    )


@pytest.mark.django_db
def test_the_load_balancer_may_ask_by_address_over_http_without_a_session(settings):
    settings.ALLOWED_HOSTS = ["stimulans.example.se"]
    settings.SECURE_SSL_REDIRECT = True
    settings.CACHES = redis_cache(redis_url(1))
    client = Client()  # its middleware is loaded with these settings
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert not response.cookies
    assert client.post("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 405
    # Only /healthz: any other page still checks the host and redirects to HTTPS.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    redirect = client.get("/accounts/login/", HTTP_HOST="stimulans.example.se")
    assert redirect.status_code == 301
    assert redirect["Location"] == "https://stimulans.example.se/accounts/login/"


# ---------------------------------------------------------------- served as in production


def get(port: int, path: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@contextmanager
def server(command: list[str], env: dict, log: Path) -> Iterator[int]:
    port = closed_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, *command, f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                get(port, "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


GUNICORN = ["-m", "gunicorn", "stimulans.wsgi:application", "--workers=1", "--bind"]


def production_env(**extra) -> dict:
    env = dict(
        os.environ,
        DEBUG="0",
        ALLOWED_HOSTS="stimulans.example.se",
        STIMULANS_HTTPS="1",
        STIMULANS_BEHIND_PROXY="1",
        STIMULANS_BASE_URL="https://stimulans.example.se",
        CACHE_URL=redis_url(1),
        STATIC_ROOT=str(django_settings.STATIC_ROOT),
    )
    env.update(extra)
    return env


def test_gunicorn_serves_healthz_and_hashed_compressed_static_files(tmp_path):
    with server(GUNICORN, production_env(), tmp_path / "gunicorn.log") as port:
        status, _, body = get(port, "/healthz", Host="127.0.0.1")
        assert (status, json.loads(body)) == (200, ALL_OK)

        site = {"Host": "stimulans.example.se", "X-Forwarded-Proto": "https"}
        status, headers, page = get(port, "/accounts/login/", **site)
        assert status == 200
        assert "max-age=31536000" in headers["Strict-Transport-Security"]
        css = re.search(
            r'href="(/static/vendor/bootstrap-5\.3\.9/css/bootstrap\.min\.[0-9a-f]{12}\.css)"',
            page.decode(),
        )
        assert css, "the page does not link the hashed stylesheet"
        status, headers, body = get(port, css.group(1), **{"Accept-Encoding": "br", **site})
        assert status == 200
        assert headers["Content-Encoding"] == "br"
        assert "immutable" in headers["Cache-Control"]
        plain = (ROOT / "static/vendor/bootstrap-5.3.9/css/bootstrap.min.css").stat().st_size
        assert len(body) < plain / 3

        # Plain HTTP from a browser is sent to HTTPS.
        status, headers, _ = get(port, "/accounts/login/", Host="stimulans.example.se")
        assert status == 301
        assert headers["Location"] == "https://stimulans.example.se/accounts/login/"


def test_gunicorn_answers_503_when_the_database_cannot_be_reached(tmp_path):
    env = production_env(DATABASE_URL=f"postgres://stimulans@127.0.0.1:{closed_port()}/gone")
    with server(GUNICORN, env, tmp_path / "gunicorn.log") as port:
        status, _, body = get(port, "/healthz")
        assert (status, json.loads(body)) == (503, {**ALL_OK, "database": "error"})


def test_the_development_server_serves_static_files_without_collectstatic(tmp_path):
    empty = tmp_path / "static-root"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DEBUG="1", STIMULANS_DATA_DIR=str(tmp_path), STATIC_ROOT=str(empty))
    command = ["manage.py", "runserver", "--noreload", "--skip-checks"]
    with server(command, env, tmp_path / "runserver.log") as port:
        status, _, page = get(port, "/accounts/login/")
        assert status == 200
        assert 'href="/static/vendor/bootstrap-5.3.9/css/bootstrap.min.css"' in page.decode()
        status, _, body = get(port, "/static/vendor/bootstrap-5.3.9/css/bootstrap.min.css")
        assert status == 200
        assert body == (ROOT / "static/vendor/bootstrap-5.3.9/css/bootstrap.min.css").read_bytes()
