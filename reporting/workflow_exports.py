"""Exports of the money after the decision: usage reports and repayments, and payments.

Both follow the same requisitions as the dashboard (`reporting.workflow`): the
latest decided run and its decided redistribution rounds, so their totals are
the dashboard's. The option `organisation` (an organisation's id) narrows an
export to one recipient: what a provider downloads of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Max, QuerySet, Sum
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocations.models import Grant, Organisation, redistribution_title, round_number_of
from applications import services
from applications.models import (
    ClaimDisposition,
    ClaimReason,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageLine,
)

from .documents import latest_run
from .exporters import Column, Exporter, ExportError, Sheet, register
from .workflow import COUNTED_REPORTS, followed_requisitions


def local(moment: datetime | None) -> datetime | None:
    """Local wall-clock time without a zone: a spreadsheet cell holds no time zone."""
    if moment is None:
        return None
    return timezone.localtime(moment).replace(tzinfo=None)


def user_label(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


class FollowedExporter(Exporter):
    """An export of the requisitions the dashboard follows, optionally of one recipient."""

    def __init__(self, grant: Grant, options: dict | None = None):
        super().__init__(grant, options)
        self.run = latest_run(grant, decided=True)
        self.organisation = None
        slug = self.options.get("organisation")
        if slug:
            self.organisation = Organisation.objects.filter(slug=slug).first()
            if self.organisation is None:
                raise ExportError(_("There is no organisation “%(id)s”.") % {"id": slug})

    def requisitions(self) -> QuerySet[Requisition]:
        qs = followed_requisitions(self.grant, self.run)
        if self.organisation is not None:
            qs = qs.filter(organisation=self.organisation)
        return qs

    def filename(self, fmt: str) -> str:
        mine = f"-{self.organisation.slug}" if self.organisation else ""
        return f"{self.grant.slug}-run-{self.run.number}-{self.identifier}{mine}.{fmt}"


@register
class UsageExporter(FollowedExporter):
    """Per requisition: decided, requisitioned, paid, used per permitted use, claimed, repaid."""

    identifier = "usage"
    verbose_name = gettext_lazy("Usage reports and repayments")

    def row_count(self) -> int:
        return self.requisitions().count()

    def _used(self, ids) -> dict[int, dict[int, int]]:
        """Used per requisition and permitted use, of the reports that count."""
        used: dict[int, dict[int, int]] = {}
        rows = (
            UsageLine.objects.filter(
                report__requisition__in=ids, report__status__in=COUNTED_REPORTS
            )
            .values_list("report__requisition_id", "use_id")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for req_id, use_id, total in rows:
            used.setdefault(req_id, {})[use_id] = total
        return used

    def requisition_sheet(self) -> Sheet:
        requisitions = self.requisitions()
        ids = requisitions.order_by().values("pk")
        uses = list(self.grant.agreement.permitted_uses.all())
        used = self._used(ids)
        repaid = dict(
            RepaymentClaim.objects.filter(requisition__in=ids, paid_on__isnull=False)
            .values_list("requisition_id")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        statuses = dict(RequisitionStatus.choices)
        reports = dict(ReportStatus.choices)
        rows = []
        for req in (
            services.with_balances(requisitions)
            .select_related("run__redistributes", "pot", "organisation")
            .annotate(run_round=round_number_of("run__"))
            .order_by("pot__position", "organisation__name", "run__number", "pk")
        ):
            mine = used.get(req.pk, {})
            counted = req.report_status in COUNTED_REPORTS
            total_used = sum(mine.values()) if counted else None
            accepted = req.status == RequisitionStatus.ACCEPTED
            rows.append(
                (
                    req.run.number,
                    req.pot.slug,
                    req.pot.name,
                    req.organisation.slug,
                    req.organisation.name,
                    req.organisation.org_number or None,
                    str(statuses[req.status]),
                    req.amount,
                    req.amount if accepted else 0,
                    req.paid_sum,
                    *[mine.get(use.pk) if counted else None for use in uses],
                    total_used,
                    req.paid_sum - total_used if counted else None,
                    req.claimed_sum,
                    repaid.get(req.pk, 0),
                    str(reports[req.report_status]) if req.report_status else None,
                    redistribution_title(req.run_round, req.run.redistributes.name)
                    if req.run.redistributes_id
                    else None,
                )
            )
        return Sheet(
            title=_("Requisitions"),
            columns=[
                Column(_("Run"), "integer"),
                Column(_("Pot id"), width=max((len(r[1]) for r in rows), default=0)),
                Column(_("Pot"), width=max((len(r[2]) for r in rows), default=0)),
                Column(_("Organisation id"), width=max((len(r[3]) for r in rows), default=0)),
                Column(_("Organisation"), width=max((len(r[4]) for r in rows), default=0)),
                Column(_("Organisation number"), width=11),
                Column(_("Requisition"), width=16),
                Column(_("Decided"), "kronor", total=True),
                Column(_("Requisitioned"), "kronor", total=True),
                Column(_("Paid"), "kronor", total=True),
                *[
                    Column(f"{_('Used')}: {use.label}", "kronor", width=16, total=True)
                    for use in uses
                ],
                Column(_("Reported used"), "kronor", total=True),
                Column(_("Unspent"), "kronor", total=True),
                Column(_("Claimed back"), "kronor", total=True),
                Column(_("Repaid"), "kronor", total=True),
                Column(_("Usage report"), width=16),
                Column(_("Redistribution"), width=40),
            ],
            rows=rows,
            totals=True,
        )

    def claim_sheet(self) -> Sheet:
        reasons = dict(ClaimReason.choices)
        goes_to = dict(ClaimDisposition.choices)
        claims = (
            RepaymentClaim.objects.filter(requisition__in=self.requisitions().values("pk"))
            .select_related(
                "requisition__pot", "requisition__organisation", "redistribution", "created_by"
            )
            .annotate(redistribution_round=round_number_of("redistribution__"))
            .order_by("created_at", "pk")
        )
        return Sheet(
            title=_("Repayment claims"),
            columns=[
                Column(_("Pot"), width=30),
                Column(_("Organisation"), width=30),
                Column(_("Organisation number"), width=11),
                Column(_("Reason"), width=24),
                Column(_("Amount"), "kronor", total=True),
                Column(_("Due on"), "date"),
                Column(_("Repaid on"), "date"),
                Column(_("Goes to"), width=22),
                Column(_("Redistributed in run"), "integer"),
                Column(_("Redistribution"), width=40),
                Column(_("Claimed by")),
                Column(_("Claimed at"), "datetime"),
            ],
            rows=[
                (
                    claim.requisition.pot.name,
                    claim.requisition.organisation.name,
                    claim.requisition.organisation.org_number or None,
                    str(reasons[claim.reason]),
                    claim.amount,
                    claim.due_on,
                    claim.paid_on,
                    str(goes_to[claim.disposition]),
                    claim.redistribution.number if claim.redistribution else None,
                    redistribution_title(claim.redistribution_round, claim.requisition.pot.name)
                    if claim.redistribution
                    else None,
                    user_label(claim.created_by),
                    local(claim.created_at),
                )
                for claim in claims
            ],
            totals=True,
        )

    def sheets(self) -> Iterator[Sheet]:
        yield self.requisition_sheet()
        yield self.claim_sheet()


@register
class PaymentsExporter(FollowedExporter):
    """Every payment (utbetalning) to a recipient, in the order paid."""

    identifier = "payments"
    verbose_name = gettext_lazy("Payments")

    def payments(self) -> QuerySet[Payment]:
        return Payment.objects.filter(requisition__in=self.requisitions().values("pk"))

    def row_count(self) -> int:
        return self.payments().count()

    def sheets(self) -> Iterator[Sheet]:
        payments = self.payments().select_related(
            "requisition__pot", "requisition__organisation", "requisition__run", "recorded_by"
        )
        longest = payments.aggregate(
            org=_longest("requisition__organisation__name"),
            pot=_longest("requisition__pot__name"),
        )
        yield Sheet(
            title=_("Payments"),
            columns=[
                Column(_("Paid on"), "date"),
                Column(_("Organisation id"), width=20),
                Column(_("Organisation"), width=longest["org"]),
                Column(_("Organisation number"), width=11),
                Column(_("Pot id"), width=20),
                Column(_("Pot"), width=longest["pot"]),
                Column(_("Run"), "integer"),
                Column(_("Amount"), "kronor", total=True),
                Column(_("Reference"), width=16),
                Column(_("Recorded by"), width=16),
                Column(_("Recorded at"), "datetime"),
            ],
            rows=(
                (
                    p.paid_on,
                    p.requisition.organisation.slug,
                    p.requisition.organisation.name,
                    p.requisition.organisation.org_number or None,
                    p.requisition.pot.slug,
                    p.requisition.pot.name,
                    p.requisition.run.number,
                    p.amount,
                    p.reference,
                    user_label(p.recorded_by),
                    local(p.recorded_at),
                )
                for p in payments.order_by("paid_on", "pk").iterator(chunk_size=2000)
            ),
            totals=True,
        )


def _longest(field: str):
    return Max(Length(field))
