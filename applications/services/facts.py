"""A unit's eligibility facts: the provider states them, an official verifies them (uppgifter).

A provider states, for each unit it applies with, whether the unit lies in the city, the share
of its residents the city placed, and its places and customers, and declares them true
(intygande). The pot's rule is applied to what was stated at once (`confirmed_unit`), so the
provider sees its verdict with the reason; the grant's own figures (`GrantUnit`) — what a
computation counts — change only when an official verifies the statement, here, in one
service: one unit or five hundred, from the verification page or from the city's placement
register (`placements`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocations import audit, engine
from allocations.bulk import ids_in, update_values
from allocations.models import Grant, GrantUnit, Pot

from ..models import SCREENING_FIELDS, Application, ApplicationStatus, ApplicationUnit
from .base import WorkflowError
from .screening import PotRule

# What a provider declares, stored with the application in the words it ticked.
DECLARATION = gettext_lazy(
    "We declare that the facts we state for each unit — whether it lies in the city, the "
    "share of its residents the city placed, its places and its customers — are true, and "
    "we know that the administration checks them against its registers."
)

# Applications whose stated facts an official verifies: sent, and not withdrawn.
SENT = (ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)


@dataclass(frozen=True)
class Facts:
    """The figures an eligibility rule reads of a unit."""

    in_city: bool
    city_placed_share: Decimal
    places: int | None
    customers: int | None

    def differences(self, other: Facts | None) -> set[str]:
        """The names of the figures that differ from `other` (none when there is no other)."""
        if other is None:
            return set()
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}

    def as_json(self) -> dict:
        return {
            "in_city": self.in_city,
            "city_placed_share": str(self.city_placed_share),
            "places": self.places,
            "customers": self.customers,
        }


FACT_FIELDS = tuple(f.name for f in fields(Facts))


def grant_facts(gu: GrantUnit) -> Facts:
    """The grant's own figures of a unit: what a computation counts."""
    return Facts(
        in_city=gu.in_city,
        city_placed_share=gu.city_placed_share,
        places=gu.places,
        customers=gu.customers,
    )


def stated_facts(link: ApplicationUnit) -> Facts:
    """What the application states of its unit; a figure it does not state is the grant's."""
    return _stated(link, grant_facts(link.grant_unit))


def states_anything(link: ApplicationUnit) -> bool:
    """Whether the application states a figure of its own for the unit."""
    return any(
        v is not None
        for v in (link.stated_in_city, link.stated_city_placed_share, link.places, link.customers)
    )


def previous_grant(grant: Grant) -> Grant | None:
    """The grant of the same kind before this one: administered by the same organisation,
    received from the same source, under an agreement of an earlier year (the latest such)."""
    return (
        Grant.objects.filter(
            administered_by_id=grant.administered_by_id,
            received_from=grant.received_from,
            agreement__year__lt=grant.agreement.year,
        )
        .exclude(pk=grant.pk)
        .order_by("-agreement__year", "-created_at", "-pk")
        .first()
    )


def previous_facts(grant: Grant, unit_ids: Iterable[int]) -> dict[int, Facts]:
    """Last year's figures of these units (by register id): in the previous grant of the same
    kind, where it had them."""
    before = previous_grant(grant)
    if before is None:
        return {}
    return {
        gu.unit_id: grant_facts(gu)
        for gu in GrantUnit.objects.filter(grant=before, unit_id__in=list(unit_ids))
    }


def grant_is_decided(grant: Grant) -> bool:
    return grant.runs.filter(decided_on__isnull=False, redistributes=None).exists()


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class Verification:
    """One application unit to verify; a figure given here corrects what was stated."""

    link_id: int
    in_city: bool | None = None
    city_placed_share: Decimal | None = None
    places: int | None = None
    customers: int | None = None

    def verified(self, stated: Facts) -> Facts:
        changes = {name: getattr(self, name) for name in FACT_FIELDS}
        return replace(stated, **{k: v for k, v in changes.items() if v is not None})


SOURCE_OFFICIAL = "official"
SOURCE_PLACEMENTS = "placements"


# What a verification writes to each application unit it verifies, besides its verdict.
VERIFIED_FIELDS = (
    "stated_in_city",
    "stated_city_placed_share",
    "places",
    "customers",
    "verified_at",
    "verified_by",
    "verification_note",
)
VERDICT_FIELDS = tuple(sorted(SCREENING_FIELDS))


@transaction.atomic
def verify_facts(
    *,
    grant: Grant,
    verifications: list[Verification],
    reason: str = "",
    source: str = SOURCE_OFFICIAL,
    actor,
    actor_label: str = "",
) -> int:
    """Verify what applications state of their units: the grant's figures become what was
    stated, or the official's correction of it (a correction needs a reason). Each unit's
    verdict in every pot is made again. Refused once the grant is decided. Returns how many
    application units were verified.

    Hundreds of units at once (the officials' list, the placement register), so the rows are
    held as values, not model instances: every link naming one of the units is read once and
    screened again from what is in hand, the grant's figures are locked as values, and each
    table is written with one statement.
    """
    reason = reason.strip()
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    if grant_is_decided(grant):
        raise WorkflowError(
            _("The grant is decided; the figures of its units can no longer be changed.")
        )
    wanted = {v.link_id: v for v in verifications}
    if not wanted:
        raise WorkflowError(_("Choose at least one unit to verify."))
    # The links to verify, and every other link naming one of their units (in any pot).
    links = _links_naming(ApplicationUnit.objects.filter(pk__in=ids_in(wanted)))
    mine = [link for link in links if link.id in wanted]
    if len(mine) != len(wanted) or any(link.grant_id != grant.pk for link in mine):
        raise WorkflowError(_("Only units of this grant's applications can be verified."))
    if any(link.status not in SENT for link in mine):
        raise WorkflowError(_("Only the facts of a sent application can be verified."))
    # Lock the grant's figures of these units; two verifications of one unit take turns.
    units = {
        gu.id: gu
        for gu in GrantUnit.objects.select_for_update(of=("self",))
        .filter(pk__in=ids_in({link.grant_unit_id for link in mine}))
        .order_by("pk")
        .annotate(name=F("unit__name"), slug=F("unit__slug"), org=F("organisation__slug"))
        .values_list("id", "name", "slug", "org", "type", *FACT_FIELDS, named=True)
    }
    figures = {pk: Facts(*(getattr(gu, name) for name in FACT_FIELDS)) for pk, gu in units.items()}
    plans = []
    for link in mine:
        stated = _stated(link, figures[link.grant_unit_id])
        verified = wanted[link.id].verified(stated)
        plans.append((link, stated, verified, sorted(verified.differences(stated))))
    if not reason and any(corrected for *_plan, corrected in plans):
        raise WorkflowError(
            _("Give the reason for correcting a stated figure."),
            problems=[("reason", _("Give the reason for correcting a stated figure."))],
        )
    now = timezone.now()
    verified_by = actor.pk if getattr(actor, "is_authenticated", False) else None
    verifying: dict[int, tuple] = {}  # link -> its VERIFIED_FIELDS
    verified_units: list[tuple] = []  # their audit entries: (grant unit, name, before, after)
    by_app: dict[int, dict] = {}
    for link, stated, verified, corrected in plans:
        gu = units[link.grant_unit_id]
        before, figures[gu.id] = figures[gu.id], verified
        # What was stated stays readable once the grant's figures hold what was verified.
        verifying[link.id] = (
            stated.in_city,
            stated.city_placed_share,
            stated.places if stated.places != verified.places else None,
            stated.customers if stated.customers != verified.customers else None,
            now,
            verified_by,
            reason,
        )
        verified_units.append(
            (
                gu.id,
                gu.name,  # what str() of a grant unit says: its unit's name
                before.as_json(),
                {
                    **verified.as_json(),
                    "application": link.slug,
                    "stated": stated.as_json(),
                    "corrected": corrected,
                    "reason": reason,
                    "source": source,
                },
            )
        )
        summary = by_app.setdefault(
            link.application_id, {"link": link, "units": [], "corrected": {}}
        )
        summary["units"].append(gu.name)
        if corrected:
            summary["corrected"][gu.name] = {
                name: [_json(getattr(stated, name)), _json(getattr(verified, name))]
                for name in corrected
            }
    verdicts = _verdicts(links, units, figures, verified=set(verifying))
    # One statement per table (see allocations.bulk); a link is written once, verdict and all.
    update_values(
        GrantUnit,
        FACT_FIELDS,
        [(pk, *(getattr(f, name) for name in FACT_FIELDS)) for pk, f in figures.items()],
    )
    update_values(
        ApplicationUnit,
        (*VERIFIED_FIELDS, *VERDICT_FIELDS),
        [(pk, *values, *verdicts[pk]) for pk, values in verifying.items()],
    )
    update_values(
        ApplicationUnit,
        VERDICT_FIELDS,
        [(link.id, *verdicts[link.id]) for link in links if link.id not in verifying],
    )
    who = {"grant": grant, "actor": actor, "actor_label": actor_label}
    audit.log_many("grantunit.facts_verified", GrantUnit, verified_units, **who)
    histories = [
        (
            app_id,
            f"{summary['link'].slug} ({summary['link'].organisation})",  # as str() of it says
            None,
            {
                "units": summary["units"],
                "corrected": summary["corrected"],
                "reason": reason,
                "source": source,
            },
        )
        for app_id, summary in by_app.items()
    ]
    audit.log_many("application.facts_verified", Application, histories, **who)
    return len(mine)


def _links_naming(chosen) -> list:
    """Every link naming a grant unit that one of the `chosen` links names, as values."""
    return list(
        ApplicationUnit.objects.filter(grant_unit_id__in=chosen.values("grant_unit_id"))
        .order_by("grant_unit_id", "pk")
        .annotate(
            grant_id=F("application__grant_id"),
            pot_id=F("application__pot_id"),
            status=F("application__status"),
            slug=F("application__slug"),
            organisation=F("application__organisation__name"),
        )
        .values_list(
            "id",
            "application_id",
            "grant_unit_id",
            "stated_in_city",
            "stated_city_placed_share",
            "places",
            "customers",
            "verified_at",
            *VERDICT_FIELDS,
            "grant_id",
            "pot_id",
            "status",
            "slug",
            "organisation",
            named=True,
        )
    )


def _stated(link, facts: Facts) -> Facts:
    """What `link` (an instance, or a row of values) states of its unit, over the grant's
    figures `facts`: a figure it does not state is the grant's."""
    return Facts(
        in_city=facts.in_city if link.stated_in_city is None else link.stated_in_city,
        city_placed_share=(
            facts.city_placed_share
            if link.stated_city_placed_share is None
            else link.stated_city_placed_share
        ),
        places=facts.places if link.places is None else link.places,
        customers=facts.customers if link.customers is None else link.customers,
    )


def _verdicts(links, units, figures: dict[int, Facts], *, verified: set[int]) -> dict[int, tuple]:
    """Each link's verdict (`VERDICT_FIELDS`) in its pot on the grant's figures `figures`, as
    `rescreen_grant_units` makes it: what an application states still counts where no official
    has verified it; in a pot that screens no units a link keeps no verdict of it."""
    rules = {
        pot.pk: PotRule.of(pot) for pot in Pot.objects.filter(pk__in={x.pot_id for x in links})
    }
    verdicts = {}
    for link in links:
        rule = rules[link.pot_id]
        if rule is None:
            verdicts[link.id] = tuple(
                "" if name == "screened_with" else getattr(link, name) for name in VERDICT_FIELDS
            )
            continue
        gu = units[link.grant_unit_id]
        facts = figures[gu.id]
        if link.verified_at is None and link.id not in verified:
            facts = _stated(link, facts)
        unit = engine.Unit(
            gu.slug,
            gu.org,
            gu.type,
            places=facts.places,
            customers=facts.customers,
            in_city=facts.in_city,
            city_placed_share=facts.city_placed_share,
            name=gu.name,
        )
        verdict = rule.verdict(unit)
        verdicts[link.id] = tuple(verdict[name] for name in VERDICT_FIELDS)
    return verdicts


def _json(value):
    return str(value) if isinstance(value, Decimal) else value


# ---------------------------------------------------------------- the declaration


def record_statement(*, app: Application, before: dict, declared: bool, actor) -> None:
    """After a draft is saved: keep, record or clear the provider's declaration.

    `before` holds the facts the application stated before the save (`statement_of`). A new
    declaration covers what is stated now; a change to what is stated without one clears the
    old declaration, which no longer covers it.
    """
    now_stated = statement_of(app)
    if declared:
        if app.facts_declared_at is not None and now_stated == before:
            return  # declared already, and nothing changed since
        app.facts_declaration = str(DECLARATION)
        app.facts_declared_at = timezone.now()
        app.facts_declared_by = actor if getattr(actor, "is_authenticated", False) else None
        app.save(update_fields=["facts_declaration", "facts_declared_at", "facts_declared_by"])
        audit.log(
            "application.facts_stated",
            app,
            grant=app.grant,
            actor=actor,
            after={"units": now_stated, "declaration": app.facts_declaration},
        )
    elif now_stated != before and app.facts_declared_at is not None:
        app.facts_declaration = ""
        app.facts_declared_at = None
        app.facts_declared_by = None
        app.save(update_fields=["facts_declaration", "facts_declared_at", "facts_declared_by"])


def statement_of(app: Application) -> dict:
    """What the application states of each of its units (by unit name), as the audit keeps it."""
    return {
        link.grant_unit.unit.name: stated_facts(link).as_json()
        for link in ApplicationUnit.objects.filter(application=app)
        .select_related("grant_unit__unit")
        .order_by("position")
    }


def needs_declaration(app: Application) -> bool:
    """Whether the application states figures of its own, which it must declare true."""
    from ..units import unconfirmed_grant_units

    links = list(ApplicationUnit.objects.filter(application=app))
    if any(states_anything(link) for link in links):
        return True
    return bool(unconfirmed_grant_units([link.grant_unit_id for link in links]))
