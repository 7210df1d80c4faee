"""End to end on the real parts: import → allocate through a Celery worker → rows in PostgreSQL."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from allocations.models import AllocationRow, AllocationRun, AuditEntry

from .conftest import FIXTURES, SEED_002, SEED_003

pytestmark = [pytest.mark.services, pytest.mark.worker]


def test_allocate_runs_in_a_real_worker_and_stores_rows_in_postgresql(
    celery_worker_process, capsys
):
    assert connection.vendor == "postgresql"
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    assert settings.CELERY_BROKER_URL.startswith("redis://")

    call_command("import_grant", str(FIXTURES / f"{SEED_003}.json"))
    call_command("allocate", SEED_003)
    out = capsys.readouterr().out
    assert "51 810 636 kr" in out
    assert "160 000 kr" in out

    run = AllocationRun.objects.get(grant__slug=SEED_003)
    assert run.allocated() == 51_650_636
    assert AllocationRow.objects.filter(run=run, pot__slug="grundstod-sdf").count() == 11
    # The worker, not this process, did the computing: the task runs under its own label.
    entry = AuditEntry.objects.get(action="run.computed")
    assert entry.actor_label == "allocate (command)"
    assert celery_worker_process.poll() is None


def test_the_worker_reports_a_grant_that_cannot_be_computed(celery_worker_process):
    from django.core.management import CommandError

    from allocations.models import Pot

    call_command("import_grant", str(FIXTURES / f"{SEED_002}.json"))
    Pot.objects.filter(slug="befolkningsandel").update(
        model={"type": "fixed", "amounts": {"stockholms-stad": 30_000_000}}
    )
    with pytest.raises(CommandError, match="by 10000000 kr"):
        call_command("allocate", SEED_002)
    assert not AllocationRun.objects.exists()
