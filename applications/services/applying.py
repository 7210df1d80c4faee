"""Applications: started, saved as drafts, submitted, withdrawn and reviewed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from allocations import audit, engine, grantfile, identifiers
from allocations.models import GrantUnit, Organisation, PermittedUse

from ..models import (
    Application,
    ApplicationStatus,
    ApplicationUnit,
    ApplicationUse,
    Call,
    payment_account_problem,
)
from . import facts
from .base import UNIT_BASED, WorkflowError, confirmed_unit
from .screening import refresh_screening


@dataclass
class UnitChoice:
    """A unit an application names, with the facts the provider states of it (None: the
    grant's figure stands)."""

    grant_unit: GrantUnit
    places: int | None = None
    customers: int | None = None
    in_city: bool | None = None
    city_placed_share: Decimal | None = None


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
    declared: bool = False,
    actor,
) -> Application:
    """Save a draft with the facts it states of its units; `declared`: the provider ticked
    the declaration that they are true (`facts.DECLARATION`), recorded with who and when."""
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
    # A draft may hold a number not yet right (submitting says so); a right one is normalised.
    app.contact_phone = _normal_or_as_typed(identifiers.normal_phone, contact_phone)
    app.payment_method = payment_method
    app.payment_account = _normal_or_as_typed(
        lambda text: identifiers.normal_account(payment_method, text), payment_account
    )
    app.will_report = will_report
    app.requested_amount = requested_amount
    app.save()
    stated_before = facts.statement_of(app)
    ApplicationUnit.objects.filter(application=app).delete()
    ApplicationUnit.objects.bulk_create(
        ApplicationUnit(
            application=app,
            grant_unit=c.grant_unit,
            position=i,
            places=c.places if c.places != c.grant_unit.places else None,
            customers=c.customers if c.customers != c.grant_unit.customers else None,
            stated_in_city=c.in_city,
            stated_city_placed_share=c.city_placed_share,
        )
        for i, c in enumerate(units)
    )
    refresh_screening(app.pot, Application.objects.filter(pk=app.pk))
    facts.record_statement(app=app, before=stated_before, declared=declared, actor=actor)
    ApplicationUse.objects.filter(application=app).delete()
    ApplicationUse.objects.bulk_create(
        ApplicationUse(application=app, use=u, position=i) for i, u in enumerate(uses)
    )
    return app


def _normal_or_as_typed(normal, text: str) -> str:
    text = text.strip()
    if not text:
        return text
    try:
        return normal(text)
    except ValidationError:
        return text


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
    if app.contact_phone:
        try:
            identifiers.normal_phone(app.contact_phone)
        except ValidationError as exc:
            problems.append(exc.messages[0])
    if not app.will_report:
        problems.append(_("Declare that you will report back what the money was used for."))
    if app.facts_declared_at is None and facts.needs_declaration(app):
        problems.append(_("Declare that the facts you state for your units are true."))
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
    from .. import notifications

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
    *,
    app: Application,
    approve: bool,
    reason: str = "",
    granted_amount: int | None = None,
    actor,
    actor_label: str = "",
) -> Application:
    """Recommend (tillstyrka) or reject. The grant's figures of the units stay as they are:
    what the provider stated reaches them only through `facts.verify_facts`."""
    app = Application.objects.select_for_update().select_related("pot", "grant").get(pk=app.pk)
    decided = app.grant.runs.filter(decided_on__isnull=False, redistributes=None).exists()
    problem = review_refusal(
        app, approve=approve, reason=reason, granted_amount=granted_amount, decided=decided
    )
    if problem:
        raise WorkflowError(problem)
    before_reason = app.status_reason
    before, after = apply_review(
        app, approve=approve, reason=reason, granted_amount=granted_amount, actor=actor
    )
    app.save()
    audit.log(
        "application.reviewed",
        app,
        grant=app.grant,
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=after,
    )
    if review_is_news(app, before=before, before_reason=before_reason):
        from .. import notifications

        notifications.application_reviewed(app)
    return app


def review_refusal(
    app: Application, *, approve: bool, reason: str, granted_amount: int | None, decided: bool
) -> str | None:
    """Why a review of `app` is refused (None: it is not); `decided`: its grant is decided.
    The rules of `review_application`, one by one or for a list (`bulk_review_applications`)."""
    if app.status not in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.APPROVED,
        ApplicationStatus.REJECTED,
    ):
        return _("Only a submitted application can be reviewed.")
    if decided:
        return _("The grant is decided; its applications are no longer reviewed.")
    kind = (app.pot.model or {}).get("type")
    if approve and kind == "approved_amounts" and granted_amount is None:
        return _("Set the recommended amount.")
    if not approve and not reason.strip():
        return _("Give the provider the reason for rejecting.")
    return None


def review_is_news(app: Application, *, before: dict, before_reason: str) -> bool:
    """Whether the provider is told of a review: it changed what the provider sees (a review
    that changes nothing sends nothing again)."""
    now = {"status": app.status, "granted_amount": app.granted_amount}
    return now != before or (
        app.status == ApplicationStatus.REJECTED and app.status_reason != before_reason
    )


REVIEW_FIELDS = ("status", "status_reason", "granted_amount", "reviewed_at", "reviewed_by")


def apply_review(
    app: Application, *, approve: bool, reason: str, granted_amount: int | None, actor
) -> tuple[dict, dict]:
    """Set the review on `app` (not saved: `REVIEW_FIELDS` change); its audit before/after."""
    before = {"status": app.status, "granted_amount": app.granted_amount}
    app.status = ApplicationStatus.APPROVED if approve else ApplicationStatus.REJECTED
    app.status_reason = reason.strip()
    if (app.pot.model or {}).get("type") == "approved_amounts":
        app.granted_amount = granted_amount if approve else None
    app.reviewed_at = timezone.now()
    app.reviewed_by = actor
    after = {
        "status": app.status,
        "granted_amount": app.granted_amount,
        "reason": app.status_reason,
    }
    return before, after
