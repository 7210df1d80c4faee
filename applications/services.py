"""The grant workflow, one function per state change.

call → application → review → decision → requisition → payment → usage
report → repayment and redistribution. Each function checks the state it
starts from, changes it in one transaction, and leaves an audit entry with
who and when, which is also the history shown on the application.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import BigIntegerField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from allocations import audit, engine, grantfile
from allocations.importing import engine_unit
from allocations.models import AllocationRun, GrantUnit, Organisation, PermittedUse, Pot
from allocations.services import decide_run
from allocations.wording import format_kronor

from .models import (
    SCREENING_FIELDS,
    Application,
    ApplicationStatus,
    ApplicationUnit,
    ApplicationUse,
    Call,
    ClaimDisposition,
    ClaimReason,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionLine,
    RequisitionStatus,
    UsageLine,
    UsageReport,
    payment_account_problem,
)


class WorkflowError(Exception):
    """A state change that is not allowed now; the message says why, for the user."""


UNIT_BASED = grantfile.UNIT_BASED


# ---------------------------------------------------------------- calls


@transaction.atomic
def open_call(
    *, pot: Pot, title: str, opens_on: date, closes_on: date, instructions: str = "", actor
) -> Call:
    if pot.children.exists() or not pot.model:
        raise WorkflowError(_("A call is made for a pot with an allocation model."))
    if closes_on < opens_on:
        raise WorkflowError(_("A call cannot close before it opens."))
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


def pot_measure(pot: Pot) -> str | None:
    model = pot.model or {}
    if model.get("type") == "per_unit":
        return model.get("measure")
    return None


def indicative_rate(call: Call) -> tuple[Fraction | None, int]:
    """The live rate of a per-unit call: the pot ÷ what has been applied for so far.

    "1 200 kr per place if every provider applies, more if not": counts the
    eligible units of submitted and approved applications. Returns (rate, measure).
    """
    pot = call.pot
    if pot_measure(pot) is None:
        return None, 0
    refresh_screening(pot)
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


def pot_amount(pot: Pot) -> int | None:
    """The pot's amount in kronor, a "rest" pot resolved against its parent."""
    if not pot.takes_rest:
        return pot.amount
    from allocations.services import load_grant

    grant_input = load_grant(pot.grant).input
    return engine.resolve_amounts(grant_input.amount, grant_input.pots).get(pot.slug)


def confirmed_unit(link: ApplicationUnit) -> engine.Unit:
    """A unit with the figures the provider confirmed in its application."""
    unit = engine_unit(link.grant_unit)
    changes = {}
    if link.places is not None:
        changes["places"] = link.places
    if link.customers is not None:
        changes["customers"] = link.customers
    if not changes:
        return unit
    from dataclasses import replace

    return replace(unit, **changes)


# ---------------------------------------------------------------- applications


@dataclass
class UnitChoice:
    grant_unit: GrantUnit
    places: int | None = None
    customers: int | None = None


def _next_slug(call: Call) -> str:
    taken = set(Application.objects.filter(grant=call.pot.grant).values_list("slug", flat=True))
    n = len(taken) + 1
    while f"webb-{n:04d}" in taken:
        n += 1
    return f"webb-{n:04d}"


@transaction.atomic
def start_application(*, call: Call, organisation: Organisation, actor, today: date) -> Application:
    if not call.is_open(today):
        raise WorkflowError(_("The call is not open."))
    existing = Application.objects.filter(
        call=call,
        organisation=organisation,
        status__in=(
            ApplicationStatus.DRAFT,
            ApplicationStatus.SUBMITTED,
            ApplicationStatus.APPROVED,
        ),
    ).first()
    if existing is not None:
        return existing
    app = Application.objects.create(
        grant=call.pot.grant,
        pot=call.pot,
        call=call,
        slug=_next_slug(call),
        organisation=organisation,
        status=ApplicationStatus.DRAFT,
        created_by=actor,
        position=Application.objects.filter(grant=call.pot.grant).count(),
    )
    audit.log("application.started", app, grant=app.grant, actor=actor)
    return app


def _units_taken_elsewhere(app: Application, grant_units=None) -> list[str]:
    """The names of the units (the application's own, or `grant_units`) that another sent
    application to the same pot already names."""
    if grant_units is None:
        grant_units = app.units.all()
    return sorted(
        set(
            ApplicationUnit.objects.filter(
                application__pot=app.pot,
                application__status__in=(ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED),
                grant_unit__in=grant_units,
            )
            .exclude(application=app)
            .values_list("grant_unit__unit__name", flat=True)
        )
    )


@transaction.atomic
def save_draft(
    *,
    app: Application,
    units: list[UnitChoice],
    uses: list[PermittedUse],
    intended_use: str,
    contact_name: str,
    contact_email: str,
    contact_phone: str,
    payment_method: str,
    payment_account: str,
    will_report: bool,
    requested_amount: int | None = None,
    actor,
) -> Application:
    app = Application.objects.select_for_update().get(pk=app.pk)
    if app.status != ApplicationStatus.DRAFT:
        raise WorkflowError(_("A submitted application can no longer be changed, only withdrawn."))
    for choice in units:
        if choice.grant_unit.grant_id != app.grant_id or (
            choice.grant_unit.organisation_id != app.organisation_id
        ):
            raise WorkflowError(
                _("A unit of another organisation cannot be part of this application.")
            )
    taken = _units_taken_elsewhere(app, [c.grant_unit for c in units])
    if taken:
        raise WorkflowError(
            _("Already applied for in another application: %(units)s.")
            % {"units": ", ".join(taken)}
        )
    agreement_id = app.grant.agreement_id
    if any(u.agreement_id != agreement_id for u in uses):
        raise WorkflowError(_("Only the agreement's permitted uses can be chosen."))
    app.intended_use = intended_use
    app.contact_name = contact_name
    app.contact_email = contact_email
    app.contact_phone = contact_phone
    app.payment_method = payment_method
    app.payment_account = payment_account.strip()
    app.will_report = will_report
    app.requested_amount = requested_amount
    app.save()
    ApplicationUnit.objects.filter(application=app).delete()
    ApplicationUnit.objects.bulk_create(
        ApplicationUnit(
            application=app,
            grant_unit=c.grant_unit,
            position=i,
            places=c.places if c.places != c.grant_unit.places else None,
            customers=c.customers if c.customers != c.grant_unit.customers else None,
        )
        for i, c in enumerate(units)
    )
    refresh_screening(app.pot, Application.objects.filter(pk=app.pk))
    ApplicationUse.objects.filter(application=app).delete()
    ApplicationUse.objects.bulk_create(
        ApplicationUse(application=app, use=u, position=i) for i, u in enumerate(uses)
    )
    return app


def eligibility_preview(app: Application) -> dict[str, engine.Reason | None]:
    """For each unit of the application: None if eligible, else (code, details) saying why."""
    pot = app.pot
    if (pot.model or {}).get("type") not in UNIT_BASED:
        return {}
    model = grantfile.to_model(pot.model)
    links = ApplicationUnit.objects.filter(application=app).select_related(
        "grant_unit__unit", "grant_unit__organisation"
    )
    return {
        link.grant_unit.unit.slug: engine.screen_unit(model, confirmed_unit(link)) for link in links
    }


def submission_problems(app: Application) -> list[str]:
    """What must be put right before the application can be sent."""
    problems = []
    kind = (app.pot.model or {}).get("type")
    if kind in UNIT_BASED and not app.units.exists():
        problems.append(_("Choose at least one unit."))
    taken = _units_taken_elsewhere(app)
    if taken:
        # Two drafts may name one unit (through two calls on the pot, say); only one is sent.
        problems.append(
            _("Already applied for in another application: %(units)s.")
            % {"units": ", ".join(taken)}
        )
    if kind == "approved_amounts" and not app.requested_amount:
        problems.append(_("Say how much you apply for."))
    if not app.uses.exists():
        problems.append(_("Tick at least one permitted use."))
    if not app.intended_use.strip():
        problems.append(_("Describe what the money will be used for."))
    if not app.contact_name.strip() or not app.contact_email.strip():
        problems.append(_("Give a contact person and e-mail address."))
    account_problem = payment_account_problem(app.payment_method, app.payment_account)
    if account_problem:
        problems.append(account_problem)
    if not app.will_report:
        problems.append(_("Declare that you will report back what the money was used for."))
    return problems


@transaction.atomic
def submit_application(*, app: Application, actor, today: date) -> Application:
    app = (
        Application.objects.select_for_update(of=("self",))
        .select_related("call", "pot")
        .get(pk=app.pk)
    )
    if app.status != ApplicationStatus.DRAFT:
        raise WorkflowError(_("Only a draft can be submitted."))
    if app.call is not None and not app.call.is_open(today):
        raise WorkflowError(_("The call is closed; nothing can be submitted."))
    problems = submission_problems(app)
    if problems:
        raise WorkflowError(" ".join(problems))
    reasons = eligibility_preview(app)
    app.unit_reasons = {
        unit: {"code": r[0], "details": r[1]} for unit, r in reasons.items() if r is not None
    }
    app.status = ApplicationStatus.SUBMITTED
    app.submitted_at = timezone.now()
    app.save(update_fields=["unit_reasons", "status", "submitted_at"])
    audit.log(
        "application.submitted",
        app,
        grant=app.grant,
        actor=actor,
        after={"status": app.status, "ineligible_units": sorted(app.unit_reasons)},
    )
    from . import notifications

    notifications.application_submitted(app)
    return app


@transaction.atomic
def withdraw_application(*, app: Application, actor) -> Application:
    app = Application.objects.select_for_update().get(pk=app.pk)
    if app.status not in (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED):
        raise WorkflowError(_("Only a draft or a submitted application can be withdrawn."))
    before = app.status
    app.status = ApplicationStatus.WITHDRAWN
    app.save(update_fields=["status"])
    audit.log(
        "application.withdrawn",
        app,
        grant=app.grant,
        actor=actor,
        before={"status": before},
        after={"status": app.status},
    )
    return app


@transaction.atomic
def review_application(
    *, app: Application, approve: bool, reason: str = "", granted_amount: int | None = None, actor
) -> Application:
    """Approve or reject; an approval carries the provider's confirmed figures into the grant."""
    app = Application.objects.select_for_update().select_related("pot", "grant").get(pk=app.pk)
    if app.status not in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.APPROVED,
        ApplicationStatus.REJECTED,
    ):
        raise WorkflowError(_("Only a submitted application can be reviewed."))
    if app.grant.runs.filter(decided_on__isnull=False, redistributes=None).exists():
        raise WorkflowError(_("The grant is decided; its applications are no longer reviewed."))
    kind = (app.pot.model or {}).get("type")
    if approve and kind == "approved_amounts" and granted_amount is None:
        raise WorkflowError(_("Set the granted amount."))
    if not approve and not reason.strip():
        raise WorkflowError(_("Give the provider the reason for rejecting."))
    before = {"status": app.status, "granted_amount": app.granted_amount}
    app.status = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    app.status_reason = reason.strip()
    if kind == "approved_amounts":
        app.granted_amount = granted_amount if approve else None
    app.reviewed_at = timezone.now()
    app.reviewed_by = actor
    app.save()
    if approve:
        _carry_confirmed_figures(app, actor)
    audit.log(
        "application.reviewed",
        app,
        grant=app.grant,
        actor=actor,
        before=before,
        after={
            "status": app.status,
            "granted_amount": app.granted_amount,
            "reason": app.status_reason,
        },
    )
    return app


def _carry_confirmed_figures(app: Application, actor) -> None:
    for link in ApplicationUnit.objects.filter(application=app).select_related("grant_unit"):
        gu = link.grant_unit
        changes = {}
        for field in ("places", "customers"):
            value = getattr(link, field)
            if value is not None and value != getattr(gu, field):
                changes[field] = (getattr(gu, field), value)
        if changes:
            for field, (_old, new) in changes.items():
                setattr(gu, field, new)
            gu.save(update_fields=list(changes))
            audit.log(
                "unit.figures_confirmed",
                gu,
                grant=app.grant,
                actor=actor,
                before={f: old for f, (old, _new) in changes.items()},
                after={f: new for f, (_old, new) in changes.items()},
            )


@dataclass
class UnitScreening:
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


def refresh_screening(pot: Pot, applications: QuerySet[Application] | None = None) -> int:
    """Screen again the pot's application units whose stored verdict is missing or stale.

    One query when nothing is stale — the usual case: units are screened when an application
    is saved, and again only after the pot's model or a unit's figures change. Returns how
    many units were screened.
    """
    if pot.model_type not in UNIT_BASED:
        return 0
    key = screening_key(pot)
    links = ApplicationUnit.objects.filter(application__pot=pot).exclude(screened_with=key)
    if applications is not None:
        links = links.filter(application__in=applications.order_by().values("pk"))
    links = list(links.select_related("grant_unit__unit", "grant_unit__organisation"))
    if not links:
        return 0
    model = grantfile.to_model(pot.model)
    measure = pot_measure(pot)
    for link in links:
        unit = confirmed_unit(link)
        reason = engine.screen_unit(model, unit)
        link.measure = (unit.measure(measure) or 0) if measure else 0
        link.eligible = reason is None
        link.reason = [reason[0], reason[1]] if reason else None
        link.screened_with = key
    ApplicationUnit.objects.bulk_update(links, sorted(SCREENING_FIELDS), batch_size=500)
    return len(links)


def screen_applications(
    pot: Pot, applications: QuerySet[Application], *, refresh: bool = True
) -> dict[int, list[UnitScreening]]:
    """Each application's units, with its confirmed figures and the pot's verdict.

    What `eligibility_preview` says for one application, for a list of them, read from the
    stored verdicts (screened again first where stale, unless the caller just did): two
    queries however many.
    """
    if pot.model_type not in UNIT_BASED:
        return {}
    if refresh:
        refresh_screening(pot, applications)
    links = (
        ApplicationUnit.objects.filter(application__in=applications.order_by().values("pk"))
        .order_by("application_id", "position")
        .values_list(
            "application_id",
            "grant_unit__unit__slug",
            "grant_unit__unit__name",
            "measure",
            "reason",
        )
    )
    screened: dict[int, list[UnitScreening]] = {}
    for app_id, slug, name, measure, reason in links:
        screened.setdefault(app_id, []).append(
            UnitScreening(
                slug=slug,
                name=name,
                measure=measure,
                reason=(reason[0], reason[1]) if reason else None,
            )
        )
    return screened


# ---------------------------------------------------------------- decision and requisitions


@transaction.atomic
def decide(
    *,
    run: AllocationRun,
    decided_on: date,
    decided_by: str,
    delegation: str,
    reference: str,
    requisition_by: date | None,
    actor,
) -> AllocationRun:
    """Record the decision and open a requisition for each recipient."""
    run = decide_run(
        run_id=run.pk,
        decided_on=decided_on,
        decided_by=decided_by,
        delegation=delegation,
        reference=reference,
        actor=actor,
    )
    totals = run.rows.values("organisation_id", "pot_id").annotate(total=Sum("amount")).order_by()
    requisitions = Requisition.objects.bulk_create(
        Requisition(
            run=run,
            organisation_id=t["organisation_id"],
            pot_id=t["pot_id"],
            amount=t["total"],
            due_on=requisition_by,
        )
        for t in totals
        if t["total"] > 0
    )
    from . import notifications

    notifications.decision_made(run, requisitions)
    return run


@transaction.atomic
def accept_requisition(
    *,
    req: Requisition,
    payment_method: str,
    payment_account: str,
    lines: dict[PermittedUse, int],
    actor,
) -> Requisition:
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    if req.status != RequisitionStatus.PENDING:
        raise WorkflowError(_("This requisition has already been answered."))
    problem = payment_account_problem(payment_method, payment_account)
    if problem:
        raise WorkflowError(problem)
    agreement_id = req.run.grant.agreement_id
    if any(use.agreement_id != agreement_id for use in lines):
        raise WorkflowError(_("Only the agreement's permitted uses can be chosen."))
    if any(amount < 0 for amount in lines.values()):
        raise WorkflowError(_("Amounts cannot be negative."))
    total = sum(lines.values())
    if total != req.amount:
        raise WorkflowError(
            _("The amounts by heading add up to %(total)s; they must add up to %(amount)s.")
            % {"total": format_kronor(total), "amount": format_kronor(req.amount)}
        )
    req.status = RequisitionStatus.ACCEPTED
    req.payment_method = payment_method
    req.payment_account = payment_account.strip()
    req.answered_at = timezone.now()
    req.answered_by = actor
    req.save()
    RequisitionLine.objects.bulk_create(
        RequisitionLine(requisition=req, use=use, amount=amount)
        for use, amount in lines.items()
        if amount
    )
    audit.log(
        "requisition.accepted",
        req,
        grant=req.run.grant,
        actor=actor,
        after={
            "amount": req.amount,
            "account": f"{payment_method} {req.payment_account}",
            "lines": {u.code: a for u, a in lines.items()},
        },
    )
    return req


@transaction.atomic
def decline_requisition(*, req: Requisition, reason: str, actor) -> Requisition:
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    if req.status != RequisitionStatus.PENDING:
        raise WorkflowError(_("This requisition has already been answered."))
    req.status = RequisitionStatus.DECLINED
    req.decline_reason = reason.strip()
    req.answered_at = timezone.now()
    req.answered_by = actor
    req.save()
    audit.log(
        "requisition.declined",
        req,
        grant=req.run.grant,
        actor=actor,
        after={"amount": req.amount, "reason": req.decline_reason},
    )
    return req


def paid_total(req: Requisition) -> int:
    return req.payments.aggregate(total=Sum("amount"))["total"] or 0


@transaction.atomic
def record_payment(
    *, req: Requisition, paid_on: date, amount: int, reference: str, actor
) -> Payment:
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    if req.status != RequisitionStatus.ACCEPTED:
        raise WorkflowError(_("Only a requisitioned amount can be paid."))
    if amount <= 0:
        raise WorkflowError(_("A payment must be more than 0 kr."))
    left = req.amount - paid_total(req)
    if amount > left:
        raise WorkflowError(
            _("Only %(left)s of the requisition is unpaid.") % {"left": format_kronor(left)}
        )
    payment = Payment.objects.create(
        requisition=req,
        paid_on=paid_on,
        amount=amount,
        reference=reference.strip(),
        recorded_by=actor,
    )
    audit.log(
        "payment.recorded",
        payment,
        grant=req.run.grant,
        actor=actor,
        after={
            "requisition": req.pk,
            "paid_on": paid_on.isoformat(),
            "amount": amount,
            "reference": payment.reference,
        },
    )
    return payment


@dataclass
class Balance:
    """Decided, requisitioned, paid and claimed back, in kronor (one requisition or a sum)."""

    decided: int = 0
    requisitioned: int = 0
    paid: int = 0
    claimed: int = 0
    pot: Pot | None = None

    @property
    def left(self) -> int:
        """Requisitioned but not yet paid out."""
        return self.requisitioned - self.paid


def balance_of(req: Requisition) -> Balance:
    """The balance of a requisition read through `with_balances`."""
    accepted = req.status == RequisitionStatus.ACCEPTED
    return Balance(
        decided=req.amount,
        requisitioned=req.amount if accepted else 0,
        paid=req.paid_sum,
        claimed=req.claimed_sum,
        pot=req.pot,
    )


def pot_balances(requisitions: QuerySet[Requisition]) -> list[Balance]:
    """The balances of `requisitions` summed per pot, in a fixed number of queries."""
    ids = requisitions.order_by().values("pk")
    by_pot: dict[int, Balance] = {}
    rows = (
        Requisition.objects.filter(pk__in=ids)
        .values("pot_id", "status")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        balance = by_pot.setdefault(row["pot_id"], Balance())
        balance.decided += row["total"]
        if row["status"] == RequisitionStatus.ACCEPTED:
            balance.requisitioned += row["total"]
    for model, attr in ((Payment, "paid"), (RepaymentClaim, "claimed")):
        sums = (
            model.objects.filter(requisition__in=ids)
            .values("requisition__pot_id")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for row in sums:
            balance = by_pot.setdefault(row["requisition__pot_id"], Balance())
            setattr(balance, attr, getattr(balance, attr) + row["total"])
    pots = (
        Pot.objects.filter(pk__in=by_pot)
        .select_related("grant")
        .order_by("grant__slug", "position", "id")
    )
    result = []
    for pot in pots:
        by_pot[pot.pk].pot = pot
        result.append(by_pot[pot.pk])
    return result


# ---------------------------------------------------------------- usage reports


def report_for(req: Requisition) -> UsageReport:
    report, _created = UsageReport.objects.get_or_create(requisition=req)
    return report


def used_total(report: UsageReport) -> int:
    return report.lines.aggregate(total=Sum("amount"))["total"] or 0


def unspent(report: UsageReport) -> int:
    """Paid but not used: computed, never typed."""
    return paid_total(report.requisition) - used_total(report)


@transaction.atomic
def save_report(
    *, report: UsageReport, lines: dict[PermittedUse, int], achievements: str, benefit: str, actor
) -> UsageReport:
    report = (
        UsageReport.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=report.pk)
    )
    if report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
        raise WorkflowError(_("A submitted report can no longer be changed."))
    agreement_id = report.requisition.run.grant.agreement_id
    if any(use.agreement_id != agreement_id for use in lines):
        raise WorkflowError(_("Only the agreement's permitted uses can be chosen."))
    if any(amount < 0 for amount in lines.values()):
        raise WorkflowError(_("Amounts cannot be negative."))
    paid = paid_total(report.requisition)
    if sum(lines.values()) > paid:
        raise WorkflowError(
            _("You report %(used)s used, but %(paid)s has been paid out.")
            % {"used": format_kronor(sum(lines.values())), "paid": format_kronor(paid)}
        )
    report.achievements = achievements
    report.benefit = benefit
    report.save(update_fields=["achievements", "benefit"])
    report.lines.all().delete()
    UsageLine.objects.bulk_create(
        UsageLine(report=report, use=use, amount=amount) for use, amount in lines.items() if amount
    )
    return report


@transaction.atomic
def submit_report(*, report: UsageReport, actor) -> UsageReport:
    report = (
        UsageReport.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=report.pk)
    )
    if report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
        raise WorkflowError(_("This report has already been submitted."))
    if not report.achievements.strip() or not report.benefit.strip():
        raise WorkflowError(_("Say what the money achieved and how it benefited the elderly."))
    report.status = ReportStatus.SUBMITTED
    report.submitted_at = timezone.now()
    report.submitted_by = actor
    report.save()
    audit.log(
        "report.submitted",
        report,
        grant=report.requisition.run.grant,
        actor=actor,
        after={"used": used_total(report), "unspent": unspent(report)},
    )
    return report


@transaction.atomic
def review_report(*, report: UsageReport, accept: bool, comment: str, actor) -> UsageReport:
    report = (
        UsageReport.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=report.pk)
    )
    if report.status != ReportStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted report can be reviewed."))
    if not accept and not comment.strip():
        raise WorkflowError(_("Say what the provider must complete."))
    report.status = ReportStatus.ACCEPTED if accept else ReportStatus.RETURNED
    report.review_comment = comment.strip()
    report.reviewed_at = timezone.now()
    report.reviewed_by = actor
    report.save()
    audit.log(
        "report.reviewed",
        report,
        grant=report.requisition.run.grant,
        actor=actor,
        after={"status": report.status, "comment": report.review_comment},
    )
    return report


# ---------------------------------------------------------------- repayment and redistribution


def with_balances(requisitions: QuerySet[Requisition]) -> QuerySet[Requisition]:
    """Requisitions with what was paid, claimed back and reported used, in the same query.

    Adds `paid_sum`, `claimed_sum`, `used_sum` and `report_status` (None without a report).
    """

    def total(model, link: str, field: str = "amount"):
        sums = (
            model.objects.filter(**{link: OuterRef("pk")})
            .order_by()
            .values(link)
            .annotate(total=Sum(field))
            .values("total")
        )
        return Coalesce(Subquery(sums, output_field=BigIntegerField()), Value(0))

    return requisitions.annotate(
        paid_sum=total(Payment, "requisition"),
        claimed_sum=total(RepaymentClaim, "requisition"),
        used_sum=total(UsageLine, "report__requisition"),
        report_status=F("report__status"),
    )


def claimable(req: Requisition, today: date) -> tuple[str, int] | None:
    """What can be claimed back from a requisition now, and why; None when nothing.

    Reads the sums `with_balances` adds, so a list of requisitions costs no query per row.
    """
    if not hasattr(req, "claimed_sum"):
        req = with_balances(Requisition.objects.filter(pk=req.pk)).get()
    already = req.claimed_sum
    if req.status == RequisitionStatus.DECLINED:
        return ClaimReason.DECLINED, req.amount - already
    if req.status == RequisitionStatus.PENDING and req.due_on and today > req.due_on:
        return ClaimReason.UNREQUISITIONED, req.amount - already
    if req.status == RequisitionStatus.ACCEPTED and req.report_status == ReportStatus.ACCEPTED:
        amount = req.paid_sum - req.used_sum - already
        if amount > 0:
            return ClaimReason.UNSPENT, amount
    return None


@transaction.atomic
def claim_repayment(
    *, req: Requisition, amount: int, due_on: date | None, disposition: str, today: date, actor
) -> RepaymentClaim:
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    what = claimable(req, today)
    if what is None or what[1] <= 0:
        raise WorkflowError(_("Nothing can be claimed back from this recipient now."))
    reason, most = what
    if not 0 < amount <= most:
        raise WorkflowError(
            _("At most %(most)s can be claimed back.") % {"most": format_kronor(most)}
        )
    if disposition not in ClaimDisposition.values:
        raise WorkflowError(_("Choose where the money goes."))
    if reason in (ClaimReason.DECLINED, ClaimReason.UNREQUISITIONED):
        # Nothing was paid out, so nothing is owed: the money is simply taken back.
        due_on, paid_on = None, today
    else:
        paid_on = None
    claim = RepaymentClaim.objects.create(
        requisition=req,
        reason=reason,
        amount=amount,
        due_on=due_on,
        paid_on=paid_on,
        disposition=disposition,
        created_by=actor,
    )
    if reason == ClaimReason.UNREQUISITIONED:
        req.status = RequisitionStatus.DECLINED
        req.decline_reason = _("Not requisitioned by %(date)s.") % {"date": req.due_on}
        req.save(update_fields=["status", "decline_reason"])
    audit.log(
        "claim.created",
        claim,
        grant=req.run.grant,
        actor=actor,
        after={
            "reason": reason,
            "amount": amount,
            "disposition": disposition,
            "due_on": due_on.isoformat() if due_on else None,
        },
    )
    if reason == ClaimReason.UNSPENT:
        from . import notifications

        notifications.repayment_claimed(claim)
    return claim


@transaction.atomic
def mark_claim_repaid(*, claim: RepaymentClaim, paid_on: date, actor) -> RepaymentClaim:
    claim = (
        RepaymentClaim.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=claim.pk)
    )
    if claim.paid_on is not None:
        raise WorkflowError(_("This claim is already settled."))
    claim.paid_on = paid_on
    claim.save(update_fields=["paid_on"])
    audit.log(
        "claim.repaid",
        claim,
        grant=claim.requisition.run.grant,
        actor=actor,
        after={"paid_on": paid_on.isoformat(), "amount": claim.amount},
    )
    return claim


def redistributable(pot: Pot) -> list[RepaymentClaim]:
    """Money of a pot claimed back for redistribution, settled, and not yet redistributed."""
    return list(
        RepaymentClaim.objects.filter(
            requisition__pot=pot,
            disposition=ClaimDisposition.REDISTRIBUTE,
            paid_on__isnull=False,
            redistribution__isnull=True,
        )
    )


@transaction.atomic
def redistribute(*, pot: Pot, actor) -> AllocationRun:
    """A new allocation round on the pot for the money claimed back from it."""
    from allocations.services import compute_redistribution

    claims = redistributable(pot)
    amount = sum(c.amount for c in claims)
    if not amount:
        raise WorkflowError(_("No money claimed back from this pot waits to be redistributed."))
    # An undecided round of the pot is recomputed in place: it keeps the money it already has.
    open_round = pot.redistributions.filter(decided_on__isnull=True).order_by("-number").first()
    if open_round is not None:
        amount += open_round.source_claims.aggregate(total=Sum("amount"))["total"] or 0
    run = compute_redistribution(pot_id=pot.pk, amount=amount, actor=actor)
    RepaymentClaim.objects.filter(pk__in=[c.pk for c in claims]).update(redistribution=run)
    audit.log(
        "pot.redistributed",
        run,
        grant=pot.grant,
        actor=actor,
        after={"pot": pot.slug, "amount": amount, "claims": [c.pk for c in claims]},
    )
    return run
