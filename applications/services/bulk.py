"""Work on many records at once: review a list of applications, remind many recipients.

Each row is held to the same rules as a single one (`review_application`'s), so a bulk
action changes nothing a single action could not, and refuses what it would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from allocations import audit
from allocations.bulk import update_rows
from allocations.models import AllocationRun, AuditEntry, Grant, Pot

from ..models import (
    Application,
    ReportStatus,
    Requisition,
    RequisitionStatus,
)
from .applying import REVIEW_FIELDS, apply_review, review_is_news, review_refusal


@dataclass
class BulkOutcome:
    """What a bulk action did: the rows it changed, and each refused row with the reason."""

    done: list = field(default_factory=list)
    refused: list[tuple[object, str]] = field(default_factory=list)


@transaction.atomic
def bulk_review_applications(
    *,
    application_ids: Sequence[int],
    approve: bool,
    reason: str = "",
    actor,
    actor_label: str = "",
) -> BulkOutcome:
    """Approve or reject many applications with one reason (massgranskning).

    Each application is held to the rules of a single review (`review_refusal`, which
    `review_application` applies too): one they refuse (not submitted, its grant decided, an
    amount to set) is left exactly as it was and reported with the reason, while the others
    are reviewed, each as `review_application` would (`apply_review`) and with the same audit
    entry. The batch is one transaction, so an unexpected error (a lost connection, a bug)
    leaves every application as it was instead of an unknown part of the list reviewed. The
    rows are locked in id order first, so two officials' batches cannot deadlock; they are
    then written with one statement however many (so are the review figures it changes, in
    their key order), and their audit entries with another.

    An approval keeps an amount already granted; a pot of approved amounts needs one set on
    the application's own page, and the application is refused here until it has one.
    """
    ids = sorted({int(pk) for pk in application_ids})
    apps = list(
        Application.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .select_related("organisation")
        .order_by("pk")
    )
    # A batch names a few pots and grants: each read once and shared by its applications, not
    # made (and its model's JSON decoded) again for every row, as a join would.
    pots = Pot.objects.in_bulk({app.pot_id for app in apps})
    grants = Grant.objects.in_bulk({app.grant_id for app in apps})
    for app in apps:
        app.pot, app.grant = pots[app.pot_id], grants[app.grant_id]
    decided = set(
        AllocationRun.objects.filter(
            grant_id__in={app.grant_id for app in apps},
            decided_on__isnull=False,
            redistributes=None,
        ).values_list("grant_id", flat=True)
    )
    from .. import notifications

    outcome = BulkOutcome()
    entries: dict[int, list[tuple]] = {}  # per grant: what `audit.log_many` records
    news = []
    for app in sorted(apps, key=lambda a: (a.slug, a.pk)):
        granted_amount = app.granted_amount if approve else None
        problem = review_refusal(
            app,
            approve=approve,
            reason=reason,
            granted_amount=granted_amount,
            decided=app.grant_id in decided,
        )
        if problem:
            outcome.refused.append((app, problem))
            continue
        before_reason = app.status_reason
        before, after = apply_review(
            app, approve=approve, reason=reason, granted_amount=granted_amount, actor=actor
        )
        entries.setdefault(app.grant_id, []).append((app.pk, str(app), before, after))
        outcome.done.append(app)
        if review_is_news(app, before=before, before_reason=before_reason):
            news.append(app)
    # One statement for the whole batch: the review list's figures are kept by a trigger on
    # each statement, which takes the figure rows it changes in key order. Written a batch
    # of rows at a time, two bulks of the same organisations met in different orders could
    # each hold one's figures and wait for the other's (a deadlock).
    update_rows(outcome.done, REVIEW_FIELDS, batch_size=max(len(outcome.done), 1))
    for grant_id, changes in entries.items():
        audit.log_many(
            "application.reviewed",
            Application,
            changes,
            grant=grants[grant_id],
            actor=actor,
            actor_label=actor_label,
        )
    # The providers are told as after a single review: approved, or rejected with the reason.
    notifications.applications_reviewed(news)
    return outcome


REQUISITION_REMINDER, REPORT_REMINDER = "requisition", "report"


def reminder_for(req: Requisition) -> str | None:
    """What a recipient can be reminded of: to requisition, or to report; None: nothing."""
    if req.run.decided_on is None:
        return None
    if req.status == RequisitionStatus.PENDING:
        return REQUISITION_REMINDER
    report_status = getattr(req, "report_status", None)
    if report_status is None and hasattr(req, "report"):
        report_status = req.report.status
    if req.status == RequisitionStatus.ACCEPTED and report_status not in (
        ReportStatus.SUBMITTED,
        ReportStatus.ACCEPTED,
    ):
        return REPORT_REMINDER
    return None


@transaction.atomic
def remind_recipients(*, requisition_ids: Sequence[int], today: date, actor) -> BulkOutcome:
    """Remind each recipient to requisition its money, or to send its usage report.

    A pending requisition is reminded to be answered; a requisitioned one whose report is
    not sent in is reminded to report. Each reminder is a recorded notice (`record_notices`)
    that the worker sends once this transaction commits, and an audit entry says who sent
    it. One reminder per requisition and day: pressing again the same day sends nothing
    new. Refused, with the reason: a requisition with nothing to remind of, a recipient with
    no portal users to tell, one reminded today already.
    """
    from .. import notifications

    reqs = (
        Requisition.objects.select_for_update(of=("self",))
        .filter(pk__in=sorted({int(pk) for pk in requisition_ids}))
        .select_related("run__grant__agreement", "organisation", "pot")
        .order_by("pk")
    )
    outcome = BulkOutcome()
    reqs = list(reqs)
    wanted = [(req, reminder_for(req)) for req in reqs]
    told = iter(notifications.reminders([(r, what) for r, what in wanted if what], today=today))
    entries = []
    for req, what in wanted:
        if what is None:
            outcome.refused.append((req, _("Nothing to remind of: answered and reported.")))
            continue
        notice, problem = next(told)
        if notice is None:
            outcome.refused.append((req, problem))
            continue
        entries.append(
            audit.entry(
                "requisition.reminded",
                req,
                grant=req.run.grant,
                actor=actor,
                after={"reminder": what, "notice": notice.pk, "recipients": notice.recipients},
            )
        )
        outcome.done.append(req)
    AuditEntry.objects.bulk_create(entries, batch_size=500)
    return outcome
