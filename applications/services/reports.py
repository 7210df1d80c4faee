"""Usage reports (återrapportering): the money used per permitted use, and attachments."""

from __future__ import annotations

import re

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from allocations import audit
from allocations.models import PermittedUse
from allocations.wording import format_kronor
from stimulans import uploads

from ..models import (
    ReportAttachment,
    ReportStatus,
    Requisition,
    UsageLine,
    UsageReport,
)
from .base import WorkflowError
from .money import paid_total


def report_for(req: Requisition) -> UsageReport:
    report, _created = UsageReport.objects.get_or_create(requisition=req)
    return report


def used_total(report: UsageReport) -> int:
    return report.lines.aggregate(total=Sum("amount"))["total"] or 0


def unspent(report: UsageReport) -> int:
    """Paid but not used: computed, never typed."""
    return paid_total(report.requisition) - used_total(report)


@transaction.atomic
def save_report(
    *, report: UsageReport, lines: dict[PermittedUse, int], achievements: str, benefit: str, actor
) -> UsageReport:
    report = (
        UsageReport.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=report.pk)
    )
    if report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
        raise WorkflowError(_("A submitted report can no longer be changed."))
    agreement_id = report.requisition.run.grant.agreement_id
    if any(use.agreement_id != agreement_id for use in lines):
        raise WorkflowError(_("Only the agreement's permitted uses can be chosen."))
    if any(amount < 0 for amount in lines.values()):
        raise WorkflowError(_("Amounts cannot be negative."))
    paid = paid_total(report.requisition)
    if sum(lines.values()) > paid:
        raise WorkflowError(
            _("You report %(used)s used, but %(paid)s has been paid out.")
            % {"used": format_kronor(sum(lines.values())), "paid": format_kronor(paid)}
        )
    report.achievements = achievements
    report.benefit = benefit
    report.save(update_fields=["achievements", "benefit"])
    report.lines.all().delete()
    UsageLine.objects.bulk_create(
        UsageLine(report=report, use=use, amount=amount) for use, amount in lines.items() if amount
    )
    return report


@transaction.atomic
def submit_report(*, report: UsageReport, actor) -> UsageReport:
    report = (
        UsageReport.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=report.pk)
    )
    if report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
        raise WorkflowError(_("This report has already been submitted."))
    if not report.achievements.strip() or not report.benefit.strip():
        raise WorkflowError(_("Say what the money achieved and how it benefited the elderly."))
    report.status = ReportStatus.SUBMITTED
    report.submitted_at = timezone.now()
    report.submitted_by = actor
    report.save()
    audit.log(
        "report.submitted",
        report,
        grant=report.requisition.run.grant,
        actor=actor,
        after={"used": used_total(report), "unspent": unspent(report)},
    )
    return report


@transaction.atomic
def review_report(*, report: UsageReport, accept: bool, comment: str, actor) -> UsageReport:
    report = (
        UsageReport.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=report.pk)
    )
    if report.status != ReportStatus.SUBMITTED:
        raise WorkflowError(_("Only a submitted report can be reviewed."))
    if not accept and not comment.strip():
        raise WorkflowError(_("Say what the provider must complete."))
    report.status = ReportStatus.ACCEPTED if accept else ReportStatus.RETURNED
    report.review_comment = comment.strip()
    report.reviewed_at = timezone.now()
    report.reviewed_by = actor
    report.save()
    audit.log(
        "report.reviewed",
        report,
        grant=report.requisition.run.grant,
        actor=actor,
        after={"status": report.status, "comment": report.review_comment},
    )
    return report


# ---------------------------------------------------------------- attachments

ATTACHMENT_KINDS = ("pdf", "png", "jpeg", "xlsx")
MAX_ATTACHMENTS = 20
_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f/\\]")


def _clean_name(name: str) -> str:
    name = _NOT_IN_NAMES.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return (name or "bilaga")[-200:]


@transaction.atomic
def add_attachment(*, report: UsageReport, name: str, content, actor) -> ReportAttachment:
    """Attach a file to a report being written: a PDF, an image (PNG, JPEG) or an xlsx.

    What the file is is read from its bytes, not its name; a file over the upload limit,
    of another kind, or beyond the number a report may carry is refused and nothing is
    stored. The file goes to the private storage, served only by `portal:attachment`.
    """
    report = (
        UsageReport.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=report.pk)
    )
    if report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
        raise WorkflowError(_("A submitted report can no longer be changed."))
    limit = uploads.upload_limit()
    data = content.read(limit + 1)
    if len(data) > limit or getattr(content, "size", 0) > limit:
        raise WorkflowError(uploads.too_large(max(len(data), getattr(content, "size", 0))))
    if not data:
        raise WorkflowError(_("The file is empty."))
    kind = uploads.sniff(data)
    if kind not in ATTACHMENT_KINDS:
        raise WorkflowError(
            _(
                "Attach a PDF, an image (PNG or JPEG) or an Excel workbook (xlsx); "
                "this file is none of them."
            )
        )
    if report.attachments.count() >= MAX_ATTACHMENTS:
        raise WorkflowError(
            _("A report can carry at most %(count)s attachments.") % {"count": MAX_ATTACHMENTS}
        )
    ending = uploads.KINDS[kind][1]
    attachment = ReportAttachment(
        report=report, name=_clean_name(name), kind=kind, size=len(data), uploaded_by=actor
    )
    attachment.file.save(f"bilaga.{ending}", ContentFile(data), save=False)
    try:
        attachment.save()
        audit.log(
            "report.attachment_added",
            attachment,
            grant=report.requisition.run.grant,
            actor=actor,
            after={"report": report.pk, "name": attachment.name, "kind": kind, "size": len(data)},
        )
    except BaseException:
        attachment.file.storage.delete(attachment.file.name)  # no file without its record
        raise
    return attachment


@transaction.atomic
def remove_attachment(*, attachment: ReportAttachment, actor) -> None:
    """Take an attachment off a report being written; its file goes once that is committed."""
    attachment = (
        ReportAttachment.objects.select_for_update()
        .select_related("report__requisition__run__grant")
        .get(pk=attachment.pk)
    )
    report = attachment.report
    if report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
        raise WorkflowError(_("A submitted report can no longer be changed."))
    storage, stored = attachment.file.storage, attachment.file.name
    audit.log(
        "report.attachment_removed",
        attachment,
        grant=report.requisition.run.grant,
        actor=actor,
        before={"report": report.pk, "name": attachment.name, "kind": attachment.kind},
    )
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(stored))
