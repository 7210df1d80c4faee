"""The allocation engine on its own: every model, the rounding rule, and properties."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocations import engine
from allocations.engine import (
    AllocationError,
    Application,
    ApprovedAmounts,
    Condition,
    Equal,
    Factor,
    Fixed,
    GrantInput,
    Key,
    PerUnit,
    Pot,
    Remainder,
    Rule,
    Tier,
    Tiered,
    Unit,
    compute,
    largest_remainder,
)


def grant(amount, *pots, units=(), datasets=None, applications=()):
    return GrantInput(
        amount=amount,
        pots=tuple(pots),
        units={u.id: u for u in units},
        datasets=datasets or {},
        applications=tuple(applications),
    )


def amounts(result, pot=None):
    return {
        (r.unit or r.organisation): r.amount for r in result.rows if pot is None or r.pot == pot
    }


# ---------------------------------------------------------------- rounding


def test_largest_remainder_gives_leftover_kronor_to_largest_remainders():
    # 100 kr in thirds: 33.33 each, one krona left; equal remainders and weights -> smaller id.
    assert largest_remainder(100, [1, 1, 1], ["c", "a", "b"]) == [33, 34, 33]


def test_largest_remainder_tie_goes_to_larger_weight_before_id():
    # 10 kr by weights 1 and 3 over 4... use 2 kr by weights 1,1,2: exact 0.5, 0.5, 1.0
    # 1 kr over weights 1 and 3: 0.25 and 0.75 -> the larger remainder wins.
    assert largest_remainder(1, [1, 3], ["a", "b"]) == [0, 1]
    # Remainders tie (0.5 and 0.5): weights 1 and 3 of 2 kr -> 0.5 and 1.5; larger weight wins.
    assert largest_remainder(2, [1, 3], ["a", "b"]) == [0, 2]
    assert largest_remainder(2, [3, 1], ["a", "b"]) == [2, 0]


def test_largest_remainder_is_exact_with_fractions():
    weights = [Fraction(1, 3), Fraction(1, 3), Fraction(1, 3)]
    assert sum(largest_remainder(10, weights, ["x", "y", "z"])) == 10


def test_largest_remainder_refuses_zero_weights_with_money_to_split():
    with pytest.raises(ValueError, match="sum to zero"):
        largest_remainder(5, [0, 0], ["a", "b"])
    assert largest_remainder(0, [0, 0], ["a", "b"]) == [0, 0]


# ---------------------------------------------------------------- models


def test_fixed_rows_and_unallocated_balance():
    result = compute(grant(100, Pot("p", "P", 100, Fixed((("a", 30), ("b", 50))))))
    assert amounts(result) == {"a": 30, "b": 50}
    assert result.pots[0].unallocated == 20


def test_fixed_exceeding_the_pot_is_refused_with_the_excess():
    with pytest.raises(AllocationError, match="by 10 kr"):
        compute(grant(100, Pot("p", "P", 100, Fixed((("a", 60), ("b", 50))))))


def test_equal_shares_hand_odd_kronor_to_smaller_ids():
    result = compute(grant(10, Pot("p", "P", 10, Equal(("c", "a", "b")))))
    assert amounts(result) == {"a": 4, "b": 3, "c": 3}


def test_rest_pot_takes_what_the_parent_has_left():
    result = compute(
        grant(
            1000,
            Pot("a", "A", 300, Fixed((("x", 300),))),
            Pot("r", "R", engine.REST, Remainder("y")),
        )
    )
    assert amounts(result) == {"x": 300, "y": 700}
    assert [p.amount for p in result.pots] == [300, 700]


def test_children_exceeding_the_parent_are_refused():
    tree = Pot(
        "p", "P", 100, children=(Pot("a", "A", 80, Equal(("x",))), Pot("b", "B", 30, Equal(("y",))))
    )
    with pytest.raises(AllocationError, match="exceed"):
        compute(grant(100, tree))


def test_parent_reports_allocated_and_unallocated_of_its_subtree():
    tree = Pot(
        "p",
        "P",
        100,
        children=(Pot("a", "A", 50, Fixed((("x", 40),))), Pot("b", "B", 30, Equal(("y",)))),
    )
    result = compute(grant(200, tree))
    parent = result.pots[0]
    assert (parent.path, parent.amount, parent.allocated, parent.unallocated) == ("P", 100, 70, 30)
    assert result.pots[1].path == "P / A"


def test_key_with_weighted_factors_and_missing_values():
    datasets = {"pop": {"a": 100, "b": 300}, "old": {"a": 50, "b": 50, "c": 100}}
    model = Key((Factor("pop", Decimal("0.5")), Factor("old", Decimal("0.5"))), ("a", "b", "c"))
    result = compute(grant(1000, Pot("k", "K", 1000, model), datasets=datasets))
    # a: 0.5*100/400 + 0.5*50/200 = 0.25; b: 0.375 + 0.125 = 0.5; c: 0 + 0.25 = 0.25
    assert amounts(result) == {"a": 250, "b": 500, "c": 250}


def test_key_defaults_to_every_organisation_of_the_first_dataset():
    datasets = {"pop": {"a": 1, "b": 2}}
    result = compute(
        grant(3, Pot("k", "K", 3, Key((Factor("pop", Decimal(1)),))), datasets=datasets)
    )
    assert amounts(result) == {"a": 1, "b": 2}


def test_key_factor_summing_to_zero_is_an_error():
    datasets = {"pop": {"a": 0, "b": 0}}
    with pytest.raises(AllocationError, match="sums to 0"):
        compute(grant(3, Pot("k", "K", 3, Key((Factor("pop", Decimal(1)),))), datasets=datasets))


HOME = Unit("u1", "org1", "care_home", places=60, in_city=True)
AWAY = Unit("u2", "org2", "care_home", places=40, in_city=False, city_placed_share=Decimal("0.9"))
FAR = Unit("u3", "org2", "care_home", places=40, in_city=False, city_placed_share=Decimal("0.5"))
OFFICE = Unit("u4", "org3", "home_care", customers=9)

CITY_RULE = Rule(
    unit_types=("care_home",),
    any=(
        Condition("in_city", "eq", True),
        Condition("city_placed_share", "gte", Decimal("0.80")),
    ),
)


def apps_for(pot, *units):
    return [Application(f"app-{u.id}", pot, u.organisation, (u.id,)) for u in units]


def test_per_unit_divides_among_eligible_applicants_and_reports_why_others_are_out():
    units = (HOME, AWAY, FAR, OFFICE)
    pot = Pot("p", "P", 1000, PerUnit("places", CITY_RULE))
    result = compute(grant(1000, pot, units=units, applications=apps_for("p", *units)))
    assert amounts(result) == {"u1": 600, "u2": 400}
    assert result.pots[0].rate == Fraction(1000, 100)
    reasons = {i.unit: i.code for i in result.ineligible}
    assert reasons == {"u3": "any", "u4": "unit_type"}
    assert next(i.application for i in result.ineligible if i.unit == "u3") == "app-u3"


def test_per_unit_rate_rises_when_fewer_apply():
    pot = Pot("p", "P", 1000, PerUnit("places", CITY_RULE))
    both = compute(grant(1000, pot, units=(HOME, AWAY), applications=apps_for("p", HOME, AWAY)))
    one = compute(grant(1000, pot, units=(HOME, AWAY), applications=apps_for("p", HOME)))
    assert one.pots[0].rate > both.pots[0].rate
    assert one.allocated == both.allocated == 1000


def test_per_unit_only_approved_applications_take_part():
    pot = Pot("p", "P", 1000, PerUnit("places", CITY_RULE))
    apps = [Application("a", "p", "org1", ("u1",), status="submitted")]
    result = compute(grant(1000, pot, units=(HOME,), applications=apps))
    assert result.rows == ()
    assert result.pots[0].unallocated == 1000
    assert result.pots[0].rate is None


def test_per_unit_without_applicants_only_takes_every_unit():
    pot = Pot("p", "P", 100, PerUnit("places", Rule(), applicants_only=False))
    result = compute(grant(100, pot, units=(HOME, AWAY)))
    assert amounts(result) == {"u1": 60, "u2": 40}


def test_per_unit_max_rate_leaves_the_rest_unallocated():
    pot = Pot("p", "P", 100000, PerUnit("places", Rule(), False, Decimal("500.50")))
    result = compute(grant(100000, pot, units=(HOME, AWAY)))
    # 100 places x 500.50 = 50 050 divided; the rest stays on the pot.
    assert result.allocated == 50050
    assert result.pots[0].unallocated == 49950
    assert result.pots[0].rate == Fraction(50050, 100)


def test_a_unit_in_two_approved_applications_is_an_error():
    pot = Pot("p", "P", 100, PerUnit("places", Rule()))
    apps = [Application("a", "p", "org1", ("u1",)), Application("b", "p", "org1", ("u1",))]
    with pytest.raises(AllocationError, match="two approved applications"):
        compute(grant(100, pot, units=(HOME,), applications=apps))


TIERS = (
    Tier("home_care", "customers", 10, 50, 20000),
    Tier("home_care", "customers", 51, None, 35000),
    Tier("care_home", "places", 10, 50, 30000),
    Tier("care_home", "places", 51, None, 55000),
)


def test_tiered_amounts_by_volume_and_units_in_no_tier():
    big_office = Unit("u5", "org3", "home_care", customers=51)
    units = (HOME, AWAY, OFFICE, big_office)
    pot = Pot("t", "T", 200000, Tiered(TIERS))
    result = compute(grant(200000, pot, units=units, applications=apps_for("t", *units)))
    assert amounts(result) == {"u1": 55000, "u2": 30000, "u5": 35000}
    assert [(i.unit, i.code) for i in result.ineligible] == [("u4", "no_tier")]


def test_tiered_overflow_error_says_by_how_much():
    pot = Pot("t", "T", 60000, Tiered(TIERS))
    with pytest.raises(AllocationError, match="by 25000 kr"):
        compute(grant(60000, pot, units=(HOME, AWAY), applications=apps_for("t", HOME, AWAY)))


def test_tiered_overflow_scale_shrinks_rows_to_the_pot():
    pot = Pot("t", "T", 60000, Tiered(TIERS, overflow="scale"))
    result = compute(grant(60000, pot, units=(HOME, AWAY), applications=apps_for("t", HOME, AWAY)))
    assert result.allocated == 60000
    # 55 000 : 30 000 of 60 000 -> 38 823.5 and 21 176.5; the tie goes to the larger weight.
    assert amounts(result) == {"u1": 38824, "u2": 21176}


def test_condition_bound_to_unit_types_only_binds_those():
    rule = Rule(all=(Condition("customers", "gte", 10, ("home_care",)),))
    pot = Pot("p", "P", 100, PerUnit("places", rule, applicants_only=False))
    result = compute(grant(100, pot, units=(HOME, OFFICE)))
    # The care home has no customers but the condition binds only home care;
    # the office fails it (and has no places anyway).
    assert amounts(result) == {"u1": 100}
    assert [i.code for i in result.ineligible] == ["condition"]


def test_approved_amounts_and_their_limit():
    apps = [
        Application("a", "p", "x", status="approved", granted_amount=700),
        Application("b", "p", "y", status="rejected", granted_amount=900),
    ]
    result = compute(grant(1000, Pot("p", "P", 1000, ApprovedAmounts()), applications=apps))
    assert amounts(result) == {"x": 700}
    assert result.pots[0].unallocated == 300
    apps.append(Application("c", "p", "z", status="approved", granted_amount=400))
    with pytest.raises(AllocationError, match="by 100 kr"):
        compute(grant(1000, Pot("p", "P", 1000, ApprovedAmounts()), applications=apps))


# ---------------------------------------------------------------- properties

weights_st = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=60).filter(
    lambda ws: sum(ws) > 0
)
fraction_weights_st = st.lists(
    st.fractions(min_value=0, max_value=10**6, max_denominator=10**6), min_size=1, max_size=40
).filter(lambda ws: sum(ws) > 0)
total_st = st.integers(min_value=0, max_value=10**12)


def check_split(total, weights, shares):
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    whole = sum(Fraction(w) for w in weights)
    for w, s in zip(weights, shares, strict=True):
        exact = Fraction(total) * Fraction(w) / whole
        assert abs(s - exact) < 1


@settings(max_examples=300, deadline=None)
@given(total=total_st, weights=weights_st)
def test_property_integer_weights_split_exactly(total, weights):
    ids = [f"id-{i:03d}" for i in range(len(weights))]
    shares = largest_remainder(total, weights, ids)
    check_split(total, weights, shares)
    assert shares == largest_remainder(total, weights, ids)


@settings(max_examples=200, deadline=None)
@given(total=total_st, weights=fraction_weights_st)
def test_property_fractional_weights_split_exactly(total, weights):
    ids = [f"id-{i:03d}" for i in range(len(weights))]
    check_split(total, weights, largest_remainder(total, weights, ids))


@settings(max_examples=200, deadline=None)
@given(
    total=total_st,
    pops=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30),
    olds=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30),
    w1=st.integers(min_value=0, max_value=100),
    w2=st.integers(min_value=0, max_value=100),
)
def test_property_any_key_pot_sums_to_its_amount(total, pops, olds, w1, w2):
    orgs = [f"org-{i:02d}" for i in range(max(len(pops), len(olds)))]
    datasets = {
        "pop": dict(zip(orgs, pops, strict=False)),
        "old": dict(zip(orgs, olds, strict=False)),
    }
    model = Key((Factor("pop", Decimal(w1)), Factor("old", Decimal(w2))), tuple(orgs))
    pot = Pot("k", "K", total, model)
    usable = (w1 + w2 > 0) and sum(pops) > 0 and sum(olds) > 0
    if not usable:
        with pytest.raises((AllocationError, ValueError)):
            compute(grant(total, pot, datasets=datasets))
        return
    result = compute(grant(total, pot, datasets=datasets))
    shares = engine.key_weights(model, datasets)
    check_split(total, [shares[o] for o in orgs], [r.amount for r in result.rows])
    assert result == compute(grant(total, pot, datasets=datasets))


@settings(max_examples=200, deadline=None)
@given(
    total=total_st,
    places=st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=80),
    max_rate=st.one_of(st.none(), st.decimals(min_value=0, max_value=10**5, places=2)),
)
def test_property_per_unit_rows_sum_to_the_divided_amount(total, places, max_rate):
    units = [Unit(f"u{i:03d}", f"org{i % 7}", "care_home", places=p) for i, p in enumerate(places)]
    pot = Pot("p", "P", total, PerUnit("places", Rule(), applicants_only=False, max_rate=max_rate))
    result = compute(grant(total, pot, units=units))
    measure = sum(places)
    if measure == 0:
        assert result.rows == ()
        return
    divided = total if max_rate is None else min(total, int(Fraction(max_rate) * measure))
    check_split(divided, [u.places for u in units if u.places], [r.amount for r in result.rows])
    assert result.pots[0].unallocated == total - divided
    assert result == compute(grant(total, pot, units=units))


def test_a_leaf_without_a_model_and_an_unknown_dataset_are_allocation_errors():
    with pytest.raises(AllocationError, match="neither a model nor children"):
        compute(grant(100, Pot("p", "P", 100)))
    with pytest.raises(AllocationError, match="unknown dataset 'gone'"):
        compute(grant(100, Pot("k", "K", 100, Key((Factor("gone", Decimal(1)),)))))
