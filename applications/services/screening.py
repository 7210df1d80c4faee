"""Each application unit's verdict in its pot, stored so that lists sum it in SQL."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from allocations import engine, grantfile
from allocations.bulk import update_rows
from allocations.models import Pot

from ..models import (
    SCREENING_FIELDS,
    Application,
    ApplicationUnit,
)
from .base import UNIT_BASED, confirmed_unit, pot_measure


@dataclass
class UnitScreening:
    grant_unit_id: int
    slug: str
    name: str
    measure: int  # the places or customers the application gives; 0 where the pot counts none
    reason: engine.Reason | None  # None: the pot's rule takes the unit


def screening_key(pot: Pot) -> str:
    """The digest of what a unit's verdict in `pot` depends on, besides the unit's figures."""
    data = json.dumps(
        {"model": pot.model, "measure": pot_measure(pot)}, sort_keys=True, cls=DjangoJSONEncoder
    )
    return hashlib.sha256(data.encode()).hexdigest()


@dataclass(frozen=True)
class PotRule:
    """What a unit's verdict in a unit-based pot depends on besides the unit, read once."""

    key: str  # screening_key(pot)
    model: engine.Model
    measure: str | None

    @classmethod
    def of(cls, pot: Pot) -> PotRule | None:
        """The pot's rule; None for a pot that does not screen units."""
        if pot.model_type not in UNIT_BASED:
            return None
        return cls(screening_key(pot), grantfile.to_model(pot.model), pot_measure(pot))

    def verdict(self, unit: engine.Unit) -> dict:
        """The stored verdict (`SCREENING_FIELDS`) of a unit with these figures."""
        reason = engine.screen_unit(self.model, unit)
        return {
            "measure": (unit.measure(self.measure) or 0) if self.measure else 0,
            "eligible": reason is None,
            "reason": [reason[0], reason[1]] if reason else None,
            "screened_with": self.key,
        }


def refresh_screening(pot: Pot, applications: QuerySet[Application] | None = None) -> int:
    """Screen again the pot's application units whose stored verdict is missing or stale.

    One query when nothing is stale. Called by the services that change what a verdict depends
    on — an application's units, a pot's model, a unit's figures, an import — never by a page
    that only reads. Returns how many units were screened.
    """
    rule = PotRule.of(pot)
    if rule is None:
        return 0
    links = ApplicationUnit.objects.filter(application__pot=pot).exclude(screened_with=rule.key)
    if applications is not None:
        links = links.filter(application__in=applications.order_by().values("pk"))
    stale = list(links.values_list("pk", flat=True))  # usually none: one narrow query
    if not stale:
        return 0
    links = list(
        ApplicationUnit.objects.filter(pk__in=stale).select_related(
            "grant_unit__unit", "grant_unit__organisation"
        )
    )
    for link in links:
        for name, value in rule.verdict(confirmed_unit(link)).items():
            setattr(link, name, value)
    update_rows(links, sorted(SCREENING_FIELDS))
    return len(links)


def rescreen_grant_units(grant_unit_ids) -> int:
    """A unit's figures for a grant changed: make the verdict of every application unit naming
    it again, in every pot. Whoever changes the figures calls this (or `refresh_screening`;
    `verify_facts` screens the links it holds with `PotRule` itself)."""
    links = ApplicationUnit.objects.filter(grant_unit_id__in=grant_unit_ids)
    links.update(screened_with="")
    pots = Pot.objects.filter(pk__in=links.values("application__pot")).order_by("pk")
    return sum(refresh_screening(pot) for pot in pots)


def screen_applications(
    pot: Pot, applications: QuerySet[Application]
) -> dict[int, list[UnitScreening]]:
    """Each application's units, with its confirmed figures and the pot's verdict.

    What `eligibility_preview` says for one application, for a list of them, read from the
    stored verdicts: two queries however many.
    """
    if pot.model_type not in UNIT_BASED:
        return {}
    links = (
        ApplicationUnit.objects.filter(application__in=applications.order_by().values("pk"))
        .order_by("application_id", "position")
        .values_list(
            "application_id",
            "grant_unit_id",
            "grant_unit__unit__slug",
            "grant_unit__unit__name",
            "measure",
            "reason",
        )
    )
    screened: dict[int, list[UnitScreening]] = {}
    for app_id, grant_unit_id, slug, name, measure, reason in links:
        screened.setdefault(app_id, []).append(
            UnitScreening(
                grant_unit_id=grant_unit_id,
                slug=slug,
                name=name,
                measure=measure,
                reason=(reason[0], reason[1]) if reason else None,
            )
        )
    return screened
