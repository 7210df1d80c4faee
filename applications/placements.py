"""The city's placement register (placeringsregistret): which share of a unit's residents the
city placed, on a date. Imported to verify in one step the statements it confirms.

A file (xlsx or CSV) with the columns `id` (the unit's id in the register), `share` (0–1,
`0,85` or `85 %`) and `date` is read whole first; a bad file changes nothing. Each row is then
matched to the sent applications of the grant that name its unit and are not yet verified: where
the register's share is the share the provider stated, the statement is verified through
`services.verify_facts` (one call for the whole file); where it differs, nothing is changed and
the row is reported for the official to look at; a row whose unit no such application names is
reported as unmatched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from allocations.models import Grant
from allocations.tables import (
    BadValue,
    ImportRefused,
    Problem,
    cell,
    check_rows,
    columns,
    read_table,
    share,
)

from . import services
from .models import ApplicationUnit
from .services.facts import SENT, SOURCE_PLACEMENTS, Verification, stated_facts

REQUIRED = ("id", "share", "date")
# The register's own Swedish headings are taken as well.
ALIASES = {"enhet": "id", "enhets-id": "id", "andel": "share", "datum": "date"}


@dataclass(frozen=True)
class PlacementRow:
    row: int
    unit_id: str
    share: Decimal
    on: date


@dataclass
class PlacementReport:
    verified: list[tuple[int, str]] = field(default_factory=list)  # (row, unit name)
    # (row, unit name, stated share, the register's share)
    differing: list[tuple[int, str, Decimal, Decimal]] = field(default_factory=list)
    unmatched: list[tuple[int, str]] = field(default_factory=list)  # (row, unit id)
    already: list[tuple[int, str]] = field(default_factory=list)  # verified before


def _date(value, column: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadValue(
            _("%(column)s: %(value)r is not a date (YYYY-MM-DD)")
            % {"column": column, "value": value}
        ) from None


def read_placements(content: bytes, name: str) -> list[PlacementRow]:
    """Every row of the file, checked; `ImportRefused` names each problem, with its row."""
    header, rows = read_table(content, name)
    header = [ALIASES.get(h, h) for h in header]
    found = columns(header, REQUIRED, ())
    seen: dict[str, int] = {}

    def check(number: int, row: list) -> PlacementRow:
        unit_id = cell(row, found, "id")
        if unit_id is None:
            raise BadValue(_("id: the unit's id is missing"))
        unit_id = str(unit_id)
        if unit_id in seen:
            raise BadValue(
                _("id: %(id)s is also on row %(row)s") % {"id": unit_id, "row": seen[unit_id]}
            )
        seen[unit_id] = number
        value = share(cell(row, found, "share"), "share")
        if value is None:
            raise BadValue(_("share: the share placed by the city is missing"))
        on = cell(row, found, "date")
        if on is None:
            raise BadValue(_("date: the date is missing"))
        return PlacementRow(number, unit_id, value, _date(on, "date"))

    return check_rows(rows, check)


@transaction.atomic
def import_placements(
    *, grant: Grant, content: bytes, name: str, actor, actor_label: str = ""
) -> PlacementReport:
    """Verify the statements the placement register confirms; report every other row."""
    rows = read_placements(content, name)
    links: dict[str, list[ApplicationUnit]] = {}
    for link in (
        ApplicationUnit.objects.filter(
            application__grant=grant,
            application__status__in=SENT,
            grant_unit__unit__slug__in=[r.unit_id for r in rows],
        )
        .select_related("grant_unit__unit")
        .order_by("pk")
    ):
        links.setdefault(link.grant_unit.unit.slug, []).append(link)
    report = PlacementReport()
    verifications = []
    for row in rows:
        found = links.get(row.unit_id)
        if not found:
            report.unmatched.append((row.row, row.unit_id))
            continue
        name_ = found[0].grant_unit.unit.name
        waiting = [link for link in found if link.verified_at is None]
        if not waiting:
            report.already.append((row.row, name_))
            continue
        differs = [link for link in waiting if stated_facts(link).city_placed_share != row.share]
        if differs:
            stated = stated_facts(differs[0]).city_placed_share
            report.differing.append((row.row, name_, stated, row.share))
            continue
        verifications += [Verification(link.pk) for link in waiting]
        report.verified.append((row.row, name_))
    if verifications:
        dates = sorted({r.on for r in rows})
        note = _("The city's placement register of %(date)s (%(file)s)") % {
            "date": dates[-1].isoformat(),
            "file": name,
        }
        services.verify_facts(
            grant=grant,
            verifications=verifications,
            reason=note,
            source=SOURCE_PLACEMENTS,
            actor=actor,
            actor_label=actor_label,
        )
    return report


__all__ = ["ImportRefused", "PlacementReport", "Problem", "import_placements", "read_placements"]
