"""The officials' start page, a grant's page, and computing its allocation."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, F, Q, Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations import jobs
from allocations.engine import APPLIED_FOR
from allocations.models import Grant
from allocations.services import COMPUTE, request_compute
from allocations.tree import pot_tree

from ... import permissions, services
from ...models import (
    Application,
    ApplicationStatus,
    Call,
    ClaimDisposition,
    RepaymentClaim,
    ReportStatus,
    RequisitionStatus,
    UsageReport,
)
from .common import official_required, paginate


@official_required
def start(request):
    today = timezone.localdate()
    grants = paginate(request, Grant.objects.prefetch_related("pots").order_by("slug"), per_page=10)
    open_calls = Call.objects.filter(opens_on__lte=today, closes_on__gte=today)
    requisitions = services.with_balances(permissions.requisitions_for(request.user))
    counts = {
        "submitted": Application.objects.filter(status=ApplicationStatus.SUBMITTED).count(),
        "pending": requisitions.filter(status=RequisitionStatus.PENDING).count(),
        "unpaid": requisitions.filter(status=RequisitionStatus.ACCEPTED)
        .filter(paid_sum__lt=F("amount"))
        .count(),
        "reports": UsageReport.objects.filter(
            status=ReportStatus.SUBMITTED, requisition__run__decided_on__isnull=False
        ).count(),
        "claims": RepaymentClaim.objects.filter(paid_on__isnull=True).count(),
    }
    context = {
        "page": grants,
        "grants": [(grant, list(pot_tree(grant.pots.all()).walk())) for grant in grants],
        "applied_for": APPLIED_FOR,
        "open_calls": open_calls.select_related("pot__grant")
        .annotate(waiting=Count("applications", filter=Q(applications__status="submitted")))
        .order_by("closes_on", "pk")[:10],
        "open_count": open_calls.count(),
        "closed_count": Call.objects.filter(closes_on__lt=today).count(),
        "counts": counts,
        "today": today,
    }
    return render(request, "applications/office/start.html", context)


@official_required
def grant(request, pk):
    grant = permissions.get_grant_for_official(request.user, pk)
    computing = jobs.active_job(kind=COMPUTE, grant=grant, record=False)
    if computing is not None:
        messages.info(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                _("A computation of this grant is under way."),
                reverse("allocations:job", args=[computing.pk]),
                _("Follow it here."),
            ),
        )
    latest = grant.runs.filter(redistributes=None).order_by("-number").first()
    results = {r.pot_id: r for r in latest.pot_results.all()} if latest else {}
    waiting = dict(
        RepaymentClaim.objects.filter(
            requisition__run__grant=grant,
            disposition=ClaimDisposition.REDISTRIBUTE,
            paid_on__isnull=False,
            redistribution__isnull=True,
        )
        .values_list("requisition__pot_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    calls = dict(
        Call.objects.filter(pot__grant=grant)
        .values_list("pot_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    pots = grant.pot_tree()
    parents = pots.parents
    tree = [
        {
            "pot": pot,
            "depth": depth,
            "result": results.get(pot.pk),
            "waiting": waiting.get(pot.pk, 0),
            "calls": calls.get(pot.pk, 0),
            "applied_for": pot.pk not in parents and pot.model_type in APPLIED_FOR,
        }
        for pot, depth in pots.walk()
    ]
    runs = (
        grant.runs.with_round_numbers()
        .annotate(total=Sum("rows__amount"))
        .select_related("redistributes", "computed_by")
        .order_by("-number")
    )
    context = {"grant": grant, "tree": tree, "latest": latest, "runs": paginate(request, runs)}
    return render(request, "applications/office/grant.html", context)


@official_required
@require_POST
def compute(request, pk):
    """Ask for the computation; its page shows how it goes and, at the end, the run."""
    grant = permissions.get_grant_for_official(request.user, pk)
    try:
        job = request_compute(grant=grant, actor=request.user)
    except jobs.JobRefused as exc:  # a grant not ready, or no queue for background work
        messages.error(request, str(exc))
        return redirect("office:grant", grant.pk)
    return redirect("allocations:job", pk=job.pk)
