"""What every step of the workflow shares: its error, and a pot's measure and amount."""

from __future__ import annotations

from allocations import engine
from allocations.models import Pot
from allocations.services import engine_unit

from ..models import (
    ApplicationUnit,
)


class WorkflowError(Exception):
    """A state change that is not allowed now; the message says why, for the user.

    `problems` holds (field, message) pairs when the refusal is about what was typed into
    named fields, so that a page can show each message at its field.
    """

    def __init__(self, message, *, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


UNIT_BASED = engine.UNIT_BASED


def pot_measure(pot: Pot) -> str | None:
    model = pot.model or {}
    if model.get("type") == "per_unit":
        return model.get("measure")
    return None


def pot_amount(pot: Pot) -> int | None:
    """The pot's amount in kronor, a "rest" pot resolved against its parent."""
    if not pot.takes_rest:
        return pot.amount
    from allocations.services import load_grant

    grant_input = load_grant(pot.grant).input
    return engine.resolve_amounts(grant_input.amount, grant_input.pots).get(pot.slug)


def confirmed_unit(link: ApplicationUnit) -> engine.Unit:
    """A unit with the figures its application gives: the grant's, as far as the provider
    stated other figures (places, customers, location, share placed) that no official has
    verified yet. Once verified, the grant's figures hold what was verified."""
    unit = engine_unit(link.grant_unit)
    if link.verified_at is not None:
        return unit
    changes = {}
    if link.places is not None:
        changes["places"] = link.places
    if link.customers is not None:
        changes["customers"] = link.customers
    if link.stated_in_city is not None:
        changes["in_city"] = link.stated_in_city
    if link.stated_city_placed_share is not None:
        changes["city_placed_share"] = link.stated_city_placed_share
    if not changes:
        return unit
    from dataclasses import replace

    return replace(unit, **changes)
