"""Spreadsheets in: checked row by row, refused whole with row numbers, or imported whole."""

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from allocations.models import AuditEntry, Dataset, Unit
from allocations.services import compute_grant
from allocations.tables import ImportRefused
from reporting.imports import import_dataset, import_units

from .conftest import SEED_000, SEED_003
from .factories import decide

pytestmark = pytest.mark.django_db

HEADER = ["id", "organisation", "name", "type", "places", "customers", "in_city",
          "city_placed_share"]  # fmt: skip


def xlsx(rows: list[list]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], sep=";") -> bytes:
    return "\n".join(sep.join(str(v) for v in row) for row in rows).encode("utf-8")


def refused(call) -> ImportRefused:
    with pytest.raises(ImportRefused) as info:
        call()
    return info.value


def test_units_from_xlsx_are_added_and_updated(import_seed):
    import_seed(SEED_000)
    before = Unit.objects.count()
    content = xlsx(
        [
            HEADER,
            [
                "vob-001",
                "bromma-stadsdelsforvaltning",
                "Nytt namn",
                "care_home",
                80,
                None,
                "ja",
                "1,00",
            ],
            [
                "vob-900",
                "bromma-stadsdelsforvaltning",
                "Nya hemmet",
                "vård- och omsorgsboende",
                42.0,
                None,
                True,
                "85 %",
            ],
        ]
    )
    counts = import_units(content, "enheter.xlsx")
    assert counts == {"created": 1, "updated": 1, "unchanged": 0}
    assert Unit.objects.count() == before + 1
    new = Unit.objects.get(slug="vob-900")
    assert (new.type, new.places, str(new.city_placed_share)) == ("care_home", 42, "0.8500")
    assert Unit.objects.get(slug="vob-001").places == 80


def test_a_file_with_wrong_columns_is_refused_on_row_1(import_seed):
    import_seed(SEED_000)
    error = refused(
        lambda: import_units(csv_bytes([["id", "namn", "typ"], ["a", "b", "c"]]), "u.csv")
    )
    assert [p.row for p in error.problems] == [1, 1]
    assert "namn" in str(error)
    assert "organisation" in str(error)


def test_text_in_number_cells_and_duplicate_ids_are_reported_by_row_and_nothing_imported(
    import_seed,
):
    import_seed(SEED_000)
    before = list(Unit.objects.order_by("slug").values_list("slug", "places"))
    rows = [
        HEADER,
        ["vob-901", "bromma-stadsdelsforvaltning", "Ett", "care_home", "tio", "", "ja", "1"],
        ["vob-902", "bromma-stadsdelsforvaltning", "Två", "care_home", "12", "", "ja", "1"],
        ["vob-901", "bromma-stadsdelsforvaltning", "Tre", "care_home", "12", "", "ja", "1"],
        ["vob-903", "ingen-sadan", "Fyra", "slott", "-3", "", "kanske", "1,5"],
    ]
    error = refused(lambda: import_units(csv_bytes(rows), "u.csv"))
    by_row = {p.row: p.message for p in error.problems}
    assert set(by_row) == {2, 4, 5}
    assert "'tio'" in by_row[2]
    assert "2" in by_row[4]  # the duplicate names the row it repeats
    for word in ("ingen-sadan", "slott", "kanske"):
        assert word in by_row[5]
    assert list(Unit.objects.order_by("slug").values_list("slug", "places")) == before


def test_100_000_junk_rows_are_refused_with_row_errors(import_seed):
    import_seed(SEED_000)
    before = Unit.objects.count()
    rows = [HEADER] + [[f"x{i}", "?", "", "?", "many", "", "", ""] for i in range(100_000)]
    error = refused(lambda: import_units(csv_bytes(rows, ","), "junk.csv"))
    assert error.total == 100_000
    assert error.problems[0].row == 2
    assert len(error.problems) == 50  # the first ones; the summary gives the count
    assert "100000" in error.summary().replace(" ", "").replace("\u00a0", "")
    assert Unit.objects.count() == before


def test_a_dataset_from_a_kolada_like_csv(import_seed):
    grant = import_seed(SEED_003)
    # By name, values with a thousands space, as a statistics site writes them.
    rows = [["organisation", "value"]] + [
        [f"Stadsdelsförvaltning {i:02d}", f"{100 + i} 000"] for i in range(1, 12)
    ]
    dataset = import_dataset(
        grant,
        csv_bytes(rows, ";"),
        "bef.csv",
        slug="bef-2023",
        label="Folkmängd 2023",
        source="SCB",
        reference_date=date(2023, 12, 31),
    )
    assert dataset.values.count() == 11
    assert sum(dataset.values.values_list("value", flat=True)) == sum(
        (100 + i) * 1000 for i in range(1, 12)
    )
    assert AuditEntry.objects.filter(action="dataset.imported").exists()


@pytest.fixture
def district_ids(import_seed):
    grant = import_seed(SEED_003)
    ids = list(
        grant.datasets.first()
        .values.order_by("position")
        .values_list("organisation__slug", flat=True)
    )
    return grant, ids


def test_dataset_rows_are_checked_and_replacing_waits_for_no_decision(district_ids, tmp_path):
    grant, ids = district_ids
    bad = csv_bytes([["organisation", "value"], [ids[0], "12,5"], [ids[0], "7"], ["okänd", "1"]])
    error = refused(
        lambda: import_dataset(
            grant, bad, "b.csv", slug="x", label="x", source="x", reference_date=date.today()
        )
    )
    assert {p.row for p in error.problems} == {2, 3, 4}
    assert not Dataset.objects.filter(grant=grant, slug="x").exists()

    existing = grant.datasets.first()
    good = csv_bytes([["organisation", "value"]] + [[i, "100"] for i in ids])
    path = tmp_path / "bef.csv"
    path.write_bytes(good)
    with pytest.raises(CommandError, match=existing.slug):
        call_command(
            "import_dataset", grant.slug, existing.slug, str(path), "--label", "x", "--source",
            "SCB", "--date", "2023-12-31",
        )  # fmt: skip
    call_command(
        "import_dataset", grant.slug, existing.slug, str(path), "--label", "x", "--source",
        "SCB", "--date", "2023-12-31", "--replace",
    )  # fmt: skip
    assert set(grant.datasets.get(slug=existing.slug).values.values_list("value", flat=True)) == {
        100
    }
    run = compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2023, 6, 1), decided_by="Äldrenämnden")
    with pytest.raises(CommandError):
        call_command(
            "import_dataset", grant.slug, existing.slug, str(path), "--label", "y", "--source",
            "SCB", "--date", "2023-12-31", "--replace",
        )  # fmt: skip
    assert grant.datasets.get(slug=existing.slug).label == "x"


def test_import_units_command_reports_problems(import_seed, tmp_path):
    import_seed(SEED_000)
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes([HEADER, ["vob-1", "nej", "x", "care_home", "", "", "", ""]]))
    with pytest.raises(CommandError, match=r"Row 2|Rad 2"):
        call_command("import_units", str(path))
