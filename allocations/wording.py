"""The engine's codes in words, in the reader's language; kronor the Swedish way."""

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

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


# The types' (lazy) labels by value, made once: `UnitType.values` builds its list anew on
# every use, and forms and lists ask for a label per unit.
_UNIT_TYPE_LABELS = dict(UnitType.choices)


def unit_type_label(value: str) -> str:
    label = _UNIT_TYPE_LABELS.get(value)
    return value if label is None else str(label)


def unit_type_labels(values: Iterable[str]) -> dict[str, str]:
    """`unit_type_label` of each type among `values`, each translated once: a list of units
    asks for the few types its units have."""
    return {value: unit_type_label(value) for value in set(values)}


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


# ---------------------------------------------------------------- eligibility rules in sentences
# A rule (`eligible` in the grant file: `unit_types`, `all`, `any`, conditions over the unit
# fields with the operators of `engine.OPERATORS`) is read by providers on the call page, in the
# decision report and in their letters, so it is written as an official would write it:
# "Boendet ska ligga i Stockholms stad eller ha minst 80 procent boende placerade av staden."
# Each condition becomes a verb phrase that follows "must" ("ska"), and the sentences are built
# from those phrases.

RESIDENTIAL = frozenset({"care_home", "service_house", "lss_home", "psychiatric_home"})

# One unit of a kind, with its article: "be a care home" ("vara ett vård- och omsorgsboende").
KIND_ONE = {
    "care_home": gettext_lazy("a care home"),
    "service_house": gettext_lazy("a service house"),
    "home_care": gettext_lazy("a home-care service"),
    "lss_home": gettext_lazy("an LSS home"),
    "psychiatric_home": gettext_lazy("a social psychiatric home"),
    "other": gettext_lazy("another kind of unit"),
}
# Units of a kind, as the subject of a sentence: "Care homes must …".
KIND_MANY = {
    "care_home": gettext_lazy("care homes"),
    "service_house": gettext_lazy("service houses"),
    "home_care": gettext_lazy("home-care services"),
    "lss_home": gettext_lazy("LSS homes"),
    "psychiatric_home": gettext_lazy("social psychiatric homes"),
    "other": gettext_lazy("other kinds of unit"),
}


def _join(items: list[str], conjunction: str) -> str:
    """`a, b and c` (`a, b och c`): the last two joined by the conjunction."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + conjunction + items[-1]


def _kinds_many(unit_types) -> str:
    return _join([str(KIND_MANY.get(t, t)) for t in unit_types], _(" and "))


def _kinds_one(unit_types) -> str:
    return _join([str(KIND_ONE.get(t, t)) for t in unit_types], _(" or "))


def _is_swedish() -> bool:
    return (get_language() or "").startswith("sv")


def _percent(value) -> str:
    text = f"{(Decimal(str(value)) * 100).normalize():f}"
    return text.replace(".", ",") if _is_swedish() else text


def format_share(value) -> str:
    """A share of 1 as per cent, `80 %` (`82,5 %` in Swedish); empty when there is none."""
    if value is None or value == "":
        return ""
    return _percent(value) + "\u00a0%"


def _placed_by(municipality: str) -> str:
    """Who places residents: the city, or the municipality, as the grant's recipient is named."""
    if municipality.strip().lower().endswith("kommun"):
        return _("the municipality")
    return _("the city")


def _measure_phrase(measure: str, op: str, n: int) -> str:
    count = format_count(n)
    if measure == "customers":
        phrases = {
            "eq": ngettext("have exactly %(n)s customer", "have exactly %(n)s customers", n),
            "ne": ngettext(
                "not have exactly %(n)s customer", "not have exactly %(n)s customers", n
            ),
            "gte": ngettext("have at least %(n)s customer", "have at least %(n)s customers", n),
            "gt": ngettext("have more than %(n)s customer", "have more than %(n)s customers", n),
            "lte": ngettext("have at most %(n)s customer", "have at most %(n)s customers", n),
            "lt": ngettext("have fewer than %(n)s customer", "have fewer than %(n)s customers", n),
        }
    else:
        phrases = {
            "eq": ngettext("have exactly %(n)s place", "have exactly %(n)s places", n),
            "ne": ngettext("not have exactly %(n)s place", "not have exactly %(n)s places", n),
            "gte": ngettext("have at least %(n)s place", "have at least %(n)s places", n),
            "gt": ngettext("have more than %(n)s place", "have more than %(n)s places", n),
            "lte": ngettext("have at most %(n)s place", "have at most %(n)s places", n),
            "lt": ngettext("have fewer than %(n)s place", "have fewer than %(n)s places", n),
        }
    return phrases[op] % {"n": count}


def _share_phrase(op: str, value, municipality: str) -> str:
    phrases = {
        "eq": _("have exactly %(percent)s per cent of its residents placed by %(placer)s"),
        "ne": _("not have exactly %(percent)s per cent of its residents placed by %(placer)s"),
        "gte": _("have at least %(percent)s per cent of its residents placed by %(placer)s"),
        "gt": _("have more than %(percent)s per cent of its residents placed by %(placer)s"),
        "lte": _("have at most %(percent)s per cent of its residents placed by %(placer)s"),
        "lt": _("have less than %(percent)s per cent of its residents placed by %(placer)s"),
    }
    return phrases[op] % {"percent": _percent(value), "placer": _placed_by(municipality)}


def condition_phrase(cond: dict, *, municipality: str = "") -> str:
    """A condition as what the unit must do: `be located in Stockholms stad`.

    It follows "must" ("ska") in a sentence; every field and operator the grant file allows.
    """
    field_name, op, value = cond["field"], cond["op"], cond["value"]
    if field_name in ("places", "customers"):
        return _measure_phrase(field_name, op, int(value))
    if field_name == "city_placed_share":
        return _share_phrase(op, value, municipality)
    if field_name == "in_city":
        inside = bool(value) == (op == "eq")
        place = municipality.strip() or _("the city")
        if inside:
            return _("be located in %(place)s") % {"place": place}
        return _("be located outside %(place)s") % {"place": place}
    if field_name == "type":
        if op == "eq":
            return _("be %(kind)s") % {"kind": _kinds_one([value])}
        return _("not be %(kind)s") % {"kind": _kinds_one([value])}
    raise ValueError(f"unknown field {field_name!r}")


def _either(options: list[str]) -> str:
    if len(options) == 1:
        return options[0]
    return _("either %(options)s") % {"options": _join(options, _(" or "))}


def _must(subject: str, predicates: list[str]) -> str:
    return _("%(subject)s must %(predicates)s.") % {
        "subject": _upper_first(subject),
        "predicates": _join(predicates, _(" and ")),
    }


def rule_text(rule: dict | None, *, municipality: str = "") -> str:
    """An eligibility rule (as in the grant file) in sentences a provider reads.

    `{"unit_types": ["care_home", "service_house"], "any": [in_city eq true,
    city_placed_share gte 0.80]}` reads "Vård- och omsorgsboenden och servicehus kan delta.
    Boendet ska ligga i Stockholms stad eller ha minst 80 procent boende placerade av staden."
    `municipality` is the grant's recipient ("Stockholms stad"); without it, "the city".
    """
    rule = rule or {}
    unit_types = list(rule.get("unit_types") or ())
    sentences = []
    if unit_types:
        sentences.append(
            _("%(kinds)s can take part.") % {"kinds": _upper_first(_kinds_many(unit_types))}
        )
    residential = bool(unit_types) and set(unit_types) <= RESIDENTIAL
    subject = _("the home") if residential else _("the unit")
    predicates = []
    scoped: dict[tuple[str, ...], list[str]] = {}
    for cond in rule.get("all", ()):
        phrase = condition_phrase(cond, municipality=municipality)
        if cond.get("unit_types"):
            scoped.setdefault(tuple(cond["unit_types"]), []).append(phrase)
        else:
            predicates.append(phrase)
    options = []
    for cond in rule.get("any", ()):
        phrase = condition_phrase(cond, municipality=municipality)
        if cond.get("unit_types"):
            phrase = _("%(condition)s (only for %(kinds)s)") % {
                "condition": phrase,
                "kinds": _kinds_many(cond["unit_types"]),
            }
        options.append(phrase)
    if options:
        predicates.append(_either(options) if predicates else _join(options, _(" or ")))
    if predicates:
        sentences.append(_must(subject, predicates))
    for kinds, phrases in scoped.items():
        sentences.append(_must(_kinds_many(kinds), phrases))
    return " ".join(sentences) if sentences else _("Every unit can take part.")


def reason_text(code: str, details: dict) -> str:
    """Why a unit took no part in a pot, in words a provider understands."""
    if code == "unit_type":
        return _("%(kind)s units are not covered (only %(allowed)s).") % {
            "kind": _upper_first(unit_type_label(details["unit_type"])),
            "allowed": _(" or ").join(unit_type_label(t) for t in details["allowed"]),
        }
    if code == "condition":
        return _("The condition is not met: the unit must %(condition)s.") % {
            "condition": condition_phrase(details["condition"])
        }
    if code == "any":
        return _("None of the conditions is met: the unit must %(conditions)s.") % {
            "conditions": _join([condition_phrase(c) for c in details["conditions"]], _(" or "))
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
