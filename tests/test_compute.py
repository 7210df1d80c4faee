"""Computing and deciding: idempotent, frozen once decided, safe under concurrency."""

import threading
import time
from datetime import date

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import translation

from allocations import engine, grantfile
from allocations.models import AllocationRow, AllocationRun, AuditEntry, Grant, JobStatus, Pot
from allocations.services import (
    compute_grant,
    export_allocations,
    request_compute,
)
from applications.services import WorkflowError

from .conftest import SEED_000, SEED_001, SEED_003, seed_data
from .factories import decide

pytestmark = pytest.mark.django_db


def test_computing_twice_gives_the_same_run_and_rows(import_seed):
    grant = import_seed(SEED_003)
    first = compute_grant(grant_id=grant.pk)
    rows = list(first.rows.values_list("pot_id", "organisation_id", "unit_id", "amount"))
    second = compute_grant(grant_id=grant.pk)
    assert second.pk == first.pk
    assert list(second.rows.values_list("pot_id", "organisation_id", "unit_id", "amount")) == rows
    assert AllocationRun.objects.filter(grant=grant).count() == 1
    assert AuditEntry.objects.filter(action="run.computed").count() == 1


def test_an_undecided_run_is_recomputed_in_place_with_a_trail(import_seed):
    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    Pot.objects.filter(grant=grant, slug="lss-halsan").update(
        amount=900_000, model={"type": "fixed", "amounts": {"socialforvaltningen": 900_000}}
    )
    again = compute_grant(grant_id=grant.pk)
    assert again.pk == run.pk
    assert again.pot_results.get(pot__slug="sarskilda-boenden").amount == 6_309_071
    entry = AuditEntry.objects.get(action="run.recomputed")
    assert entry.before["allocated"] == 8_209_071
    assert entry.after["allocated"] == 8_209_071


def test_a_decided_run_is_frozen_and_a_recompute_makes_a_new_run(import_seed):
    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    decide(
        run_id=run.pk,
        decided_on=date(2020, 2, 20),
        decided_by="Äldrenämnden",
        delegation="Förvaltningschef",
        reference="ÄN 2020/123",
    )
    frozen = export_allocations(run)
    with pytest.raises(WorkflowError, match="2020-02-20"):
        decide(run_id=run.pk, decided_on=date(2020, 3, 1), decided_by="x")
    # Same input: still a new run, since the decided one is never touched.
    Pot.objects.filter(grant=grant, slug="lss-halsan").update(
        amount=500_000, model={"type": "fixed", "amounts": {"socialforvaltningen": 500_000}}
    )
    newer = compute_grant(grant_id=grant.pk)
    assert newer.number == run.number + 1
    run.refresh_from_db()
    assert run.is_decided
    assert export_allocations(run) == frozen
    assert export_allocations(newer)["pots"][2]["amount"] == 6_709_071
    decided = AuditEntry.objects.get(action="run.decided")
    assert decided.after["reference"] == "ÄN 2020/123"


def test_only_the_latest_run_can_be_decided(import_seed):
    grant = import_seed(SEED_000)
    first = compute_grant(grant_id=grant.pk)
    decide(run_id=first.pk, decided_on=date(2020, 2, 20), decided_by="Äldrenämnden")
    Pot.objects.filter(grant=grant, slug="lss-halsan").update(
        amount=500_000, model={"type": "fixed", "amounts": {"socialforvaltningen": 500_000}}
    )
    second = compute_grant(grant_id=grant.pk)
    compute_grant(grant_id=grant.pk)  # same result: no third run
    assert grant.runs.count() == 2
    decide(run_id=second.pk, decided_on=date(2020, 4, 1), decided_by="Förvaltningschef")
    assert grant.runs.decided().count() == 2


def test_a_pot_that_cannot_be_computed_changes_nothing(
    import_seed, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    before = export_allocations(run)
    Pot.objects.filter(grant=grant, slug="digital-utveckling").update(amount=9_000_000)
    with pytest.raises(engine.AllocationError, match="by 135000 kr"):
        compute_grant(grant_id=grant.pk)
    run.refresh_from_db()
    assert export_allocations(run) == before
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        job = request_compute(grant=grant, actor_label="test")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.run is None
    assert job.error == (
        f"“{grant}” could not be computed: pot digital-utveckling: "
        "the tier amounts (9135000 kr) exceed the pot (9000000 kr) by 135000 kr"
    )
    assert export_allocations(AllocationRun.objects.get(grant=grant)) == before


def test_a_compute_job_keeps_the_run_it_made(import_seed, django_capture_on_commit_callbacks):
    grant = import_seed(SEED_000)
    with django_capture_on_commit_callbacks(execute=True):
        job = request_compute(grant=grant, actor_label="test")
    job.refresh_from_db()
    run = AllocationRun.objects.get(grant=grant)
    assert (job.status, job.progress, job.run, job.error) == (JobStatus.DONE, 100, run, "")
    assert run.number == 1
    assert run.allocated() == 8_209_071
    assert AuditEntry.objects.get(action="run.computed").actor_label == "test"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_officials_pressing_compute_at_once_get_one_run():
    """The second waits on the grant's lock, then finds the same result."""
    from applications.grantfiles import import_grant

    assert connection.vendor == "postgresql"
    grant = import_grant(seed_data(SEED_003))
    held = threading.Event()
    results, errors = [], []

    def hold_the_lock():
        try:
            with transaction.atomic():
                Grant.objects.select_for_update().get(pk=grant.pk)
                held.set()
                time.sleep(1.0)
                results.append(("holder", compute_grant(grant_id=grant.pk).pk, time.monotonic()))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    def press():
        held.wait()
        try:
            started = time.monotonic()
            run = compute_grant(grant_id=grant.pk)
            results.append(("second", run.pk, time.monotonic() - started))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=hold_the_lock), threading.Thread(target=press)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    by_name = {name: (pk, t) for name, pk, t in results}
    assert by_name["holder"][0] == by_name["second"][0]
    assert by_name["second"][1] >= 0.9  # it waited for the first to commit
    assert AllocationRun.objects.filter(grant=grant).count() == 1
    run = AllocationRun.objects.get(grant=grant)
    assert AllocationRow.objects.filter(run=run).count() == run.rows.count()
    assert run.allocated() == 51_650_636


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_many_simultaneous_computations_never_duplicate_rows():
    from applications.grantfiles import import_grant

    grant = import_grant(seed_data(SEED_000))
    barrier = threading.Barrier(4)
    errors = []

    def press():
        try:
            barrier.wait()
            compute_grant(grant_id=grant.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    run = AllocationRun.objects.get(grant=grant)
    assert run.allocated() == 8_209_071
    expected = engine.compute(grantfile.grant_input(seed_data(SEED_000)))
    assert run.rows.count() == len(expected.rows)


def test_the_database_itself_refuses_to_change_a_decided_run(import_seed):
    from django.db import DatabaseError

    from allocations.models import PotResult

    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2020, 2, 20), decided_by="Äldrenämnden")
    row = run.rows.first()
    for attempt in (
        lambda: AllocationRow.objects.filter(pk=row.pk).update(amount=row.amount + 1),
        lambda: AllocationRow.objects.filter(pk=row.pk).delete(),
        lambda: PotResult.objects.filter(run=run).update(allocated=0),
        lambda: AllocationRun.objects.filter(pk=run.pk).update(decided_by="someone else"),
        lambda: AllocationRun.objects.filter(pk=run.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    row.refresh_from_db()
    run.refresh_from_db()
    assert run.decided_by == "Äldrenämnden"
    assert run.allocated() == 8_209_071
