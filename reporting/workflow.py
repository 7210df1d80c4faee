"""The money after the decision, per pot, as the dashboard follows it.

What each figure means, and the checks on it, live with the workflow
(`applications.books`); the dashboard follows the requisitions of the grant's
latest decided run (what its Decided column shows) and of its decided
redistribution rounds, whose money is decided again on the same pot.
"""

from __future__ import annotations

from django.db.models import Sum

from allocations.models import AllocationRun, Grant
from applications.books import (  # noqa: F401 - the dashboard's and the exports' names
    COUNTED_REPORTS,
    TAKEN_BACK,
    PotMoney,
    followed_requisitions,
    pot_money,
    rolled_up,
)
from applications.models import Requisition


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
