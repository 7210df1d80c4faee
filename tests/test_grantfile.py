"""Bad grant files: refused with the JSON path and the problem, and nothing written."""

import copy
import json

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocations import grantfile
from allocations.models import AuditEntry, Grant, Organisation, Pot, Unit

from .conftest import FIXTURES, SEED_000, SEED_003, seed_json


def errors_of(data) -> list[str]:
    raw = data if isinstance(data, bytes | str) else json.dumps(data)
    with pytest.raises(grantfile.GrantFileError) as info:
        grantfile.parse(raw)
    return [f"{p}: {m}" if p else m for p, m in info.value.errors]


def test_the_four_seeds_are_valid():
    for path in FIXTURES.glob("*.json"):
        grantfile.parse(path.read_bytes())


def test_unknown_dataset_is_named_with_its_path():
    data = seed_json(SEED_003)
    pot = data["pots"][0]["children"][3]["children"][0]
    pot["model"]["factors"][0]["dataset"] = "bef-2018"
    assert errors_of(data) == [
        "pots[0].children[3].children[0].model.factors[0].dataset: unknown dataset 'bef-2018'"
    ]


def mutated(slug, change):
    data = seed_json(slug)
    change(data)
    return data


CASES = [
    (
        "wrong format",
        lambda d: d.update(format="stimulans-grant/2"),
        "format: must be \"stimulans-grant/1\", not 'stimulans-grant/2'",
    ),
    (
        "float money",
        lambda d: d["pots"][0].update(amount=1000000.5),
        "pots[0].amount: money is a whole number of kronor, not 1000000.5",
    ),
    (
        "negative amount",
        lambda d: d["grant"].update(amount=-5),
        "grant.amount: must not be less than 0, got -5",
    ),
    (
        "string amount",
        lambda d: d["pots"][1].update(amount="1000000"),
        "pots[1].amount: must be a whole number, not a string",
    ),
    (
        "boolean as money",
        lambda d: d["pots"][1].update(amount=True),
        "pots[1].amount: must be a whole number, not a boolean",
    ),
    (
        "unknown organisation",
        lambda d: d["pots"][0]["model"]["amounts"].update({"okand-forvaltning": 1}),
        "pots[0].model.amounts.okand-forvaltning: unknown organisation 'okand-forvaltning'",
    ),
    (
        "two rest pots",
        lambda d: d["pots"][1].update(amount="rest"),
        'pots[2].amount: a second "rest" pot under grant: only one may take the rest',
    ),
    (
        "float share",
        lambda d: d["units"][0].update(city_placed_share=0.8),
        'units[0].city_placed_share: must be a decimal string such as "0.80", not the number 0.8',
    ),
    (
        "share above one",
        lambda d: d["units"][0].update(city_placed_share="1.5"),
        "units[0].city_placed_share: must be at most 1, got 1.5",
    ),
    (
        "unknown unit in application",
        lambda d: d["applications"][0]["units"].append("vob-999"),
        "applications[0].units[4]: unknown unit 'vob-999'",
    ),
    (
        "another organisation's unit",
        lambda d: d["applications"][0]["units"].append("vob-001"),
        "applications[0].units[4]: unit 'vob-001' belongs to "
        "'spanga-tensta-stadsdelsforvaltning', not to 'bromma-stadsdelsforvaltning'",
    ),
    (
        "source cycle",
        lambda d: d["grant"]["source"].update(grant=d["grant"]["id"]),
        "grant.source.grant: a grant cannot be its own source (a cycle)",
    ),
    (
        "bad org number",
        lambda d: d["organisations"][0].update(org_number="556677-8890"),
        "organisations[0].org_number: '556677-8890' is not a valid organisation number "
        "(NNNNNN-NNNN with a correct check digit)",
    ),
    (
        "typo key",
        lambda d: d["pots"][0].update(ammount=5),
        "pots[0].ammount: unknown key",
    ),
    (
        "model and children",
        lambda d: d["pots"][0].update(children=[]),
        "pots[0]: a pot has either 'children' or a 'model', never both or neither",
    ),
    (
        "unknown model type",
        lambda d: d["pots"][0]["model"].update(type="lottery"),
        "pots[0].model.type: 'lottery' is not one of: fixed, equal, remainder, key, per_unit, "
        "tiered, approved_amounts",
    ),
    (
        "bad date",
        lambda d: d["agreement"].update(report_by="2020-02-30"),
        "agreement.report_by: '2020-02-30' is not a date in the form YYYY-MM-DD",
    ),
    (
        "reported before the time to spend ends",
        lambda d: d["agreement"].update(spend_by="2020-12-31", report_by="2020-06-30"),
        "agreement.report_by: 2020-06-30 is before spend_by 2020-12-31: money is reported and "
        "repaid after the time to spend it ends",
    ),
    (
        "unknown permitted use",
        lambda d: d["applications"][0]["uses"].append("godis"),
        "applications[0].uses[2]: unknown permitted use 'godis'",
    ),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_file_is_refused_with_path_and_problem(change, expected):
    assert expected in errors_of(mutated(SEED_000, change))


def test_agreement_dates_out_of_order_name_each_later_field():
    def change(d):
        d["agreement"].update(spend_by="2021-01-01", report_by="2020-12-31", repay_by="2020-03-31")

    assert errors_of(mutated(SEED_000, change)) == [
        "agreement.report_by: 2020-12-31 is before spend_by 2021-01-01: money is reported and "
        "repaid after the time to spend it ends",
        "agreement.repay_by: 2020-03-31 is before spend_by 2021-01-01: money is reported and "
        "repaid after the time to spend it ends",
    ]


@pytest.mark.parametrize(
    "dates",
    [
        {"spend_by": "2020-12-31", "report_by": "2020-12-31", "repay_by": "2020-12-31"},
        {"spend_by": "2020-12-31", "report_by": "2021-01-31"},
        {"report_by": "2020-01-31", "repay_by": "2019-12-31"},  # no spend-by: nothing to order
    ],
)
def test_agreement_dates_in_order_or_on_the_same_day_pass(dates):
    data = seed_json(SEED_000)
    data["agreement"].update(dates)
    grantfile.parse(json.dumps(data))


def test_children_exceeding_their_parent():
    def change(d):
        d["pots"][0]["children"][0]["amount"] = 40_000_000

    errors = errors_of(mutated(SEED_003, change))
    assert errors == [
        "pots[0].children: the pots' amounts (73110636 kr) exceed nara-vard's amount "
        "(36310636 kr) by 36800000 kr"
    ]


def test_top_level_pots_exceeding_the_grant():
    errors = errors_of(mutated(SEED_000, lambda d: d["grant"].update(amount=1_500_000)))
    assert errors == [
        "pots: the pots' amounts (2000000 kr) exceed grant's amount (1500000 kr) by 500000 kr"
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "not valid JSON: Expecting value (line 1, column 1)"),
        (b"\xff\xfe junk", "the file is not UTF-8 text"),
        (b"[1, 2", "not valid JSON"),
        (b'{"format": "stimulans-grant/1", "format": "x"}', "the key 'format' appears twice"),
        (b'{"a": NaN}', "NaN is not a number"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"1" * 5000, "not valid JSON"),
        (b"[1, 2, 3]", "a grant file is a JSON object, not an array"),
    ],
)
def test_junk_is_refused(raw, expected):
    assert any(expected in e for e in errors_of(raw))


def test_ten_megabytes_of_junk_is_refused_quickly():
    junk = (b"\x00junk" * (10 * 1024 * 1024 // 5))[: 10 * 1024 * 1024]
    assert any("not" in e for e in errors_of(junk))


def test_a_file_over_the_size_limit_is_refused_before_parsing():
    errors = errors_of(b" " * (grantfile.MAX_BYTES + 1))
    assert "may be at most" in errors[0]


def test_many_errors_stop_at_a_limit():
    data = seed_json(SEED_000)
    for unit in data["units"]:
        unit["places"] = -1
    errors = errors_of(data)
    assert len(errors) == grantfile.MAX_ERRORS + 1
    assert errors[-1] == f"stopped after {grantfile.MAX_ERRORS} problems"


def test_luhn():
    assert grantfile.luhn_ok("212000-0142")  # Stockholms stad
    assert not grantfile.luhn_ok("212000-0143")
    assert not grantfile.luhn_ok("2120000142")


# ---------------------------------------------------------------- the command changes nothing


def snapshot():
    return (
        Grant.objects.count(),
        Organisation.objects.count(),
        Unit.objects.count(),
        Pot.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in CASES[:6]], ids=[c[0] for c in CASES[:6]]
)
def test_import_command_refuses_bad_files_and_writes_nothing(tmp_path, change, expected):
    before = snapshot()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(mutated(SEED_000, change)))
    with pytest.raises(CommandError) as info:
        call_command("import_grant", str(path))
    assert expected in str(info.value)
    assert snapshot() == before


@pytest.mark.django_db
def test_import_command_refuses_agreement_dates_out_of_order_and_writes_nothing(tmp_path):
    before = snapshot()
    data = seed_json(SEED_000)
    data["agreement"].update(spend_by="2020-12-31", repay_by="2020-03-31")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError) as info:
        call_command("import_grant", str(path))
    assert "agreement.repay_by: 2020-03-31 is before spend_by 2020-12-31" in str(info.value)
    assert snapshot() == before


@pytest.mark.django_db
def test_import_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_grant", str(tmp_path / "nope.json"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.lists(
        st.sampled_from(["grant", "pots", 0, "model", "units", "agreement", 1]), max_size=3
    ),
    value=json_values,
)
def test_property_any_mutation_is_accepted_or_refused_cleanly(path, value):
    """Replacing any part of a valid file with junk never crashes the checker."""
    data = copy.deepcopy(SEED_000_DATA)
    target = data
    try:
        for key in path[:-1]:
            target = target[key]
        if path:
            target[path[-1]] = value
        else:
            data = value
    except (KeyError, IndexError, TypeError):
        return
    try:
        grantfile.parse(json.dumps(data))
    except grantfile.GrantFileError as exc:
        errors = exc.errors
    else:
        return
    assert errors
    assert all(isinstance(p, str) and m for p, m in errors)


SEED_000_DATA = seed_json(SEED_000)
