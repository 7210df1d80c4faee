"""Exports never carry formulas: what users typed reaches CSV and xlsx as text, numbers as numbers.

Hostile organisation, unit and pot names and intended uses go in through the grant-file
import, a hostile payment reference through the payment service; every export that writes
CSV or xlsx is then read back with csv and openpyxl.
"""

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from allocations import grantfile
from allocations.models import Organisation
from allocations.services import compute_grant
from applications import services
from applications.grantfiles import import_grant
from applications.models import Requisition
from reporting.exporters import (
    AllocationsExporter,
    ApplicationsExporter,
    Column,
    Sheet,
    _Counter,
    write_csv,
    write_xlsx,
)
from reporting.formulas import FORMULA_START, formula_like
from reporting.giving import GivingExporter
from reporting.workflow_exports import PaymentsExporter, UsageExporter

from .conftest import SEED_000, seed_json
from .csvfiles import csv_rows
from .factories import decide, provider_user, signed_in
from .test_reporting_workflow import accept

pytestmark = pytest.mark.django_db

HOSTILE = ('=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd")
# A unit id may begin with a hyphen; `-1-1` is a sum to a spreadsheet.
HOSTILE_SLUG = "-1-1"
POT = "sarskilda-boenden"


def xlsx_cells(data: bytes) -> list:
    wb = load_workbook(io.BytesIO(data))
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row]


def csv_cells(data: bytes) -> list[str]:
    rows = csv_rows(data)
    width = len(rows[0])
    assert all(len(row) == width for row in rows), "a field split a row"
    return [value for row in rows for value in row]


def readable(text: str) -> str:
    # XML keeps a carriage return as a line break: the text, not a formula, either way.
    return text.replace("\r", "\n")


def assert_xlsx_safe(data: bytes, expected: list[str]) -> None:
    cells = xlsx_cells(data)
    assert cells
    for cell in cells:
        assert cell.data_type != "f", cell.coordinate
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
            assert cell.data_type == "s"
            assert cell.quotePrefix, (cell.coordinate, cell.value)
    values = [c.value for c in cells if isinstance(c.value, str)]
    for text in expected:  # the text as typed begins a cell (a list of units may follow)
        assert any(v.startswith(readable(text)) for v in values), text


def assert_csv_safe(data: bytes, expected: list[str]) -> None:
    values = csv_cells(data)
    for value in values:
        assert not formula_like(value), value
    for text in expected:
        assert any(v.startswith("'" + text) for v in values), text


def exported(exporter, fmt: str) -> bytes:
    out = io.BytesIO()
    exporter.write(fmt, out)
    return out.getvalue()


@pytest.fixture
def hostile(db, official):
    """Seed 000 with hostile names and uses in pot `sarskilda-boenden`, computed and decided."""
    data = seed_json(SEED_000)
    apps = [a for a in data["applications"] if a["pot"] == POT][: len(HOSTILE)]
    orgs = {o["id"]: o for o in data["organisations"]}
    units = {u["id"]: u for u in data["units"]}
    texts = {
        "orgs": [f"{text} org" for text in HOSTILE],
        "units": [f"{text} unit" for text in HOSTILE],
        "uses": [f"{text} use" for text in HOSTILE],
    }
    for i, app in enumerate(apps):
        orgs[app["organisation"]]["name"] = texts["orgs"][i]
        units[app["units"][0]]["name"] = texts["units"][i]
        app["intended_use"] = texts["uses"][i]
    renamed = apps[0]["units"][1]
    units[renamed]["id"] = HOSTILE_SLUG
    for app in data["applications"]:
        app["units"] = [HOSTILE_SLUG if u == renamed else u for u in app["units"]]
    pot = next(p for p in data["pots"] if p["id"] == POT)
    pot["name"] = "=1+1 pot"
    grant = import_grant(grantfile.parse(json.dumps(data).encode()), review=True)
    run = compute_grant(grant_id=grant.pk)
    run = decide(
        run_id=run.pk,
        decided_on=date(2020, 2, 20),
        decided_by=grant.decision_body,
        requisition_by=date(2020, 6, 30),
        actor=official,
    )
    org = Organisation.objects.get(name=f"{HOSTILE[0]} org")
    req = Requisition.objects.get(run=run, pot__slug=POT, organisation=org)
    accept(req, official)
    services.record_payment(
        req=req, paid_on=date(2020, 7, 1), amount=req.amount, reference=HOSTILE[0], actor=official
    )
    return {"grant": grant, "run": run, "org": org, **texts}


def test_the_allocations_export_writes_hostile_names_as_text(hostile):
    grant = hostile["grant"]
    names = hostile["orgs"] + hostile["units"]
    assert_xlsx_safe(exported(AllocationsExporter(grant), "xlsx"), [*names, "=1+1 pot"])
    assert_csv_safe(exported(AllocationsExporter(grant), "csv"), names)
    # The allocations command's own CSV holds ids: a unit id `-1-1` is escaped too.
    out = io.StringIO()
    call_command("export_allocations", grant.slug, "--format", "csv", stdout=out)
    values = csv_cells(out.getvalue().encode())
    assert "'" + HOSTILE_SLUG in values
    assert not any(formula_like(v) for v in values)


def test_the_applications_export_writes_hostile_uses_as_text(hostile):
    exporter = ApplicationsExporter(hostile["grant"], {"pot": POT})
    texts = hostile["orgs"] + hostile["units"] + hostile["uses"]
    assert_xlsx_safe(exported(exporter, "xlsx"), texts)
    assert_csv_safe(exported(exporter, "csv"), texts)


def test_usage_payments_and_open_data_write_hostile_text_as_text(hostile):
    grant = hostile["grant"]
    for exporter, texts in (
        (UsageExporter(grant), [*hostile["orgs"], "=1+1 pot"]),
        (PaymentsExporter(grant), [f"{HOSTILE[0]} org", HOSTILE[0], "=1+1 pot"]),
        (GivingExporter(grant), hostile["orgs"]),
    ):
        assert_xlsx_safe(exported(exporter, "xlsx"), texts)
        assert_csv_safe(exported(exporter, "csv"), texts)


def test_the_providers_own_download_is_text_too(hostile):
    org = hostile["org"]
    client = signed_in(provider_user(org))
    name = f"{HOSTILE[0]} org"
    for fmt, check in (("xlsx", assert_xlsx_safe), ("csv", assert_csv_safe)):
        url = reverse("reporting:provider-usage", args=[hostile["grant"].slug, org.slug, fmt])
        response = client.get(url)
        assert response.status_code == 200
        check(response.content, [name])


def sheet(rows) -> Sheet:
    return Sheet(
        title="t",
        columns=[Column("Name"), Column("Amount", "kronor", total=True), Column("Rate", "rate")],
        rows=rows,
        totals=True,
    )


def test_numbers_stay_numbers_and_only_text_is_escaped():
    rows = [("-500", -500, Decimal("-1.25")), ("- inget", -7, Decimal("0.50")), ("ok", 3, None)]
    out = io.BytesIO()
    write_xlsx([sheet(rows)], out, _Counter(None, None))
    ws = load_workbook(io.BytesIO(out.getvalue())).active
    data = list(ws.iter_rows(min_row=2, max_row=4))
    assert [(r[1].value, r[1].data_type) for r in data] == [(-500, "n"), (-7, "n"), (3, "n")]
    assert (data[0][2].value, data[0][2].data_type) == (-1.25, "n")
    assert ws.cell(row=5, column=2).value == -504  # the total row adds numbers
    # Text that looks like a negative number is the user's text: kept as typed, as text.
    assert [(r[0].value, r[0].data_type, r[0].quotePrefix) for r in data] == [
        ("-500", "s", True),
        ("- inget", "s", True),
        ("ok", "s", False),
    ]
    out = io.BytesIO()
    write_csv(sheet(rows), out, _Counter(None, None))
    lines = csv_rows(out.getvalue())
    assert lines[1:] == [["'-500", "-500", "-1.25"], ["'- inget", "-7", "0.50"], ["ok", "3", ""]]
