"""Usage reports (återrapportering): the list, one report, its review."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ... import permissions, services
from ...forms.office import (
    ReportFilterForm,
    ReportReviewForm,
)
from ...models import (
    UsageReport,
)
from ...services import WorkflowError
from .common import audit_history, official_required, paginate


def _reports():
    return UsageReport.objects.filter(requisition__run__decided_on__isnull=False).annotate(
        used=Coalesce(Sum("lines__amount"), 0)
    )


@official_required
def reports(request):
    form = ReportFilterForm(request.GET)
    data = form.values()
    qs = _reports().select_related("requisition__run__grant", "requisition__organisation")
    if "status" in data:
        qs = qs.filter(status=data["status"])
    if "grant" in data:
        qs = qs.filter(requisition__run__grant=data["grant"])
    page = paginate(request, qs.order_by("-submitted_at", "pk"))
    return render(request, "applications/office/reports.html", {"form": form, "page": page})


@official_required
def report(request, pk):
    report = permissions.get_report_for_official(request.user, pk)
    return _report_page(request, report)


def _report_page(request, report: UsageReport, form: ReportReviewForm | None = None):
    if form is None and permissions.can_review_report(request.user, report):
        form = ReportReviewForm()
    paid = services.paid_total(report.requisition)
    used = services.used_total(report)
    context = {
        "report": report,
        "req": report.requisition,
        "lines": report.lines.select_related("use"),
        "paid": paid,
        "used": used,
        "unspent": paid - used,
        "form": form,
        "history": audit_history(("applications.usagereport", [report.pk])),
        "attachments": list(report.attachments.all()),
    }
    return render(request, "applications/office/report.html", context)


@official_required
@require_POST
def review_report(request, pk):
    report = permissions.get_report_for_official(request.user, pk)
    decision = permissions.can_review_report(request.user, report)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("office:report", report.pk)
    form = ReportReviewForm(request.POST)
    if form.is_valid():
        try:
            services.review_report(
                report=report,
                accept=form.cleaned_data["decision"] == ReportReviewForm.ACCEPT,
                comment=form.cleaned_data["comment"],
                actor=request.user,
            )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The usage report is reviewed."))
            return redirect("office:report", report.pk)
    return _report_page(request, report, form)
