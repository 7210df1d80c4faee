"""Celery tasks of the workflow: thin, ids in."""

from celery import shared_task
from django.utils import timezone

from . import reminders


@shared_task(name="applications.send_report_reminders")
def send_report_reminders() -> int:
    """Run by Celery beat: remind recipients whose usage report falls due soon."""
    return reminders.send_report_reminders(today=timezone.localdate())
