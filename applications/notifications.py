"""E-mail to the people a workflow step concerns.

Each function records a notice in the step's transaction; the worker sends it once the
step is committed (`services.notices`). None is recorded when there is nobody to tell. A
step that tells many at once records their notices together (`record_notices`), reading
what they name once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from allocations.models import Organisation, Pot

from .models import ApplicationStatus, Membership, Notice, NoticeKind, Requisition
from .services.notices import NoticeTo, record_notice, record_notices


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


def portal_urls(name: str) -> Callable[[int], str]:
    """`portal_url` of one page for many objects: the path is reversed once, and each
    object's id put where the placeholder's is."""
    placeholder = str(2**62)
    url = portal_url(name, int(placeholder))
    return lambda pk: url.replace(placeholder, str(int(pk)))


def application_submitted(app) -> Notice | None:
    context = {"app": app, "url": portal_url("application", app.pk)}
    recipients = _recipients(app.organisation_id, app.contact_email)
    return record_notice(
        kind=NoticeKind.SUBMITTED, context=context, recipients=recipients, concerns=app
    )


def application_reviewed(app) -> Notice | None:
    """Approved, or rejected with the reason: one notice per review that changed something."""
    [notice] = applications_reviewed([app])
    return notice


def applications_reviewed(apps) -> list[Notice | None]:
    """`application_reviewed` of many applications (a bulk review), each as after a single
    review; returns their notices in order."""
    apps = list(apps)
    emails = _recipients_of({app.organisation_id for app in apps})
    notices: list[Notice | None] = [None] * len(apps)
    url = portal_urls("application")
    approved = [app.status == ApplicationStatus.APPROVED for app in apps]
    for kind, told in (
        (NoticeKind.APPROVED, [i for i, yes in enumerate(approved) if yes]),
        (NoticeKind.REJECTED, [i for i, yes in enumerate(approved) if not yes]),
    ):
        items = [
            NoticeTo(
                {"app": apps[i], "url": url(apps[i].pk)},
                sorted({*emails.get(apps[i].organisation_id, []), apps[i].contact_email} - {""}),
                apps[i],
            )
            for i in told
        ]
        recorded = record_notices(kind=kind, items=items)
        for i, notice in zip(told, recorded, strict=True):
            notices[i] = notice
    return notices


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
    emails = _recipients_of({req.organisation_id for req in requisitions})
    # Only the recipients with someone to tell get a notice: what it names is read for them.
    told = [req for req in requisitions if emails.get(req.organisation_id)]
    if not told:
        return []
    orgs = Organisation.objects.in_bulk({req.organisation_id for req in told})
    pots = Pot.objects.in_bulk({req.pot_id for req in told})
    url = portal_urls("requisition")
    items = []
    for req in told:
        req.run, req.organisation, req.pot = run, orgs[req.organisation_id], pots[req.pot_id]
        context = {"run": run, "req": req, "url": url(req.pk)}
        items.append(NoticeTo(context, emails.get(req.organisation_id, []), req))
    # The subject names the decision alone (decision_subject.txt): rendered once for all.
    notices = record_notices(kind=NoticeKind.DECISION, items=items, same_subject=True)
    return [notice for notice in notices if notice is not None]


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
    [notice] = reports_due([(req, days_left)])
    return notice


def reports_due(due: list[tuple[Requisition, int]]) -> list[Notice | None]:
    """`report_due` of many requisitions (with `run.grant.agreement` read), in order.

    The step of each is its grant's report-by date, so requisitions are recorded together
    per date.
    """
    emails = _recipients_of({req.organisation_id for req, _days in due})
    notices: list[Notice | None] = [None] * len(due)
    url = portal_urls("requisition")
    dates = [req.run.grant.agreement.report_by for req, _days in due]
    for report_by in sorted(set(dates)):
        told = [i for i, day in enumerate(dates) if day == report_by]
        items = [
            NoticeTo(
                {
                    "req": due[i][0],
                    "days_left": due[i][1],
                    "url": url(due[i][0].pk),
                },
                emails.get(due[i][0].organisation_id, []),
                due[i][0],
            )
            for i in told
        ]
        recorded = record_notices(
            kind=NoticeKind.REPORT_DUE, items=items, step=f"report-by-{report_by.isoformat()}"
        )
        for i, notice in zip(told, recorded, strict=True):
            notices[i] = notice
    return notices


def reminder(req, *, what: str, today: date) -> tuple[Notice | None, str]:
    """An official's reminder to requisition (`what="requisition"`) or to report.

    One per requisition and day (the notice's step). Returns the notice, or None and why
    none was recorded: nobody to tell, or reminded today already.
    """
    [told] = reminders([(req, what)], today=today)
    return told


def reminders(
    wanted: list[tuple[Requisition, str]], *, today: date
) -> list[tuple[Notice | None, str]]:
    """`reminder` of many requisitions, each `(req, what)`, recorded together; in order."""
    emails = _recipients_of({req.organisation_id for req, _what in wanted})
    url = portal_urls("requisition")
    items = [
        NoticeTo(
            {"req": req, "what": what, "url": url(req.pk)},
            emails.get(req.organisation_id, []),
            req,
        )
        for req, what in wanted
    ]
    recorded = record_notices(
        kind=NoticeKind.REMINDER, items=items, step=f"reminder-{today.isoformat()}"
    )
    told = []
    for item, notice in zip(items, recorded, strict=True):
        if not item.recipients:
            told.append((None, _("The recipient has no portal users to remind; invite one first.")))
        elif notice is None:
            told.append((None, _("Reminded today already.")))
        else:
            told.append((notice, ""))
    return told
