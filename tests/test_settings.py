"""Settings fail loudly on malformed values and run embedded with nothing set."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

SCRIPT = """
import os
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stimulans.settings")
django.setup()
from django.conf import settings as s
print(s.DATABASES["default"]["ENGINE"], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG, s.LANGUAGE_CODE)
"""

# The variables these tests set themselves: whatever the test run has is left out.
OWN = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "STIMULANS_HTTPS",
    "STIMULANS_BEHIND_PROXY",
    "STIMULANS_BASE_URL",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "DATABASE_CONN_MAX_AGE",
    "DATABASE_CONNECT_TIMEOUT",
)
KEY = "a-test-key-that-is-long-enough-and-varied-0123456789"


def settings_outcome(script: str = SCRIPT, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OWN}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_values(*names: str, **env) -> dict:
    """The named settings as the product reads them under `env`."""
    script = (
        "import json, os, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'stimulans.settings')\n"
        "django.setup()\n"
        "from django.conf import settings as s\n"
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}, default=str))\n"
    )
    result = settings_outcome(script, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_defaults_in_development(tmp_path):
    result = settings_outcome(STIMULANS_DATA_DIR=str(tmp_path), DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "True", "sv"]
    # A development install makes its own key, once, and keeps it.
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert settings_values("SECRET_KEY", STIMULANS_DATA_DIR=str(tmp_path), DEBUG="1") == {
        "SECRET_KEY": key
    }


def test_without_debug_a_secret_key_must_be_given(tmp_path):
    result = settings_outcome(STIMULANS_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off" in result.stderr
    assert not (tmp_path / "secret_key").exists()
    # A key left behind by an earlier development run is not taken either.
    (tmp_path / "secret_key").write_text(KEY)
    assert settings_outcome(STIMULANS_DATA_DIR=str(tmp_path)).returncode != 0


def test_secret_key_from_the_environment_or_a_file(tmp_path):
    assert settings_values("SECRET_KEY", STIMULANS_DATA_DIR=str(tmp_path), SECRET_KEY=KEY) == {
        "SECRET_KEY": KEY
    }
    secret = tmp_path / "secret"
    secret.write_text(KEY + "\n")
    assert settings_values(
        "SECRET_KEY", STIMULANS_DATA_DIR=str(tmp_path), SECRET_KEY_FILE=str(secret)
    ) == {"SECRET_KEY": KEY}
    assert not (tmp_path / "secret_key").exists()


def test_postgres_and_redis_from_the_environment(tmp_path):
    result = settings_outcome(
        STIMULANS_DATA_DIR=str(tmp_path),
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/stimulans",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        DEBUG="yes",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "False", "True", "sv"]


def test_postgres_connections_are_kept_and_checked(tmp_path):
    env = {
        "STIMULANS_DATA_DIR": str(tmp_path),
        "SECRET_KEY": KEY,
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/stimulans",
    }
    database = settings_values("DATABASES", **env)["DATABASES"]["default"]
    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"]["connect_timeout"] == 5
    env.update(DATABASE_CONN_MAX_AGE="0", DATABASE_CONNECT_TIMEOUT="2")
    database = settings_values("DATABASES", **env)["DATABASES"]["default"]
    assert (database["CONN_MAX_AGE"], database["OPTIONS"]["connect_timeout"]) == (0, 2)


HTTPS = (
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
)


def test_https_is_off_unless_switched_on(tmp_path):
    assert settings_values(*HTTPS, STIMULANS_DATA_DIR=str(tmp_path), SECRET_KEY=KEY) == {
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_one_switch_turns_on_https_and_another_trusts_the_proxy(tmp_path):
    env = {
        "STIMULANS_DATA_DIR": str(tmp_path),
        "SECRET_KEY": KEY,
        "STIMULANS_HTTPS": "1",
        "STIMULANS_BASE_URL": "https://stimulans.example.se",
    }
    names = (*HTTPS, "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
    assert settings_values(*names, **env) == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    env.update(
        STIMULANS_BEHIND_PROXY="yes",
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="no",
    )
    values = settings_values(*names, **env)
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert values["SECURE_HSTS_PRELOAD"] is False


def test_static_files_are_hashed_and_compressed_unless_debug(tmp_path):
    env = {"STIMULANS_DATA_DIR": str(tmp_path), "SECRET_KEY": KEY}
    production = settings_values("STORAGES", **env)["STORAGES"]["staticfiles"]["BACKEND"]
    development = settings_values("STORAGES", DEBUG="1", **env)["STORAGES"]["staticfiles"]
    assert production == "stimulans.storage.StaticFilesStorage"
    assert development["BACKEND"] == "django.contrib.staticfiles.storage.StaticFilesStorage"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must start with postgres://"),
        ({"DATABASE_URL": "postgres://127.0.0.1:5432"}, "DATABASE_URL names no database"),
        ({"CELERY_BROKER_URL": "amqp://x"}, "CELERY_BROKER_URL must start with redis://"),
        ({"CELERY_TASK_TIME_LIMIT": "soon"}, "CELERY_TASK_TIME_LIMIT='soon' is not a whole number"),
        ({"STIMULANS_JOB_FILE_DAYS": "a week"}, "STIMULANS_JOB_FILE_DAYS='a week' is not a whole"),
        ({"STIMULANS_JOB_FILE_DAYS": "0"}, "STIMULANS_JOB_FILE_DAYS=0 must be at least 1"),
        (
            {"STIMULANS_BOOKS_CHECK_MINUTES": "0"},
            "STIMULANS_BOOKS_CHECK_MINUTES=0 must be at least 1",
        ),
        (
            {"SECRET_KEY": None, "SECRET_KEY_FILE": "/nonexistent/secret"},
            "SECRET_KEY_FILE='/nonexistent/secret' cannot be read",
        ),
        (
            {"SECRET_KEY": None, "SECRET_KEY_FILE": "/dev/null"},
            "SECRET_KEY_FILE='/dev/null' is empty",
        ),
        ({"SECRET_KEY_FILE": "/etc/hostname"}, "Set SECRET_KEY or SECRET_KEY_FILE, not both"),
        ({"STIMULANS_HTTPS": "sometimes"}, "STIMULANS_HTTPS='sometimes' is not a boolean"),
        ({"SECURE_HSTS_SECONDS": "3600"}, "SECURE_HSTS_SECONDS apply only with STIMULANS_HTTPS=1"),
        (
            {
                "STIMULANS_HTTPS": "1",
                "STIMULANS_BASE_URL": "https://x.se",
                "SECURE_HSTS_SECONDS": "-1",
            },
            "SECURE_HSTS_SECONDS=-1 is negative",
        ),
        (
            {"STIMULANS_HTTPS": "1", "STIMULANS_BASE_URL": "http://x.se"},
            "STIMULANS_BASE_URL must start with https:// when STIMULANS_HTTPS is on",
        ),
        ({"CSRF_TRUSTED_ORIGINS": "x.se"}, "CSRF_TRUSTED_ORIGINS entries must start with https://"),
        (
            {"DATABASE_URL": "postgres://u@h/db", "DATABASE_CONN_MAX_AGE": "-5"},
            "DATABASE_CONN_MAX_AGE must not be negative",
        ),
        ({"STIMULANS_HEALTHZ_TIMEOUT": "0"}, "STIMULANS_HEALTHZ_TIMEOUT=0 must be at least 1"),
    ],
)
def test_malformed_values_stop_start_up(tmp_path, env, message):
    env = {"SECRET_KEY": KEY, **env}
    env = {k: v for k, v in env.items() if v is not None}
    result = settings_outcome(STIMULANS_DATA_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
