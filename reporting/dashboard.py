"""The grant dashboard: the budget tree with money columns that must balance, and charts.

A column is a named source of kronor per pot. The budget columns come from
the runs; the workflow columns (requisitioned, paid, reported used, unspent,
claimed back, repaid, redistributed) from the requisitions and what followed
them, as `reporting.workflow` reads them. What does not balance is said in words
by the books' checks (`applications.books`), the same `check_books` runs: the latest kept
(`reporting.services.current_books_check`), made again when anything changed since.

The page's figures — the tables, the money flow, the charts — are kept rendered in the
cache (`figures`), under a key that changes with every change they could show (`figures_key`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.core.cache import cache
from django.db import connection
from django.db.models import Min, Sum
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocations.models import AllocationRun, Grant, Organisation, Pot
from allocations.tree import Tree
from allocations.wording import format_kronor

from . import charts, services
from .documents import RenderError, latest_run, runs_of
from .models import BooksCheck
from .workflow import PotMoney, pot_money, rolled_up, uncounted_runs

# ---------------------------------------------------------------- the figures


@dataclass
class GrantFigures:
    """What the columns read from: the grant, its pots, its latest and latest decided runs."""

    grant: Grant
    tree: Tree[Pot]
    run: AllocationRun | None
    decided_run: AllocationRun | None
    _results: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, grant: Grant) -> GrantFigures:
        run = runs_of(grant).order_by("-number").first()
        decided = runs_of(grant).exclude(decided_on=None).order_by("-number").first()
        return cls(grant, grant.pot_tree(), run, decided)

    @property
    def pots(self) -> list[Pot]:
        return self.tree.items

    def allocated_by_pot(self, run: AllocationRun | None) -> dict[int, int]:
        if run is None:
            return {}
        return {pot_id: allocated for pot_id, (_amount, allocated) in self.results(run).items()}

    def results(self, run: AllocationRun) -> dict[int, tuple[int, int]]:
        """(amount, allocated) per pot id of `run`, read once per run for all the columns."""
        if run.pk not in self._results:
            self._results[run.pk] = {
                pot_id: (amount, allocated)
                for pot_id, amount, allocated in run.pot_results.order_by().values_list(
                    "pot_id", "amount", "allocated"
                )
            }
        return self._results[run.pk]

    @cached_property
    def money(self) -> dict[int, PotMoney]:
        """Each pot's money after the decision, its sub-pots' included; empty before one."""
        if self.decided_run is None:
            return {}
        return rolled_up(pot_money(self.grant, self.decided_run), self.tree)


@dataclass(frozen=True)
class MoneyColumn:
    key: str
    label: str
    # values(figures) -> kronor per pot id (missing: not known, shown as —)
    values: Callable[[GrantFigures], dict[int, int]]
    grant_total: Callable[[GrantFigures, dict[int, int]], int | None] | None = None


def _amounts(f: GrantFigures) -> dict[int, int]:
    if f.run is not None:
        return {pot_id: amount for pot_id, (amount, _allocated) in f.results(f.run).items()}
    return {p.pk: p.amount for p in f.pots if p.amount is not None}


def _top_sum(f: GrantFigures, values: dict[int, int]) -> int:
    return sum(values.get(p.pk, 0) for p in f.tree.roots)


AMOUNT = MoneyColumn(
    "amount",
    gettext_lazy("Amount"),
    _amounts,
    grant_total=lambda f, _v: f.run.grant_amount if f.run else f.grant.amount,
)
ALLOCATED = MoneyColumn(
    "allocated",
    gettext_lazy("Allocated"),
    lambda f: f.allocated_by_pot(f.run),
    grant_total=lambda f, v: _top_sum(f, v) if f.run else None,
)
DECIDED = MoneyColumn(
    "decided",
    gettext_lazy("Decided"),
    lambda f: f.allocated_by_pot(f.decided_run),
    grant_total=lambda f, v: _top_sum(f, v) if f.decided_run else None,
)


def _unallocated(f: GrantFigures) -> dict[int, int]:
    amounts, allocated = _amounts(f), f.allocated_by_pot(f.run)
    return {k: amounts[k] - allocated[k] for k in amounts if k in allocated}


UNALLOCATED = MoneyColumn(
    "unallocated",
    gettext_lazy("Not allocated"),
    _unallocated,
    grant_total=None,
)


def _money(attr: str) -> Callable[[GrantFigures], dict[int, int]]:
    def values(f: GrantFigures) -> dict[int, int]:
        return {pot_id: getattr(m, attr) for pot_id, m in f.money.items()}

    return values


def _after_decision(f: GrantFigures, values: dict[int, int]) -> int | None:
    return _top_sum(f, values) if f.decided_run else None


def _workflow_column(key: str, label) -> MoneyColumn:
    return MoneyColumn(key, label, _money(key), grant_total=_after_decision)


REQUISITIONED = _workflow_column("requisitioned", gettext_lazy("Requisitioned"))
PAID = _workflow_column("paid", gettext_lazy("Paid"))
USED = _workflow_column("used", gettext_lazy("Reported used"))
UNSPENT = _workflow_column("unspent", gettext_lazy("Unspent"))
CLAIMED = _workflow_column("claimed", gettext_lazy("Claimed back"))
REPAID = _workflow_column("repaid", gettext_lazy("Repaid"))
REDISTRIBUTED = _workflow_column("redistributed", gettext_lazy("Redistributed"))

BUDGET_COLUMNS: list[MoneyColumn] = [AMOUNT, ALLOCATED, DECIDED, UNALLOCATED]
WORKFLOW_COLUMNS: list[MoneyColumn] = [
    REQUISITIONED,
    PAID,
    USED,
    UNSPENT,
    CLAIMED,
    REPAID,
    REDISTRIBUTED,
]
# The order of the dashboard's columns.
COLUMNS: list[MoneyColumn] = BUDGET_COLUMNS + WORKFLOW_COLUMNS


@dataclass
class Row:
    pot: Pot | None
    label: str
    depth: int
    values: dict[str, int | None]

    @property
    def cells(self) -> list[int | None]:
        """The values in the order of the columns."""
        return [self.values.get(c.key) for c in COLUMNS]


def column_notes(f: GrantFigures) -> list[str]:
    """What an official should know about the columns: earlier decisions they leave out."""
    return [
        _(
            "Run %(number)s was decided too and opened requisitions of %(amount)s; "
            "the columns follow run %(latest)s only."
        )
        % {
            "number": number,
            "amount": format_kronor(amount),
            "latest": f.decided_run.number,
        }
        for number, amount in uncounted_runs(f.grant, f.decided_run)
    ]


def budget_table(grant: Grant, check: BooksCheck | None = None) -> dict:
    """The budget tree with every column, the grant's totals, and what does not balance.

    `check` is the grant's current books check when the caller has it already.
    """
    f = GrantFigures.load(grant)
    values = {c.key: c.values(f) for c in COLUMNS}
    rows: list[Row] = []

    for pot, depth in f.tree.walk():
        rows.append(Row(pot, pot.name, depth, {k: values[k].get(pot.pk) for k in values}))
    totals = {c.key: c.grant_total(f, values[c.key]) if c.grant_total else None for c in COLUMNS}
    if totals.get("amount") is not None and totals.get("allocated") is not None:
        totals["unallocated"] = totals["amount"] - totals["allocated"]
    # The books' own checks (`check_books`), the same on the page as on the command line: the
    # latest kept, checked again first if anything changed since (`services.current_books_check`).
    if check is None:
        check = services.current_books_check(grant)
    groups = [(_("Budget"), BUDGET_COLUMNS)]
    if f.decided_run is not None:
        groups.append((_("After the decision"), [DECIDED, *WORKFLOW_COLUMNS]))
    return {
        "figures": f,
        "columns": COLUMNS,
        "rows": rows,
        "totals": totals,
        "total_cells": [totals.get(c.key) for c in COLUMNS],
        "books_check": check,
        "check_minutes": services.books_check_minutes(),
        "problems": check.texts(),
        "notes": column_notes(f),
        "groups": [
            {
                "title": title,
                "columns": columns,
                "rows": [(row, [row.values.get(c.key) for c in columns]) for row in rows],
                "total_cells": [totals.get(c.key) for c in columns],
            }
            for title, columns in groups
        ],
    }


# ---------------------------------------------------------------- the page's figures, kept


def figures_key(grant: Grant, check: BooksCheck) -> str:
    """What the page's figures are kept under: the grant, the language, and what changes them.

    `check` is the grant's current books check (`services.current_books_check`), which is made
    again before the page is shown whenever an audit entry newer than it exists (its audit mark
    is then the newest entry's) or a change it could not see, not yet committed when it began,
    has committed since (its checked_at is then new). Every change to what the figures read
    through the services leaves one — a run computed, decided or redistributed, the grant or a
    pot changed in the admin or by an import, a requisition answered, a payment, a report
    submitted or reviewed, a claim, a repayment — so each change makes a new key. A change made
    past the audit trail (an organisation renamed, a record changed behind the services) shows
    with the next check, the beat's or an official's "Check now", as the books' line does; so
    does an upstream grant's change that leaves no entry. Nothing in the figures depends on the
    reader but the language: every official sees the same.
    """
    language = translation.get_language() or ""
    return (
        f"reporting.dashboard:{grant.pk}:{language}:{check.audit_mark}:"
        f"{check.checked_at.isoformat()}"
    )


def _writes_in_flight() -> bool:
    """Whether another transaction that has written something is open (on PostgreSQL: one
    holding its transaction id's lock; in any database of the server, so at worst the
    figures are not kept this time). SQLite writes one transaction at a time."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'transactionid' "
            "AND pid <> pg_backend_pid())"
        )
        return cursor.fetchone()[0]


def figures(grant: Grant, check: BooksCheck) -> dict[str, SafeString]:
    """The page's figures rendered: `runs` (what is allocated and decided) and `tables` (the
    columns, notes, money flow and charts), from the cache when kept (`figures_key`).

    Kept no longer than a check stays current without a change (twice the beat's interval):
    by then the page has a newer check, and with it a new key.
    """
    key = figures_key(grant, check)
    kept = cache.get(key)
    if kept is None:
        # Asked before the figures are read: a change whose audit entry is older than the mark
        # but not yet committed would be missing from them, and its commit leaves the newest
        # entry, and so the key, as it is (the check records only the changes in flight when
        # it began, not one begun since). Such figures are shown, not kept.
        keep = not _writes_in_flight()
        table = budget_table(grant, check)
        chain = upstream_chain(grant)
        context = {
            "grant": grant,
            "table": table,
            "flow": money_flow(grant, chain),
            "charts": pot_charts(table),
            "chain": chain,
        }
        kept = {
            "runs": render_to_string("reporting/_dashboard_runs.html", context),
            "tables": render_to_string("reporting/_dashboard_tables.html", context),
        }
        if keep:
            cache.set(key, kept, timeout=2 * services.books_check_minutes() * 60)
    # Our own templates' output, escaped as they render it.
    return {name: mark_safe(html) for name, html in kept.items()}


# ---------------------------------------------------------------- charts


TOP_RECIPIENTS = 12


def _kr(value: int) -> str:
    return format_kronor(value)


def money_flow(grant: Grant, chain: list[tuple[Grant, int | None]] | None = None) -> str:
    """Agreement → (upstream grants →) grant → pots → recipients, as an SVG Sankey.

    `chain` is `upstream_chain(grant)` when the caller has it already (the dashboard shows it
    too): each link of it costs queries.
    """
    try:
        run = latest_run(grant)
    except RenderError:
        return ""
    received = run.grant_amount
    if chain is None:
        chain = upstream_chain(grant)
    head = chain[0][0] if chain else grant
    nodes = [charts.Node("agreement", head.agreement.title, 0)]
    links: list[charts.Link] = []
    previous, inflow, column = "agreement", head.amount, 0
    for upstream, passed in chain:
        column += 1
        key = f"grant-{upstream.pk}"
        nodes.append(charts.Node(key, upstream.title, column))
        links.append(charts.Link(previous, key, inflow))
        others = upstream.amount - (passed if passed is not None else received)
        if others > 0:
            nodes.append(
                charts.Node(
                    f"others-{upstream.pk}",
                    _("Other recipients of %(grant)s") % {"grant": upstream.title},
                    column + 1,
                    muted=True,
                )
            )
            links.append(charts.Link(key, f"others-{upstream.pk}", others))
        previous, inflow = key, passed if passed is not None else received
    if not chain and grant.received_from:
        # The source is named but not in the product: show it by name.
        column += 1
        nodes.append(charts.Node("source", grant.received_from, column))
        links.append(charts.Link(previous, "source", received))
        previous = "source"
    column += 1
    nodes.append(charts.Node("grant", grant.title, column))
    links.append(charts.Link(previous, "grant", received))
    _pot_flow(grant, run, nodes, links, column)
    return charts.sankey(
        nodes,
        links,
        _kr,
        title=_("Money flow of %(grant)s") % {"grant": grant.title},
        height=max(420, 28 * TOP_RECIPIENTS + 80),
    )


def _pot_flow(grant, run, nodes, links, base: int) -> None:
    ordered = list(run.pot_results.select_related("pot").order_by("position"))
    results = {pr.pot_id: pr for pr in ordered}
    pots = [pr.pot for pr in ordered]  # the tree in order: parents before their children
    tree = Tree(pots)
    parents = tree.parents
    depth = tree.depths()
    deepest = max(depth.values(), default=0)
    recipient_column = base + deepest + 2
    for pot in pots:
        result = results.get(pot.pk)
        if result is None:
            continue
        nodes.append(charts.Node(f"pot-{pot.pk}", pot.name, base + 1 + depth[pot.pk]))
        source = "grant" if pot.parent_id is None else f"pot-{pot.parent_id}"
        links.append(charts.Link(source, f"pot-{pot.pk}", result.amount))
    unallocated = run.grant_amount - sum(
        results[p.pk].amount for p in pots if p.parent_id is None and p.pk in results
    )
    nodes.append(charts.Node("unallocated", _("Not allocated"), recipient_column, muted=True))
    links.append(charts.Link("grant", "unallocated", unallocated))
    totals: dict[int, int] = defaultdict(int)
    per_pot: dict[tuple[int, int], int] = {}
    # Summed by PostgreSQL, in the order the rows first name each pair (as reading every row
    # would add them up): a run has a row per unit, thousands of them.
    for pot_id, org_id, amount in (
        run.rows.order_by()
        .values("pot_id", "organisation_id")
        .annotate(total=Sum("amount"), first=Min("id"))
        .order_by("first")
        .values_list("pot_id", "organisation_id", "total")
    ):
        totals[org_id] += amount
        per_pot[(pot_id, org_id)] = amount
    top = sorted(totals, key=lambda o: -totals[o])[:TOP_RECIPIENTS]
    names = dict(grant.organisations.filter(pk__in=top).values_list("pk", "name"))
    names.update(
        Organisation.objects.filter(pk__in=set(top) - set(names)).values_list("pk", "name")
    )
    for org_id in top:
        nodes.append(charts.Node(f"org-{org_id}", names.get(org_id, "?"), recipient_column))
    others = len(totals) - len(top)
    if others:
        nodes.append(
            charts.Node(
                "others",
                _("%(count)s other recipients") % {"count": others},
                recipient_column,
            )
        )
    shown = set(top)
    other_flow: dict[int, int] = defaultdict(int)
    for (pot_id, org_id), amount in per_pot.items():
        if org_id in shown:
            links.append(charts.Link(f"pot-{pot_id}", f"org-{org_id}", amount))
        else:
            other_flow[pot_id] += amount
    for pot_id, amount in other_flow.items():
        links.append(charts.Link(f"pot-{pot_id}", "others", amount))
    for pot in pots:
        result = results.get(pot.pk)
        if result is not None and pot.pk not in parents and result.unallocated:
            links.append(charts.Link(f"pot-{pot.pk}", "unallocated", result.unallocated))


def upstream_chain(grant: Grant) -> list[tuple[Grant, int | None]]:
    """The imported grants this money came through, top first, each with what it passed down.

    (Storsthlm's grant, 8 209 071) for seed 000: what the upstream decision gave
    the organisation this grant's money came to; None when it is not decided yet.
    """
    chain: list[tuple[Grant, int | None]] = []
    seen = {grant.pk}
    current = grant
    while current.source_grant:
        upstream = Grant.objects.filter(slug=current.source_grant).first()
        if upstream is None or upstream.pk in seen:
            break
        chain.insert(0, (upstream, current.source_row_amount()))
        seen.add(upstream.pk)
        current = upstream
    return chain


def pot_charts(table: dict) -> dict:
    """Bar charts: every pot's amount, allocated and decided; each leaf's biggest recipients."""
    f: GrantFigures = table["figures"]
    overview = charts.bars(
        [
            (
                row.label,
                [
                    row.values.get("amount") or 0,
                    row.values.get("allocated") or 0,
                    row.values.get("decided") or 0,
                ],
            )
            for row in table["rows"]
        ],
        [str(AMOUNT.label), str(ALLOCATED.label), str(DECIDED.label)],
        _kr,
        title=_("Pots"),
    )
    per_pot = []
    if f.run is not None:
        parents = f.tree.parents
        amounts: dict[int, dict[str, int]] = defaultdict(dict)
        for pot_id, name, amount in (
            f.run.rows.order_by()
            .values("pot_id", "organisation__name")
            .annotate(total=Sum("amount"), first=Min("id"))
            .order_by("first")
            .values_list("pot_id", "organisation__name", "total")
        ):
            amounts[pot_id][name] = amount
        for pot in f.pots:
            if pot.pk in parents or not amounts.get(pot.pk):
                continue
            ranked = sorted(amounts[pot.pk].items(), key=lambda item: -item[1])
            items = [(name, [value]) for name, value in ranked[:10]]
            if len(ranked) > 10:
                items.append(
                    (
                        _("%(count)s others") % {"count": len(ranked) - 10},
                        [sum(v for _n, v in ranked[10:])],
                    )
                )
            per_pot.append((pot, charts.bars(items, [str(ALLOCATED.label)], _kr, title=pot.name)))
    return {"overview": overview, "per_pot": per_pot}
