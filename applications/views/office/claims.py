"""Repayment claims (återkrav) and redistribution (omfördelning) of a pot's returned money."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Sum
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations.engine import AllocationError
from allocations.models import AllocationRun, Pot
from allocations.wording import format_kronor

from ... import permissions, services
from ...forms.office import (
    ClaimFilterForm,
)
from ...models import (
    ClaimDisposition,
    RepaymentClaim,
)
from ...services import WorkflowError
from .common import official_required, paginate


@official_required
def claims(request):
    form = ClaimFilterForm(request.GET)
    data = form.values()
    qs = RepaymentClaim.objects.select_related(
        "requisition__run__grant", "requisition__organisation", "requisition__pot", "redistribution"
    )
    if "grant" in data:
        qs = qs.filter(requisition__run__grant=data["grant"])
    if data.get("state") == ClaimFilterForm.OUTSTANDING:
        qs = qs.filter(paid_on__isnull=True)
    elif data.get("state") == ClaimFilterForm.SETTLED:
        qs = qs.filter(paid_on__isnull=False)
    if "disposition" in data:
        qs = qs.filter(disposition=data["disposition"])
    waiting = dict(
        RepaymentClaim.objects.filter(
            disposition=ClaimDisposition.REDISTRIBUTE,
            paid_on__isnull=False,
            redistribution__isnull=True,
        )
        .values_list("requisition__pot_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    pots = Pot.objects.filter(pk__in=waiting).select_related("grant").order_by("grant__slug", "pk")
    context = {
        "form": form,
        "page": paginate(request, qs.order_by("-created_at", "-pk")),
        "waiting": [(pot, waiting[pot.pk]) for pot in pots],
        "open_rounds": AllocationRun.objects.filter(
            redistributes__isnull=False, decided_on__isnull=True
        )
        .select_related("grant", "redistributes")
        .order_by("-computed_at"),
    }
    return render(request, "applications/office/claims.html", context)


@official_required
@require_POST
def redistribute(request, pk):
    pot = permissions.get_pot_for_official(request.user, pk)
    try:
        run = services.redistribute(pot=pot, actor=request.user)
    except WorkflowError as exc:
        messages.error(request, str(exc))
    except AllocationError as exc:
        messages.error(
            request,
            _("The money of “%(pot)s” cannot be redistributed: %(error)s")
            % {"pot": pot, "error": exc.message},
        )
    else:
        messages.success(
            request,
            _("Redistribution round %(number)s divides %(amount)s; decide it below.")
            % {"number": run.number, "amount": format_kronor(run.redistributed_amount or 0)},
        )
        return redirect("office:run", run.pk)
    return redirect("office:claims")
