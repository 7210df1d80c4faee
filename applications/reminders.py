"""Reminders that a usage report falls due."""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from . import notifications
from .models import ReportStatus, Requisition, RequisitionStatus


@transaction.atomic
def send_report_reminders(*, today: date) -> int:
    """Remind once each requisitioned recipient whose report is due within the set days."""
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
    sent = 0
    for req in due:
        days_left = (req.run.grant.agreement.report_by - today).days
        notifications.report_due(req, days_left)
        req.report_reminder_sent_on = today
        req.save(update_fields=["report_reminder_sent_on"])
        sent += 1
    return sent
