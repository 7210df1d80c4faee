"""The grant file's limits, its error, and what a model may refer to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from .. import engine

FORMAT = "stimulans-grant/1"
MAX_BYTES = 32 * 1024 * 1024
MAX_KRONOR = 10**13  # ten thousand billion: far above any grant, far below a bigint
MAX_ERRORS = 50

SLUG = re.compile(r"^[a-z0-9-]+\Z")
DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
ORG_NUMBER = re.compile(r"^[0-9]{6}-[0-9]{4}\Z")

ORG_KINDS = (
    "municipality",
    "district_administration",
    "specialist_administration",
    "private_provider",
    "non_profit",
    "other",
)
OWNERSHIPS = ("public", "private")
APPLICATION_STATUSES = ("draft", "submitted", "approved", "rejected", "withdrawn")
UNIT_BASED = engine.UNIT_BASED  # what the file's readers have always imported from here


class GrantFileError(Exception):
    """The file is not a valid grant file. `errors` holds (path, problem) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("\n".join(f"{p}: {m}" if p else m for p, m in errors))


class FloatText(str):
    """A JSON number with a fraction or exponent, kept as text so it can be refused."""


# The agreement's dates in order (earlier, later): money is reported and repaid after the
# time to spend it ends. The grant file checker and the agreement's admin form both read this.
AGREEMENT_DATE_ORDER = (("spend_by", "report_by"), ("spend_by", "repay_by"))


def agreement_date_problems(dates: Mapping[str, date | None]) -> list[tuple[str, str]]:
    """The (earlier, later) pairs of the agreement's dates that are given but out of order."""
    return [
        (earlier, later)
        for earlier, later in AGREEMENT_DATE_ORDER
        if dates.get(earlier) and dates.get(later) and dates[later] < dates[earlier]
    ]


def luhn_ok(org_number: str) -> bool:
    """Swedish organisation numbers: NNNNNN-NNNN whose ten digits pass the Luhn check."""
    if not ORG_NUMBER.match(org_number):
        return False
    digits = [int(c) for c in org_number.replace("-", "")]
    total = 0
    for i, d in enumerate(digits):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def fixed_total(model: object) -> int | None:
    """What a fixed model (as in the file) hands out; None for another model or bad amounts."""
    if not isinstance(model, dict) or model.get("type") != "fixed":
        return None
    amounts = model.get("amounts")
    if not isinstance(amounts, dict):
        return None
    values = list(amounts.values())
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return sum(values)


@dataclass
class Context:
    """What a model may refer to: the ids known in its grant."""

    organisations: set[str] = field(default_factory=set)
    datasets: dict[str, dict[str, int]] = field(default_factory=dict)
    unit_types: set[str] = field(default_factory=lambda: set(engine.UNIT_TYPES))
