"""Numbers people type: bankgiro, plusgiro, telephone and organisation numbers.

Each is accepted the ways people write it (spaces, hyphens, a country code) and stored in one
normal form, with its check digit verified where it has one. A `normal_*` function returns the
normal form or raises `ValidationError` with a message that says what is wrong; forms, model
validators and the services all call these, so a number is read the same way everywhere.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.se import orgnr

# What may separate the digits: spaces (also no-break and narrow no-break), hyphens, dots.
_SEPARATORS = re.compile(r"[\s\u00a0\u202f.\-–]+")

BANKGIRO = "bankgiro"
PLUSGIRO = "plusgiro"


def mod10_ok(digits: str) -> bool:
    """The Luhn (modulus 10) check that bankgiro and plusgiro numbers carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return _SEPARATORS.sub("", text.strip())


def normal_bankgiro(text: str) -> str:
    """A bankgiro number as NNN-NNNN or NNNN-NNNN: "5050 1055" and "5050-1055" are one number."""
    digits = _digits(text)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (7, 8):
        raise ValidationError(
            _("A bankgiro number has 7 or 8 digits, written NNN-NNNN or NNNN-NNNN."),
            code="bankgiro",
        )
    if not mod10_ok(digits):
        raise ValidationError(
            _("The check digit of the bankgiro number %(account)s is wrong.")
            % {"account": text.strip()},
            code="check_digit",
        )
    return f"{digits[:-4]}-{digits[-4:]}"


def normal_plusgiro(text: str) -> str:
    """A plusgiro number as N-N to NNNNNNN-N: "4 77 88-5" and "477885" are both 47788-5."""
    digits = _digits(text)
    if not digits.isascii() or not digits.isdigit() or not 2 <= len(digits) <= 8:
        raise ValidationError(
            _(
                "A plusgiro number has 2 to 8 digits, the last one after a hyphen "
                "(N-N to NNNNNNN-N)."
            ),
            code="plusgiro",
        )
    if not mod10_ok(digits):
        raise ValidationError(
            _("The check digit of the plusgiro number %(account)s is wrong.")
            % {"account": text.strip()},
            code="check_digit",
        )
    return f"{digits[:-1]}-{digits[-1]}"


def normal_account(method: str, text: str) -> str:
    """A bankgiro or plusgiro number in its normal form."""
    if method == BANKGIRO:
        return normal_bankgiro(text)
    if method == PLUSGIRO:
        return normal_plusgiro(text)
    raise ValidationError(_("Choose bankgiro or plusgiro."), code="method")


def payment_account_problem(method: str, account: str) -> str | None:
    """Why a bankgiro or plusgiro number is wrong, or None when it is right."""
    try:
        normal_account(method, account)
    except ValidationError as exc:
        return exc.messages[0]
    return None


def normal_phone(text: str) -> str:
    """A Swedish telephone number in international form, +46 and the digits: "+46850800000".

    Accepted as people write them: "08-508 000 00", "070-123 45 67", "+46 70 123 45 67",
    "0046 8 508 000 00", "+46 (0)8 508 000 00". A Swedish number is a 0 and 6 to 9 more digits
    (the area code and the subscriber's number).
    """
    raw = text.strip().replace("(0)", "")
    compact = _SEPARATORS.sub("", raw).replace("(", "").replace(")", "")
    refuse = ValidationError(
        _(
            "%(phone)s is not a Swedish telephone number: write it like 08-508 000 00 "
            "or +46 70 123 45 67."
        )
        % {"phone": text.strip()},
        code="phone",
    )
    if compact.startswith("+46"):
        national = compact[3:]
    elif compact.startswith("0046"):
        national = compact[4:]
    elif compact.startswith("0"):
        national = compact[1:]
    else:
        raise refuse
    if not national.isascii() or not national.isdigit() or national.startswith("0"):
        raise refuse
    if not 6 <= len(national) <= 9:
        raise refuse
    return "+46" + national


def normal_org_number(text: str) -> str:
    """A Swedish organisation number as NNNNNN-NNNN, its check digit verified (python-stdnum)."""
    try:
        return orgnr.format(orgnr.validate(text.strip()))
    except stdnum_errors.ValidationError:
        raise ValidationError(
            _(
                "%(value)s is not a valid organisation number "
                "(NNNNNN-NNNN with a correct check digit)."
            )
            % {"value": text.strip()},
            code="org_number",
        ) from None
