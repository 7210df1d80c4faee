"""Repayment claims (återkrav) and redistribution (omfördelning) of a pot's returned money."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F, Sum
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from allocations.models import AllocationRun, Grant, Pot, round_number_of
from allocations.wording import format_kronor

from ... import permissions, services
from ...forms.office import (
    ClaimAccountForm,
    ClaimFilterForm,
    RedistributionForm,
    RepaymentForm,
)
from ...models import (
    ClaimAccount,
    ClaimDisposition,
    ClaimPayee,
    ClaimReason,
    RepaymentClaim,
)
from ...services import WorkflowError
from .common import confirmation_page, is_confirmed, official_required, paginate


@official_required
def claims(request):
    """Every claim with what is repaid and left, the overdue ones flagged; repayments are
    recorded from here, a part or all that is left."""
    today = timezone.localdate()
    form = ClaimFilterForm(request.GET)
    data = form.values()
    qs = services.with_repaid(
        RepaymentClaim.objects.select_related(
            "requisition__run__grant",
            "requisition__organisation",
            "requisition__pot",
            "redistribution",
        )
    ).annotate(
        redistribution_round=round_number_of("redistribution__"),
        left=F("amount") - F("repaid_sum"),
    )
    if "grant" in data:
        qs = qs.filter(requisition__run__grant=data["grant"])
    if data.get("state") == ClaimFilterForm.OUTSTANDING:
        qs = qs.filter(paid_on__isnull=True)
    elif data.get("state") == ClaimFilterForm.OVERDUE:
        qs = services.overdue_claims(qs, today)
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
    page = paginate(request, qs.order_by("-created_at", "-pk"))
    rows = []
    for claim in page:
        repay_form = None
        if claim.paid_on is None and claim.reason == ClaimReason.UNSPENT:
            repay_form = RepaymentForm(
                most=claim.left,
                initial={"amount": claim.left, "paid_on": today},
                prefix=f"claim-{claim.pk}",
            )
        rows.append((claim, claim.is_overdue(today), repay_form))
    with_account = ClaimAccount.objects.values("grant_id")
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "overdue_count": services.overdue_claims(RepaymentClaim.objects.all(), today).count(),
        "accounts": ClaimAccount.objects.select_related("grant").order_by("grant__slug"),
        "grants_without_account": Grant.objects.filter(runs__decided_on__isnull=False)
        .exclude(pk__in=with_account)
        .distinct()
        .order_by("slug"),
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


@official_required
@require_POST
def claim_repayment(request, pk):
    """Record money repaid on a claim, from the claims list (or the requisition page)."""
    claim = permissions.get_claim_for_official(request.user, pk)
    left = claim.amount - services.repaid_total(claim)
    form = RepaymentForm(request.POST, most=left, prefix=f"claim-{claim.pk}")
    back = request.POST.get("next", "")
    # A path on this site only: `redirect` would take anything else for a URL name.
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, {request.get_host()}, request.is_secure()
    ):
        back = ""
    if form.is_valid():
        try:
            services.record_repayment(claim=claim, actor=request.user, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            claim.refresh_from_db()
            if claim.paid_on is not None:
                text = _("%(amount)s is recorded as repaid; the claim is repaid in full.")
            else:
                text = _("%(amount)s is recorded as repaid; %(left)s is left to repay.")
            messages.success(
                request,
                text
                % {
                    "amount": format_kronor(form.cleaned_data["amount"]),
                    "left": format_kronor(left - form.cleaned_data["amount"]),
                },
            )
            return redirect(back or "office:claims")
    messages.error(
        request,
        _("The repayment was not recorded: %(errors)s")
        % {"errors": " ".join(e for errors in form.errors.values() for e in errors)},
    )
    return redirect(back or "office:claims")


@official_required
def claim_account(request, pk):
    """Where the grant's claimed-back money is paid: set through `services.set_claim_account`."""
    grant = permissions.get_grant_for_official(request.user, pk)
    current = ClaimAccount.objects.filter(grant=grant).first()
    if request.method == "POST":
        form = ClaimAccountForm(request.POST)
        if form.is_valid():
            try:
                services.set_claim_account(grant=grant, actor=request.user, **form.cleaned_data)
            except WorkflowError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Claims on this grant will name this account."))
                return redirect("office:claims")
    elif current is not None:
        form = ClaimAccountForm(
            initial={
                name: getattr(current, name)
                for name in (
                    "pays_to",
                    "payee",
                    "payment_method",
                    "payment_account",
                    "reference_prefix",
                    "days_to_pay",
                )
            }
        )
    else:
        form = ClaimAccountForm(
            initial={
                "pays_to": ClaimPayee.ADMINISTRATION,
                "payment_method": "bankgiro",
                "days_to_pay": 30,
            }
        )
    context = {"grant": grant, "form": form, "current": current}
    return render(request, "applications/office/claim_account.html", context)
