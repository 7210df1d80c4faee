"""Settings fail loudly on malformed values and run embedded with nothing set."""

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


def settings_outcome(**env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG")
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_defaults(tmp_path):
    result = settings_outcome(STIMULANS_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "False", "sv"]
    assert (tmp_path / "secret_key").exists()


def test_postgres_and_redis_from_the_environment(tmp_path):
    result = settings_outcome(
        STIMULANS_DATA_DIR=str(tmp_path),
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/stimulans",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        DEBUG="yes",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "False", "True", "sv"]


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
    ],
)
def test_malformed_values_stop_start_up(tmp_path, env, message):
    result = settings_outcome(STIMULANS_DATA_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
