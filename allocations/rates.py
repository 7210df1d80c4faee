"""A rate (kronor per place or customer) is an exact fraction; these are the two ways to write it.

`round_rate` is the one rounding of a rate for people: half up to the öre, as an official
rounds by hand (1 200,005 kr is 1 200,01 kr). The `rate` template filter, the PDF documents
and the xlsx and CSV exports all go through it, so a rate shows the same digits wherever it
is read. Plain Python, no Django.

`rate_digits` is for machines: the `stimulans-allocations/1` export's `rate`, the exact rate
cut after ten decimals (never rounded up, so it never claims more than the pot gives).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

EXPORT_PLACES = 10


def _exact(rate: Fraction | Decimal | int) -> Fraction:
    if isinstance(rate, float | bool):
        raise TypeError("a rate is an exact fraction, never a float")
    return Fraction(rate)


def round_rate(rate: Fraction | Decimal | int) -> Decimal:
    """The rate in kronor rounded half up to the öre (two decimals), as a Decimal."""
    value = _exact(rate)
    ore = int(abs(value) * 100 + Fraction(1, 2))  # half up: away from zero at exactly ½ öre
    whole, frac = divmod(ore, 100)
    sign = "-" if value < 0 and ore else ""
    return Decimal(f"{sign}{whole}.{frac:02d}")


def rate_digits(rate: Fraction | Decimal | int, places: int = EXPORT_PLACES) -> str:
    """The exact rate as a decimal string cut (not rounded) after `places` decimals.

    For the machine-readable export only: `1200.0524…` stays as many digits as the file
    format promises, with trailing zeros dropped (`1200.5`, `1200`).
    """
    value = _exact(rate)
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole, rest = divmod(value.numerator, value.denominator)
    digits = (rest * 10**places) // value.denominator
    text = f"{whole}.{digits:0{places}d}".rstrip("0").rstrip(".")
    return f"{sign}{text}"
