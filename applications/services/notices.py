"""E-mail notices: recorded with the step they tell about, sent by the worker, never lost.

A notice is rendered and stored in the transaction of its step, and queued for the worker
once that transaction commits: no SMTP inside a request. A step that tells many at once (a
bulk review, a decision) records its notices together (`record_notices`: one insert, one
task). The task delivers them through `deliver_notices`, which sends a notice at most once
however often it is queued. A notice whose queueing was lost (the broker was down) is
queued again by the sweep; one that failed for good is queued again by an official.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage, get_connection
from django.db import models, transaction
from django.db.models import Q
from django.template.loader import get_template
from django.utils import timezone, translation

from allocations.bulk import insert_rows, update_rows

from ..models import Notice, NoticeKind, NoticeStatus, Requisition

logger = logging.getLogger(__name__)

# Notices sent in one transaction by `deliver_notices`: their rows stay locked, and what was
# sent is recorded, when the batch commits; a worker killed in between sends these again.
DELIVERY_BATCH = 100


class NoticeTo(NamedTuple):
    """One notice of a batch: what its templates are rendered with, whom it goes to, and the
    object it is about (an application, a requisition, a payment, a repayment claim…)."""

    context: dict
    recipients: list[str]
    concerns: models.Model


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
    [notice] = record_notices(kind=kind, items=[NoticeTo(context, recipients, concerns)], step=step)
    return notice


def record_notices(
    *,
    kind: str,
    items: Iterable[NoticeTo | tuple],
    step: str = "",
    same_subject: bool = False,
) -> list[Notice | None]:
    """`record_notice` for many notices of one kind: each as that would record it, all of
    them written with one insert and queued with one task once committed.

    Returns, for each item in order, its notice, or None where there is nobody to tell or
    (with a `step`) that reminder of the object is already queued or sent. The templates
    are read once and rendered for each item; with `same_subject` (the subject's template
    names only what the items share, e.g. the decision), the subject is rendered once.
    """
    items = [NoticeTo(*item) for item in items]
    notices: list[Notice | None] = [None] * len(items)
    told = [i for i, item in enumerate(items) if item.recipients]
    if not told:
        return notices  # nothing to write: no transaction (nor a savepoint in the caller's)
    # In the step's transaction when there is one, without a savepoint of its own (two round
    # trips per step): an error here fails the step, which then records no notice either.
    with transaction.atomic(savepoint=False):
        return _record(kind, items, notices, told, step, same_subject)


def _record(
    kind: str,
    items: list[NoticeTo],
    notices: list[Notice | None],
    told: list[int],
    step: str,
    same_subject: bool,
) -> list[Notice | None]:
    types: dict[type, ContentType] = {}
    targets = []
    for i in told:
        model = type(items[i].concerns)
        if model not in types:
            types[model] = ContentType.objects.get_for_model(model)
        targets.append((types[model].pk, items[i].concerns.pk))
    existing: dict[tuple[int, int], Notice] = {}
    if step:
        ids_of: dict[int, list[int]] = {}
        for type_id, object_id in targets:
            ids_of.setdefault(type_id, []).append(object_id)
        where = Q()
        for type_id, object_ids in ids_of.items():
            where |= Q(content_type_id=type_id, object_id__in=object_ids)
        existing = {
            (n.content_type_id, n.object_id): n
            for n in Notice.objects.select_for_update().filter(where, kind=kind, step=step)
        }
    fresh, again, seen = [], [], set()
    for i, target in zip(told, targets, strict=True):
        notice = existing.get(target)
        if step and (target in seen or (notice and notice.status != NoticeStatus.FAILED)):
            continue  # a reminder of this object and step is queued or sent already
        seen.add(target)
        if notice is None:
            notice = Notice(content_type_id=target[0], object_id=target[1], kind=kind, step=step)
            fresh.append(notice)
        else:
            again.append(notice)
        notices[i] = notice
    written = [(i, notice) for i, notice in enumerate(notices) if notice is not None]
    if not written:
        return notices
    longest = Notice._meta.get_field("subject").max_length
    now = timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        subject = get_template(f"applications/email/{kind}_subject.txt")
        body = get_template(f"applications/email/{kind}.txt")
        shared = None
        for i, notice in written:
            context = items[i].context
            notice.recipients = sorted(items[i].recipients)
            if shared is None or not same_subject:
                shared = " ".join(subject.render(context).split())[:longest]
            notice.subject = shared
            notice.body = body.render(context)
            notice.status = NoticeStatus.QUEUED
            notice.queued_at = now
    insert_rows(
        fresh,
        [
            "content_type",
            "object_id",
            "kind",
            "step",
            "recipients",
            "subject",
            "body",
            "status",
            "queued_at",
        ],
    )
    update_rows(again, ["recipients", "subject", "body", "status", "queued_at"])
    _queue_on_commit([notice.pk for _i, notice in written])
    return notices


def _queue_on_commit(notice_ids: Sequence[int]) -> None:
    """Once committed, hand the notices to the worker: one task, however many there are."""
    notice_ids = list(notice_ids)
    if not notice_ids:
        return

    def queue() -> None:
        from .. import tasks

        try:
            if len(notice_ids) == 1:
                tasks.send_notice.delay(notice_ids[0])
            else:
                tasks.send_notices.delay(notice_ids)
        except Exception:
            # The step is done whatever happens here. No broker, or (eagerly, without one)
            # a first try that failed and was recorded: the notices stay queued, and the
            # request that made them still succeeds.
            logger.warning(
                "Notice %s stays queued for the sweep",
                ", ".join(map(str, notice_ids)),
                exc_info=True,
            )

    transaction.on_commit(queue)


def deliver_notice(*, notice_id: int, last_try: bool = False) -> Notice | None:
    """Send a queued notice once, and record how it went (`deliver_notices` of one).

    A notice no longer queued, or being sent right now, is left alone and None returned.
    A connection or SMTP error is recorded and raised for the task to retry, except on the
    `last_try`, when the notice is marked failed instead; any other error fails it at once,
    as trying again would not help.
    """
    tried = deliver_notices(notice_ids=[notice_id], last_try=last_try)
    if not tried:
        return None
    [(notice, error)] = tried
    if error is not None:
        raise error
    return notice


def deliver_notices(
    *, notice_ids: Iterable[int], last_try: bool = False
) -> list[tuple[Notice, OSError | None]]:
    """Send each queued notice among `notice_ids` once, and record how each went.

    The rows are locked while sending, so a notice queued twice (a retry, the sweep, an
    official) is sent once: one no longer queued, or locked by another delivery sending it
    now, is left alone. Each notice is tried on its own: one that fails does not stop the
    others. Returns each notice tried, with the connection or SMTP error (an `OSError`) to
    try it again for, or None: sent, or failed for good (any other error, or the
    `last_try`), as its status says. The batch is sent over one mail connection.
    """
    ids = sorted(set(notice_ids))
    tried: list[tuple[Notice, OSError | None]] = []
    for start in range(0, len(ids), DELIVERY_BATCH):
        tried += _deliver(ids[start : start + DELIVERY_BATCH], last_try=last_try)
    return tried


@transaction.atomic
def _deliver(notice_ids: list[int], *, last_try: bool) -> list[tuple[Notice, OSError | None]]:
    notices = list(
        Notice.objects.select_for_update(skip_locked=True)
        .filter(pk__in=notice_ids, status=NoticeStatus.QUEUED)
        .order_by("pk")
    )
    if not notices:
        return []
    tried: list[tuple[Notice, OSError | None]] = []
    connection = get_connection()
    try:
        for notice in notices:
            notice.attempts += 1
            notice.queued_at = timezone.now()
            error = None
            try:
                connection.open()  # once; again after an error closed it
                EmailMessage(
                    notice.subject, notice.body, None, notice.recipients, connection=connection
                ).send()
            except Exception as exc:  # every failure is recorded on its notice
                _close(connection)  # the next notice starts on a fresh connection
                notice.last_error = f"{type(exc).__name__}: {exc}"
                if last_try or not isinstance(exc, OSError):
                    notice.status = NoticeStatus.FAILED
                else:
                    error = exc
            else:
                notice.status = NoticeStatus.SENT
                notice.sent_at = timezone.now()
            tried.append((notice, error))
    finally:
        _close(connection)
    update_rows(notices, ["attempts", "queued_at", "status", "last_error", "sent_at"])
    _delivered([notice for notice in notices if notice.status == NoticeStatus.SENT])
    return tried


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # a connection that broke is closed as far as it goes
        logger.debug("Closing the mail connection failed", exc_info=True)


def _delivered(notices: list[Notice]) -> None:
    """What delivered notices mark: a usage report reminder counts as sent only now."""
    due = [n for n in notices if n.kind == NoticeKind.REPORT_DUE]
    for sent_on in {timezone.localdate(n.sent_at) for n in due}:
        Requisition.objects.filter(
            pk__in=[n.object_id for n in due if timezone.localdate(n.sent_at) == sent_on],
            report_reminder_sent_on__isnull=True,
        ).update(report_reminder_sent_on=sent_on)


def requeue_notices(*, notice_ids: Iterable[int]) -> int:
    """Queue the given notices again, failed or stuck; sent ones are left alone.

    A notice being sent right now (its row locked) is skipped: it is not stuck.
    Returns how many were queued.
    """
    with transaction.atomic():
        ids = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(notice_ids))
            .exclude(status=NoticeStatus.SENT)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Notice.objects.filter(pk__in=ids).update(
            status=NoticeStatus.QUEUED, queued_at=timezone.now()
        )
        _queue_on_commit(ids)
    return len(ids)


def requeue_stale_notices(*, older_than: timedelta) -> int:
    """Queue again every notice still queued and untouched for longer than `older_than`.

    Run by Celery beat: a notice whose task never reached the broker is sent this way.
    """
    cutoff = timezone.now() - older_than
    stale = Notice.objects.filter(status=NoticeStatus.QUEUED, queued_at__lt=cutoff)
    return requeue_notices(notice_ids=stale.values_list("pk", flat=True))
