"""E-mail notices: recorded with the step they tell about, sent by the worker, never lost.

A notice is rendered and stored in the transaction of its step, and queued for the
`applications.send_notice` task once that transaction commits: no SMTP inside a request.
The task delivers it through `deliver_notice`, which sends a notice at most once however
often it is queued. A notice whose queueing was lost (the broker was down) is queued again
by the sweep; one that failed for good is queued again by an official.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ..models import Notice, NoticeKind, NoticeStatus, Requisition

logger = logging.getLogger(__name__)


def record_notice(
    *,
    kind: str,
    context: dict,
    recipients: list[str],
    concerns: models.Model,
    step: str = "",
) -> Notice | None:
    """Render the notice in Swedish, store it queued, and queue it once committed.

    Nobody to tell means no notice. A reminder (`step` given) is recorded once per
    object and step: while that notice is queued or sent, nothing new is recorded and
    None is returned; one that failed is rendered afresh and queued again.
    """
    if not recipients:
        return None
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string(f"applications/email/{kind}_subject.txt", context)
        body = render_to_string(f"applications/email/{kind}.txt", context)
    fields = {
        "recipients": sorted(recipients),
        "subject": " ".join(subject.split())[: Notice._meta.get_field("subject").max_length],
        "body": body,
        "status": NoticeStatus.QUEUED,
        "queued_at": timezone.now(),
    }
    target = {
        "content_type": ContentType.objects.get_for_model(concerns),
        "object_id": concerns.pk,
        "kind": kind,
    }
    with transaction.atomic():
        notice = None
        if step:
            notice = Notice.objects.select_for_update().filter(**target, step=step).first()
            if notice is not None and notice.status != NoticeStatus.FAILED:
                return None
        if notice is None:
            notice = Notice.objects.create(**target, step=step, **fields)
        else:
            for name, value in fields.items():
                setattr(notice, name, value)
            notice.save(update_fields=list(fields))
        _queue_on_commit(notice.pk)
    return notice


def _queue_on_commit(notice_id: int) -> None:
    def queue() -> None:
        from .. import tasks

        try:
            tasks.send_notice.delay(notice_id)
        except Exception:
            # The step is done whatever happens here. No broker, or (eagerly, without one)
            # a first try that failed and was recorded: the notice stays queued, and the
            # request that made it still succeeds.
            logger.warning("Notice %s stays queued for the sweep", notice_id, exc_info=True)

    transaction.on_commit(queue)


def deliver_notice(*, notice_id: int, last_try: bool = False) -> Notice | None:
    """Send a queued notice once, and record how it went.

    The row is locked while sending, so a notice queued twice (a retry, the sweep, an
    official) is sent once: a notice no longer queued is left alone and None returned.
    A connection or SMTP error is recorded and raised for the task to retry, except on
    the `last_try`, when the notice is marked failed instead; any other error fails it
    at once, as trying again would not help.
    """
    error: Exception | None = None
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None or notice.status != NoticeStatus.QUEUED:
            return None
        notice.attempts += 1
        notice.queued_at = timezone.now()
        try:
            EmailMessage(notice.subject, notice.body, None, notice.recipients).send()
        except Exception as exc:  # every failure is recorded on the notice
            notice.last_error = f"{type(exc).__name__}: {exc}"
            if last_try or not isinstance(exc, OSError):
                notice.status = NoticeStatus.FAILED
            else:
                error = exc
        else:
            notice.status = NoticeStatus.SENT
            notice.sent_at = timezone.now()
            _delivered(notice)
        notice.save()
    if error is not None:
        raise error
    return notice


def _delivered(notice: Notice) -> None:
    """What a delivered notice marks: a usage report reminder counts as sent only now."""
    if notice.kind == NoticeKind.REPORT_DUE:
        Requisition.objects.filter(
            pk=notice.object_id, report_reminder_sent_on__isnull=True
        ).update(report_reminder_sent_on=timezone.localdate(notice.sent_at))


def requeue_notices(*, notice_ids: Iterable[int]) -> int:
    """Queue the given notices again, failed or stuck; sent ones are left alone.

    A notice being sent right now (its row locked) is skipped: it is not stuck.
    Returns how many were queued.
    """
    with transaction.atomic():
        notices = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(notice_ids))
            .exclude(status=NoticeStatus.SENT)
            .order_by("pk")
        )
        for notice in notices:
            notice.status = NoticeStatus.QUEUED
            notice.queued_at = timezone.now()
            notice.save(update_fields=["status", "queued_at"])
            _queue_on_commit(notice.pk)
    return len(notices)


def requeue_stale_notices(*, older_than: timedelta) -> int:
    """Queue again every notice still queued and untouched for longer than `older_than`.

    Run by Celery beat: a notice whose task never reached the broker is sent this way.
    """
    cutoff = timezone.now() - older_than
    stale = Notice.objects.filter(status=NoticeStatus.QUEUED, queued_at__lt=cutoff)
    return requeue_notices(notice_ids=stale.values_list("pk", flat=True))
