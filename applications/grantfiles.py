"""Grant files in and out: `import_grant`, `export_grant`.

A grant file (`stimulans-grant/1`) carries the ledger's records (agreement, grant,
units, datasets, the budget tree) and the workflow's (applications), so reading
and writing one lives here, in the workflow layer, above the ledger it fills.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext

from allocations import audit, engine, grantfile
from allocations.models import (
    Agreement,
    Dataset,
    DatasetValue,
    Grant,
    GrantOrganisation,
    GrantUnit,
    Organisation,
    PermittedUse,
    Pot,
    Unit,
)
from allocations.services import engine_unit
from allocations.wording import reason_text

from .models import Application, ApplicationStatus, ApplicationUnit, ApplicationUse
from .services.applying import review_application
from .services.screening import refresh_screening


class ImportRefused(Exception):
    """The file is valid but cannot be imported as asked (the message says why)."""


BATCH = 5000


@transaction.atomic
def import_grant(
    data: dict,
    *,
    replace: bool = False,
    review: bool = False,
    actor=None,
    actor_label: str = "",
) -> Grant:
    """Store a checked grant file. All or nothing.

    `replace` lets a grant id that exists be imported again, unless one of its
    runs is decided: a decision is public and stays. `review` sets submitted
    applications to unit-based pots to approved or rejected by the pot's rule.
    """
    grantfile.check(data)
    g = data["grant"]
    existing = Grant.objects.select_for_update().filter(slug=g["id"]).first()
    before = None
    if existing is not None:
        if not replace:
            raise ImportRefused(
                f"grant '{g['id']}' is already imported; use --replace to import it again"
            )
        refusal = existing.replace_refusal()
        if refusal:
            raise ImportRefused(f"{refusal} — import the changed grant under a new id")
        before = export_grant(existing)
        _delete_grant(existing)
    _refuse_source_cycle(g)

    orgs = _organisations(data["organisations"])
    grant = Grant.objects.create(
        slug=g["id"],
        title=g["title"],
        reference=g.get("reference", ""),
        agreement=_agreement(data["agreement"]),
        received_from=g["received_from"],
        recipient=g["recipient"],
        administered_by=orgs[g["administered_by"]],
        amount=g["amount"],
        decision_body=g["decision_body"],
        delegated_to=g.get("delegated_to", ""),
        source_grant=g.get("source", {}).get("grant", ""),
        source_organisation=g.get("source", {}).get("organisation", ""),
        published=data.get("published"),
        illustrative=data.get("illustrative", {}),
    )
    GrantOrganisation.objects.bulk_create(
        GrantOrganisation(grant=grant, organisation=orgs[o["id"]], position=i)
        for i, o in enumerate(data["organisations"])
    )
    grant_units = _units(grant, data.get("units", []), orgs)
    _datasets(grant, data.get("datasets", []), orgs)
    pots = _pots(grant, data["pots"])
    _applications(grant, data, orgs, pots, grant_units, review, actor_label)
    for pot in pots.values():
        refresh_screening(pot)  # the stored verdicts the review lists sum
    audit.log(
        "grant.replaced" if before else "grant.imported",
        grant,
        grant=grant,
        actor=actor,
        actor_label=actor_label,
        before=_money_summary(before) if before else None,
        after=_money_summary(data),
    )
    return grant


def _money_summary(data: dict) -> dict:
    """The money-bearing part of a grant file, for the audit trail."""

    def pots(items):
        return [
            {
                "id": p["id"],
                "amount": p["amount"],
                "model": p.get("model"),
                "children": pots(p.get("children", [])),
            }
            for p in items
        ]

    return {"amount": data["grant"]["amount"], "pots": pots(data["pots"])}


def _delete_grant(grant: Grant) -> None:
    # Runs and applications point at pots and units with protected keys: they go first.
    for run in grant.runs.all():
        run.delete()
    grant.applications.all().delete()
    grant.delete()


def _refuse_source_cycle(g: dict) -> None:
    """Following the upstream links from this grant must never come back to it."""
    seen = {g["id"]}
    current = g.get("source", {}).get("grant")
    while current:
        if current in seen:
            raise ImportRefused(
                f"grant.source.grant: following the upstream grants from '{g['id']}' "
                f"comes back to '{current}' (a cycle)"
            )
        seen.add(current)
        current = Grant.objects.filter(slug=current).values_list("source_grant", flat=True).first()


def _organisations(items: list[dict]) -> dict[str, Organisation]:
    slugs = [o["id"] for o in items]
    found = {o.slug: o for o in Organisation.objects.filter(slug__in=slugs)}
    for item in items:
        org = found.get(item["id"])
        fields = {
            "name": item["name"],
            "kind": item["kind"],
            "ownership": item["ownership"],
            # A file that leaves the number out keeps the one known (from the admin or an
            # earlier file): blanking it emptied every export's organisation number column.
            "org_number": item.get("org_number") or (org.org_number if org else ""),
        }
        if org is None:
            found[item["id"]] = Organisation.objects.create(slug=item["id"], **fields)
        elif any(getattr(org, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(org, k, v)
            org.save()
    return found


def _agreement(item: dict) -> Agreement:
    """The agreement, shared with earlier grants when every detail matches."""
    fields = {
        "title": item["title"],
        "year": item["year"],
        "parties": item["parties"],
        "national_amount": item.get("national_amount"),
        "purpose": item["purpose"],
        "spend_by": _date(item.get("spend_by")),
        "report_by": _date(item.get("report_by")),
        "repay_by": _date(item.get("repay_by")),
        "repay_to": item.get("repay_to", ""),
    }
    uses = [(u["code"], u["label"]) for u in item["permitted_uses"]]
    for candidate in Agreement.objects.filter(title=fields["title"], year=fields["year"]):
        same = all(getattr(candidate, k) == v for k, v in fields.items())
        if same and list(candidate.permitted_uses.values_list("code", "label")) == uses:
            return candidate
    agreement = Agreement.objects.create(**fields)
    PermittedUse.objects.bulk_create(
        PermittedUse(agreement=agreement, code=c, label=label, position=i)
        for i, (c, label) in enumerate(uses)
    )
    return agreement


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _units(grant: Grant, items: list[dict], orgs: dict[str, Organisation]) -> dict[str, GrantUnit]:
    """Register each unit (latest figures win) and keep this grant's figures beside it."""
    slugs = [u["id"] for u in items]
    register = {}
    for start in range(0, len(slugs), BATCH):
        chunk = slugs[start : start + BATCH]
        register.update({u.slug: u for u in Unit.objects.filter(slug__in=chunk)})
    new, changed = [], []
    for item in items:
        fields = _unit_fields(item, orgs)
        unit = register.get(item["id"])
        if unit is None:
            unit = Unit(slug=item["id"], name=item["name"], **fields)
            register[item["id"]] = unit
            new.append(unit)
        elif unit.name != item["name"] or any(getattr(unit, k) != v for k, v in fields.items()):
            unit.name = item["name"]
            for k, v in fields.items():
                setattr(unit, k, v)
            changed.append(unit)
    Unit.objects.bulk_create(new, batch_size=BATCH)
    Unit.objects.bulk_update(
        changed,
        ["name", "type", "organisation", "places", "customers", "in_city", "city_placed_share"],
        batch_size=BATCH,
    )
    if new and new[0].pk is None:  # backends that do not return ids from bulk inserts
        register.update({u.slug: u for u in Unit.objects.filter(slug__in=[u.slug for u in new])})
    grant_units = [
        GrantUnit(grant=grant, unit=register[item["id"]], position=i, **_unit_fields(item, orgs))
        for i, item in enumerate(items)
    ]
    GrantUnit.objects.bulk_create(grant_units, batch_size=BATCH)
    if grant_units and grant_units[0].pk is None:
        grant_units = list(GrantUnit.objects.filter(grant=grant).select_related("unit"))
    return {gu.unit.slug: gu for gu in grant_units}


def _unit_fields(item: dict, orgs: dict[str, Organisation]) -> dict:
    return {
        "type": item["type"],
        "organisation": orgs[item["organisation"]],
        "places": item.get("places"),
        "customers": item.get("customers"),
        "in_city": item["in_city"],
        "city_placed_share": Decimal(item["city_placed_share"]),
    }


def _datasets(grant: Grant, items: list[dict], orgs: dict[str, Organisation]) -> None:
    for i, item in enumerate(items):
        dataset = Dataset.objects.create(
            grant=grant,
            slug=item["id"],
            label=item["label"],
            source=item["source"],
            reference_date=_date(item["reference_date"]),
            illustrative=item.get("illustrative"),
            position=i,
        )
        DatasetValue.objects.bulk_create(
            (
                DatasetValue(dataset=dataset, organisation=orgs[org], value=value, position=j)
                for j, (org, value) in enumerate(item["values"].items())
            ),
            batch_size=BATCH,
        )


def _pots(grant: Grant, items: list[dict]) -> dict[str, Pot]:
    pots: dict[str, Pot] = {}

    def create(item: dict, parent: Pot | None, position: int) -> None:
        rest = item["amount"] == engine.REST
        pot = Pot.objects.create(
            grant=grant,
            parent=parent,
            slug=item["id"],
            name=item["name"],
            position=position,
            amount=None if rest else item["amount"],
            takes_rest=rest,
            model=item.get("model"),
            description=item.get("description", ""),
            roadmap_needs=item.get("roadmap_needs", []),
        )
        pots[pot.slug] = pot
        for i, child in enumerate(item.get("children", [])):
            create(child, pot, i)

    for i, item in enumerate(items):
        create(item, None, i)
    return pots


def _applications(grant, data, orgs, pots, grant_units, review, actor_label) -> None:
    uses = {u.code: u for u in grant.agreement.permitted_uses.all()}
    units_by_grant = grant_units
    apps = []
    for i, item in enumerate(data.get("applications", [])):
        app = Application(
            grant=grant,
            pot=pots[item["pot"]],
            slug=item["id"],
            organisation=orgs[item["organisation"]],
            intended_use=item.get("intended_use", ""),
            requested_amount=item.get("requested_amount"),
            granted_amount=item.get("granted_amount"),
            status=item["status"],
            position=i,
        )
        if app.status == ApplicationStatus.SUBMITTED:
            app.unit_reasons = _unit_reasons(
                app, [units_by_grant[u] for u in item.get("units", [])]
            )
        apps.append(app)
    Application.objects.bulk_create(apps, batch_size=BATCH)
    if apps and apps[0].pk is None:
        apps = list(Application.objects.filter(grant=grant).order_by("position"))
    unit_links, use_links = [], []
    for app, item in zip(apps, data.get("applications", []), strict=True):
        unit_links.extend(
            ApplicationUnit(application_id=app.pk, grant_unit_id=units_by_grant[u].pk, position=j)
            for j, u in enumerate(item.get("units", []))
        )
        use_links.extend(
            ApplicationUse(application_id=app.pk, use_id=uses[c].pk, position=j)
            for j, c in enumerate(item.get("uses", []))
        )
    ApplicationUnit.objects.bulk_create(unit_links, batch_size=BATCH)
    ApplicationUse.objects.bulk_create(use_links, batch_size=BATCH)
    if review:
        _review(apps, actor_label)


def _unit_reasons(app: Application, units: list[GrantUnit]) -> dict:
    """Why each unit of a submitted application fails its pot's rule (none: every unit passes)."""
    model_data = app.pot.model or {}
    if model_data.get("type") not in grantfile.UNIT_BASED:
        return {}
    model = grantfile.to_model(model_data)
    reasons = {}
    for gu in units:
        reason = engine.screen_unit(model, engine_unit(gu))
        if reason:
            reasons[gu.unit.slug] = {"code": reason[0], "details": reason[1]}
    return reasons


def _review(apps: list[Application], actor_label: str) -> None:
    """Approve or reject the submitted applications to unit-based pots by the pot's rule,
    through the same review as an official's: rejected when no unit passes, with why."""
    for app in apps:
        if app.status != ApplicationStatus.SUBMITTED:
            continue
        if (app.pot.model or {}).get("type") not in grantfile.UNIT_BASED:
            continue
        rejected = len(app.unit_reasons) == app.applicationunit_set.count()
        reason = " ".join(reason_text(r["code"], r["details"]) for r in app.unit_reasons.values())
        reason = reason or gettext("The application names no unit.")
        review_application(
            app=app, approve=not rejected, reason=reason, actor=None, actor_label=actor_label
        )


# ---------------------------------------------------------------- export


def _omit_empty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, "")}


def export_grant(grant: Grant) -> dict:
    """The grant as a `stimulans-grant/1` file: importing it gives the same grant."""
    a = grant.agreement
    agreement = _omit_empty(
        {
            "title": a.title,
            "year": a.year,
            "parties": a.parties,
            "national_amount": a.national_amount,
            "purpose": a.purpose,
            "permitted_uses": [{"code": u.code, "label": u.label} for u in a.permitted_uses.all()],
            "spend_by": a.spend_by and a.spend_by.isoformat(),
            "report_by": a.report_by and a.report_by.isoformat(),
            "repay_by": a.repay_by and a.repay_by.isoformat(),
            "repay_to": a.repay_to,
        }
    )
    g = _omit_empty(
        {
            "id": grant.slug,
            "title": grant.title,
            "reference": grant.reference,
            "received_from": grant.received_from,
            "recipient": grant.recipient,
            "administered_by": grant.administered_by.slug,
            "amount": grant.amount,
            "decision_body": grant.decision_body,
            "delegated_to": grant.delegated_to,
        }
    )
    if grant.source_grant:
        g["source"] = {"grant": grant.source_grant, "organisation": grant.source_organisation}
    organisations = [
        _omit_empty(
            {
                "id": go.organisation.slug,
                "name": go.organisation.name,
                "kind": go.organisation.kind,
                "ownership": go.organisation.ownership,
                "org_number": go.organisation.org_number,
            }
        )
        for go in GrantOrganisation.objects.filter(grant=grant).select_related("organisation")
    ]
    units = [
        _omit_empty(
            {
                "id": gu.unit.slug,
                "organisation": gu.organisation.slug,
                "name": gu.unit.name,
                "type": gu.type,
                "places": gu.places,
                "customers": gu.customers,
                "in_city": gu.in_city,
                "city_placed_share": _share(gu.city_placed_share),
            }
        )
        for gu in grant.grant_units.select_related("unit", "organisation")
    ]
    datasets = []
    for ds in grant.datasets.prefetch_related("values__organisation"):
        item = {
            "id": ds.slug,
            "label": ds.label,
            "source": ds.source,
            "reference_date": ds.reference_date.isoformat(),
        }
        if ds.illustrative is not None:
            item["illustrative"] = ds.illustrative
        item["values"] = {v.organisation.slug: v.value for v in ds.values.all()}
        datasets.append(item)
    data = {
        "format": grantfile.FORMAT,
        "agreement": agreement,
        "grant": g,
        "organisations": organisations,
        "units": units,
        "datasets": datasets,
        "pots": _export_pots(grant),
        "applications": _export_applications(grant),
    }
    if grant.published is not None:
        data["published"] = grant.published
    if grant.illustrative:
        data["illustrative"] = grant.illustrative
    return data


def _share(value: Decimal) -> str:
    """A share as a decimal string with at least two decimals (`"0.80"`, `"1.00"`)."""
    text = f"{value.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _export_pots(grant: Grant) -> list[dict]:
    def item(pot: Pot, kids: list[dict]) -> dict:
        out = {"id": pot.slug, "name": pot.name}
        out["amount"] = engine.REST if pot.takes_rest else pot.amount
        if pot.description:
            out["description"] = pot.description
        if pot.roadmap_needs:
            out["roadmap_needs"] = pot.roadmap_needs
        if kids:
            out["children"] = kids
        else:
            out["model"] = pot.model
        return out

    return grant.pot_tree().fold(item)


def _export_applications(grant: Grant) -> list[dict]:
    out = []
    links: dict[int, list[str]] = {}
    for app_id, slug in ApplicationUnit.objects.filter(application__grant=grant).values_list(
        "application_id", "grant_unit__unit__slug"
    ):
        links.setdefault(app_id, []).append(slug)
    uses: dict[int, list[str]] = {}
    for app_id, code in ApplicationUse.objects.filter(application__grant=grant).values_list(
        "application_id", "use__code"
    ):
        uses.setdefault(app_id, []).append(code)
    for app in grant.applications.select_related("pot", "organisation"):
        item = {"id": app.slug, "pot": app.pot.slug, "organisation": app.organisation.slug}
        units = links.get(app.pk, [])
        if units:
            item["units"] = units
        if uses.get(app.pk):
            item["uses"] = uses[app.pk]
        if app.intended_use:
            item["intended_use"] = app.intended_use
        if app.requested_amount is not None:
            item["requested_amount"] = app.requested_amount
        if app.granted_amount is not None:
            item["granted_amount"] = app.granted_amount
        item["status"] = app.status
        out.append(item)
    return out
