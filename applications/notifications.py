"""E-mail to the people a workflow step concerns.

Each function records a notice in the step's transaction; the worker sends it once the
step is committed (`services.notices`). None is recorded when there is nobody to tell.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from allocations.models import Organisation, Pot

from .models import ApplicationStatus, Membership, Notice, NoticeKind
from .services.notices import record_notice


def _recipients(organisation_id: int, extra: str = "") -> list[str]:
    emails = set(
        Membership.objects.filter(organisation_id=organisation_id, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if extra:
        emails.add(extra)
    return sorted(emails)


def portal_url(name: str, pk: int) -> str:
    """An absolute link to a portal page: an e-mail has no request to take the host from."""
    return settings.STIMULANS_BASE_URL + reverse(f"portal:{name}", args=[pk])


def application_submitted(app) -> Notice | None:
    context = {"app": app, "url": portal_url("application", app.pk)}
    recipients = _recipients(app.organisation_id, app.contact_email)
    return record_notice(
        kind=NoticeKind.SUBMITTED, context=context, recipients=recipients, concerns=app
    )


def application_reviewed(app) -> Notice | None:
    """Approved, or rejected with the reason: one notice per review that changed something."""
    approved = app.status == ApplicationStatus.APPROVED
    context = {"app": app, "url": portal_url("application", app.pk)}
    return record_notice(
        kind=NoticeKind.APPROVED if approved else NoticeKind.REJECTED,
        context=context,
        recipients=_recipients(app.organisation_id, app.contact_email),
        concerns=app,
    )


def requisition_received(req) -> Notice | None:
    context = {"req": req, "url": portal_url("requisition", req.pk)}
    return record_notice(
        kind=NoticeKind.REQUISITIONED,
        context=context,
        recipients=_recipients(req.organisation_id),
        concerns=req,
    )


def payment_made(payment) -> Notice | None:
    req = payment.requisition
    context = {"payment": payment, "req": req, "url": portal_url("requisition", req.pk)}
    return record_notice(
        kind=NoticeKind.PAID,
        context=context,
        recipients=_recipients(req.organisation_id),
        concerns=payment,
    )


def _recipients_of(organisation_ids) -> dict[int, list[str]]:
    """`_recipients` of many organisations, in one query."""
    emails: dict[int, set[str]] = {}
    for org_id, email in (
        Membership.objects.filter(organisation_id__in=set(organisation_ids), user__is_active=True)
        .exclude(user__email="")
        .values_list("organisation_id", "user__email")
    ):
        emails.setdefault(org_id, set()).add(email)
    return {org_id: sorted(found) for org_id, found in emails.items()}


def decision_made(run, requisitions) -> list[Notice]:
    """One notice to each recipient of a decision: hundreds at once, so what the notices
    name (organisation, pot, recipients) is read once for all of them."""
    requisitions = list(requisitions)
    orgs = Organisation.objects.in_bulk({req.organisation_id for req in requisitions})
    pots = Pot.objects.in_bulk({req.pot_id for req in requisitions})
    emails = _recipients_of(orgs)
    notices = []
    for req in requisitions:
        req.run, req.organisation, req.pot = run, orgs[req.organisation_id], pots[req.pot_id]
        context = {"run": run, "req": req, "url": portal_url("requisition", req.pk)}
        notice = record_notice(
            kind=NoticeKind.DECISION,
            context=context,
            recipients=emails.get(req.organisation_id, []),
            concerns=req,
        )
        if notice is not None:
            notices.append(notice)
    return notices


def repayment_claimed(claim) -> Notice | None:
    req = claim.requisition
    context = {"claim": claim, "req": req, "url": portal_url("requisition", req.pk)}
    return record_notice(
        kind=NoticeKind.CLAIM,
        context=context,
        recipients=_recipients(req.organisation_id),
        concerns=claim,
    )


def report_due(req, days_left: int) -> Notice | None:
    """The usage report reminder: one per requisition and report-by date.

    None when there is nobody to tell, or this reminder is already queued or sent.
    """
    context = {"req": req, "days_left": days_left, "url": portal_url("requisition", req.pk)}
    return record_notice(
        kind=NoticeKind.REPORT_DUE,
        context=context,
        recipients=_recipients(req.organisation_id),
        concerns=req,
        step=f"report-by-{req.run.grant.agreement.report_by.isoformat()}",
    )


def reminder(req, *, what: str, today: date) -> tuple[Notice | None, str]:
    """An official's reminder to requisition (`what="requisition"`) or to report.

    One per requisition and day (the notice's step). Returns the notice, or None and why
    none was recorded: nobody to tell, or reminded today already.
    """
    recipients = _recipients(req.organisation_id)
    if not recipients:
        return None, _("The recipient has no portal users to remind; invite one first.")
    context = {"req": req, "what": what, "url": portal_url("requisition", req.pk)}
    notice = record_notice(
        kind=NoticeKind.REMINDER,
        context=context,
        recipients=recipients,
        concerns=req,
        step=f"reminder-{today.isoformat()}",
    )
    if notice is None:
        return None, _("Reminded today already.")
    return notice, ""
