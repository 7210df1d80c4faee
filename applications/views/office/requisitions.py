"""Requisitions (rekvisitioner): the list, one recipient's, payments and claims on it."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations.models import round_number_of
from allocations.wording import format_kronor

from ... import permissions, services
from ...forms.office import (
    ClaimForm,
    PaymentForm,
    RepaidForm,
    RequisitionFilterForm,
)
from ...models import (
    ClaimDisposition,
    ClaimReason,
    Requisition,
    RequisitionStatus,
    UsageReport,
)
from ...services import WorkflowError
from .common import (
    audit_history,
    confirmation_page,
    is_confirmed,
    official_required,
    paginate,
)
from .recipients import answer_forms


@official_required
def requisitions(request):
    today = timezone.localdate()
    form = RequisitionFilterForm(request.GET)
    data = form.values()
    qs = services.with_balances(permissions.requisitions_for(request.user))
    for name in ("run", "pot", "organisation"):
        if name in data:
            qs = qs.filter(**{name: data[name]})
    status = data.get("status")
    if status == RequisitionFilterForm.UNPAID:
        qs = qs.filter(status=RequisitionStatus.ACCEPTED, paid_sum__lt=F("amount"))
    elif status in RequisitionStatus.values:
        qs = qs.filter(status=status)
    qs = qs.select_related("run__grant", "organisation", "pot")
    qs = qs.annotate(run_round=round_number_of("run__")).order_by(
        "-run__decided_on", "run_id", "organisation__name", "pot__position", "pk"
    )
    pots = services.pot_balances(qs)
    items = qs
    if status == RequisitionFilterForm.CLAIMABLE:
        items = [req for req in qs if services.claimable(req, today)]
    page = paginate(request, items)
    rows = [(req, services.balance_of(req), services.claimable(req, today)) for req in page]
    context = {"form": form, "page": page, "rows": rows, "pots": pots, "run": data.get("run")}
    return render(request, "applications/office/requisitions.html", context)


@official_required
def requisition(request, pk):
    req = permissions.get_requisition_for(request.user, pk)
    return _requisition_page(request, req)


def _requisition_page(request, req: Requisition, **forms):
    today = timezone.localdate()
    req = (
        services.with_balances(Requisition.objects.filter(pk=req.pk))
        .select_related("run__grant__agreement", "organisation", "pot")
        .get()
    )
    balance = services.balance_of(req)
    claimable = services.claimable(req, today)
    if "payment_form" not in forms and req.status == RequisitionStatus.ACCEPTED and balance.left:
        forms["payment_form"] = PaymentForm(
            most=balance.left, initial={"paid_on": today, "amount": balance.left}
        )
    if "claim_form" not in forms and claimable and claimable[1] > 0:
        forms["claim_form"] = ClaimForm(
            most=claimable[1],
            initial={
                "amount": claimable[1],
                "due_on": req.run.grant.agreement.repay_by,
                "disposition": ClaimDisposition.RETURN_TO_STATE,
            },
        )
    repaid_form, repaid_claim = forms.pop("repaid", (None, None))
    claims = [
        (claim, repaid_form if claim.pk == repaid_claim else RepaidForm(initial={"paid_on": today}))
        for claim in req.claims.select_related("redistribution")
    ]
    payments = list(req.payments.select_related("recorded_by"))
    context = {
        "req": req,
        "balance": balance,
        "pot_balance": services.pot_balances(Requisition.objects.filter(run=req.run, pot=req.pot)),
        "claimable": claimable,
        "claim_reason": ClaimReason(claimable[0]).label if claimable else "",
        "lines": req.lines.select_related("use"),
        "payments": payments,
        "claims": claims,
        "history": audit_history(
            ("applications.requisition", [req.pk]),
            ("applications.payment", [p.pk for p in payments]),
            ("applications.repaymentclaim", [c.pk for c, _form in claims]),
        ),
        "report": UsageReport.objects.filter(requisition=req).first(),
        **answer_forms(request.user, req),
        **forms,
    }
    return render(request, "applications/office/requisition.html", context)


@official_required
@require_POST
def record_payment(request, pk):
    req = permissions.get_requisition_for(request.user, pk)
    decision = permissions.can_record_payment(request.user, req)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("office:requisition", req.pk)
    left = req.amount - services.paid_total(req)
    form = PaymentForm(request.POST, most=left)
    if form.is_valid():
        try:
            services.record_payment(req=req, actor=request.user, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("A payment of %(amount)s to %(recipient)s is recorded.")
                % {
                    "amount": format_kronor(form.cleaned_data["amount"]),
                    "recipient": req.organisation,
                },
            )
            return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, payment_form=form)


@official_required
def claim(request, pk):
    """A repayment claim (återkrav), confirmed on a page that says what it claims and where the
    money goes: a GET shows the claim form, a valid form the summary, and only a POST with
    the confirmation makes the claim."""
    req = permissions.get_requisition_for(request.user, pk)
    today = timezone.localdate()
    what = services.claimable(req, today)
    if not what or what[1] <= 0:
        messages.error(request, _("Nothing can be claimed back from this recipient now."))
        return redirect("office:requisition", req.pk)
    if request.method == "POST":
        form = ClaimForm(request.POST, most=what[1])
    else:
        form = ClaimForm(most=what[1], initial=_claim_initial(req, what[1]))
    if request.method == "POST" and not form.is_valid():
        return _requisition_page(request, req, claim_form=form)
    if not is_confirmed(request):
        return confirmation_page(
            request,
            title=_("Claim money back from %(recipient)s?") % {"recipient": req.organisation},
            summary=_claim_summary(req, what, form) if form.is_bound else [],
            action=reverse("office:claim", args=[req.pk]),
            back=reverse("office:requisition", args=[req.pk]),
            button=_("Make the claim"),
            form=form,
        )
    if form.is_valid():
        try:
            services.claim_repayment(req=req, today=today, actor=request.user, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("%(amount)s is claimed back from %(recipient)s.")
                % {
                    "amount": format_kronor(form.cleaned_data["amount"]),
                    "recipient": req.organisation,
                },
            )
            return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, claim_form=form)


@official_required
@require_POST
def claim_repaid(request, pk):
    claim = permissions.get_claim_for_official(request.user, pk)
    req = permissions.get_requisition_for(request.user, claim.requisition_id)
    form = RepaidForm(request.POST)
    if form.is_valid():
        try:
            services.mark_claim_repaid(claim=claim, actor=request.user, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The claim is marked as repaid."))
            return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, repaid=(form, claim.pk))


def _claim_initial(req: Requisition, most: int) -> dict:
    return {
        "amount": most,
        "due_on": req.run.grant.agreement.repay_by,
        "disposition": ClaimDisposition.RETURN_TO_STATE,
    }


def _claim_summary(req: Requisition, what: tuple[str, int], form: ClaimForm) -> list[str]:
    """What the claim does, with the amounts."""
    data = form.cleaned_data
    lines = [
        _(
            "%(amount)s is claimed back from %(recipient)s (%(reason)s), of the %(decided)s "
            "decided from “%(pot)s”; at most %(most)s could be claimed."
        )
        % {
            "amount": format_kronor(data["amount"], nbsp=True),
            "recipient": req.organisation,
            "reason": ClaimReason(what[0]).label,
            "decided": format_kronor(req.amount, nbsp=True),
            "pot": req.pot,
            "most": format_kronor(what[1], nbsp=True),
        },
        _("The money goes: %(where)s.") % {"where": ClaimDisposition(data["disposition"]).label},
    ]
    if what[0] == ClaimReason.UNSPENT:
        due = data.get("due_on")
        lines.append(
            _("The recipient is told by e-mail and repays by %(date)s.")
            % {"date": due.isoformat() if due else "—"}
        )
    else:
        lines.append(_("Nothing was paid out, so the money is taken back at once."))
    if what[0] == ClaimReason.UNREQUISITIONED:
        lines.append(_("The requisition, not answered in time, is marked as declined."))
    lines.append(_("A claim cannot be withdrawn once made."))
    return lines
