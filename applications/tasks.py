"""Celery tasks of the workflow: thin, ids in."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from . import reminders
from .services import notices

logger = logging.getLogger(__name__)

# SMTP and connection errors (all OSError) and a lost database connection are worth
# another try, later and later; after the last, the notice is marked failed.
RETRY_FOR = (OSError, OperationalError, InterfaceError)


@shared_task(name="applications.send_report_reminders")
def send_report_reminders() -> int:
    """Run by Celery beat: remind recipients whose usage report falls due soon."""
    return reminders.send_report_reminders(today=timezone.localdate())


@shared_task(
    bind=True,
    name="applications.send_notice",
    ignore_result=True,
    autoretry_for=RETRY_FOR,
    retry_backoff=settings.STIMULANS_NOTICE_RETRY_BACKOFF,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=settings.STIMULANS_NOTICE_RETRIES,
)
def send_notice(self, notice_id: int) -> None:
    notices.deliver_notice(notice_id=notice_id, last_try=self.request.retries >= self.max_retries)


@shared_task(
    bind=True,
    name="applications.send_notices",
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=settings.STIMULANS_NOTICE_RETRY_BACKOFF,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=settings.STIMULANS_NOTICE_RETRIES,
)
def send_notices(self, notice_ids: list[int]) -> None:
    """The notices a step recorded together, sent in one go. Each is a first try: one that
    fails with an error worth another try goes on alone, as `send_notice`'s first retry, so
    it is tried as often and as late as a notice sent alone and the others are not held up
    or sent again. A lost database connection retries the batch (what was sent stays sent).
    """
    last_try = send_notice.max_retries <= 0
    for notice, error in notices.deliver_notices(notice_ids=notice_ids, last_try=last_try):
        if error is not None:
            retry_alone(notice.pk)


def retry_alone(notice_id: int) -> None:
    """Queue `send_notice`'s first retry of a notice whose first try failed."""
    countdown = get_exponential_backoff_interval(
        factor=int(max(1.0, send_notice.retry_backoff)),
        retries=0,
        maximum=send_notice.retry_backoff_max,
        full_jitter=send_notice.retry_jitter,
    )
    try:
        send_notice.apply_async((notice_id,), retries=1, countdown=countdown)
    except Exception:
        # No broker, or (eagerly) a retry that failed too and was recorded: the notice
        # stays queued, and the sweep queues it again.
        logger.warning("Notice %s stays queued for the sweep", notice_id, exc_info=True)


@shared_task(name="applications.requeue_stale_notices")
def requeue_stale_notices() -> int:
    """Run by Celery beat: queue again the notices whose task never reached a worker."""
    return notices.requeue_stale_notices(
        older_than=timedelta(minutes=settings.STIMULANS_NOTICE_STALE_MINUTES)
    )
