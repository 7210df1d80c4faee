from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from applications.models import Notice, NoticeStatus
from applications.services import requeue_notices, requeue_stale_notices


class Command(BaseCommand):
    help = (
        "Queue unsent e-mail notices again: those still queued after "
        "STIMULANS_NOTICE_STALE_MINUTES (as the periodic sweep does), and with --failed "
        "also those that failed. Sent notices are never sent twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--failed", action="store_true", help="also queue the notices that failed"
        )

    def handle(self, *args, failed, **options):
        stale = requeue_stale_notices(
            older_than=timedelta(minutes=settings.STIMULANS_NOTICE_STALE_MINUTES)
        )
        again = 0
        if failed:
            ids = Notice.objects.filter(status=NoticeStatus.FAILED).values_list("pk", flat=True)
            again = requeue_notices(notice_ids=ids)
        self.stdout.write(f"{stale} stale and {again} failed notices queued again.")
