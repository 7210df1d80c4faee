"""The provider's unit register (`allocations.Unit`), and new units in an application.

A provider keeps its units' name, type, places and customers up to date in the
portal. The register is only the current state: each grant keeps its own copy of
a unit's figures (`GrantUnit`), so changing the register never changes a grant,
its applications or a computed run.

A unit the grant does not know yet can be applied for: saving the application
adds it to the grant with the register's type, places and customers. The
attributes the eligibility rules read besides those — whether the unit is in the
city and the share of its residents the city placed — the provider states in its
application and declares true (`services.facts`): its application's verdict is made
on them at once, but the grant's own figures keep their least favourable value
until an official verifies the statement (one by one, in bulk, or from the city's
placement register; audited), so a computation never counts a unit on figures no
one has checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils.text import slugify
from django.utils.translation import gettext as _

from allocations import audit
from allocations.models import AuditEntry, Grant, GrantUnit, Organisation, Unit

from . import services
from .models import Application, ApplicationStatus, ApplicationUnit

# The fields a provider keeps in the register; the rest is the administration's.
PROVIDER_FIELDS = ("name", "type", "places", "customers")
# Until an administrator confirms them: not in the city, no resident placed by the city.
UNCONFIRMED = {"in_city": False, "city_placed_share": Decimal(0)}
ADDED_BY_APPLICATION = "grantunit.created"


def _snapshot(obj, fields) -> dict:
    """Field values as the audit trail stores them (JSON)."""
    values = {name: getattr(obj, name) for name in fields}
    return {name: str(v) if isinstance(v, Decimal) else v for name, v in values.items()}


def _free_slug(organisation: Organisation, name: str) -> str:
    base = slugify(f"{organisation.slug} {name}")[:90].strip("-") or "enhet"
    taken = set(Unit.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_unit(*, organisation: Organisation, actor, **fields) -> Unit:
    """Register a unit of `organisation`; its id is made from the name."""
    values = {name: fields[name] for name in PROVIDER_FIELDS}
    attempts = 3
    while True:
        attempts -= 1
        try:
            with transaction.atomic():
                unit = Unit.objects.create(
                    organisation=organisation,
                    slug=_free_slug(organisation, values["name"]),
                    **values,
                    **UNCONFIRMED,
                )
                audit.log(
                    "unit.created",
                    unit,
                    actor=actor,
                    after={"organisation": organisation.slug, **values},
                )
                return unit
        except IntegrityError:
            # Another request took the same id a moment ago: try the next free one.
            if not attempts:
                raise


@transaction.atomic
def update_unit(*, unit: Unit, actor, **fields) -> Unit:
    """Change what the provider keeps of a unit; its grants keep their own figures."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    before = _snapshot(unit, PROVIDER_FIELDS)
    after = {name: fields[name] for name in PROVIDER_FIELDS}
    if after == before:
        return unit
    for name, value in after.items():
        setattr(unit, name, value)
    unit.save(update_fields=list(PROVIDER_FIELDS))
    changed = [name for name in PROVIDER_FIELDS if before[name] != after[name]]
    audit.log(
        "unit.changed",
        unit,
        actor=actor,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    return unit


# ---------------------------------------------------------------- new units in an application


def takes_new_units(grant: Grant) -> bool:
    """Whether a unit may join the grant through an application.

    Only where every unit-based pot counts the units of approved applications
    alone: a pot that divides among all of the grant's units would otherwise
    count a unit that no official has looked at.
    """
    # Unordered: the pots' own ordering would join the grant and its agreement for nothing.
    for model in grant.pots.exclude(model=None).order_by().values_list("model", flat=True):
        if (model or {}).get("type") in services.UNIT_BASED and not model.get(
            "applicants_only", True
        ):
            return False
    return True


def grant_units_offered_to(app: Application) -> list[GrantUnit]:
    """The applicant's own units in its grant, by name, each with its unit's name as
    `unit_name`: the application form shows that name and nothing else of the unit."""
    return list(
        GrantUnit.objects.filter(grant_id=app.grant_id, organisation_id=app.organisation_id)
        .annotate(unit_name=F("unit__name"))
        .order_by("unit_name", "id")
    )


def units_new_to_grant(app: Application) -> list[Unit]:
    """The applicant's registered units that its grant does not know yet."""
    # NOT EXISTS, which PostgreSQL answers with an anti-join on the grant's (grant, unit)
    # index: a `NOT IN` subquery cannot be one (NULL semantics), so it hashed every unit of
    # the grant on every request — 2 ms for a grant of 10 000 units, for the few of one
    # provider; an exclude across the relation builds the same NOT IN.
    in_grant = GrantUnit.objects.filter(grant_id=app.grant_id, unit_id=OuterRef("pk"))
    units = list(
        Unit.objects.filter(organisation_id=app.organisation_id)
        .exclude(Exists(in_grant))
        .order_by("name", "id")
    )
    # Most applicants have none: then the grant's pots need not be read.
    if units and not takes_new_units(app.grant):
        return []
    return units


def unconfirmed_grant_units(grant_units: list[GrantUnit] | list[int]) -> set[int]:
    """Which of these (units in a grant, or their ids) were added by an application and not
    changed by the administration since."""
    label = GrantUnit._meta.label_lower
    entries = AuditEntry.objects.filter(
        object_type=label,
        object_id__any=[str(getattr(gu, "pk", gu)) for gu in grant_units],
        action__in=(ADDED_BY_APPLICATION, "grantunit.changed", "grantunit.facts_verified"),
    ).order_by("at", "id")
    # The latest entry wins. The admin logs a unit it adds under the same action, but only an
    # application's entry names the application: a unit the administration added is its own.
    unconfirmed = {}
    for pk, action, after in entries.values_list("object_id", "action", "after"):
        unconfirmed[pk] = action == ADDED_BY_APPLICATION and "application" in (after or {})
    return {int(pk) for pk, flag in unconfirmed.items() if flag}


def pot_unit_types(app: Application) -> set[str] | None:
    """The unit types that can take part in the application's pot; None: any type."""
    model = app.pot.model or {}
    types = (model.get("eligible") or {}).get("unit_types")
    if types:
        return set(types)
    tiers = model.get("tiers")
    if tiers:
        return {tier["unit_type"] for tier in tiers}
    return None


def offered_units(
    app: Application,
    grant_units: list[GrantUnit],
    new_units: list[Unit],
    links: list[ApplicationUnit],
) -> tuple[list[GrantUnit], list[Unit], list[tuple[str, str, str]]]:
    """Which of the organisation's units the application form offers, and the others with the
    reason each cannot be chosen: (name, type, reason) — shown greyed, never posted.

    Offered: a unit of a type the pot takes that no other sent application to the pot (through
    this call or another) names. A unit already named by this application stays offered, so
    the provider can take it out. The grant units come with their unit's name as `unit_name`
    (`grant_units_offered_to`), the unit itself unread; `links` are the application's units.
    """
    from allocations.wording import unit_type_labels

    types = pot_unit_types(app)
    chosen = {link.grant_unit_id for link in links}
    taken = dict(
        ApplicationUnit.objects.filter(
            application__pot_id=app.pot_id,
            application__status__in=(
                ApplicationStatus.SUBMITTED,
                ApplicationStatus.APPROVED,
            ),
            grant_unit_id__any=[gu.pk for gu in grant_units],
        )
        .exclude(application_id=app.pk)
        # The model's order without its joins: every application to one pot is of its grant.
        # Where two name a unit, the later one's slug is shown, as before.
        .order_by("application__position", "application_id", "position")
        .values_list("grant_unit_id", "application__slug")
    )
    # Each reason and type translated once, not once a unit.
    not_its_type = _("this pot does not take its type")
    applied_for = _("already applied for in application %(app)s")
    label = unit_type_labels(u.type for u in [*grant_units, *new_units])
    offered, unavailable = [], []
    for gu in grant_units:
        if gu.pk in chosen:
            offered.append(gu)
        elif types is not None and gu.type not in types:
            unavailable.append((gu.unit_name, label[gu.type], not_its_type))
        elif gu.pk in taken:
            unavailable.append((gu.unit_name, label[gu.type], applied_for % {"app": taken[gu.pk]}))
        else:
            offered.append(gu)
    offered_new = []
    for unit in new_units:
        if types is not None and unit.type not in types:
            unavailable.append((unit.name, label[unit.type], not_its_type))
        else:
            offered_new.append(unit)
    return offered, offered_new, unavailable


@dataclass
class NewUnitChoice:
    unit: Unit
    places: int | None = None
    customers: int | None = None
    in_city: bool | None = None
    city_placed_share: Decimal | None = None


def _add_to_grant(app: Application, unit: Unit, actor) -> GrantUnit:
    if unit.organisation_id != app.organisation_id:
        raise services.WorkflowError(
            _("A unit of another organisation cannot be part of this application.")
        )
    existing = GrantUnit.objects.filter(grant_id=app.grant_id, unit=unit).first()
    if existing is not None:
        return existing  # added a moment ago, by another save of the same form
    position = GrantUnit.objects.filter(grant_id=app.grant_id).aggregate(n=Max("position"))["n"]
    gu = GrantUnit.objects.create(
        grant_id=app.grant_id,
        unit=unit,
        organisation_id=app.organisation_id,
        type=unit.type,
        places=unit.places,
        customers=unit.customers,
        position=(position or 0) + 1,
        **UNCONFIRMED,
    )
    fields = ("type", "places", "customers", "in_city", "city_placed_share")
    audit.log(
        ADDED_BY_APPLICATION,
        gu,
        grant=app.grant,
        actor=actor,
        after={
            **_snapshot(gu, fields),
            "organisation": app.organisation.slug,
            "application": app.slug,
        },
    )
    return gu


@transaction.atomic
def save_draft_with_new_units(
    *,
    app: Application,
    units: list[services.UnitChoice],
    new_units: list[NewUnitChoice],
    actor,
    **fields,
) -> Application:
    """`services.save_draft`, first adding the chosen units the grant does not know yet."""
    # Two saves of the same form at once add each unit once: the second waits here.
    app = (
        Application.objects.select_for_update(of=("self",))
        .select_related("organisation", "grant")
        .get(pk=app.pk)
    )
    if new_units and not takes_new_units(app.grant):
        raise services.WorkflowError(_("Units cannot be added to this grant by applying."))
    added = [
        services.UnitChoice(
            _add_to_grant(app, choice.unit, actor),
            places=choice.places,
            customers=choice.customers,
            in_city=choice.in_city,
            city_placed_share=choice.city_placed_share,
        )
        for choice in new_units
    ]
    return services.save_draft(app=app, units=[*units, *added], actor=actor, **fields)


def confirm_location(
    *,
    app: Application,
    grant_unit: GrantUnit,
    in_city: bool,
    city_placed_share: Decimal,
    reason: str = "",
    actor,
) -> GrantUnit:
    """The official confirms where a unit an application added to the grant lies, and how many
    of its residents the city placed, on the application's page: one unit's verification
    (`services.verify_facts`, the one door to a grant unit's figures). What the application
    states of the unit is verified, with these two figures as the official's correction where
    they differ from what was stated (a correction needs a reason); the unit's verdict in
    every pot is then made again."""
    link = app.applicationunit_set.filter(grant_unit_id=grant_unit.pk).first()
    if link is None:
        raise services.WorkflowError(_("The unit is not part of this application."))
    services.verify_facts(
        grant=app.grant,
        verifications=[
            services.Verification(link.pk, in_city=in_city, city_placed_share=city_placed_share)
        ],
        reason=reason,
        actor=actor,
    )
    return GrantUnit.objects.get(pk=grant_unit.pk)
