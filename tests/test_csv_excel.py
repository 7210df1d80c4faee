"""CSV that Swedish Excel opens with a double click, and organisation numbers in every export.

Excel in Swedish splits on semicolons (the comma is the decimal sign) and reads a file as
UTF-8 only behind a byte-order mark; commas without a mark are offered for other tools.
"""

import csv
import io

import pytest
from django.core.management import call_command
from django.utils import translation

from allocations.models import Organisation
from allocations.services import compute_grant
from applications.grantfiles import import_grant
from reporting.exporters import AllocationsExporter

from .conftest import SEED_000, SEED_001, seed_data, seed_json
from .csvfiles import csv_dicts

pytestmark = pytest.mark.django_db

BOM = "\ufeff".encode()


def test_csv_is_semicolons_behind_a_bom_with_every_organisation_number(import_seed, tmp_path):
    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    provider = Organisation.objects.filter(
        kind="private_provider", allocation_rows__run=run
    ).first()
    provider.name = "Omsorg; Norr AB"  # a semicolon in a value is quoted, not a new column
    provider.org_number = "556036-0793"
    provider.save()
    out = io.BytesIO()
    with translation.override("en"):
        AllocationsExporter(grant).write("csv", out)
    data = out.getvalue()
    assert data.startswith(BOM)
    assert data[len(BOM) :].split(b"\r\n", 1)[0].count(b";") == 8  # nine columns
    rows = csv_dicts(data)
    assert len(rows) == run.rows.count()
    numbers = dict(Organisation.objects.values_list("name", "org_number"))
    for row in rows:
        assert row["Organisation number"] == numbers[row["Organisation"]]
    assert {r["Organisation number"] for r in rows if r["Organisation"] == provider.name} == {
        "556036-0793"
    }
    # The city's own administrations are Stockholms stad: its number, not an empty cell.
    assert "212000-0142" in {r["Organisation number"] for r in rows}

    # The same export with commas, for other tools: no byte-order mark, the same rows.
    path = tmp_path / "allocations.csv"
    with translation.override("en"):
        call_command(
            "export", SEED_001, "--exporter", "allocations", "--format", "csv",
            "--delimiter", "comma", "-o", str(path),
        )  # fmt: skip
    comma = path.read_bytes()
    assert not comma.startswith(BOM)
    assert list(csv.DictReader(io.StringIO(comma.decode(), newline=""))) == rows


def test_a_grant_file_without_a_number_keeps_the_one_known(import_seed):
    import_seed(SEED_001)
    shared = next(
        o
        for o in seed_json(SEED_000)["organisations"]
        if "org_number" not in o
        and o["id"] in {p["id"] for p in seed_json(SEED_001)["organisations"]}
    )
    Organisation.objects.filter(slug=shared["id"]).update(org_number="556036-0793")
    import_grant(seed_data(SEED_000))
    assert Organisation.objects.get(slug=shared["id"]).org_number == "556036-0793"
