"""Reminders that a usage report falls due, sent as notices (`services.notices`)."""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from . import notifications
from .models import ReportStatus, Requisition, RequisitionStatus


@transaction.atomic
def send_report_reminders(*, today: date) -> int:
    """Queue a reminder for each requisitioned recipient whose report is due within the set days.

    A requisition counts as reminded (`report_reminder_sent_on`) only once its notice is
    delivered. Until then a queued reminder is not queued twice, and one that failed is
    queued again by the next run. Returns how many reminders were queued.
    """
    horizon = today + timedelta(days=settings.STIMULANS_REPORT_REMINDER_DAYS)
    due = (
        Requisition.objects.select_for_update(of=("self",))
        .filter(
            status=RequisitionStatus.ACCEPTED,
            run__decided_on__isnull=False,
            run__grant__agreement__report_by__gte=today,
            run__grant__agreement__report_by__lte=horizon,
            report_reminder_sent_on__isnull=True,
        )
        .exclude(Q(report__status=ReportStatus.SUBMITTED) | Q(report__status=ReportStatus.ACCEPTED))
        .select_related("run__grant__agreement", "organisation", "pot")
    )
    due = [(req, (req.run.grant.agreement.report_by - today).days) for req in due]
    return sum(notice is not None for notice in notifications.reports_due(due))
