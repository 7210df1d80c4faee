"""Repayment claims (återkrav) and redistribution (omfördelning) of what comes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    BigIntegerField,
    Case,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from allocations import audit, identifiers
from allocations.engine import AllocationError
from allocations.models import AllocationRun, Grant, Organisation, Pot
from allocations.wording import format_kronor

from ..models import (
    ClaimAccount,
    ClaimDisposition,
    ClaimPayee,
    ClaimReason,
    ClaimRepayment,
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
    account = ClaimAccount.objects.filter(grant=req.run.grant).first()
    pay = {}
    if reason in (ClaimReason.DECLINED, ClaimReason.UNREQUISITIONED):
        # Nothing was paid out, so nothing is owed: the money is simply taken back.
        due_on, paid_on = None, today
    else:
        paid_on = None
        if account is not None:
            due_on = due_on or today + timedelta(days=account.days_to_pay)
            pay = {
                "payee": account.payee,
                "payment_method": account.payment_method,
                "payment_account": account.payment_account,
            }
        else:
            # Without a claim account the claim says whom to pay; the claims page says the
            # grant has none, and the letter asks the recipient to contact the administration.
            pay = {"payee": req.run.grant.administered_by.name}
    claim = RepaymentClaim.objects.create(
        requisition=req,
        reason=reason,
        amount=amount,
        due_on=due_on,
        paid_on=paid_on,
        disposition=disposition,
        created_by=actor,
        **pay,
    )
    if reason == ClaimReason.UNSPENT:
        prefix = account.reference_prefix if account is not None else ""
        claim.payment_reference = f"{prefix or 'AK'}-{claim.pk}"
        claim.save(update_fields=["payment_reference"])
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
            "pay_to": claim.payee,
            "account": f"{claim.payment_method} {claim.payment_account}".strip(),
            "reference": claim.payment_reference,
        },
    )
    if reason == ClaimReason.UNSPENT:
        from .. import notifications

        notifications.repayment_claimed(claim)
    return claim


def repaid_total(claim: RepaymentClaim) -> int:
    """What has been repaid on the claim so far."""
    return claim.repayments.aggregate(total=Sum("amount"))["total"] or 0


def with_repaid(claims: QuerySet[RepaymentClaim]) -> QuerySet[RepaymentClaim]:
    """Claims with `repaid_sum`, what has been repaid on each, in the same query.

    A claim for money never paid out (declined, not requisitioned) is taken back whole the day
    it is made: it counts as repaid in full, with no repayment of its own.
    """
    sums = (
        ClaimRepayment.objects.filter(claim=OuterRef("pk"))
        .order_by()
        .values("claim")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    repaid = Coalesce(Subquery(sums, output_field=BigIntegerField()), Value(0))
    return claims.annotate(
        repaid_sum=Case(
            When(reason__in=TAKEN_BACK, then=F("amount")),
            default=repaid,
            output_field=BigIntegerField(),
        )
    )


def overdue_claims(claims: QuerySet[RepaymentClaim], today: date) -> QuerySet[RepaymentClaim]:
    """The claims whose due date has passed and that are not fully repaid."""
    return claims.filter(paid_on__isnull=True, due_on__lt=today)


TAKEN_BACK = (ClaimReason.DECLINED, ClaimReason.UNREQUISITIONED)


@transaction.atomic
def record_repayment(
    *, claim: RepaymentClaim, amount: int | None, paid_on: date, actor, today: date | None = None
) -> ClaimRepayment:
    """Record money repaid on a claim: a part, or (`amount` None) all that is left.

    The claim counts as repaid (`paid_on`) once its repayments add up to it, on the day of
    the last one; only then can its money be redistributed. More than is owed, nothing, a
    negative or a fractional amount, or a day still to come is refused and nothing changes.
    """
    claim = (
        RepaymentClaim.objects.select_for_update()
        .select_related("requisition__run__grant")
        .get(pk=claim.pk)
    )
    if claim.reason in TAKEN_BACK:
        raise WorkflowError(_("Money that was never paid out is taken back, not repaid."))
    if claim.paid_on is not None:
        raise WorkflowError(_("This claim is already settled."))
    repaid = repaid_total(claim)
    left = claim.amount - repaid
    if amount is None:
        amount = left
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise WorkflowError(_("A repayment is a whole number of kronor."))
    if amount <= 0:
        raise WorkflowError(_("A repayment must be more than 0 kr."))
    if amount > left:
        raise WorkflowError(
            _("Only %(left)s of the claim is left to repay.") % {"left": format_kronor(left)}
        )
    if paid_on > (today or timezone.localdate()):
        raise WorkflowError(_("A repayment cannot be dated after today."))
    repayment = ClaimRepayment.objects.create(
        claim=claim, amount=amount, paid_on=paid_on, recorded_by=actor
    )
    settled = repaid + amount == claim.amount
    if settled:
        claim.paid_on = paid_on
        claim.save(update_fields=["paid_on"])
    audit.log(
        "claim.repaid",
        claim,
        grant=claim.requisition.run.grant,
        actor=actor,
        before={"repaid": repaid},
        after={
            "paid_on": paid_on.isoformat(),
            "amount": amount,
            "repaid": repaid + amount,
            "left": left - amount,
            "settled": settled,
            "repayment": repayment.pk,
        },
    )
    return repayment


def mark_claim_repaid(*, claim: RepaymentClaim, paid_on: date, actor) -> RepaymentClaim:
    """Record the claim as repaid in full ("registered as repaid"): what is left on it."""
    repayment = record_repayment(claim=claim, amount=None, paid_on=paid_on, actor=actor)
    return repayment.claim


# ---------------------------------------------------------------- where repayments go


@transaction.atomic
def set_claim_account(
    *,
    grant: Grant,
    pays_to: str,
    payee: str,
    payment_method: str,
    payment_account: str,
    reference_prefix: str,
    days_to_pay: int,
    actor,
) -> ClaimAccount:
    """Say where the grant's claimed-back money is paid; claims made from now on carry it.

    To the administration, or to the payee the agreement names for money repaid to the state
    (`Agreement.repay_to`, taken when no payee is given). A claim already made keeps the
    account it was sent with.
    """
    grant = (
        Grant.objects.select_for_update()
        .select_related("agreement", "administered_by")
        .get(pk=grant.pk)
    )
    if pays_to not in ClaimPayee.values:
        raise WorkflowError(_("Choose whom the money is repaid to."))
    payee = payee.strip()
    if not payee:
        payee = (
            grant.agreement.repay_to if pays_to == ClaimPayee.STATE else grant.administered_by.name
        ).strip()
    if not payee:
        raise WorkflowError(_("The agreement names nobody to repay to: give the payee."))
    try:
        account = identifiers.normal_account(payment_method, payment_account)
    except ValidationError as exc:
        raise WorkflowError(exc.messages[0]) from None
    if (
        isinstance(days_to_pay, bool)
        or not isinstance(days_to_pay, int)
        or not 1 <= days_to_pay <= 365
    ):
        raise WorkflowError(_("The days to pay are a whole number from 1 to 365."))
    reference_prefix = reference_prefix.strip()
    if len(reference_prefix) > ClaimAccount._meta.get_field("reference_prefix").max_length:
        raise WorkflowError(_("The reference prefix is too long."))
    fields = {
        "pays_to": pays_to,
        "payee": payee[:200],
        "payment_method": payment_method,
        "payment_account": account,
        "reference_prefix": reference_prefix,
        "days_to_pay": days_to_pay,
    }
    current = ClaimAccount.objects.filter(grant=grant).first()
    before = {name: getattr(current, name) for name in fields} if current else None
    if current is None:
        current = ClaimAccount(grant=grant)
    for name, value in fields.items():
        setattr(current, name, value)
    current.updated_by = actor
    current.save()
    if before != fields:
        audit.log(
            "grant.claim_account", current, grant=grant, actor=actor, before=before, after=fields
        )
    return current


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
