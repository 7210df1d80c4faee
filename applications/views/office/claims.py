"""Repayment claims (återkrav) and redistribution (omfördelning) of a pot's returned money."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Sum
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from allocations.models import AllocationRun, Pot, round_number_of
from allocations.wording import format_kronor

from ... import permissions, services
from ...forms.office import (
    ClaimFilterForm,
    RedistributionForm,
)
from ...models import (
    ClaimDisposition,
    RepaymentClaim,
)
from ...services import WorkflowError
from .common import confirmation_page, is_confirmed, official_required, paginate


@official_required
def claims(request):
    form = ClaimFilterForm(request.GET)
    data = form.values()
    qs = RepaymentClaim.objects.select_related(
        "requisition__run__grant", "requisition__organisation", "requisition__pot", "redistribution"
    ).annotate(redistribution_round=round_number_of("redistribution__"))
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
        .with_round_numbers()
        .select_related("grant", "redistributes")
        .order_by("-computed_at"),
    }
    return render(request, "applications/office/claims.html", context)


@official_required
def redistribute(request, pk):
    """The money of a pot waiting to be redistributed: who returned it, who takes part, a preview.

    "Preview" computes in memory and stores nothing; creating the round is confirmed on
    its own page (`redistribute_confirm`).
    """
    pot = permissions.get_pot_for_official(request.user, pk)
    round_ = services.open_round(pot)
    claims = list(services.waiting_claims(pot, round_))
    amount = sum(c.amount for c in claims)
    problem = None
    candidates: list = []
    if amount:
        try:
            candidates = services.redistribution_candidates(pot)
        except WorkflowError as exc:
            problem = str(exc)
    returned = {c.requisition.organisation_id for c in claims}
    preview = None
    if request.method == "POST":
        form = RedistributionForm(request.POST, candidates=candidates)
        if not amount:
            form.add_error(
                None, _("No money claimed back from this pot waits to be redistributed.")
            )
        elif form.is_valid():
            chosen = list(form.cleaned_data["organisations"])
            try:
                preview = services.preview_redistribution(pot=pot, organisations=chosen)
            except WorkflowError as exc:
                form.add_error(None, str(exc))
    else:
        if round_ is not None and round_.redistribution_recipients:
            initial = [o for o in candidates if o.slug in round_.redistribution_recipients]
        else:
            initial = candidates
        form = RedistributionForm(candidates=candidates, initial={"organisations": initial})
    context = {
        "pot": pot,
        "grant": pot.grant,
        "claims": claims,
        "amount": amount,
        "round": round_,
        "returned": returned,
        "candidates": candidates,
        "problem": problem,
        "form": form,
        "preview": preview,
    }
    return render(request, "applications/office/redistribute.html", context)


@official_required
def redistribute_confirm(request, pk):
    """Creating a redistribution round, confirmed on a page with what each recipient gets.

    The recipients come from the query (a GET) or the form posted from the preview; the
    summary is the preview computed in memory. Only a POST with the confirmation stores the
    round, through the service, which checks again under a lock that the money waiting is
    still what the official saw.
    """
    pot = permissions.get_pot_for_official(request.user, pk)
    round_ = services.open_round(pot)
    amount = sum(c.amount for c in services.waiting_claims(pot, round_))
    if not amount:
        messages.info(request, _("No money claimed back from this pot waits to be redistributed."))
        return redirect("office:redistribute", pot.pk)
    try:
        candidates = services.redistribution_candidates(pot)
    except WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect("office:redistribute", pot.pk)
    if request.method == "POST":
        form = RedistributionForm(request.POST, candidates=candidates)
    elif "organisations" in request.GET:
        form = RedistributionForm(request.GET, candidates=candidates)
    else:
        chosen = candidates
        if round_ is not None and round_.redistribution_recipients:
            chosen = [o for o in candidates if o.slug in round_.redistribution_recipients]
        data = QueryDict(mutable=True)
        data.setlist("organisations", [str(o.pk) for o in chosen])
        data["amount"] = str(amount)
        form = RedistributionForm(data, candidates=candidates)
    summary: list[str] = []
    if form.is_valid():
        chosen = list(form.cleaned_data["organisations"])
        try:
            if form.cleaned_data["amount"] != amount:
                raise WorkflowError(
                    _(
                        "The money waiting to be redistributed has changed to %(total)s since "
                        "you looked; look at the preview again."
                    )
                    % {"total": format_kronor(amount)}
                )
            preview = services.preview_redistribution(pot=pot, organisations=chosen)
            if is_confirmed(request):
                run = services.redistribute(
                    pot=pot,
                    organisations=chosen,
                    amount=form.cleaned_data["amount"],
                    actor=request.user,
                )
                messages.success(
                    request,
                    _("%(round)s is stored; decide it below.") % {"round": run.title_with_amount()},
                )
                return redirect("office:run", run.pk)
        except WorkflowError as exc:
            form.add_error(None, str(exc))  # shown with the form again, nothing stored
        else:
            summary = redistribution_summary(preview, round_)
    return confirmation_page(
        request,
        title=_("Create the redistribution round of “%(pot)s”?") % {"pot": pot},
        summary=summary,
        action=reverse("office:redistribute_confirm", args=[pot.pk]),
        back=reverse("office:redistribute", args=[pot.pk]),
        button=_("Create the redistribution round"),
        form=form,
    )


def redistribution_summary(preview, round_) -> list[str]:
    receiving = [s for s in preview.shares if s.amount > 0]
    lines = [
        ngettext(
            "The round divides %(amount)s to %(count)s recipient: %(shares)s.",
            "The round divides %(amount)s to %(count)s recipients: %(shares)s.",
            len(receiving),
        )
        % {
            "amount": format_kronor(preview.allocated, nbsp=True),
            "count": len(receiving),
            "shares": "; ".join(
                f"{s.organisation.name} {format_kronor(s.amount, nbsp=True)}" for s in receiving
            ),
        },
    ]
    if preview.unallocated:
        lines.append(
            _("%(amount)s is left unallocated.")
            % {"amount": format_kronor(preview.unallocated, nbsp=True)}
        )
    lines.append(
        _(
            "The money claimed back is locked to the round; the round is recorded as a decision "
            "on its own page, after which it cannot be changed."
        )
    )
    if round_ is not None:
        lines.append(
            _("%(round)s, not yet decided, is computed again with this choice.")
            % {"round": round_.title_with_amount()}
        )
    return lines
