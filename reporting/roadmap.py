"""Follow-up against the roadmap (färdplan): money per strategic area and need.

Pots name needs by code (`Pot.roadmap_needs`, from the grant file); a code
resolves to the `Need` with that code. A pot counts once under each need it
names, and once in an area's and the grand total however many of the area's
needs it names; a pot inside another pot tagged with the same need is already
counted in its parent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Prefetch

from allocations.models import Grant, Pot

from .dashboard import ALLOCATED, DECIDED, PAID, USED, GrantFigures, MoneyColumn
from .models import Horizon, Need, NeedItemKind, Roadmap, horizon_terms

# What was planned and decided for a need, and what reached the providers and was used.
FOLLOWUP_COLUMNS: list[MoneyColumn] = [ALLOCATED, DECIDED, PAID, USED]


def resolve(codes: list[str]) -> tuple[list[Need], list[str]]:
    """The needs these codes name, and the codes that name none."""
    found = {n.code: n for n in Need.objects.filter(code__in=codes).select_related("area")}
    return [found[c] for c in codes if c in found], [c for c in codes if c not in found]


def need_horizons(need: Need) -> list[str]:
    """The normalised horizons of what more the need asks for, in the roadmap's order."""
    terms: list[str] = []
    for item in need.items.all():
        if item.kind == NeedItemKind.FURTHER:
            terms.extend(t for t in horizon_terms(item.horizon) if t not in terms)
    order = list(Horizon.values)
    return [str(Horizon(t).label) for t in sorted(terms, key=order.index)]


@dataclass
class NeedLine:
    need: Need
    horizons: list[str]
    values: dict[str, int] = field(default_factory=dict)
    pots: list[tuple[Grant, Pot, dict[str, int | None]]] = field(default_factory=list)

    @property
    def cells(self) -> list[int]:
        return [self.values.get(c.key, 0) for c in FOLLOWUP_COLUMNS]


@dataclass
class AreaLine:
    area: object
    needs: list[NeedLine]
    values: dict[str, int] = field(default_factory=dict)

    @property
    def cells(self) -> list[int]:
        return [self.values.get(c.key, 0) for c in FOLLOWUP_COLUMNS]


def followup(roadmap: Roadmap, *, year: int | None = None) -> dict:
    """Allocated, decided, paid and used money per area and need, with what it went to."""
    areas = list(
        roadmap.areas.prefetch_related(
            Prefetch(
                "needs",
                queryset=Need.objects.prefetch_related("items", "permitted_uses"),
            )
        )
    )
    needs = {n.code: n for a in areas for n in a.needs.all()}
    grants = Grant.objects.select_related("agreement").order_by("-agreement__year", "slug")
    if year:
        grants = grants.filter(agreement__year=year)
    keys = [c.key for c in FOLLOWUP_COLUMNS]
    tagged: dict[str, list[tuple[Grant, Pot, dict]]] = defaultdict(list)
    unresolved: list[tuple[Grant, Pot, str]] = []
    for grant in grants:
        figures = GrantFigures.load(grant)
        tree = figures.tree
        if not any(p.roadmap_needs for p in tree.items):
            continue
        values = {c.key: c.values(figures) for c in FOLLOWUP_COLUMNS}
        for pot in tree.items:
            for code in pot.roadmap_needs or []:
                if code not in needs:
                    if not Need.objects.filter(code=code).exists():
                        unresolved.append((grant, pot, code))
                    continue
                if any(code in (a.roadmap_needs or []) for a in tree.ancestors(pot.pk)):
                    continue  # counted in its parent
                tagged[code].append((grant, pot, {k: values[k].get(pot.pk) for k in keys}))
    lines, seen_total = [], set()
    grand = dict.fromkeys(keys, 0)
    for area in areas:
        need_lines, seen_area = [], set()
        area_values = dict.fromkeys(keys, 0)
        for need in area.needs.all():
            line = NeedLine(need, need_horizons(need), dict.fromkeys(keys, 0), tagged[need.code])
            for _grant, pot, pot_values in line.pots:
                for k in keys:
                    line.values[k] += pot_values[k] or 0
                for target, seen in ((area_values, seen_area), (grand, seen_total)):
                    if pot.pk not in seen:
                        for k in keys:
                            target[k] += pot_values[k] or 0
                for seen in (seen_area, seen_total):
                    seen.add(pot.pk)
            need_lines.append(line)
        lines.append(AreaLine(area, need_lines, area_values))
    return {
        "roadmap": roadmap,
        "columns": FOLLOWUP_COLUMNS,
        "areas": lines,
        "totals": grand,
        "total_cells": [grand[k] for k in keys],
        "unresolved": unresolved,
        "year": year,
    }
