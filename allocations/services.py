"""Computing and deciding allocations: the workflows over the ledger.

Views, admin actions, commands and Celery tasks call these; none of them
writes allocation rows itself.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, engine, grantfile, jobs
from .models import (
    AllocationRow,
    AllocationRun,
    Dataset,
    Grant,
    GrantUnit,
    Ineligibility,
    Job,
    Pot,
    PotResult,
)
from .rates import rate_digits
from .wording import computation_text


class RunFrozen(Exception):
    """A decided run cannot be changed."""


@dataclass
class LoadedGrant:
    """A grant in the engine's terms, with the database ids of what it names."""

    input: engine.GrantInput
    pot_ids: dict[str, int]
    org_ids: dict[str, int]
    unit_ids: dict[str, int]


@dataclass
class Applicants:
    """The applications that take part in computing a grant, in the engine's terms."""

    applications: tuple[engine.Application, ...] = ()
    # organisation slug -> id for every applicant (an applicant may be named nowhere else)
    org_ids: dict[str, int] = field(default_factory=dict)


# Applications are the workflow's records, and the ledger does not import the workflow:
# the workflow registers the one function that reads them (applications/apps.py). It
# gets the grant and each of its grant units' unit slug by `GrantUnit` id.
ApplicantSource = Callable[[Grant, Mapping[int, str]], Applicants]
_applicant_source: ApplicantSource | None = None


def register_applicant_source(source: ApplicantSource) -> None:
    global _applicant_source
    _applicant_source = source


def engine_unit(gu: GrantUnit) -> engine.Unit:
    """A grant's unit in the engine's terms (select the unit and organisation with it)."""
    return engine.Unit(
        id=gu.unit.slug,
        organisation=gu.organisation.slug,
        type=gu.type,
        places=gu.places,
        customers=gu.customers,
        in_city=gu.in_city,
        city_placed_share=gu.city_placed_share,
        name=gu.unit.name,
    )


def load_grant(grant: Grant) -> LoadedGrant:
    """Read a grant from the ledger into the engine's terms, in a few queries."""
    tree = grant.pot_tree()
    pot_ids = {p.slug: p.pk for p in tree.items}

    def build(pot: Pot, kids: list[engine.Pot]) -> engine.Pot:
        return engine.Pot(
            id=pot.slug,
            name=pot.name,
            amount=engine.REST if pot.takes_rest else pot.amount,
            model=grantfile.to_model(pot.model) if pot.model and not kids else None,
            children=tuple(kids),
        )

    org_ids: dict[str, int] = {}
    units: dict[str, engine.Unit] = {}
    unit_ids: dict[str, int] = {}
    slug_of_grant_unit: dict[int, str] = {}
    # Ordered by position alone: the model's default ordering would join the grant to sort.
    # Fetched whole (one round trip), not through a server-side cursor (DECLARE, FETCH, CLOSE).
    unit_rows = (
        GrantUnit.objects.filter(grant=grant)
        .order_by("position")
        .values_list(
            "pk",
            "unit_id",
            "unit__slug",
            "organisation_id",
            "organisation__slug",
            "type",
            "places",
            "customers",
            "in_city",
            "city_placed_share",
        )
    )
    for row in unit_rows:
        pk, unit_id, slug, org_id, org, kind, places, customers, in_city, share = row
        units[slug] = engine.Unit(slug, org, kind, places, customers, in_city, share)
        unit_ids[slug] = unit_id
        slug_of_grant_unit[pk] = slug
        org_ids[org] = org_id

    datasets: dict[str, dict[str, int]] = {}
    # Every dataset with its values, in one query: a dataset without values comes as one row
    # with no organisation.
    values = Dataset.objects.filter(grant=grant).order_by(
        "position", "id", "values__position", "values__id"
    )
    for ds, org_id, org, value in values.values_list(
        "slug", "values__organisation_id", "values__organisation__slug", "values__value"
    ):
        found = datasets.setdefault(ds, {})
        if org_id is not None:
            found[org] = value
            org_ids[org] = org_id

    applicants = _applicant_source(grant, slug_of_grant_unit) if _applicant_source else Applicants()
    org_ids.update(applicants.org_ids)

    for go_slug, go_id in grant.organisations.values_list("slug", "pk"):
        org_ids[go_slug] = go_id

    grant_input = engine.GrantInput(
        amount=grant.amount,
        pots=tuple(tree.fold(build)),
        units=units,
        datasets=datasets,
        applications=applicants.applications,
    )
    return LoadedGrant(grant_input, pot_ids, org_ids, unit_ids)


def result_digest(result: engine.Result) -> str:
    """A fingerprint of what a computation gave: same rows, same digest."""
    h = hashlib.sha256()
    for p in result.pots:
        h.update(f"P|{p.id}|{p.amount}|{p.allocated}|{p.rate}\n".encode())
    for r in result.rows:
        h.update(f"R|{r.pot}|{r.organisation}|{r.unit}|{r.quantity}|{r.amount}\n".encode())
    for i in result.ineligible:
        h.update(f"I|{i.pot}|{i.unit}|{i.application}|{i.code}\n".encode())
    return h.hexdigest()


def compute_grant(*, grant_id: int, actor=None, actor_label: str = "") -> AllocationRun:
    """Compute a grant and store the result as its current run. Idempotent.

    The grant row is locked for the whole computation, so a second official who
    presses the button meanwhile waits and then finds the same result: no
    duplicate or mixed rows. An undecided latest run is recomputed in place; a
    decided one is never touched: the result goes into a new run beside it.
    An `AllocationError` (a pot that cannot be computed as configured) changes
    nothing.
    """
    with transaction.atomic():
        grant = Grant.objects.select_for_update().get(pk=grant_id)
        loaded = load_grant(grant)
        result = engine.compute(loaded.input)
        run, before, changed = _write_run(grant, result, loaded, actor=actor)
        if changed:
            audit.log(
                "run.recomputed" if before else "run.computed",
                run,
                grant=grant,
                actor=actor,
                actor_label=actor_label,
                before=before,
                after={"result_digest": run.result_digest, "allocated": result.allocated},
            )
        return run


def _redistribution_input(
    pot: Pot, loaded: LoadedGrant, amount: int, organisations: list[str] | None
) -> engine.GrantInput:
    """The engine's input for dividing `amount` kr of a pot again, among `organisations`.

    None takes everyone the pot's model can give to; otherwise they must be some of them.
    """
    if pot.children.exists() or not pot.model:
        raise engine.AllocationError(pot.slug, "only a pot with a model can be redistributed")
    leaf = engine.Pot(pot.slug, pot.name, amount, grantfile.to_model(pot.model))
    grant_input = engine.GrantInput(
        amount=amount,
        pots=(leaf,),
        units=loaded.input.units,
        datasets=loaded.input.datasets,
        applications=loaded.input.applications,
    )
    if organisations is None:
        return grant_input
    possible = set(engine.leaf_recipients(leaf, grant_input))
    if not organisations:
        raise engine.AllocationError(pot.slug, "a redistribution needs at least one recipient")
    unknown = sorted(set(organisations) - possible)
    if unknown:
        raise engine.AllocationError(
            pot.slug, f"the pot's model cannot give to {', '.join(unknown)}"
        )
    return engine.restrict_to(leaf, grant_input, organisations)[1]


def redistribution_candidates(pot: Pot) -> list[str]:
    """The organisations (grant-file ids) a pot's model can give redistributed money to."""
    loaded = load_grant(pot.grant)
    grant_input = _redistribution_input(pot, loaded, 0, None)
    return list(engine.leaf_recipients(grant_input.pots[0], grant_input))


def preview_redistribution(*, pot: Pot, amount: int, organisations: list[str]) -> engine.Result:
    """What a redistribution would give, computed in memory: nothing is stored."""
    loaded = load_grant(pot.grant)
    return engine.compute(_redistribution_input(pot, loaded, amount, organisations))


# ---------------------------------------------------------------- computing as a stored job

COMPUTE = "compute"


class ComputeRefused(jobs.JobRefused):
    """The grant, as stored, cannot be computed yet; nothing was queued."""


def request_compute(*, grant: Grant, actor=None, actor_label: str = "") -> Job:
    """Queue the computation of a grant as a stored job; the pages poll it.

    The one way to compute a grant for a person: the officials' page, the
    admin and the `allocate` command all call this. While a computation of the
    grant is queued or running, a second press returns that job. A grant whose
    tree the engine cannot read is refused here, saying why, and nothing is queued.
    """
    from .forms import grant_problems

    problems = grant_problems(grant)
    if problems:
        raise ComputeRefused(
            _("“%(grant)s” cannot be computed yet: %(problems)s")
            % {"grant": grant, "problems": " ".join(problems)}
        )
    return jobs.request(
        kind=COMPUTE,
        title=_("Computation: %(grant)s") % {"grant": grant.title},
        grant=grant,
        actor=actor,
        actor_label=actor_label,
        once_per_grant=True,
    )


def run_compute(job: Job) -> None:
    """The worker's side of `request_compute`: compute, and keep the run as the job's result."""
    if job.grant_id is None:
        raise jobs.JobRefused(_("The grant this computation was for no longer exists."))
    # No progress between claiming (1 %) and finishing (100 %): the computation is one
    # transaction with nothing in between to report, and each report is a round trip.
    try:
        run = compute_grant(
            grant_id=job.grant_id, actor=job.requested_by, actor_label=job.requested_by_label
        )
    except engine.AllocationError as exc:
        # A configuration problem, not a crash: the reason in the official's words.
        _ok, text = computation_text(job.grant, {"ok": False, "pot": exc.pot, "error": exc.message})
        raise jobs.JobRefused(text) from exc
    jobs.finish(job, run=run)


def compute_summary(job: Job) -> str:
    if job.run is None:
        return ""
    return computation_text(job.grant or job.run.grant, {"ok": True, "number": job.run.number})[1]


def compute_redistribution(
    *,
    pot_id: int,
    amount: int,
    organisations: list[str] | None = None,
    actor=None,
    actor_label: str = "",
) -> AllocationRun:
    """Divide `amount` kr claimed back from a pot again, by the same pot's model.

    `organisations` (grant-file ids) are the recipients the official chose to take
    part; None is everyone the model gives to. They are stored with the round, so
    a recompute divides among the same ones. The round is a run of its own with
    its own decision; an undecided round of the same pot is recomputed in place,
    a decided one never.
    """
    with transaction.atomic():
        pot = Pot.objects.select_related("grant").get(pk=pot_id)
        grant = Grant.objects.select_for_update().get(pk=pot.grant_id)
        loaded = load_grant(grant)
        grant_input = _redistribution_input(pot, loaded, amount, organisations)
        if organisations is None:
            organisations = list(engine.leaf_recipients(grant_input.pots[0], grant_input))
        result = engine.compute(grant_input)
        run, _before, changed = _write_run(
            grant,
            result,
            loaded,
            actor=actor,
            redistributes=pot,
            redistributed_amount=amount,
            recipients=sorted(organisations),
        )
        if changed:
            audit.log(
                "run.redistribution_computed",
                run,
                grant=grant,
                actor=actor,
                actor_label=actor_label,
                after={
                    "pot": pot.slug,
                    "amount": amount,
                    "allocated": result.allocated,
                    "recipients": run.redistribution_recipients,
                },
            )
        return run


def _write_run(
    grant: Grant,
    result: engine.Result,
    loaded: LoadedGrant,
    *,
    actor,
    redistributes: Pot | None = None,
    redistributed_amount: int | None = None,
    recipients: list[str] | None = None,
) -> tuple[AllocationRun, dict | None, bool]:
    """Store a result in the latest undecided run of its kind, or in a new run.

    The caller holds the grant's lock.

    Returns the run, what it held before when it was recomputed in place, and
    whether anything was written: an identical result writes nothing.
    """
    digest = result_digest(result)
    # The grant's runs, newest first, in one query read after the grant's lock (a query in the
    # locking statement would see the runs as they were before it waited): the newest gives
    # the number a new run follows, the newest of this kind is the one to recompute.
    runs = list(grant.runs.order_by("-number"))
    redistributes_id = redistributes.pk if redistributes is not None else None
    latest = next((r for r in runs if r.redistributes_id == redistributes_id), None)
    if latest is not None and not latest.is_decided:
        if latest.result_digest == digest and latest.redistribution_recipients == (
            recipients or []
        ):
            return latest, None, False
        run = latest
        before = {"result_digest": run.result_digest, "allocated": run.allocated()}
        run.rows.all().delete()
        run.pot_results.all().delete()
        run.ineligible.all().delete()
    else:
        number = (runs[0].number if runs else 0) + 1
        run = AllocationRun(grant=grant, number=number, redistributes=redistributes)
        before = None
    run.redistributed_amount = redistributed_amount
    run.redistribution_recipients = recipients or []
    run.result_digest = digest
    run.grant_amount = grant.amount
    run.computed_at = timezone.now()
    run.computed_by = actor if getattr(actor, "is_authenticated", False) else None
    run.save()
    _store_result(run, result, loaded)
    return run, before, True


def _store_result(run: AllocationRun, result: engine.Result, loaded: LoadedGrant) -> None:
    PotResult.objects.bulk_create(
        PotResult(
            run=run,
            pot_id=loaded.pot_ids[p.id],
            path=p.path[:1000],
            position=i,
            amount=p.amount,
            allocated=p.allocated,
            rate_numerator=p.rate.numerator if p.rate is not None else None,
            rate_denominator=p.rate.denominator if p.rate is not None else None,
        )
        for i, p in enumerate(result.pots)
    )
    rows = [
        (
            run.pk,
            loaded.pot_ids[r.pot],
            loaded.org_ids[r.organisation],
            loaded.unit_ids[r.unit] if r.unit is not None else None,
            r.quantity,
            r.amount,
        )
        for r in result.rows
    ]
    _insert_rows(rows)
    Ineligibility.objects.bulk_create(
        (
            Ineligibility(
                run=run,
                pot_id=loaded.pot_ids[i.pot],
                unit_id=loaded.unit_ids[i.unit],
                organisation_id=loaded.org_ids[i.organisation],
                application_slug=i.application or "",
                code=i.code,
                details=i.details,
            )
            for i in result.ineligible
        ),
        batch_size=5000,
    )


ROW_COLUMNS = ("run_id", "pot_id", "organisation_id", "unit_id", "quantity", "amount")


def _insert_rows(rows: list[tuple]) -> None:
    """Store allocation rows: PostgreSQL's COPY where we have it, bulk inserts elsewhere."""
    if connection.vendor == "postgresql":
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
            buffer.write("\n")
        buffer.seek(0)
        table = AllocationRow._meta.db_table
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} ({', '.join(ROW_COLUMNS)}) FROM STDIN", buffer)
        return
    AllocationRow.objects.bulk_create(
        (AllocationRow(**dict(zip(ROW_COLUMNS, row, strict=True))) for row in rows), batch_size=2000
    )


def lock_for_decision(run_id: int) -> AllocationRun:
    """The run locked for a decision, with its grant and agreement, and whether a later run
    of its kind exists (`later`): what `record_decision` checks, each read once.

    The grant and agreement are locked with it: a computation of the grant (which locks the
    grant) waits for the decision, and the decision for it. Whether a later run exists is
    asked after the lock is held, in a statement of its own (one in the locking statement
    would see the runs as they were before it waited).
    """
    run = (
        AllocationRun.objects.select_for_update().select_related("grant__agreement").get(pk=run_id)
    )
    # A run of the same kind numbered after it (`redistributes=None`: the grant's computations).
    run.later = AllocationRun.objects.filter(
        grant_id=run.grant_id, number__gt=run.number, redistributes=run.redistributes_id
    ).exists()
    return run


# No savepoint of its own: its one caller, `applications.services.decide`, runs it in its own
# transaction, and it refuses before it writes anything.
@transaction.atomic(savepoint=False)
def record_decision(
    *,
    run: AllocationRun,
    decided_on: date,
    decided_by: str,
    delegation: str = "",
    reference: str = "",
    allocated: int | None = None,
    actor=None,
    actor_label: str = "",
) -> AllocationRun:
    """Record the decision (beslut) on a computed run; from then on it is frozen.

    `run` is as `lock_for_decision` gave it in this transaction (locked, knowing whether a
    later run exists); `allocated`, the sum of its rows, when the caller has summed them.

    Only the workflow's door calls this: `applications.services.decide` also opens the
    requisitions and queues the notices, and checks the decision's dates. A decision
    recorded here alone would leave money no one can requisition.
    """
    if not hasattr(run, "later"):
        raise TypeError("record_decision takes the run as lock_for_decision gave it")
    if run.is_decided:
        raise RunFrozen(
            f"run {run.number} of '{run.grant.slug}' was decided on {run.decided_on:%Y-%m-%d}; "
            "a decision is not changed — compute a new run"
        )
    if not decided_by.strip():
        raise ValueError("a decision names who decided")
    if run.later:
        raise RunFrozen(f"run {run.number} is not the grant's latest run of its kind")
    run.decided_on = decided_on
    run.decided_by = decided_by.strip()
    run.delegation = delegation.strip()
    run.decision_reference = reference.strip()
    run.decision_recorded_at = timezone.now()
    run.decision_recorded_by = actor if getattr(actor, "is_authenticated", False) else None
    run.save()
    audit.log(
        "run.decided",
        run,
        grant=run.grant,
        actor=actor,
        actor_label=actor_label,
        after={
            "decided_on": decided_on.isoformat(),
            "decided_by": run.decided_by,
            "delegation": run.delegation,
            "reference": run.decision_reference,
            "allocated": run.allocated() if allocated is None else allocated,
            "result_digest": run.result_digest,
        },
    )
    return run


def export_allocations(run: AllocationRun) -> dict:
    """A run's results as `stimulans-allocations/1`."""
    pots = [
        {
            "id": pr.pot.slug,
            "path": pr.path,
            "amount": pr.amount,
            "allocated": pr.allocated,
            "unallocated": pr.unallocated,
            "rate": rate_digits(pr.rate) if pr.rate is not None else None,
        }
        for pr in run.pot_results.select_related("pot")
    ]
    rows = [
        {"pot": pot, "organisation": org, "unit": unit, "quantity": quantity, "amount": amount}
        for pot, org, unit, quantity, amount in run.rows.order_by("id").values_list(
            "pot__slug", "organisation__slug", "unit__slug", "quantity", "amount"
        )
    ]
    return {
        "format": "stimulans-allocations/1",
        "grant": run.grant.slug,
        "pots": pots,
        "rows": rows,
    }


def published_differences(run: AllocationRun) -> list[tuple[str, int, int]]:
    """Where a published decision's table differs from the exact result.

    (organisation, published, computed) for each recipient of the published
    pot whose amounts differ; seed 002's table, rounded row by row, overshoots.
    """
    published = run.grant.published
    if not published:
        return []
    computed: dict[str, int] = {}
    for org, amount in run.rows.filter(pot__slug=published["pot"]).values_list(
        "organisation__slug", "amount"
    ):
        computed[org] = computed.get(org, 0) + amount
    return [
        (org, amount, computed.get(org, 0))
        for org, amount in published["amounts"].items()
        if computed.get(org, 0) != amount
    ]
