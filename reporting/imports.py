"""Spreadsheets in: the unit register and datasets (population per organisation, …).

A file (xlsx or CSV) is checked row by row first; a bad row is reported with
its row number (as the spreadsheet numbers it, header = row 1) and nothing is
imported until the whole file is clean.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from allocations import audit, grantfile, tables
from allocations.models import Dataset, DatasetValue, Grant, Organisation, Unit, UnitType
from allocations.tables import (
    BadValue,
    ImportRefused,
    Problem,
    read_table,
    share,
    whole_number,
    yes_no,
)

from .documents import runs_of

# ---------------------------------------------------------------- units


UNIT_REQUIRED = ("id", "organisation", "name", "type")
UNIT_OPTIONAL = ("places", "customers", "in_city", "city_placed_share")


def _unit_types() -> dict[str, str]:
    types = {v: v for v in UnitType.values}
    types.update({str(label).lower(): v for v, label in UnitType.choices})
    return types


def check_units(content: bytes, name: str) -> list[dict]:
    header, rows = read_table(content, name)
    columns = tables.columns(header, UNIT_REQUIRED, UNIT_OPTIONAL)
    orgs = dict(Organisation.objects.values_list("slug", "pk"))
    types = _unit_types()
    seen: dict[str, int] = {}

    def check(number: int, row: list) -> dict:
        problems = []
        slug = tables.cell(row, columns, "id")
        if slug is None or not grantfile.SLUG.fullmatch(str(slug)):
            problems.append(_("id: %(value)r is not an id (a-z, 0-9, -)") % {"value": slug})
        elif slug in seen:
            problems.append(
                _("id: %(value)s is also on row %(row)s") % {"value": slug, "row": seen[slug]}
            )
        else:
            seen[slug] = number
        org = tables.cell(row, columns, "organisation")
        if org not in orgs:
            problems.append(_("organisation: no organisation %(value)r") % {"value": org})
        unit_name = tables.cell(row, columns, "name")
        if not unit_name:
            problems.append(_("name: empty"))
        kind = types.get(str(tables.cell(row, columns, "type") or "").lower())
        if kind is None:
            problems.append(
                _("type: %(value)r is not one of %(types)s")
                % {"value": tables.cell(row, columns, "type"), "types": ", ".join(UnitType.values)}
            )
        values = {}
        for column, parse in (
            ("places", whole_number),
            ("customers", whole_number),
            ("in_city", yes_no),
            ("city_placed_share", share),
        ):
            try:
                values[column] = parse(tables.cell(row, columns, column), column)
            except BadValue as exc:
                problems.append(str(exc))
        if problems:
            raise BadValue("; ".join(problems))
        return {
            "slug": slug,
            "name": str(unit_name)[:200],
            "type": kind,
            "organisation_id": orgs[org],
            "places": values["places"],
            "customers": values["customers"],
            "in_city": True if values["in_city"] is None else values["in_city"],
            "city_placed_share": (
                Decimal(1) if values["city_placed_share"] is None else values["city_placed_share"]
            ),
        }

    return tables.check_rows(rows, check)


@transaction.atomic
def import_units(content: bytes, name: str, *, actor=None, actor_label: str = "") -> dict:
    """Add or update units in the register; all or nothing. Grants keep their own figures."""
    checked = check_units(content, name)
    existing = {u.slug: u for u in Unit.objects.filter(slug__in=[c["slug"] for c in checked])}
    new, changed = [], []
    fields = ["name", "type", "organisation_id", "places", "customers", "in_city"]
    fields.append("city_placed_share")
    for item in checked:
        unit = existing.get(item["slug"])
        if unit is None:
            new.append(Unit(**item))
        elif any(getattr(unit, f) != item[f] for f in fields):
            for f in fields:
                setattr(unit, f, item[f])
            changed.append(unit)
    Unit.objects.bulk_create(new, batch_size=5000)
    Unit.objects.bulk_update(changed, fields, batch_size=5000)
    return {
        "created": len(new),
        "updated": len(changed),
        "unchanged": len(checked) - len(new) - len(changed),
    }


# ---------------------------------------------------------------- datasets


DATASET_REQUIRED = ("organisation", "value")
DATASET_OPTIONAL = ("name",)


def _organisation_lookup(grant: Grant) -> dict[str, int]:
    """A grant's organisations by id, organisation number and name."""
    lookup = {}
    for pk, slug, number, org_name in grant.organisations.values_list(
        "pk", "slug", "org_number", "name"
    ):
        lookup[org_name.lower()] = pk
        if number:
            lookup[number] = pk
            lookup[number.replace("-", "")] = pk
        lookup[slug] = pk
    return lookup


def check_dataset(grant: Grant, content: bytes, name: str) -> list[tuple[int, int]]:
    header, rows = read_table(content, name)
    columns = tables.columns(header, DATASET_REQUIRED, DATASET_OPTIONAL)
    lookup = _organisation_lookup(grant)
    seen: dict[int, int] = {}

    def check(number: int, row: list) -> tuple[int, int]:
        problems = []
        org = tables.cell(row, columns, "organisation")
        key = str(org).strip() if org is not None else ""
        org_id = lookup.get(key) or lookup.get(key.lower())
        if org_id is None:
            problems.append(
                _("organisation: %(value)r is not one of the grant's organisations")
                % {"value": org}
            )
        elif org_id in seen:
            problems.append(
                _("organisation: %(value)s is also on row %(row)s")
                % {"value": org, "row": seen[org_id]}
            )
        else:
            seen[org_id] = number
        value = None
        try:
            value = whole_number(tables.cell(row, columns, "value"), "value")
            if value is None:
                problems.append(_("value: empty"))
        except BadValue as exc:
            problems.append(str(exc))
        if problems:
            raise BadValue("; ".join(problems))
        return org_id, value

    return tables.check_rows(rows, check)


@transaction.atomic
def import_dataset(
    grant: Grant,
    content: bytes,
    name: str,
    *,
    slug: str,
    label: str,
    source: str,
    reference_date: date,
    replace: bool = False,
    actor=None,
    actor_label: str = "",
) -> Dataset:
    """Store a dataset of the grant (e.g. population per district); all or nothing.

    Replacing one is refused once an allocation of the grant is decided: the
    decided figures must stay reproducible from the grant's data.
    """
    if not grantfile.SLUG.fullmatch(slug):
        raise ImportRefused(
            [Problem(None, _("%(value)r is not an id (a-z, 0-9, -)") % {"value": slug})]
        )
    checked = check_dataset(grant, content, name)
    existing = Dataset.objects.filter(grant=grant, slug=slug).first()
    before = None
    if existing is not None:
        if not replace:
            raise ImportRefused(
                [Problem(None, _("The grant already has a dataset %(id)s.") % {"id": slug})]
            )
        if runs_of(grant).exclude(decided_on=None).exists():
            raise ImportRefused(
                [
                    Problem(
                        None,
                        _("An allocation of this grant is decided; its datasets cannot change."),
                    )
                ]
            )
        before = {"rows": existing.values.count()}
        position = existing.position
        existing.delete()
    else:
        position = grant.datasets.count()
    dataset = Dataset.objects.create(
        grant=grant,
        slug=slug,
        label=label,
        source=source,
        reference_date=reference_date,
        position=position,
    )
    DatasetValue.objects.bulk_create(
        (
            DatasetValue(dataset=dataset, organisation_id=org_id, value=value, position=i)
            for i, (org_id, value) in enumerate(checked)
        ),
        batch_size=5000,
    )
    audit.log(
        "dataset.replaced" if before else "dataset.imported",
        dataset,
        grant=grant,
        actor=actor,
        actor_label=actor_label,
        before=before,
        after={"rows": len(checked), "total": sum(v for _o, v in checked)},
    )
    return dataset
