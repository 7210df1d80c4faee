"""Repayment claims (återkrav) and redistribution (omfördelning) of what comes back."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import BigIntegerField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from allocations import audit
from allocations.models import AllocationRun, Pot
from allocations.wording import format_kronor

from ..models import (
    ClaimDisposition,
    ClaimReason,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageLine,
)
from .base import WorkflowError


def with_balances(requisitions: QuerySet[Requisition]) -> QuerySet[Requisition]:
    """Requisitions with what was paid, claimed back and reported used, in the same query.

    Adds `paid_sum`, `claimed_sum`, `used_sum` and `report_status` (None without a report).
    """

    def total(model, link: str, field: str = "amount"):
        sums = (
            model.objects.filter(**{link: OuterRef("pk")})
            .order_by()
            .values(link)
            .annotate(total=Sum(field))
            .values("total")
        )
        return Coalesce(Subquery(sums, output_field=BigIntegerField()), Value(0))

    return requisitions.annotate(
        paid_sum=total(Payment, "requisition"),
        claimed_sum=total(RepaymentClaim, "requisition"),
        used_sum=total(UsageLine, "report__requisition"),
        report_status=F("report__status"),
    )


def claimable(req: Requisition, today: date) -> tuple[str, int] | None:
    """What can be claimed back from a requisition now, and why; None when nothing.

    Reads the sums `with_balances` adds, so a list of requisitions costs no query per row.
    """
    if not hasattr(req, "claimed_sum"):
        req = with_balances(Requisition.objects.filter(pk=req.pk)).get()
    already = req.claimed_sum
    if req.status == RequisitionStatus.DECLINED:
        return ClaimReason.DECLINED, req.amount - already
    if req.status == RequisitionStatus.PENDING and req.due_on and today > req.due_on:
        return ClaimReason.UNREQUISITIONED, req.amount - already
    if req.status == RequisitionStatus.ACCEPTED and req.report_status == ReportStatus.ACCEPTED:
        amount = req.paid_sum - req.used_sum - already
        if amount > 0:
            return ClaimReason.UNSPENT, amount
    return None


@transaction.atomic
def claim_repayment(
    *, req: Requisition, amount: int, due_on: date | None, disposition: str, today: date, actor
) -> RepaymentClaim:
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    what = claimable(req, today)
    if what is None or what[1] <= 0:
        raise WorkflowError(_("Nothing can be claimed back from this recipient now."))
    reason, most = what
    if not 0 < amount <= most:
        raise WorkflowError(
            _("At most %(most)s can be claimed back.") % {"most": format_kronor(most)}
        )
    if disposition not in ClaimDisposition.values:
        raise WorkflowError(_("Choose where the money goes."))
    if reason in (ClaimReason.DECLINED, ClaimReason.UNREQUISITIONED):
        # Nothing was paid out, so nothing is owed: the money is simply taken back.
        due_on, paid_on = None, today
    else:
        paid_on = None
    claim = RepaymentClaim.objects.create(
        requisition=req,
        reason=reason,
        amount=amount,
        due_on=due_on,
        paid_on=paid_on,
        disposition=disposition,
        created_by=actor,
    )
    if reason == ClaimReason.UNREQUISITIONED:
        req.status = RequisitionStatus.DECLINED
        req.decline_reason = _("Not requisitioned by %(date)s.") % {"date": req.due_on}
        req.save(update_fields=["status", "decline_reason"])
    audit.log(
        "claim.created",
        claim,
        grant=req.run.grant,
        actor=actor,
        after={
            "reason": reason,
            "amount": amount,
            "disposition": disposition,
            "due_on": due_on.isoformat() if due_on else None,
        },
    )
    if reason == ClaimReason.UNSPENT:
        from .. import notifications

        notifications.repayment_claimed(claim)
    return claim


@transaction.atomic
def mark_claim_repaid(*, claim: RepaymentClaim, paid_on: date, actor) -> RepaymentClaim:
    claim = (
        RepaymentClaim.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=claim.pk)
    )
    if claim.paid_on is not None:
        raise WorkflowError(_("This claim is already settled."))
    claim.paid_on = paid_on
    claim.save(update_fields=["paid_on"])
    audit.log(
        "claim.repaid",
        claim,
        grant=claim.requisition.run.grant,
        actor=actor,
        after={"paid_on": paid_on.isoformat(), "amount": claim.amount},
    )
    return claim


def redistributable(pot: Pot) -> list[RepaymentClaim]:
    """Money of a pot claimed back for redistribution, settled, and not yet redistributed."""
    return list(
        RepaymentClaim.objects.filter(
            requisition__pot=pot,
            disposition=ClaimDisposition.REDISTRIBUTE,
            paid_on__isnull=False,
            redistribution__isnull=True,
        )
    )


@transaction.atomic
def redistribute(*, pot: Pot, actor) -> AllocationRun:
    """A new allocation round on the pot for the money claimed back from it."""
    from allocations.services import compute_redistribution

    claims = redistributable(pot)
    amount = sum(c.amount for c in claims)
    if not amount:
        raise WorkflowError(_("No money claimed back from this pot waits to be redistributed."))
    # An undecided round of the pot is recomputed in place: it keeps the money it already has.
    open_round = pot.redistributions.filter(decided_on__isnull=True).order_by("-number").first()
    if open_round is not None:
        amount += open_round.source_claims.aggregate(total=Sum("amount"))["total"] or 0
    run = compute_redistribution(pot_id=pot.pk, amount=amount, actor=actor)
    RepaymentClaim.objects.filter(pk__in=[c.pk for c in claims]).update(redistribution=run)
    audit.log(
        "pot.redistributed",
        run,
        grant=pot.grant,
        actor=actor,
        after={"pot": pot.slug, "amount": amount, "claims": [c.pk for c in claims]},
    )
    return run
