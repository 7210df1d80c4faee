"""Celery tasks of the workflow: thin, ids in."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from . import reminders
from .services import notices


@shared_task(name="applications.send_report_reminders")
def send_report_reminders() -> int:
    """Run by Celery beat: remind recipients whose usage report falls due soon."""
    return reminders.send_report_reminders(today=timezone.localdate())


# SMTP and connection errors (all OSError) and a lost database connection are worth
# another try, later and later; after the last, the notice is marked failed.
@shared_task(
    bind=True,
    name="applications.send_notice",
    ignore_result=True,
    autoretry_for=(OSError, OperationalError, InterfaceError),
    retry_backoff=settings.STIMULANS_NOTICE_RETRY_BACKOFF,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=settings.STIMULANS_NOTICE_RETRIES,
)
def send_notice(self, notice_id: int) -> None:
    notices.deliver_notice(notice_id=notice_id, last_try=self.request.retries >= self.max_retries)


@shared_task(name="applications.requeue_stale_notices")
def requeue_stale_notices() -> int:
    """Run by Celery beat: queue again the notices whose task never reached a worker."""
    return notices.requeue_stale_notices(
        older_than=timedelta(minutes=settings.STIMULANS_NOTICE_STALE_MINUTES)
    )
