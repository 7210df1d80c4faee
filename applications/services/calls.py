"""Calls (utlysningar): opened and closed on dates, with the live rate per place."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from allocations import audit
from allocations.models import Pot

from ..models import (
    ApplicationStatus,
    ApplicationUnit,
    Call,
    call_date_problems,
)
from .base import WorkflowError, pot_amount, pot_measure


@transaction.atomic
def open_call(
    *, pot: Pot, title: str, opens_on: date, closes_on: date, instructions: str = "", actor
) -> Call:
    if pot.children.exists() or not pot.model:
        raise WorkflowError(_("A call is made for a pot with an allocation model."))
    problems = call_date_problems(pot=pot, opens_on=opens_on, closes_on=closes_on)
    if problems:
        raise WorkflowError(" ".join(message for _field, message in problems))
    call = Call.objects.create(
        pot=pot,
        title=title,
        opens_on=opens_on,
        closes_on=closes_on,
        instructions=instructions,
        created_by=actor,
    )
    audit.log(
        "call.opened",
        call,
        grant=pot.grant,
        actor=actor,
        after={"opens_on": opens_on.isoformat(), "closes_on": closes_on.isoformat()},
    )
    return call


@transaction.atomic
def close_call(*, call: Call, today: date, actor) -> Call:
    before = call.closes_on
    if today < call.opens_on:
        call.opens_on = today
    call.closes_on = min(call.closes_on, today)
    call.save(update_fields=["opens_on", "closes_on"])
    audit.log(
        "call.closed",
        call,
        grant=call.pot.grant,
        actor=actor,
        before={"closes_on": before.isoformat()},
        after={"closes_on": call.closes_on.isoformat()},
    )
    return call


def indicative_rate(call: Call) -> tuple[Fraction | None, int]:
    """The live rate of a per-unit call: the pot ÷ what has been applied for so far.

    "1 200 kr per place if every provider applies, more if not": counts the
    eligible units of submitted and approved applications. Returns (rate, measure).
    """
    pot = call.pot
    if pot_measure(pot) is None:
        return None, 0
    total = (
        ApplicationUnit.objects.filter(
            application__pot=pot,
            application__status__in=(ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED),
            eligible=True,
        ).aggregate(total=Sum("measure"))["total"]
        or 0
    )
    amount = pot_amount(pot)
    if not total or amount is None:
        return None, total
    return Fraction(amount, total), total
