"""The decision, the requisitions (rekvisitioner) it opens, and the payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from allocations import audit, identifiers
from allocations.bulk import insert_rows
from allocations.models import AllocationRun, PermittedUse, Pot
from allocations.services import RunFrozen, lock_for_decision, record_decision
from allocations.wording import format_kronor

from ..models import (
    Call,
    Payment,
    RepaymentClaim,
    Requisition,
    RequisitionLine,
    RequisitionStatus,
)
from .base import WorkflowError


@dataclass(frozen=True)
class OnBehalf:
    """An answer an official gives for a recipient with no portal users: on whose word
    (the name and role of the person at the recipient) and the day that word was given."""

    name: str
    role: str
    given_on: date

    def describe(self) -> str:
        return f"{self.name.strip()}, {self.role.strip()}" if self.role.strip() else self.name


def _answered(req: Requisition, actor, on_behalf: OnBehalf | None, today: date) -> dict:
    """Record who answered; for an answer on a recipient's behalf, on whose word and when."""
    req.answered_at = timezone.now()
    req.answered_by = actor
    if on_behalf is None:
        return {}
    if not on_behalf.name.strip():
        raise WorkflowError(_("Name the person at the recipient who gave the answer."))
    if on_behalf.given_on > today:
        raise WorkflowError(_("The answer cannot have been given after today."))
    if on_behalf.given_on < req.run.decided_on:
        raise WorkflowError(_("The answer cannot have been given before the decision."))
    req.answered_by_official = True
    req.on_behalf_of = on_behalf.describe().strip()[:200]
    req.on_behalf_given_on = on_behalf.given_on
    return {"on_behalf_of": req.on_behalf_of, "given_on": on_behalf.given_on.isoformat()}


def decision_date_problems(
    *, run: AllocationRun, decided_on: date, requisition_by: date | None
) -> list[tuple[str, str]]:
    """Why a decision on `run` cannot carry these dates, as (field, message) pairs.

    The decision comes after every call on the grant's pots that had opened by then has
    closed (a call opening later is for a later decision), and before the agreement's
    report-by and repay-by dates; the recipients are asked to requisition on or
    after the day of the decision, and before they must report.

    A redistribution round divides money that came back after the usage reports, so it
    is decided after those dates by nature: it is held only to its requisition date.
    """
    if run.redistributes_id is not None:
        if requisition_by is not None and requisition_by < decided_on:
            return [("requisition_by", _("The recipients cannot be asked before the decision."))]
        return []
    problems = []
    last_call = (
        Call.objects.filter(
            pot__grant_id=run.grant_id, opens_on__lte=decided_on, closes_on__gt=decided_on
        )
        .order_by("-closes_on", "id")
        .first()
    )
    if last_call is not None:
        problems.append(
            (
                "decided_on",
                _(
                    "The decision cannot be dated before the call “%(call)s” closes "
                    "(%(date)s): it decides on the applications to the call."
                )
                % {"call": last_call.title, "date": last_call.closes_on.isoformat()},
            )
        )
    agreement = run.grant.agreement
    if agreement.report_by and agreement.report_by <= decided_on:
        problems.append(
            (
                "decided_on",
                _(
                    "The decision must be dated before the agreement's report-by date "
                    "(%(date)s): the recipients report on the money after it is decided."
                )
                % {"date": agreement.report_by.isoformat()},
            )
        )
    if agreement.repay_by and agreement.repay_by <= decided_on:
        problems.append(
            (
                "decided_on",
                _(
                    "The decision must be dated before the agreement's repay-by date "
                    "(%(date)s): unspent money is repaid after it is decided."
                )
                % {"date": agreement.repay_by.isoformat()},
            )
        )
    if requisition_by is not None:
        if requisition_by < decided_on:
            problems.append(
                ("requisition_by", _("The recipients cannot be asked before the decision."))
            )
        elif agreement.report_by and requisition_by >= agreement.report_by:
            problems.append(
                (
                    "requisition_by",
                    _(
                        "The recipients must requisition before the agreement's report-by "
                        "date (%(date)s): they report on the money they requisitioned."
                    )
                    % {"date": agreement.report_by.isoformat()},
                )
            )
    return problems


@transaction.atomic
def decide(
    *,
    run: AllocationRun,
    decided_on: date,
    decided_by: str,
    delegation: str,
    reference: str,
    requisition_by: date | None,
    actor,
    actor_label: str = "",
) -> AllocationRun:
    """Record the decision and open a requisition for each recipient.

    The one door to a decision: the officials' page, the admin and `decide_run`
    all come here, so a decided run always has its requisitions and notices, and
    its dates are checked against the calls and the agreement (`decision_date_problems`).
    """
    # Locked once, with what the ledger's door checks (whether a later run exists).
    run = lock_for_decision(run.pk)
    # A decided run is refused by `record_decision` for that reason, whatever the dates.
    problems = (
        []
        if run.is_decided
        else decision_date_problems(run=run, decided_on=decided_on, requisition_by=requisition_by)
    )
    if problems:
        raise WorkflowError(" ".join(message for _field, message in problems), problems=problems)
    # The rows summed once: by recipient and pot for the requisitions, and in all for the
    # decision's audit entry.
    totals = list(
        run.rows.values("organisation_id", "pot_id").annotate(total=Sum("amount")).order_by()
    )
    try:
        run = record_decision(
            run=run,
            allocated=sum(t["total"] for t in totals),
            decided_on=decided_on,
            decided_by=decided_by,
            delegation=delegation,
            reference=reference,
            actor=actor,
            actor_label=actor_label,
        )
    except RunFrozen:
        # The run is locked since the start of this transaction: as read then, it still is.
        if run.is_decided:
            raise WorkflowError(
                _("This run was decided on %s; a decision is not changed.")
                % run.decided_on.isoformat()
            ) from None
        raise WorkflowError(_("A later run of this grant exists: decide that one.")) from None
    except ValueError as exc:
        raise WorkflowError(str(exc)) from None
    # Hundreds at once: written by one statement (`insert_rows`), not prepared field by field.
    requisitions = [
        Requisition(
            run=run,
            organisation_id=t["organisation_id"],
            pot_id=t["pot_id"],
            amount=t["total"],
            due_on=requisition_by,
        )
        for t in totals
        if t["total"] > 0
    ]
    insert_rows(requisitions, ["run", "organisation", "pot", "amount", "due_on"])
    from .. import notifications

    notifications.decision_made(run, requisitions)
    return run


@transaction.atomic
def accept_requisition(
    *,
    req: Requisition,
    payment_method: str,
    payment_account: str,
    lines: dict[PermittedUse, int],
    actor,
    on_behalf: OnBehalf | None = None,
) -> Requisition:
    """The recipient requisitions its money; or an official does, `on_behalf` of a recipient
    with no portal users, recording on whose word."""
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    if req.status != RequisitionStatus.PENDING:
        raise WorkflowError(_("This requisition has already been answered."))
    try:
        account = identifiers.normal_account(payment_method, payment_account)
    except ValidationError as exc:
        raise WorkflowError(exc.messages[0]) from None
    agreement_id = req.run.grant.agreement_id
    if any(use.agreement_id != agreement_id for use in lines):
        raise WorkflowError(_("Only the agreement's permitted uses can be chosen."))
    if any(amount < 0 for amount in lines.values()):
        raise WorkflowError(_("Amounts cannot be negative."))
    total = sum(lines.values())
    if total != req.amount:
        raise WorkflowError(
            _("The amounts by heading add up to %(total)s; they must add up to %(amount)s.")
            % {"total": format_kronor(total), "amount": format_kronor(req.amount)}
        )
    req.status = RequisitionStatus.ACCEPTED
    req.payment_method = payment_method
    req.payment_account = account
    behalf = _answered(req, actor, on_behalf, timezone.localdate())
    req.save()
    RequisitionLine.objects.bulk_create(
        RequisitionLine(requisition=req, use=use, amount=amount)
        for use, amount in lines.items()
        if amount
    )
    audit.log(
        "requisition.accepted",
        req,
        grant=req.run.grant,
        actor=actor,
        after={
            "amount": req.amount,
            "account": f"{payment_method} {req.payment_account}",
            "lines": {u.code: a for u, a in lines.items()},
            **behalf,
        },
    )
    from .. import notifications

    notifications.requisition_received(req)
    return req


@transaction.atomic
def decline_requisition(
    *, req: Requisition, reason: str, actor, on_behalf: OnBehalf | None = None
) -> Requisition:
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    if req.status != RequisitionStatus.PENDING:
        raise WorkflowError(_("This requisition has already been answered."))
    if not reason.strip():
        raise WorkflowError(_("Say why the money is declined."))
    req.status = RequisitionStatus.DECLINED
    req.decline_reason = reason.strip()
    behalf = _answered(req, actor, on_behalf, timezone.localdate())
    req.save()
    audit.log(
        "requisition.declined",
        req,
        grant=req.run.grant,
        actor=actor,
        after={"amount": req.amount, "reason": req.decline_reason, **behalf},
    )
    return req


def paid_total(req: Requisition) -> int:
    return req.payments.aggregate(total=Sum("amount"))["total"] or 0


@transaction.atomic
def record_payment(
    *, req: Requisition, paid_on: date, amount: int, reference: str, actor
) -> Payment:
    req = Requisition.objects.select_for_update().select_related("run__grant").get(pk=req.pk)
    if req.status != RequisitionStatus.ACCEPTED:
        raise WorkflowError(_("Only a requisitioned amount can be paid."))
    if amount <= 0:
        raise WorkflowError(_("A payment must be more than 0 kr."))
    left = req.amount - paid_total(req)
    if amount > left:
        raise WorkflowError(
            _("Only %(left)s of the requisition is unpaid.") % {"left": format_kronor(left)}
        )
    payment = Payment.objects.create(
        requisition=req,
        paid_on=paid_on,
        amount=amount,
        reference=reference.strip(),
        recorded_by=actor,
    )
    audit.log(
        "payment.recorded",
        payment,
        grant=req.run.grant,
        actor=actor,
        after={
            "requisition": req.pk,
            "paid_on": paid_on.isoformat(),
            "amount": amount,
            "reference": payment.reference,
        },
    )
    from .. import notifications

    notifications.payment_made(payment)
    return payment


@dataclass
class Balance:
    """Decided, requisitioned, paid and claimed back, in kronor (one requisition or a sum)."""

    decided: int = 0
    requisitioned: int = 0
    paid: int = 0
    claimed: int = 0
    pot: Pot | None = None

    @property
    def left(self) -> int:
        """Requisitioned but not yet paid out."""
        return self.requisitioned - self.paid


def balance_of(req: Requisition) -> Balance:
    """The balance of a requisition read through `with_balances`."""
    accepted = req.status == RequisitionStatus.ACCEPTED
    return Balance(
        decided=req.amount,
        requisitioned=req.amount if accepted else 0,
        paid=req.paid_sum,
        claimed=req.claimed_sum,
        pot=req.pot,
    )


def pot_balances(requisitions: QuerySet[Requisition]) -> list[Balance]:
    """The balances of `requisitions` summed per pot, in a fixed number of queries."""
    ids = requisitions.order_by().values("pk")
    by_pot: dict[int, Balance] = {}
    rows = (
        Requisition.objects.filter(pk__in=ids)
        .values("pot_id", "status")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        balance = by_pot.setdefault(row["pot_id"], Balance())
        balance.decided += row["total"]
        if row["status"] == RequisitionStatus.ACCEPTED:
            balance.requisitioned += row["total"]
    for model, attr in ((Payment, "paid"), (RepaymentClaim, "claimed")):
        sums = (
            model.objects.filter(requisition__in=ids)
            .values("requisition__pot_id")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for row in sums:
            balance = by_pot.setdefault(row["requisition__pot_id"], Balance())
            setattr(balance, attr, getattr(balance, attr) + row["total"])
    pots = (
        Pot.objects.filter(pk__in=by_pot)
        .select_related("grant")
        .order_by("grant__slug", "position", "id")
    )
    result = []
    for pot in pots:
        by_pot[pot.pk].pot = pot
        result.append(by_pot[pot.pk])
    return result
