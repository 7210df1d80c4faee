"""Exports read back: xlsx values, formats and totals; the CSV; 360Giving against its schema."""

import io
import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from jsonschema import Draft202012Validator, FormatChecker
from openpyxl import load_workbook
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from allocations.models import AllocationRow, Organisation
from allocations.services import compute_grant
from reporting.exporters import (
    KRONOR_FORMAT,
    AllocationsExporter,
    ApplicationsExporter,
    ExportError,
    sheet_title,
)
from reporting.giving import GivingExporter, organisation_id, package

from .conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEEDS
from .csvfiles import csv_dicts, csv_rows
from .factories import decide

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parent / "360giving"


def workbook(exporter):
    out = io.BytesIO()
    exporter.write("xlsx", out)
    out.seek(0)
    return load_workbook(out)


def body(ws):
    """The data rows: below the header, above the total row."""
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    return rows[:-1], rows[-1]


@pytest.mark.parametrize("slug", SEEDS)
def test_the_allocations_workbook_has_a_sheet_per_pot_with_its_rows_and_total(import_seed, slug):
    grant = import_seed(slug, review=True)
    run = compute_grant(grant_id=grant.pk)
    wb = workbook(AllocationsExporter(grant))

    summary = wb.worksheets[0]
    results = list(run.pot_results.select_related("pot").order_by("position"))
    rows = list(summary.iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[2], r[3], r[4]) for r in rows[:-1]] == [
        (pr.pot.slug, pr.amount, pr.allocated, pr.unallocated) for pr in results
    ]
    allocated = sum(pr.allocated for pr in results if pr.pot.parent_id is None)
    assert rows[-1][2:5] == (run.grant_amount, allocated, run.grant_amount - allocated)

    parents = {pr.pot.parent_id for pr in results}
    leaves = [pr for pr in results if pr.pot_id not in parents]
    assert len(wb.worksheets) == 1 + len(leaves)
    for pr, ws in zip(leaves, wb.worksheets[1:], strict=True):
        assert ws.title == sheet_title(pr.pot.name, set())
        data, total = body(ws)
        stored = list(
            AllocationRow.objects.filter(run=run, pot=pr.pot)
            .order_by("id")
            .values_list("organisation__slug", "unit__slug", "quantity", "amount")
        )
        assert [(r[0], r[3], r[5], r[6]) for r in data] == stored
        assert total[-1] == pr.allocated == sum(r[-1] for r in stored)
        assert isinstance(total[-1], int)  # a real number, not a formula or text
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:G{len(data) + 1}"
        if data:
            assert ws.cell(row=2, column=7).number_format == KRONOR_FORMAT
        assert ws.cell(row=ws.max_row, column=7).number_format == KRONOR_FORMAT
        assert ws.cell(row=1, column=1).font.b
        longest = max((len(r[1]) for r in data), default=0)
        assert ws.column_dimensions["B"].width >= min(longest, 58)


def test_the_csv_beside_it_holds_every_row(import_seed):
    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    out = io.BytesIO()
    count = AllocationsExporter(grant).write("csv", out)
    rows = csv_rows(out.getvalue())
    assert count == len(rows) - 1 == run.rows.count()
    assert sum(int(r[-1]) for r in rows[1:]) == 10_700_000
    assert rows[1][0] == "digital-utveckling"


def test_export_allocations_command_writes_xlsx_beside_json_and_csv(import_seed, tmp_path):
    grant = import_seed(SEED_003)
    compute_grant(grant_id=grant.pk)
    path = tmp_path / "allocations.xlsx"
    call_command("export_allocations", SEED_003, "--format", "xlsx", "-o", str(path))
    wb = load_workbook(path)
    nara = wb.worksheets[0]
    assert nara.cell(row=2, column=3).value == 36_310_636
    with pytest.raises(CommandError, match="-o"):
        call_command("export_allocations", SEED_003, "--format", "xlsx")


def test_the_applications_of_a_pot(import_seed, tmp_path):
    grant = import_seed(SEED_000, review=True)
    run = compute_grant(grant_id=grant.pk)
    wb = workbook(ApplicationsExporter(grant, {"pot": "sarskilda-boenden"}))
    data, total = body(wb.active)
    apps = grant.applications.filter(pot__slug="sarskilda-boenden")
    assert len(data) == apps.count()
    statuses = {r[0]: r[3] for r in data}
    assert set(statuses) == set(apps.values_list("slug", flat=True))
    allocated = sum(
        AllocationRow.objects.filter(run=run, pot__slug="sarskilda-boenden").values_list(
            "amount", flat=True
        )
    )
    assert total[-1] == allocated == 6_209_071
    places = {r[0]: r[6] for r in data}
    assert places["ans-001"] == 328
    call_command(
        "export_applications",
        SEED_000,
        "sarskilda-boenden",
        "--format",
        "csv",
        "-o",
        str(tmp_path / "apps.csv"),
    )
    assert "ans-001" in (tmp_path / "apps.csv").read_text()
    with pytest.raises(ExportError):
        ApplicationsExporter(grant, {"pot": "no-such-pot"})


# ---------------------------------------------------------------- 360Giving


def validator() -> Draft202012Validator:
    grant_schema = json.loads((SCHEMAS / "360-giving-schema.json").read_text())
    package_schema = json.loads((SCHEMAS / "360-giving-package-schema.json").read_text())
    resource = DRAFT202012.create_resource(grant_schema)
    # The package schema refers to the grant schema by its public URL: resolve it locally.
    registry = Registry().with_resources(
        [
            (package_schema["properties"]["grants"]["items"]["$ref"], resource),
            (grant_schema["$id"], resource),
        ]
    )
    return Draft202012Validator(package_schema, registry=registry, format_checker=FormatChecker())


@pytest.mark.parametrize("slug", SEEDS)
def test_a_decided_grant_is_valid_360giving_with_one_grant_per_row(import_seed, slug):
    grant = import_seed(slug, review=True)
    run = compute_grant(grant_id=grant.pk)
    run = decide(run_id=run.pk, decided_on=date(2023, 5, 25), decided_by=grant.decision_body)
    data = package(run)
    errors = [f"{list(e.path)}: {e.message[:120]}" for e in validator().iter_errors(data)]
    assert errors == []
    rows = list(run.rows.filter(amount__gt=0).order_by("id"))
    assert len(data["grants"]) == len(rows)
    assert [g["amountAwarded"] for g in data["grants"]] == [r.amount for r in rows]
    assert len({g["id"] for g in data["grants"]}) == len(rows)
    first = data["grants"][0]
    assert first["currency"] == "SEK"
    assert first["awardDate"] == "2023-05-25"
    assert first["grantProgramme"] == [{"title": grant.agreement.title}]
    assert first["fundingOrganization"][0]["name"] == grant.administered_by.name
    assert first["id"].startswith("360G-")


def test_the_schema_check_bites():
    bad = {"grants": [{"id": "x", "title": "t", "currency": "SEK", "amountAwarded": 1}]}
    assert list(validator().iter_errors(bad))


def test_360giving_is_refused_for_an_undecided_run_and_has_a_flat_csv(import_seed, tmp_path):
    grant = import_seed(SEED_002)
    run = compute_grant(grant_id=grant.pk)
    with pytest.raises(ExportError):
        GivingExporter(grant, {"run": run.number})
    with pytest.raises(CommandError):
        call_command("export_360giving", SEED_002, "-o", str(tmp_path / "grants.json"))
    assert not (tmp_path / "grants.json").exists()
    decide(run_id=run.pk, decided_on=date(2019, 11, 1), decided_by="Storsthlm")
    call_command("export_360giving", SEED_002, "-o", str(tmp_path / "grants.json"))
    call_command(
        "export_360giving", SEED_002, "--format", "csv", "-o", str(tmp_path / "grants.csv")
    )
    data = json.loads((tmp_path / "grants.json").read_text())
    flat = csv_dicts((tmp_path / "grants.csv").read_bytes())
    assert [int(r["Amount Awarded"]) for r in flat] == [g["amountAwarded"] for g in data["grants"]]
    assert sum(int(r["Amount Awarded"]) for r in flat) == 20_000_000
    stockholm = Organisation.objects.get(slug="stockholms-stad")
    by_recipient = defaultdict(int)
    for r in flat:
        by_recipient[r["Recipient Org:Identifier"]] += int(r["Amount Awarded"])
    assert by_recipient[organisation_id(stockholm)] == 8_209_071
    assert {r["Currency"] for r in flat} == {"SEK"}
    assert {r["Award Date"] for r in flat} == {"2019-11-01"}
