"""The eligibility rule in plain words, Swedish and English, for every field and operator the grant
file allows (`engine.UNIT_FIELDS` × `engine.OPERATORS`, checked as `grantfile` checks a rule)."""

import pytest
from django.utils import translation

from allocations import engine
from allocations.grantfile.checking import Checker
from allocations.wording import condition_phrase, reason_text, rule_text

SEED_000_RULE = {
    "unit_types": ["care_home", "service_house"],
    "any": [
        {"field": "in_city", "op": "eq", "value": True},
        {"field": "city_placed_share", "op": "gte", "value": "0.80"},
    ],
}
SEED_001_RULE = {
    "unit_types": ["home_care", "care_home"],
    "all": [
        {"field": "customers", "op": "gte", "value": 10, "unit_types": ["home_care"]},
        {"field": "in_city", "op": "eq", "value": True, "unit_types": ["care_home"]},
    ],
}

# Every (field, op, value) the grant file accepts, with what it says in each language.
PHRASES = [
    ("places", "eq", 1, "ha exakt 1 plats", "have exactly 1 place"),
    ("places", "ne", 20, "inte ha exakt 20 platser", "not have exactly 20 places"),
    ("places", "gte", 10, "ha minst 10 platser", "have at least 10 places"),
    ("places", "gt", 1000, "ha fler än 1\u00a0000 platser", "have more than 1\u00a0000 places"),
    ("places", "lte", 50, "ha högst 50 platser", "have at most 50 places"),
    ("places", "lt", 5, "ha färre än 5 platser", "have fewer than 5 places"),
    ("customers", "eq", 12, "ha exakt 12 kunder", "have exactly 12 customers"),
    ("customers", "ne", 1, "inte ha exakt 1 kund", "not have exactly 1 customer"),
    ("customers", "gte", 10, "ha minst 10 kunder", "have at least 10 customers"),
    ("customers", "gt", 0, "ha fler än 0 kunder", "have more than 0 customers"),
    ("customers", "lte", 50, "ha högst 50 kunder", "have at most 50 customers"),
    ("customers", "lt", 10, "ha färre än 10 kunder", "have fewer than 10 customers"),
    ("in_city", "eq", True, "ligga i Stockholms stad", "be located in Stockholms stad"),
    ("in_city", "eq", False, "ligga utanför Stockholms stad", "be located outside Stockholms stad"),
    ("in_city", "ne", True, "ligga utanför Stockholms stad", "be located outside Stockholms stad"),
    ("in_city", "ne", False, "ligga i Stockholms stad", "be located in Stockholms stad"),
    (
        "city_placed_share",
        "eq",
        "0.5",
        "ha exakt 50 procent boende placerade av staden",
        "have exactly 50 per cent of its residents placed by the city",
    ),
    (
        "city_placed_share",
        "ne",
        "1",
        "inte ha exakt 100 procent boende placerade av staden",
        "not have exactly 100 per cent of its residents placed by the city",
    ),
    (
        "city_placed_share",
        "gte",
        "0.80",
        "ha minst 80 procent boende placerade av staden",
        "have at least 80 per cent of its residents placed by the city",
    ),
    (
        "city_placed_share",
        "gt",
        "0.875",
        "ha mer än 87,5 procent boende placerade av staden",
        "have more than 87.5 per cent of its residents placed by the city",
    ),
    (
        "city_placed_share",
        "lte",
        "0.2",
        "ha högst 20 procent boende placerade av staden",
        "have at most 20 per cent of its residents placed by the city",
    ),
    (
        "city_placed_share",
        "lt",
        "0",
        "ha mindre än 0 procent boende placerade av staden",
        "have less than 0 per cent of its residents placed by the city",
    ),
    ("type", "eq", "care_home", "vara ett vård- och omsorgsboende", "be a care home"),
    ("type", "eq", "service_house", "vara ett servicehus", "be a service house"),
    ("type", "eq", "home_care", "vara en hemtjänstverksamhet", "be a home-care service"),
    ("type", "eq", "lss_home", "vara ett LSS-boende", "be an LSS home"),
    (
        "type",
        "eq",
        "psychiatric_home",
        "vara ett socialpsykiatriskt boende",
        "be a social psychiatric home",
    ),
    ("type", "ne", "other", "inte vara en annan typ av verksamhet", "not be another kind of unit"),
]


def in_language(language, function, *args, **kwargs):
    with translation.override(language):
        return function(*args, **kwargs)


def test_the_table_covers_every_field_and_operator_the_grant_file_allows():
    allowed = set()
    for field in engine.UNIT_FIELDS:
        for op in engine.OPERATORS:
            ordered = op in ("gte", "gt", "lte", "lt")
            if ordered and field in ("in_city", "type"):
                continue  # the grant file refuses an order on a yes/no field or a type
            allowed.add((field, op))
    assert {(f, o) for f, o, *_rest in PHRASES} == allowed
    # Every unit type has its words.
    assert {v for f, _o, v, *_r in PHRASES if f == "type"} == set(engine.UNIT_TYPES)


@pytest.mark.parametrize(("field", "op", "value", "swedish", "english"), PHRASES)
def test_each_condition_reads_as_what_the_unit_must_do(field, op, value, swedish, english):
    cond = {"field": field, "op": op, "value": value}
    # It is a condition the grant file accepts.
    checker = Checker()
    checker.rule({"all": [cond]}, "eligible")
    assert checker.errors == []
    municipality = "Stockholms stad"
    assert in_language("sv", condition_phrase, cond, municipality=municipality) == swedish
    assert in_language("en", condition_phrase, cond, municipality=municipality) == english
    # And as a whole sentence: the subject, "ska"/"must", the phrase.
    assert in_language("sv", rule_text, {"all": [cond]}, municipality=municipality) == (
        f"Enheten ska {swedish}."
    )
    assert in_language("en", rule_text, {"all": [cond]}, municipality=municipality) == (
        f"The unit must {english}."
    )


def test_seed_000_rule_reads_as_an_official_writes_it():
    assert in_language("sv", rule_text, SEED_000_RULE, municipality="Stockholms stad") == (
        "Vård- och omsorgsboenden och servicehus kan delta. Boendet ska ligga i Stockholms stad "
        "eller ha minst 80 procent boende placerade av staden."
    )
    assert in_language("en", rule_text, SEED_000_RULE, municipality="Stockholms stad") == (
        "Care homes and service houses can take part. The home must be located in Stockholms "
        "stad or have at least 80 per cent of its residents placed by the city."
    )
    # Without the municipality's name: "the city", and a municipality is "kommunen".
    assert "ligga i staden" in in_language("sv", rule_text, SEED_000_RULE)
    assert "placerade av kommunen" in in_language(
        "sv", rule_text, SEED_000_RULE, municipality="Huddinge kommun"
    )


def test_conditions_that_bind_some_unit_types_get_their_own_sentences():
    assert in_language("sv", rule_text, SEED_001_RULE, municipality="Stockholms stad") == (
        "Hemtjänstverksamheter och vård- och omsorgsboenden kan delta. "
        "Hemtjänstverksamheter ska ha minst 10 kunder. "
        "Vård- och omsorgsboenden ska ligga i Stockholms stad."
    )
    assert in_language("en", rule_text, SEED_001_RULE, municipality="Stockholms stad") == (
        "Home-care services and care homes can take part. "
        "Home-care services must have at least 10 customers. "
        "Care homes must be located in Stockholms stad."
    )


def test_all_and_any_together_read_as_one_sentence_with_either_or():
    rule = {
        "all": [
            {"field": "places", "op": "gte", "value": 10},
            {"field": "type", "op": "ne", "value": "other"},
        ],
        "any": [
            {"field": "in_city", "op": "eq", "value": True},
            {"field": "city_placed_share", "op": "gte", "value": "0.5"},
            {"field": "customers", "op": "gte", "value": 5, "unit_types": ["home_care"]},
        ],
    }
    assert in_language("sv", rule_text, rule, municipality="Stockholms stad") == (
        "Enheten ska ha minst 10 platser, inte vara en annan typ av verksamhet och antingen "
        "ligga i Stockholms stad, ha minst 50 procent boende placerade av staden eller ha "
        "minst 5 kunder (gäller endast hemtjänstverksamheter)."
    )
    assert in_language("en", rule_text, rule, municipality="Stockholms stad") == (
        "The unit must have at least 10 places, not be another kind of unit and either be "
        "located in Stockholms stad, have at least 50 per cent of its residents placed by the "
        "city or have at least 5 customers (only for home-care services)."
    )


def test_a_rule_of_unit_types_only_and_no_rule():
    rule = {"unit_types": ["lss_home", "psychiatric_home", "other"]}
    assert in_language("sv", rule_text, rule) == (
        "LSS-boenden, socialpsykiatriska boenden och andra typer av verksamhet kan delta."
    )
    assert in_language("en", rule_text, rule) == (
        "LSS homes, social psychiatric homes and other kinds of unit can take part."
    )
    assert in_language("sv", rule_text, None) == "Alla enheter kan delta."
    assert in_language("en", rule_text, {}) == "Every unit can take part."


def test_why_a_unit_is_left_out_reads_the_same_way():
    cond = {"field": "customers", "op": "gte", "value": 10, "unit_types": ["home_care"]}
    assert in_language("sv", reason_text, "condition", {"condition": cond}) == (
        "Villkoret uppfylls inte: enheten ska ha minst 10 kunder."
    )
    assert in_language("en", reason_text, "any", {"conditions": SEED_000_RULE["any"]}) == (
        "None of the conditions is met: the unit must be located in the city or have at least "
        "80 per cent of its residents placed by the city."
    )
