"""A decided grant as open data: a 360Giving package (JSON) and its flat table (CSV, xlsx).

One 360Giving grant per allocation row: currency SEK, the administering
organisation as funder, the recipient organisation with its id, award date =
decision date, grant programme = the national agreement. A municipality can
publish what it gave to whom. Identifiers: `STIMULANS_360GIVING_PREFIX`
(a registered `360G-` prefix) for grants and for organisations without an
organisation number; Swedish organisation numbers go under `SE-BLV`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocations import engine
from allocations.models import AllocationRun, Grant, Organisation

from .documents import RunData, latest_run
from .exporters import Column, Exporter, ExportError, Sheet, _Counter, register

FLAT_COLUMNS = (
    "Identifier",
    "Title",
    "Description",
    "Currency",
    "Amount Awarded",
    "Award Date",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Funding Org:Identifier",
    "Funding Org:Name",
    "Grant Programme:Title",
    "From An Open Call?",
    "Planned Dates:Start Date",
    "Planned Dates:End Date",
)


def prefix() -> str:
    return settings.STIMULANS_360GIVING_PREFIX


def organisation_id(org: Organisation) -> str:
    if org.org_number:
        return "SE-BLV-" + org.org_number.replace("-", "")
    return f"{prefix()}-org-{org.slug}"


def decided_run(grant: Grant, number: int | None = None) -> AllocationRun:
    if number:
        run = grant.runs.filter(number=number).first()
    else:
        run = latest_run(grant, decided=True)
    if run is None or not run.is_decided:
        raise ExportError(
            _("Only a decided allocation is published as open data; run %(number)s is not decided.")
            % {"number": number}
        )
    return run


def grants(run: AllocationRun) -> Iterator[dict]:
    """The run's rows as 360Giving grants, in the order of the rows."""
    data = RunData(run)
    grant = data.grant
    agreement = grant.agreement
    funder = grant.administered_by
    funding = [{"id": organisation_id(funder), "name": funder.name}]
    programme = [{"title": agreement.title}]
    results = {r.pot_id: r for r in data.results}
    award_date = run.decided_on.isoformat()
    seen: dict[str, int] = {}
    for pot_id, org_id, unit_id, quantity, amount in data.rows:
        if amount == 0:
            continue
        pot, org = data.pots[pot_id], data.organisations[org_id]
        unit = data.units.get(unit_id) if unit_id else None
        ident = f"{prefix()}-{grant.slug}-{run.number}-{pot.slug}-{org.slug}"
        if unit is not None:
            ident += f"-{unit.unit.slug}"
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] > 1:
            ident += f"-{seen[ident]}"
        result = results.get(pot_id)
        basis = data.basis(pot, result, org_id, unit_id, quantity)
        where = f"{result.path if result else pot.name}"
        if unit is not None:
            where += f", {unit.unit.name}"
        item = {
            "id": ident,
            "title": f"{grant.title}: {pot.name}",
            "description": f"{where}. {basis}." if basis else f"{where}.",
            "currency": "SEK",
            "amountAwarded": amount,
            "awardDate": award_date,
            "recipientOrganization": [{"id": organisation_id(org), "name": org.name}],
            "fundingOrganization": funding,
            "grantProgramme": programme,
            "fromOpenCall": "Yes" if data._model(pot).get("type") in engine.APPLIED_FOR else "No",
        }
        if agreement.spend_by:
            item["plannedDates"] = [
                {"startDate": award_date, "endDate": agreement.spend_by.isoformat()}
            ]
        yield item


def package(run: AllocationRun) -> dict:
    """A 360Giving data package of a decided run."""
    grant = run.grant
    items = list(grants(run))
    if not items:
        raise ExportError(_("Run %(number)s gives nothing to anyone.") % {"number": run.number})
    funder = grant.administered_by
    return {
        "title": f"{grant.title} ({run.decided_on.isoformat()})",
        "description": _("What %(funder)s gave to whom, as decided by %(body)s on %(date)s.")
        % {"funder": funder.name, "body": run.decided_by, "date": run.decided_on.isoformat()},
        "identifier": f"{prefix()}-{grant.slug}-{run.number}",
        "issued": run.decided_on.isoformat(),
        "version": "1.4",
        "publisher": {"identifier": organisation_id(funder), "name": funder.name},
        "grants": items,
    }


def flat_row(item: dict) -> tuple:
    dates = item.get("plannedDates", [{}])[0]
    return (
        item["id"],
        item["title"],
        item["description"],
        item["currency"],
        item["amountAwarded"],
        item["awardDate"],
        item["recipientOrganization"][0]["id"],
        item["recipientOrganization"][0]["name"],
        item["fundingOrganization"][0]["id"],
        item["fundingOrganization"][0]["name"],
        item["grantProgramme"][0]["title"],
        item["fromOpenCall"],
        dates.get("startDate"),
        dates.get("endDate"),
    )


@register
class GivingExporter(Exporter):
    """360Giving open data: the JSON package, or one flat row per grant."""

    identifier = "360giving"
    verbose_name = gettext_lazy("Open data (360Giving)")
    formats = ("json", "csv", "xlsx")

    def __init__(self, grant: Grant, options: dict | None = None):
        super().__init__(grant, options)
        self.run = decided_run(grant, self.options.get("run"))

    def filename(self, fmt: str) -> str:
        return f"{self.grant.slug}-run-{self.run.number}-360giving.{fmt}"

    def row_count(self) -> int:
        return self.run.rows.filter(amount__gt=0).count()

    def sheets(self) -> Iterator[Sheet]:
        kinds = {"Amount Awarded": "kronor"}
        yield Sheet(
            title="grants",
            columns=[Column(name, kinds.get(name, "text"), width=24) for name in FLAT_COLUMNS],
            rows=(flat_row(item) for item in grants(self.run)),
        )

    def write_other(self, fmt: str, out: IO[bytes], counter: _Counter) -> None:
        data = package(self.run)
        counter.rows = len(data["grants"])
        out.write(json.dumps(data, ensure_ascii=False, indent=2).encode() + b"\n")
