"""The ledger checks itself: the identities every computed and decided run promises.

- *pots*: in every run, a parent pot allocated what its parts allocated, its parts
  never hold more than it, no pot allocates more than its amount and the top pots
  no more than the grant; in the budget tree as configured, no pot's parts exceed it;
- *rows*: a run's rows on a pot add up to what the pot allocated;
- *digest*: a decided run still holds what was decided: its fingerprint, computed
  again from the stored results exactly as `services.result_digest` computes it
  from the engine's, is the one recorded;
- *audit*: every run has the entry of its computation, every decided run that of
  its decision.

Each check reads the grant in a fixed number of queries (one more per decided
run for its fingerprint), whatever the number of recipients. The workflow adds
its own (`applications.books`); the dashboard and `check_books` show them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from django.db.models import Sum
from django.utils.translation import gettext as _

from . import engine
from .models import AllocationRow, AllocationRun, AuditEntry, Grant, Pot, PotResult
from .tree import Tree
from .wording import format_kronor

# More breaches of one rule than this are summed up in a line of their own.
MOST_LISTED = 20


@dataclass(frozen=True)
class Breach:
    """An identity the books do not hold, in words; `rule` names which."""

    rule: str
    text: str

    def __str__(self) -> str:
        return self.text


def kronor(**values: int) -> dict[str, str]:
    return {key: format_kronor(value) for key, value in values.items()}


def capped(rule: str, texts: list[str]) -> list[Breach]:
    """The breaches of one rule, the first `MOST_LISTED` in full and the rest counted."""
    breaches = [Breach(rule, text) for text in texts[:MOST_LISTED]]
    if len(texts) > MOST_LISTED:
        more = len(texts) - MOST_LISTED
        breaches.append(Breach(rule, _("… and %(count)s more like these.") % {"count": more}))
    return breaches


def check_grant(grant: Grant) -> list[Breach]:
    """Every ledger identity of `grant` that does not hold; empty when the books balance."""
    tree = grant.pot_tree()
    runs = list(grant.runs.order_by("number"))
    return [
        *capped("pots", budget_breaches(grant)),
        *capped("pots", pot_result_breaches(runs, tree)),
        *capped("rows", row_breaches(grant, runs, tree)),
        *capped("digest", digest_breaches(runs)),
        *capped("audit", run_audit_breaches(runs)),
    ]


# ---------------------------------------------------------------- pots and rows


def budget_breaches(grant: Grant) -> list[str]:
    """The budget tree as configured holds its money: no parts beyond their pot, one rest per
    parent (`engine.check_budget`, in its words). A pot still without a model is unfinished
    configuration, which computing refuses, not a breach of the books."""
    from .forms import budget_problems, grant_drafts

    problems = budget_problems(grant.amount, grant_drafts(grant.pk).values())
    return [p.message for p in problems if p.code in engine.AMOUNT_PROBLEMS]


def pot_result_breaches(runs: list[AllocationRun], tree: Tree[Pot]) -> list[str]:
    """In every run: a parent allocated what its parts allocated, and nothing exceeds its amount."""
    results: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for run_id, pot_id, amount, allocated in PotResult.objects.filter(
        run__in=[run.pk for run in runs]
    ).values_list("run_id", "pot_id", "amount", "allocated"):
        results[run_id][pot_id] = (amount, allocated)
    problems = []
    for run in runs:
        mine = results.get(run.pk, {})
        # A pot's parts are those below it in this run (a redistribution round has one pot).
        parts: dict[int | None, list[int]] = defaultdict(list)
        for pot_id in mine:
            above = tree.ancestors(pot_id)
            parts[above[0].pk if above and above[0].pk in mine else None].append(pot_id)
        for pot_id, (amount, allocated) in mine.items():
            words = {"number": run.number, "pot": tree.by_key[pot_id].name}
            if allocated > amount:
                problems.append(
                    _(
                        "Run %(number)s, %(pot)s: it allocated %(allocated)s, more than its amount "
                        "(%(amount)s)."
                    )
                    % {**words, **kronor(allocated=allocated, amount=amount)}
                )
            kids = parts.get(pot_id)
            if not kids:
                continue
            kids_allocated = sum(mine[kid][1] for kid in kids)
            kids_amount = sum(mine[kid][0] for kid in kids)
            if kids_allocated != allocated:
                problems.append(
                    _(
                        "Run %(number)s, %(pot)s: it allocated %(mine)s, but its parts add up to "
                        "%(theirs)s."
                    )
                    % {**words, **kronor(mine=allocated, theirs=kids_allocated)}
                )
            if kids_amount > amount:
                problems.append(
                    _(
                        "Run %(number)s, %(pot)s: its parts (%(theirs)s) exceed its amount "
                        "(%(mine)s)."
                    )
                    % {**words, **kronor(mine=amount, theirs=kids_amount)}
                )
        top = sum(mine[pot_id][0] for pot_id in parts.get(None, []))
        if top > run.grant_amount:
            problems.append(
                _("Run %(number)s: its pots hold %(pots)s, more than the grant's %(grant)s.")
                % {"number": run.number, **kronor(pots=top, grant=run.grant_amount)}
            )
    return problems


def row_breaches(grant: Grant, runs: list[AllocationRun], tree: Tree[Pot]) -> list[str]:
    """A run's rows on each pot add up to what the pot allocated."""
    run_ids = [run.pk for run in runs]
    rows = defaultdict(int)
    for row in (
        AllocationRow.objects.filter(run__in=run_ids)
        .values("run_id", "pot_id")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        rows[row["run_id"], row["pot_id"]] = row["total"]
    parents = tree.parents
    allocated = {
        (run_id, pot_id): value
        for run_id, pot_id, value in PotResult.objects.filter(run__in=run_ids).values_list(
            "run_id", "pot_id", "allocated"
        )
        if pot_id not in parents
    }
    number = {run.pk: run.number for run in runs}
    problems = []
    for key in sorted(set(rows) | set(allocated), key=lambda k: (number[k[0]], k[1])):
        run_id, pot_id = key
        if rows.get(key, 0) != allocated.get(key, 0):
            problems.append(
                _(
                    "Run %(number)s, %(pot)s: its rows add up to %(rows)s, the pot allocated "
                    "%(allocated)s."
                )
                % {
                    "number": number[run_id],
                    "pot": tree.by_key[pot_id].name,
                    **kronor(rows=rows.get(key, 0), allocated=allocated.get(key, 0)),
                }
            )
    return problems


# ---------------------------------------------------------------- the decision


def stored_digest(run: AllocationRun) -> str:
    """A run's fingerprint from its stored results, as `services.result_digest` makes it."""
    h = hashlib.sha256()
    pots = run.pot_results.order_by("id").values_list(
        "pot__slug", "amount", "allocated", "rate_numerator", "rate_denominator"
    )
    for slug, amount, allocated, numerator, denominator in pots.iterator(chunk_size=2000):
        rate = Fraction(int(numerator), int(denominator)) if numerator is not None else None
        h.update(f"P|{slug}|{amount}|{allocated}|{rate}\n".encode())
    rows = run.rows.order_by("id").values_list(
        "pot__slug", "organisation__slug", "unit__slug", "quantity", "amount"
    )
    for pot, organisation, unit, quantity, amount in rows.iterator(chunk_size=2000):
        h.update(f"R|{pot}|{organisation}|{unit}|{quantity}|{amount}\n".encode())
    ineligible = run.ineligible.order_by("id").values_list(
        "pot__slug", "unit__slug", "application_slug", "code"
    )
    for pot, unit, application, code in ineligible.iterator(chunk_size=2000):
        # stored as "" where the engine had no application (None)
        h.update(f"I|{pot}|{unit}|{application or None}|{code}\n".encode())
    return h.hexdigest()


def digest_breaches(runs: list[AllocationRun]) -> list[str]:
    """Every decided run still holds what was decided."""
    return [
        _(
            "Run %(number)s was decided on %(date)s, but what it holds now is not what was "
            "decided (its fingerprint differs)."
        )
        % {"number": run.number, "date": run.decided_on.isoformat()}
        for run in runs
        if run.is_decided and stored_digest(run) != run.result_digest
    ]


# ---------------------------------------------------------------- the audit trail


def run_audit_breaches(runs: list[AllocationRun]) -> list[str]:
    """Every run has the entry of its computation; every decided run that of its decision."""
    logged = set(
        AuditEntry.objects.filter(
            object_type=AllocationRun._meta.label_lower,
            object_id__in=[str(run.pk) for run in runs],
            action__in=("run.computed", "run.redistribution_computed", "run.decided"),
        ).values_list("object_id", "action")
    )
    problems = []
    for run in runs:
        computed = "run.redistribution_computed" if run.redistributes_id else "run.computed"
        if (str(run.pk), computed) not in logged:
            problems.append(
                _("Run %(number)s has no audit entry for its computation.") % {"number": run.number}
            )
        if run.is_decided and (str(run.pk), "run.decided") not in logged:
            problems.append(
                _("Run %(number)s is decided, but the audit trail has no entry for the decision.")
                % {"number": run.number}
            )
    return problems
