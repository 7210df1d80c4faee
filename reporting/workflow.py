"""The money after the decision, per pot: requisitioned, paid, used, claimed back, redistributed.

Every figure is read the way `applications.services` defines it, summed per
pot in SQL, in a fixed number of queries whatever the number of recipients:

- *requisitioned*: the decided amount of accepted requisitions (`services.Balance`);
- *declined* and *not yet answered*: the decided amount of the other requisitions;
- *paid*: the payments (`services.paid_total`);
- *reported used*: the usage lines of reports the provider has submitted or the
  official has accepted. A draft or a report returned for completion does not
  count: its figures may still change;
- *unspent*: paid minus used, for the requisitions whose report counts
  (`services.unspent`); claimable once the report is accepted (`services.claimable`);
- *claimed back*: every repayment claim, whatever its reason; *repaid*: the
  claims with a repayment date (a declined or unrequisitioned amount is taken
  back, and so repaid, the day it is claimed);
- *redistributed*: claims whose money went into a decided redistribution round
  (omfördelning) of the pot.

The requisitions followed are those of the grant's latest decided run (what the
dashboard's Decided column shows) and of its decided redistribution rounds,
whose money is decided again on the same pot.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from django.db.models import F, Q, QuerySet, Sum

from allocations.models import AllocationRun, Grant, Pot, PotResult
from allocations.tree import Tree
from applications import services
from applications.models import (
    ClaimReason,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageLine,
)

# Reports whose figures count as used: submitted by the provider or accepted by the official.
COUNTED_REPORTS = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
TAKEN_BACK = (ClaimReason.DECLINED, ClaimReason.UNREQUISITIONED)


@dataclass
class PotMoney:
    """A pot's money after the decision, in whole kronor."""

    requisitions: int = 0  # the decided amount of every requisition, answered or not
    requisitioned: int = 0
    pending: int = 0
    paid: int = 0
    used: int = 0
    paid_reported: int = 0  # paid on requisitions whose report counts
    used_accepted: int = 0
    paid_accepted: int = 0  # paid on requisitions whose report is accepted
    claimed: int = 0
    claimed_unspent: int = 0
    claimed_taken_back: int = 0  # declined or not requisitioned in time
    repaid: int = 0
    redistributed: int = 0
    redistributed_unrepaid: int = 0  # never so through the services: a round takes repaid money
    redecided: int = 0  # what the decided redistribution rounds of the pot allocated again

    @property
    def declined(self) -> int:
        return self.requisitions - self.requisitioned - self.pending

    @property
    def unspent(self) -> int:
        return self.paid_reported - self.used

    @property
    def unspent_accepted(self) -> int:
        return self.paid_accepted - self.used_accepted

    def __add__(self, other: PotMoney) -> PotMoney:
        return PotMoney(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def followed_requisitions(grant: Grant, decided_run: AllocationRun | None) -> QuerySet:
    """The requisitions of the latest decided run and of the decided redistribution rounds."""
    if decided_run is None:
        return Requisition.objects.none()
    return Requisition.objects.filter(
        Q(run=decided_run) | Q(run__redistributes__isnull=False),
        run__grant=grant,
        run__decided_on__isnull=False,
    )


def _sum(field: str, condition: Q | None = None):
    return Sum(field, filter=condition, default=0)


def pot_money(grant: Grant, decided_run: AllocationRun | None) -> dict[int, PotMoney]:
    """Each pot's money (by pot id) as its own requisitions have it; parents are not summed."""
    requisitions = followed_requisitions(grant, decided_run)
    ids = requisitions.order_by().values("pk")
    money: dict[int, PotMoney] = {}

    def at(pot_id: int) -> PotMoney:
        return money.setdefault(pot_id, PotMoney())

    for balance in services.pot_balances(requisitions):
        m = at(balance.pot.pk)
        m.requisitions, m.requisitioned = balance.decided, balance.requisitioned
        m.paid, m.claimed = balance.paid, balance.claimed
    pending = (
        Requisition.objects.filter(pk__in=ids, status=RequisitionStatus.PENDING)
        .values("pot_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in pending:
        at(row["pot_id"]).pending = row["total"]
    used = (
        UsageLine.objects.filter(report__requisition__in=ids, report__status__in=COUNTED_REPORTS)
        .values("report__requisition__pot_id")
        .annotate(
            used=Sum("amount"),
            accepted=_sum("amount", Q(report__status=ReportStatus.ACCEPTED)),
        )
        .order_by()
    )
    for row in used:
        m = at(row["report__requisition__pot_id"])
        m.used, m.used_accepted = row["used"], row["accepted"]
    paid = (
        Payment.objects.filter(requisition__in=ids, requisition__report__status__in=COUNTED_REPORTS)
        .values("requisition__pot_id")
        .annotate(
            paid=Sum("amount"),
            accepted=_sum("amount", Q(requisition__report__status=ReportStatus.ACCEPTED)),
        )
        .order_by()
    )
    for row in paid:
        m = at(row["requisition__pot_id"])
        m.paid_reported, m.paid_accepted = row["paid"], row["accepted"]
    claims = (
        RepaymentClaim.objects.filter(requisition__in=ids)
        .values("requisition__pot_id")
        .annotate(
            unspent=_sum("amount", Q(reason=ClaimReason.UNSPENT)),
            taken_back=_sum("amount", Q(reason__in=TAKEN_BACK)),
            repaid=_sum("amount", Q(paid_on__isnull=False)),
            redistributed=_sum("amount", Q(redistribution__decided_on__isnull=False)),
            unrepaid=_sum(
                "amount", Q(redistribution__decided_on__isnull=False, paid_on__isnull=True)
            ),
        )
        .order_by()
    )
    for row in claims:
        m = at(row["requisition__pot_id"])
        m.claimed_unspent, m.claimed_taken_back = row["unspent"], row["taken_back"]
        m.repaid, m.redistributed = row["repaid"], row["redistributed"]
        m.redistributed_unrepaid = row["unrepaid"]
    if decided_run is not None:
        rounds = (
            PotResult.objects.filter(
                run__grant=grant,
                run__redistributes__isnull=False,
                run__decided_on__isnull=False,
                pot_id=F("run__redistributes_id"),
            )
            .values("pot_id")
            .annotate(total=Sum("allocated"))
            .order_by()
        )
        for row in rounds:
            at(row["pot_id"]).redecided = row["total"]
    return money


def rolled_up(money: dict[int, PotMoney], tree: Tree[Pot]) -> dict[int, PotMoney]:
    """Every pot's money with its sub-pots' added: a parent holds what its parts hold."""
    totals = {pot.pk: money.get(pot.pk, PotMoney()) for pot in tree.items}
    for pot in tree.items:
        own = money.get(pot.pk)
        if own is None:
            continue
        for parent in tree.ancestors(pot.pk):
            totals[parent.pk] = totals[parent.pk] + own
    return totals


def uncounted_runs(grant: Grant, decided_run: AllocationRun | None) -> list[tuple[int, int]]:
    """Earlier decided runs of the whole grant that opened requisitions: (number, amount).

    Their money is not in the columns, which follow the latest decision; an
    official should know it is there.
    """
    if decided_run is None:
        return []
    rows = (
        Requisition.objects.filter(run__grant=grant, run__redistributes=None)
        .exclude(run=decided_run)
        .values("run__number")
        .annotate(total=Sum("amount"))
        .order_by("run__number")
    )
    return [(row["run__number"], row["total"]) for row in rows]
