"""The allocation engine: plain Python, no Django.

Data in (a budget tree of pots with their models, units, datasets and
applications), rows out, in whole kronor and exact arithmetic. Every
proportional split uses the largest-remainder (Hamilton) method, so a pot
always sums exactly to the money it divides; what a model does not divide
stays visible as the pot's unallocated balance.

The semantics are those of the grant file format (`stimulans-grant/1`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction

MEASURES = ("places", "customers")
UNIT_TYPES = ("care_home", "service_house", "home_care", "lss_home", "psychiatric_home", "other")
UNIT_FIELDS = ("type", "places", "customers", "in_city", "city_placed_share")
OPERATORS = ("eq", "ne", "gte", "gt", "lte", "lt")
MODEL_TYPES = ("fixed", "equal", "remainder", "key", "per_unit", "tiered", "approved_amounts")
# What a model type does, asked by every layer (`allocations.models.ModelType` matches
# MODEL_TYPES). Unit-based models give a row per unit, and an application to one names its
# units; applied-for models divide their pot among approved applications, so calls open for them.
UNIT_BASED = frozenset({"per_unit", "tiered"})
APPLIED_FOR = frozenset({"per_unit", "tiered", "approved_amounts"})


class AllocationError(Exception):
    """A pot cannot be computed as configured; the message says why."""

    def __init__(self, pot: str, message: str):
        super().__init__(f"{pot}: {message}")
        self.pot = pot
        self.message = message


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Unit:
    id: str
    organisation: str
    type: str
    places: int | None = None
    customers: int | None = None
    in_city: bool = True
    city_placed_share: Decimal = Decimal(1)
    name: str = ""

    def measure(self, name: str) -> int:
        return getattr(self, name) or 0


@dataclass(frozen=True)
class Application:
    id: str
    pot: str
    organisation: str
    units: tuple[str, ...] = ()
    status: str = "approved"
    granted_amount: int | None = None


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: object
    unit_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """Eligibility of a unit: `unit_types`, every `all` condition, one `any`."""

    unit_types: tuple[str, ...] = ()
    all: tuple[Condition, ...] = ()
    any: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Fixed:
    amounts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Equal:
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Remainder:
    recipient: str


@dataclass(frozen=True)
class Factor:
    dataset: str
    weight: Decimal


@dataclass(frozen=True)
class Key:
    factors: tuple[Factor, ...]
    recipients: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PerUnit:
    measure: str
    eligible: Rule = Rule()
    applicants_only: bool = True
    max_rate: Decimal | None = None


@dataclass(frozen=True)
class Tier:
    unit_type: str
    measure: str
    min: int
    max: int | None
    amount: int


@dataclass(frozen=True)
class Tiered:
    tiers: tuple[Tier, ...]
    eligible: Rule = Rule()
    applicants_only: bool = True
    overflow: str = "error"


@dataclass(frozen=True)
class ApprovedAmounts:
    pass


Model = Fixed | Equal | Remainder | Key | PerUnit | Tiered | ApprovedAmounts

REST = "rest"


@dataclass(frozen=True)
class Pot:
    id: str
    name: str
    amount: int | str  # whole kronor, or REST
    model: Model | None = None
    children: tuple[Pot, ...] = ()


@dataclass(frozen=True)
class GrantInput:
    amount: int
    pots: tuple[Pot, ...]
    units: Mapping[str, Unit] = field(default_factory=dict)
    datasets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    applications: tuple[Application, ...] = ()


# ---------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Row:
    pot: str
    organisation: str
    unit: str | None
    quantity: int | None
    amount: int


@dataclass(frozen=True)
class Ineligible:
    """A unit that took no part, and why (`code` and `details`; see `wording`)."""

    pot: str
    unit: str
    organisation: str
    application: str | None
    code: str
    details: dict


@dataclass(frozen=True)
class PotResult:
    id: str
    path: str
    amount: int
    allocated: int
    rate: Fraction | None = None

    @property
    def unallocated(self) -> int:
        return self.amount - self.allocated


@dataclass(frozen=True)
class Result:
    pots: tuple[PotResult, ...]
    rows: tuple[Row, ...]
    ineligible: tuple[Ineligible, ...]

    @property
    def allocated(self) -> int:
        return sum(row.amount for row in self.rows)


# ---------------------------------------------------------------- rounding


def largest_remainder(
    total: int, weights: Sequence[int | Fraction], ids: Sequence[str]
) -> list[int]:
    """Split `total` kronor in proportion to `weights` (Hamilton's method).

    Each share is floored; the kronor left over go one each to the largest
    fractional remainders, ties to the larger weight, then the smaller id.
    Exact: weights are scaled to integers, so no float is ever involved.
    """
    if total < 0:
        raise ValueError("cannot split a negative amount")
    if len(weights) != len(ids):
        raise ValueError("one id per weight")
    if not weights:
        if total:
            raise ValueError("nobody to split the money between")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    if all(type(w) is int for w in weights):
        ints = list(weights)
    else:
        scale = math.lcm(*(Fraction(w).denominator for w in weights))
        ints = [int(Fraction(w) * scale) for w in weights]
    whole = sum(ints)
    if whole == 0:
        if total:
            raise ValueError("the weights sum to zero")
        return [0] * len(weights)
    shares = []
    remainders = []
    for w in ints:
        q, r = divmod(total * w, whole)
        shares.append(q)
        remainders.append(r)
    left = total - sum(shares)
    if left:
        order = sorted(range(len(ints)), key=lambda i: (-remainders[i], -ints[i], ids[i]))
        for i in order[:left]:
            shares[i] += 1
    return shares


# ---------------------------------------------------------------- eligibility
# The engine says *why* a unit is not eligible as a code and JSON-able details;
# the Django layer puts that into words in the reader's language.


def condition_data(cond: Condition) -> dict:
    value = cond.value
    if isinstance(value, Decimal):
        value = str(value)
    data = {"field": cond.field, "op": cond.op, "value": value}
    if cond.unit_types:
        data["unit_types"] = list(cond.unit_types)
    return data


def _unit_value(unit: Unit, field_name: str) -> object:
    value = getattr(unit, field_name)
    if field_name in MEASURES and value is None:
        return 0
    return value


def _holds(cond: Condition, unit: Unit) -> bool:
    actual = _unit_value(unit, cond.field)
    expected = cond.value
    if cond.field == "city_placed_share":
        expected = Decimal(str(expected))
    if cond.op == "eq":
        return actual == expected
    if cond.op == "ne":
        return actual != expected
    if cond.op == "gte":
        return actual >= expected
    if cond.op == "gt":
        return actual > expected
    if cond.op == "lte":
        return actual <= expected
    return actual < expected


def _binds(cond: Condition, unit: Unit) -> bool:
    return not cond.unit_types or unit.type in cond.unit_types


Reason = tuple[str, dict]


def eligibility_failure(rule: Rule, unit: Unit) -> Reason | None:
    """None when the unit is eligible, else (code, details) saying why."""
    if rule.unit_types and unit.type not in rule.unit_types:
        return "unit_type", {"unit_type": unit.type, "allowed": list(rule.unit_types)}
    for cond in rule.all:
        if _binds(cond, unit) and not _holds(cond, unit):
            return "condition", {"condition": condition_data(cond)}
    binding = [c for c in rule.any if _binds(c, unit)]
    if binding and not any(_holds(c, unit) for c in binding):
        return "any", {"conditions": [condition_data(c) for c in binding]}
    return None


# ---------------------------------------------------------------- the tree


@dataclass(frozen=True)
class BudgetPot:
    """A pot as the budget rule reads it, whether from the engine, a grant file or the admin.

    `key` names it to whoever asks (a pot id, a JSON path, a form). `amount` is whole kronor,
    REST, or None when it is not known (its reader has said already what is wrong with it).
    `divided` says the pot is divided into other pots, by default when it has children (a grant
    file can say so with an empty list). `fixed_total` is what a fixed model hands out.
    """

    key: Hashable
    amount: int | str | None
    has_model: bool = False
    fixed_total: int | None = None
    children: tuple[BudgetPot, ...] = ()
    divided: bool | None = None

    @property
    def is_divided(self) -> bool:
        return bool(self.children) if self.divided is None else self.divided


@dataclass(frozen=True)
class BudgetProblem:
    """What breaks the budget rule, for its reader to put into words.

    `pot` is the key of the parent (None: the grant) for `rests` and `exceeds`, else of the pot
    itself. `total` is what the parts add up to and `amount` what they must fit in; `rests`
    names the pots that take the rest under one parent, in order.
    """

    code: str  # rests | exceeds | divided_with_model | no_model | fixed_exceeds
    pot: Hashable | None
    total: int = 0
    amount: int = 0
    rests: tuple[Hashable, ...] = ()

    @property
    def over(self) -> int:
        return self.total - self.amount


# The problems that leave a pot's amount, or a fixed model's rows, impossible to compute.
AMOUNT_PROBLEMS = frozenset({"rests", "exceeds", "fixed_exceeds"})


def check_budget(
    total: int | None, pots: Sequence[BudgetPot]
) -> tuple[dict[Hashable, int | None], list[BudgetProblem]]:
    """The rule of the budget tree: each pot's amount, and every problem, in tree order.

    Under each parent (at the top, the grant): at most one pot takes the rest (`rests`); the
    other pots' amounts add up to no more than the parent's (`exceeds`); the pot that takes
    the rest gets what they leave. A pot is divided into other pots or has a model, never both
    (`divided_with_model`) nor neither (`no_model`), and a fixed model hands out no more than
    its pot (`fixed_exceeds`). Where a parent's amount is not known (None, or its parts exceed
    it, or two pots take its rest) what hangs on it is not judged: one mistake, one problem.
    The engine, the grant file checker and the admin's pot forms all apply this one rule.
    """
    amounts: dict[Hashable, int | None] = {}
    problems: list[BudgetProblem] = []

    def walk(parent: Hashable | None, available: int | None, siblings: Sequence[BudgetPot]):
        rests = tuple(p.key for p in siblings if p.amount == REST)
        fixed = sum(p.amount for p in siblings if isinstance(p.amount, int))
        if len(rests) > 1:
            problems.append(BudgetProblem("rests", parent, rests=rests))
        rest = None
        if available is not None:
            if fixed > available:
                problems.append(BudgetProblem("exceeds", parent, total=fixed, amount=available))
            elif len(rests) <= 1:
                rest = available - fixed
        for pot in siblings:
            amount = rest if pot.amount == REST else pot.amount
            amounts[pot.key] = amount
            if pot.is_divided:
                if pot.has_model:
                    problems.append(BudgetProblem("divided_with_model", pot.key))
                walk(pot.key, amount, pot.children)
            elif not pot.has_model:
                problems.append(BudgetProblem("no_model", pot.key))
            elif pot.fixed_total is not None and amount is not None and pot.fixed_total > amount:
                problems.append(
                    BudgetProblem("fixed_exceeds", pot.key, total=pot.fixed_total, amount=amount)
                )

    walk(None, total, pots)
    return amounts, problems


def budget_pot(pot: Pot) -> BudgetPot:
    """An engine pot as the budget rule reads it."""
    model = pot.model
    return BudgetPot(
        key=pot.id,
        amount=pot.amount,
        has_model=model is not None,
        fixed_total=sum(a for _, a in model.amounts) if isinstance(model, Fixed) else None,
        children=tuple(budget_pot(child) for child in pot.children),
    )


def resolve_amounts(total: int, pots: Sequence[Pot]) -> dict[str, int]:
    """Each pot's amount in kronor, with `rest` pots resolved against their parent.

    Raises the first problem of the budget rule that leaves an amount unknown (a pot with
    neither a model nor children is `compute`'s to refuse: a budget may be read before then).
    """
    amounts, problems = check_budget(total, [budget_pot(p) for p in pots])
    for problem in problems:
        if problem.code == "rests":
            raise AllocationError(
                "grant" if problem.pot is None else problem.pot, "more than one pot takes the rest"
            )
        if problem.code == "exceeds":
            raise AllocationError(
                "grant" if problem.pot is None else problem.pot,
                f"the parts ({problem.total} kr) exceed the amount ({problem.amount} kr)",
            )
        if problem.code == "fixed_exceeds":
            raise AllocationError(
                problem.pot,
                f"the fixed amounts ({problem.total} kr) exceed the pot ({problem.amount} kr) "
                f"by {problem.over} kr",
            )
    return amounts


def compute(grant: GrantInput) -> Result:
    """Compute every pot of the grant. Same input, same rows, always."""
    amounts = resolve_amounts(grant.amount, grant.pots)
    approved: dict[str, list[Application]] = {}
    for app in grant.applications:
        if app.status == "approved":
            approved.setdefault(app.pot, []).append(app)

    rows: list[Row] = []
    ineligible: list[Ineligible] = []
    results: list[PotResult] = []

    def walk(pot: Pot, path: str) -> int:
        path = f"{path} / {pot.name}" if path else pot.name
        index = len(results)
        results.append(None)  # placeholder: the parent's entry comes before its children
        amount = amounts[pot.id]
        if pot.children:
            allocated = sum(walk(child, path) for child in pot.children)
            rate = None
        else:
            outcome = _compute_leaf(pot, amount, grant, approved.get(pot.id, []))
            rows.extend(outcome.rows)
            ineligible.extend(outcome.ineligible)
            allocated = sum(r.amount for r in outcome.rows)
            rate = outcome.rate
        results[index] = PotResult(pot.id, path, amount, allocated, rate)
        return allocated

    for pot in grant.pots:
        walk(pot, "")
    return Result(tuple(results), tuple(rows), tuple(ineligible))


@dataclass
class _Leaf:
    rows: list[Row]
    ineligible: list[Ineligible] = field(default_factory=list)
    rate: Fraction | None = None


def _compute_leaf(pot: Pot, amount: int, grant: GrantInput, approved: list[Application]) -> _Leaf:
    model = pot.model
    if model is None:
        raise AllocationError(pot.id, "the pot has neither a model nor children")
    compute_model = _MODELS[type(model)]
    return compute_model(pot.id, amount, model, grant, approved)


def _fixed(pot: str, amount: int, model: Fixed, grant: GrantInput, approved) -> _Leaf:
    # `resolve_amounts` has refused fixed amounts that exceed their pot (the budget rule).
    return _Leaf([Row(pot, org, None, None, a) for org, a in model.amounts])


def _equal(pot: str, amount: int, model: Equal, grant: GrantInput, approved) -> _Leaf:
    if not model.recipients:
        raise AllocationError(pot, "no recipients to share the pot equally")
    shares = largest_remainder(amount, [1] * len(model.recipients), model.recipients)
    return _Leaf(
        [Row(pot, org, None, None, a) for org, a in zip(model.recipients, shares, strict=True)]
    )


def _remainder(pot: str, amount: int, model: Remainder, grant: GrantInput, approved) -> _Leaf:
    return _Leaf([Row(pot, model.recipient, None, None, amount)])


def key_weights(model: Key, datasets: Mapping[str, Mapping[str, int]]) -> dict[str, Fraction]:
    """Each recipient's exact share of a key pot (the shares sum to 1)."""
    first = datasets[model.factors[0].dataset]
    recipients = model.recipients if model.recipients is not None else tuple(first)
    total_weight = sum(Fraction(f.weight) for f in model.factors)
    if total_weight <= 0:
        raise ValueError("the factor weights sum to zero")
    shares = dict.fromkeys(recipients, Fraction(0))
    for factor in model.factors:
        values = datasets[factor.dataset]
        column = sum(values.get(org, 0) for org in recipients)
        if column == 0:
            raise ValueError(f"dataset '{factor.dataset}' sums to 0 over the recipients")
        weight = Fraction(factor.weight) / total_weight
        for org in recipients:
            shares[org] += weight * Fraction(values.get(org, 0), column)
    return shares


def _key(pot: str, amount: int, model: Key, grant: GrantInput, approved) -> _Leaf:
    missing = [f.dataset for f in model.factors if f.dataset not in grant.datasets]
    if missing:
        raise AllocationError(pot, f"unknown dataset '{missing[0]}'")
    if not model.factors:
        raise AllocationError(pot, "a key needs at least one factor")
    try:
        shares = key_weights(model, grant.datasets)
    except ValueError as exc:
        raise AllocationError(pot, str(exc)) from None
    orgs = list(shares)
    amounts = largest_remainder(amount, [shares[o] for o in orgs], orgs)
    return _Leaf([Row(pot, org, None, None, a) for org, a in zip(orgs, amounts, strict=True)])


def _candidates(
    pot: str, applicants_only: bool, grant: GrantInput, approved: list[Application]
) -> list[tuple[Unit, str | None]]:
    """The units that take part in a unit-based pot, with the application each came in."""
    if not applicants_only:
        return [(u, None) for u in sorted(grant.units.values(), key=lambda u: u.id)]
    seen: dict[str, str] = {}
    out = []
    for app in approved:
        for unit_id in app.units:
            if unit_id in seen:
                raise AllocationError(
                    pot,
                    f"unit '{unit_id}' is in two approved applications "
                    f"('{seen[unit_id]}' and '{app.id}')",
                )
            seen[unit_id] = app.id
            out.append((grant.units[unit_id], app.id))
    out.sort(key=lambda pair: pair[0].id)
    return out


def _screen(
    pot: str,
    model: Model,
    candidates: Iterable[tuple[Unit, str | None]],
    ineligible: list[Ineligible],
) -> list[tuple[Unit, str | None]]:
    kept = []
    for unit, app in candidates:
        reason = screen_unit(model, unit)
        if reason:
            code, details = reason
            ineligible.append(Ineligible(pot, unit.id, unit.organisation, app, code, details))
        else:
            kept.append((unit, app))
    return kept


def screen_unit(model: Model, unit: Unit) -> Reason | None:
    """Why `unit` can get nothing from a unit-based pot, or None when it can."""
    if isinstance(model, PerUnit):
        reason = eligibility_failure(model.eligible, unit)
        if reason is None and unit.measure(model.measure) <= 0:
            reason = "no_measure", {"measure": model.measure}
        return reason
    if isinstance(model, Tiered):
        reason = eligibility_failure(model.eligible, unit)
        if reason is None and tier_for(model.tiers, unit) is None:
            measures = {t.measure for t in model.tiers if t.unit_type == unit.type}
            values = {m: unit.measure(m) for m in sorted(measures)}
            reason = "no_tier", {"unit_type": unit.type, "values": values}
        return reason
    return None


def _per_unit(pot: str, amount: int, model: PerUnit, grant: GrantInput, approved) -> _Leaf:
    ineligible: list[Ineligible] = []
    units = _screen(
        pot, model, _candidates(pot, model.applicants_only, grant, approved), ineligible
    )
    measures = [u.measure(model.measure) for u, _ in units]
    total_measure = sum(measures)
    if not total_measure:
        return _Leaf([], ineligible, None)
    divided = amount
    if model.max_rate is not None:
        divided = min(amount, math.floor(Fraction(model.max_rate) * total_measure))
    shares = largest_remainder(divided, measures, [u.id for u, _ in units])
    rows = [
        Row(pot, u.organisation, u.id, m, a)
        for (u, _), m, a in zip(units, measures, shares, strict=True)
    ]
    return _Leaf(rows, ineligible, Fraction(divided, total_measure))


def tier_for(tiers: Sequence[Tier], unit: Unit) -> Tier | None:
    for tier in tiers:
        if tier.unit_type != unit.type:
            continue
        value = unit.measure(tier.measure)
        if value >= tier.min and (tier.max is None or value <= tier.max):
            return tier
    return None


def _tiered(pot: str, amount: int, model: Tiered, grant: GrantInput, approved) -> _Leaf:
    ineligible: list[Ineligible] = []
    units = _screen(
        pot, model, _candidates(pot, model.applicants_only, grant, approved), ineligible
    )
    tiers = [tier_for(model.tiers, u) for u, _ in units]
    total = sum(t.amount for t in tiers)
    if total > amount:
        if model.overflow != "scale":
            raise AllocationError(
                pot,
                f"the tier amounts ({total} kr) exceed the pot ({amount} kr) "
                f"by {total - amount} kr",
            )
        amounts = largest_remainder(amount, [t.amount for t in tiers], [u.id for u, _ in units])
    else:
        amounts = [t.amount for t in tiers]
    rows = [
        Row(pot, u.organisation, u.id, u.measure(t.measure), a)
        for (u, _), t, a in zip(units, tiers, amounts, strict=True)
    ]
    return _Leaf(rows, ineligible, None)


def _approved_amounts(
    pot: str, amount: int, model: ApprovedAmounts, grant: GrantInput, approved
) -> _Leaf:
    rows = []
    for app in sorted(approved, key=lambda a: a.id):
        if app.granted_amount is None:
            raise AllocationError(pot, f"application '{app.id}' is approved with no granted amount")
        rows.append(Row(pot, app.organisation, None, None, app.granted_amount))
    total = sum(r.amount for r in rows)
    if total > amount:
        raise AllocationError(
            pot,
            f"the granted amounts ({total} kr) exceed the pot ({amount} kr) by {total - amount} kr",
        )
    return _Leaf(rows)


_MODELS: dict[type, Callable[..., _Leaf]] = {
    Fixed: _fixed,
    Equal: _equal,
    Remainder: _remainder,
    Key: _key,
    PerUnit: _per_unit,
    Tiered: _tiered,
    ApprovedAmounts: _approved_amounts,
}


# ---------------------------------------------------------------- redistribution


def leaf_recipients(pot: Pot, grant: GrantInput) -> tuple[str, ...]:
    """The organisations a leaf pot's model can give money to, sorted by id.

    For a unit-based model, those with a unit that takes part and passes the
    pot's rule; for a key without named recipients, those the first dataset names.
    """
    model = pot.model
    if model is None:
        raise AllocationError(pot.id, "the pot has neither a model nor children")
    approved = [a for a in grant.applications if a.status == "approved" and a.pot == pot.id]
    if isinstance(model, Fixed):
        orgs = {org for org, _amount in model.amounts}
    elif isinstance(model, Equal):
        orgs = set(model.recipients)
    elif isinstance(model, Remainder):
        orgs = {model.recipient}
    elif isinstance(model, Key):
        if model.recipients is not None:
            orgs = set(model.recipients)
        elif model.factors and model.factors[0].dataset in grant.datasets:
            orgs = set(grant.datasets[model.factors[0].dataset])
        else:
            orgs = set()
    elif isinstance(model, PerUnit | Tiered):
        candidates = _candidates(pot.id, model.applicants_only, grant, approved)
        kept = _screen(pot.id, model, candidates, [])
        orgs = {unit.organisation for unit, _app in kept}
    else:
        orgs = {a.organisation for a in approved}
    return tuple(sorted(orgs))


def restrict_to(
    pot: Pot, grant: GrantInput, organisations: Iterable[str]
) -> tuple[Pot, GrantInput]:
    """The pot and the input with only `organisations` left to take part.

    Their units, applications and dataset values stay, everyone else's go; a
    model that names its recipients keeps only the chosen ones. A redistribution
    (omfördelning) uses this to leave out, say, those who returned the money.
    """
    chosen = set(organisations)
    model = pot.model
    if isinstance(model, Fixed):
        model = Fixed(tuple((o, a) for o, a in model.amounts if o in chosen))
    elif isinstance(model, Equal):
        model = Equal(tuple(o for o in model.recipients if o in chosen))
    elif isinstance(model, Key) and model.recipients is not None:
        model = Key(model.factors, tuple(o for o in model.recipients if o in chosen))
    leaf = Pot(pot.id, pot.name, pot.amount, model, pot.children)
    units = {k: u for k, u in grant.units.items() if u.organisation in chosen}
    restricted = GrantInput(
        amount=grant.amount,
        pots=tuple(leaf if p.id == pot.id else p for p in grant.pots),
        units=units,
        datasets={
            ds: {org: v for org, v in values.items() if org in chosen}
            for ds, values in grant.datasets.items()
        },
        applications=tuple(
            replace(a, units=tuple(u for u in a.units if u in units))
            for a in grant.applications
            if a.organisation in chosen
        ),
    )
    return leaf, restricted
