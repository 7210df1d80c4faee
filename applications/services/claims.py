"""Repayment claims (återkrav) and redistribution (omfördelning) of what comes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import BigIntegerField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from allocations import audit
from allocations.engine import AllocationError
from allocations.models import AllocationRun, Grant, Organisation, Pot
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


def open_round(pot: Pot) -> AllocationRun | None:
    """The pot's redistribution round not yet decided, if any (there is at most one)."""
    return pot.redistributions.filter(decided_on__isnull=True).order_by("-number").first()


def waiting_claims(pot: Pot, round_: AllocationRun | None = None) -> QuerySet[RepaymentClaim]:
    """The repaid claims a redistribution of the pot divides now, oldest first.

    Those in no round yet, and those of the pot's undecided round, which a new
    redistribution recomputes in place together with them.
    """
    in_round = Q(redistribution__isnull=True)
    if round_ is not None:
        in_round |= Q(redistribution=round_)
    return (
        RepaymentClaim.objects.filter(
            in_round,
            requisition__pot=pot,
            disposition=ClaimDisposition.REDISTRIBUTE,
            paid_on__isnull=False,
        )
        .select_related("requisition__organisation", "requisition__run")
        .order_by("paid_on", "pk")
    )


@dataclass
class RedistributionShare:
    """What one recipient would get from a redistribution."""

    organisation: Organisation
    amount: int
    units: int


@dataclass
class RedistributionPreview:
    """A redistribution computed in memory, before anything is stored."""

    pot: Pot
    amount: int
    shares: list[RedistributionShare]

    @property
    def allocated(self) -> int:
        return sum(s.amount for s in self.shares)

    @property
    def unallocated(self) -> int:
        return self.amount - self.allocated


def redistribution_candidates(pot: Pot) -> list[Organisation]:
    """The organisations the pot's model can give redistributed money to, by name."""
    from allocations.services import redistribution_candidates as candidate_ids

    try:
        slugs = candidate_ids(pot)
    except AllocationError as exc:
        raise WorkflowError(_cannot(pot, exc)) from None
    return list(Organisation.objects.filter(slug__in=slugs).order_by("name", "slug"))


def _cannot(pot: Pot, exc: AllocationError) -> str:
    return _("The money of “%(pot)s” cannot be redistributed: %(error)s") % {
        "pot": pot,
        "error": exc.message,
    }


def _check_recipients(pot: Pot, organisations: list[Organisation]) -> list[str]:
    """The chosen recipients' ids, or an error saying why they cannot take part."""
    if not organisations:
        raise WorkflowError(_("Choose at least one recipient."))
    possible = {o.pk for o in redistribution_candidates(pot)}
    outside = sorted(o.name for o in organisations if o.pk not in possible)
    if outside:
        raise WorkflowError(
            _("The pot's model cannot give money to %(names)s.") % {"names": ", ".join(outside)}
        )
    return sorted({o.slug for o in organisations})


def preview_redistribution(*, pot: Pot, organisations: list[Organisation]) -> RedistributionPreview:
    """What redistributing the money waiting would give each chosen recipient; stores nothing."""
    from allocations.services import preview_redistribution as compute_preview

    slugs = _check_recipients(pot, organisations)
    amount = sum(c.amount for c in waiting_claims(pot, open_round(pot)))
    if not amount:
        raise WorkflowError(_("No money claimed back from this pot waits to be redistributed."))
    try:
        result = compute_preview(pot=pot, amount=amount, organisations=slugs)
    except AllocationError as exc:
        raise WorkflowError(_cannot(pot, exc)) from None
    totals: dict[str, list[int]] = {}
    for row in result.rows:
        total = totals.setdefault(row.organisation, [0, 0])
        total[0] += row.amount
        total[1] += 1 if row.unit else 0
    orgs = {o.slug: o for o in Organisation.objects.filter(slug__in=totals)}
    shares = [
        RedistributionShare(orgs[slug], amount_, units) for slug, (amount_, units) in totals.items()
    ]
    shares.sort(key=lambda s: (s.organisation.name, s.organisation.slug))
    return RedistributionPreview(pot=pot, amount=amount, shares=shares)


@transaction.atomic
def redistribute(
    *,
    pot: Pot,
    organisations: list[Organisation] | None = None,
    amount: int | None = None,
    actor,
) -> AllocationRun:
    """A new allocation round on the pot for the money claimed back from it.

    `organisations` are the recipients the official chose (None: everyone the
    pot's model gives to); `amount` is what the official saw waiting, and the
    round is refused when the money waiting has changed since. The grant is
    locked and the claims are read again under the lock, so two presses at once
    make one round and divide each claim once.
    """
    from allocations.services import compute_redistribution

    Grant.objects.select_for_update().get(pk=pot.grant_id)
    pot = Pot.objects.select_related("grant").get(pk=pot.pk)
    round_ = open_round(pot)
    claims = list(waiting_claims(pot, round_).select_for_update(of=("self",)))
    total = sum(c.amount for c in claims)
    if not total:
        raise WorkflowError(_("No money claimed back from this pot waits to be redistributed."))
    if amount is not None and amount != total:
        raise WorkflowError(
            _(
                "The money waiting to be redistributed has changed to %(total)s since you "
                "looked; look at the preview again."
            )
            % {"total": format_kronor(total)}
        )
    if organisations is None:
        organisations = redistribution_candidates(pot)
    slugs = _check_recipients(pot, organisations)
    before = (round_.result_digest, round_.redistribution_recipients) if round_ else None
    try:
        run = compute_redistribution(pot_id=pot.pk, amount=total, organisations=slugs, actor=actor)
    except AllocationError as exc:
        raise WorkflowError(_cannot(pot, exc)) from None
    new = [c.pk for c in claims if c.redistribution_id is None]
    RepaymentClaim.objects.filter(pk__in=new).update(redistribution=run)
    if new or before != (run.result_digest, run.redistribution_recipients):
        audit.log(
            "pot.redistributed",
            run,
            grant=pot.grant,
            actor=actor,
            after={
                "pot": pot.slug,
                "amount": total,
                "claims": [c.pk for c in claims],
                "recipients": slugs,
            },
        )
    return run
