"""The engine's codes in words, in the reader's language; kronor the Swedish way."""

from decimal import Decimal
from fractions import Fraction

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import engine
from .models import UnitType
from .rates import round_rate

FIELD_LABELS = {
    "type": gettext_lazy("type of unit"),
    "places": gettext_lazy("number of places"),
    "customers": gettext_lazy("number of customers"),
    "in_city": gettext_lazy("located in the city"),
    "city_placed_share": gettext_lazy("share of residents placed by the city"),
}
OP_WORDS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "gte": gettext_lazy("is at least"),
    "gt": gettext_lazy("is more than"),
    "lte": gettext_lazy("is at most"),
    "lt": gettext_lazy("is less than"),
}

NBSP = "\u00a0"


def format_kronor(amount: int, *, nbsp: bool = False) -> str:
    """`8 209 071 kr`: whole kronor with a space between thousands. Refuses floats."""
    if isinstance(amount, float | bool):
        raise TypeError("money is never a float")
    amount = int(amount)
    sep = NBSP if nbsp else " "
    return f"{format_number(amount, nbsp=nbsp)}{sep}kr"


def format_number(number: int, *, nbsp: bool = False) -> str:
    """`23 599`: a whole number with a space between thousands and a true minus sign."""
    if isinstance(number, float | bool):
        raise TypeError("a count or an amount is never a float")
    number = int(number)
    sep = NBSP if nbsp else " "
    sign = "−" if number < 0 else ""
    return sign + f"{abs(number):,}".replace(",", sep)


def format_rate(rate: Fraction | None, *, nbsp: bool = False) -> str:
    """A rate in kronor with a decimal comma, e.g. `1 200,05 kr`, rounded by `round_rate`."""
    if rate is None:
        return ""
    rounded = round_rate(rate)
    sep = NBSP if nbsp else " "
    whole, _point, frac = f"{abs(rounded):f}".partition(".")
    sign = "−" if rounded < 0 else ""
    return f"{sign}{int(whole):,}".replace(",", sep) + f",{frac}{sep}kr"


def _upper_first(text: str) -> str:
    # Not str.capitalize(): that would turn "LSS-boende" into "Lss-boende".
    return text[:1].upper() + text[1:]


def unit_type_label(value: str) -> str:
    return str(UnitType(value).label) if value in UnitType.values else value


def format_count(value: int | None) -> str:
    """A whole number with a (non-breaking) space between thousands: `5 174`."""
    if value is None:
        return ""
    return f"{value:,}".replace(",", NBSP)


def measure_word(measure: str, count: int) -> str:
    """`place` or `places` (`customer`, `customers`) as `count` asks."""
    if measure == "places":
        return ngettext("place", "places", count)
    if measure == "customers":
        return ngettext("customer", "customers", count)
    return measure


def tier_text(tier: engine.Tier) -> str:
    """A tier of a tiered model: `Hemtjänst, 10–50 kunder: 20 000 kr`."""
    params = {
        "kind": unit_type_label(tier.unit_type),
        "min": format_count(tier.min),
        "max": format_count(tier.max),
        "measure": measure_word(tier.measure, 2),
        "amount": format_kronor(tier.amount, nbsp=True),
    }
    if tier.max is None:
        return _("%(kind)s, at least %(min)s %(measure)s: %(amount)s") % params
    return _("%(kind)s, %(min)s–%(max)s %(measure)s: %(amount)s") % params


def _value_words(field_name: str, value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field_name == "city_placed_share":
        return f"{(Decimal(str(value)) * 100).normalize():f} %"
    if field_name == "type":
        return unit_type_label(str(value))
    return str(value)


def condition_text(cond: dict) -> str:
    value = _value_words(cond["field"], cond["value"])
    text = f"{FIELD_LABELS[cond['field']]} {OP_WORDS[cond['op']]} {value}"
    if cond.get("unit_types"):
        kinds = ", ".join(unit_type_label(t) for t in cond["unit_types"])
        text = _("for %(kinds)s: %(condition)s") % {"kinds": kinds, "condition": text}
    return text


def rule_text(rule: dict | None) -> str:
    """An eligibility rule (as in the grant file) in words."""
    rule = rule or {}
    parts = []
    if rule.get("unit_types"):
        kinds = _(" or ").join(unit_type_label(t) for t in rule["unit_types"])
        parts.append(_("the unit is a %(kinds)s") % {"kinds": kinds})
    parts.extend(condition_text(c) for c in rule.get("all", ()))
    if rule.get("any"):
        parts.append(
            _("at least one of: %(conditions)s")
            % {"conditions": "; ".join(condition_text(c) for c in rule["any"])}
        )
    return "; ".join(parts) if parts else _("every unit")


def reason_text(code: str, details: dict) -> str:
    """Why a unit took no part in a pot, in words a provider understands."""
    if code == "unit_type":
        return _("%(kind)s units are not covered (only %(allowed)s).") % {
            "kind": _upper_first(unit_type_label(details["unit_type"])),
            "allowed": _(" or ").join(unit_type_label(t) for t in details["allowed"]),
        }
    if code == "condition":
        return _("The condition is not met: %(condition)s.") % {
            "condition": condition_text(details["condition"])
        }
    if code == "any":
        return _("None of the conditions is met: %(conditions)s.") % {
            "conditions": "; ".join(condition_text(c) for c in details["conditions"])
        }
    if code == "no_measure":
        return _("The unit has no %(measure)s registered.") % {
            "measure": FIELD_LABELS[details["measure"]]
        }
    if code == "no_tier":
        volumes = ", ".join(f"{FIELD_LABELS[m]} {v}" for m, v in details["values"].items())
        return _("No tier covers a %(kind)s with %(volumes)s.") % {
            "kind": unit_type_label(details["unit_type"]),
            "volumes": volumes or _("no registered volume"),
        }
    return code


def computation_text(grant, outcome: dict) -> tuple[bool, str]:
    """(succeeded, what to tell the official) for the result of the compute task."""
    if outcome.get("ok"):
        return True, _("“%(grant)s” is computed: run %(number)s.") % {
            "grant": grant,
            "number": outcome["number"],
        }
    return False, _("“%(grant)s” could not be computed: pot %(pot)s: %(error)s") % {
        "grant": grant,
        "pot": outcome.get("pot"),
        "error": outcome.get("error"),
    }
