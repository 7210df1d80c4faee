"""Grant files in and out: round trips, --replace, figures that stay with their grant."""

import copy
import json

import pytest
from django.core.management import CommandError, call_command

from allocations import grantfile
from allocations.models import AllocationRow, AuditEntry, Grant, GrantUnit, Unit
from allocations.services import compute_grant, export_allocations
from applications.grantfiles import ImportRefused, export_grant, import_grant

from .conftest import FIXTURES, SEED_000, SEED_002, SEED_003, SEEDS, seed_data, seed_json
from .csvfiles import csv_rows
from .factories import decide

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", SEEDS)
def test_export_grant_gives_back_the_file_it_was_imported_from(import_seed, slug):
    grant = import_seed(slug)
    assert export_grant(grant) == seed_json(slug)


@pytest.mark.parametrize("slug", SEEDS)
def test_import_export_import_round_trips_to_the_same_kronor(import_seed, slug, tmp_path):
    grant = import_seed(slug)
    first = export_allocations(compute_grant(grant_id=grant.pk))
    path = tmp_path / "grant.json"
    call_command("export_grant", slug, "-o", str(path))
    call_command("import_grant", str(path), "--replace")
    again = Grant.objects.get(slug=slug)
    assert export_grant(again) == seed_json(slug)
    assert export_allocations(compute_grant(grant_id=again.pk)) == first


def test_importing_the_same_grant_twice_is_refused_without_replace(import_seed, tmp_path):
    import_seed(SEED_000)
    with pytest.raises(CommandError, match="already imported; use --replace"):
        call_command("import_grant", str(FIXTURES / f"{SEED_000}.json"))
    assert Grant.objects.filter(slug=SEED_000).count() == 1


def test_replace_is_refused_once_a_run_is_decided(import_seed):
    from datetime import date

    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2020, 2, 20), decided_by="Äldrenämnden")
    with pytest.raises(ImportRefused, match="has a decided allocation"):
        import_grant(seed_data(SEED_000), replace=True)
    assert AllocationRow.objects.filter(run=run).count() == run.rows.count() > 0


def test_replace_writes_an_audit_entry_with_before_and_after(import_seed):
    import_seed(SEED_000)
    data = seed_data(SEED_000)
    data["pots"][0]["amount"] = 900_000
    data["pots"][0]["model"]["amounts"]["aldreforvaltningen"] = 900_000
    import_grant(data, replace=True, actor_label="test")
    entry = AuditEntry.objects.filter(action="grant.replaced").get()
    assert entry.before["pots"][0]["amount"] == 1_000_000
    assert entry.after["pots"][0]["amount"] == 900_000
    assert entry.actor_label == "test"


def test_unit_figures_stay_with_their_grant(import_seed):
    grant = import_seed(SEED_000)
    first = export_allocations(compute_grant(grant_id=grant.pk))
    # Next year's file: same unit ids, another operator and other volumes.
    data = seed_data(SEED_000)
    data["grant"]["id"] = "aldrenamnden-2021-vardens-medarbetare"
    del data["grant"]["source"]
    for unit in data["units"]:
        unit["places"] = (unit.get("places") or 0) + 10
    import_grant(data)
    assert Unit.objects.get(slug="vob-001").places == 89  # the register moves on
    assert GrantUnit.objects.get(grant=grant, unit__slug="vob-001").places == 79
    grant.runs.all().delete()
    assert export_allocations(compute_grant(grant_id=grant.pk)) == first


def test_grants_of_one_agreement_share_it(import_seed):
    a = import_seed(SEED_002)
    b = import_seed(SEED_000)
    assert a.agreement_id == b.agreement_id or a.agreement.title != b.agreement.title


def test_upstream_link_is_made_whichever_file_comes_first(import_seed):
    downstream = import_seed(SEED_000)
    assert downstream.source_row_amount() is None  # upstream not imported yet
    upstream = import_seed(SEED_002)
    from datetime import date

    run = compute_grant(grant_id=upstream.pk)
    decide(run_id=run.pk, decided_on=date(2019, 11, 1), decided_by="Storsthlm")
    assert downstream.source_row_amount() == 8_209_071 == downstream.amount


def test_a_source_chain_that_comes_back_is_refused(import_seed):
    import_seed(SEED_000)  # its source is SEED_002
    data = seed_data(SEED_002)
    data["grant"]["source"] = {"grant": SEED_000, "organisation": "aldreforvaltningen"}
    with pytest.raises(ImportRefused, match="a cycle"):
        import_grant(data)
    assert not Grant.objects.filter(slug=SEED_002).exists()


def test_a_failure_half_way_leaves_nothing_behind(import_seed, monkeypatch):
    """The import is one transaction: an error after the first writes undoes them."""
    from applications import grantfiles as importing

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing, "_applications", explode)
    counts = (Grant.objects.count(), Unit.objects.count())
    with pytest.raises(RuntimeError):
        import_grant(seed_data(SEED_003))
    assert (Grant.objects.count(), Unit.objects.count()) == counts


def test_export_allocations_formats(import_seed, tmp_path):
    grant = import_seed(SEED_003)
    compute_grant(grant_id=grant.pk)
    json_path, csv_path = tmp_path / "a.json", tmp_path / "a.csv"
    call_command("export_allocations", SEED_003, "--format", "json", "-o", str(json_path))
    call_command("export_allocations", SEED_003, "--format", "csv", "-o", str(csv_path))
    data = json.loads(json_path.read_text())
    assert data["format"] == "stimulans-allocations/1"
    assert data["grant"] == SEED_003
    pots = {p["id"]: p for p in data["pots"]}
    assert pots["ssk-ansokan"]["unallocated"] == 160_000
    assert pots["vidareutbildning-ssk"] == {
        "id": "vidareutbildning-ssk",
        "path": "Vidareutbildning sjuksköterskor",
        "amount": 5_200_000,
        "allocated": 5_040_000,
        "unallocated": 160_000,
        "rate": None,
    }
    assert pots["vardens-medarbetare"]["rate"].startswith("2270.72")
    assert sum(r["amount"] for r in data["rows"]) == 51_650_636
    rows = csv_rows(csv_path.read_bytes())
    assert rows[0] == ["pot", "organisation", "org_number", "unit", "quantity", "amount"]
    assert len(rows) == len(data["rows"]) + 1
    # Äldreförvaltningen is part of Stockholms stad and carries its organisation number.
    assert {r[2] for r in rows if r[1] == "aldreforvaltningen"} == {"212000-0142"}


def test_export_of_a_grant_never_computed_says_so(import_seed):
    import_seed(SEED_000)
    with pytest.raises(CommandError, match="has not been computed"):
        call_command("export_allocations", SEED_000)
    with pytest.raises(CommandError, match="no grant 'nope'"):
        call_command("export_allocations", "nope")


def test_review_flag_through_the_command(tmp_path):
    data = copy.deepcopy(seed_json(SEED_000))
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    call_command("import_grant", str(path), "--review")
    grant = Grant.objects.get(slug=SEED_000)
    assert grant.applications.filter(status="submitted").count() == 0
    assert export_grant(grant)["format"] == grantfile.FORMAT
