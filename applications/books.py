"""The books check themselves: the ledger's identities and the workflow's after the decision.

The workflow's (besides the ledger's, `allocations.books`):

- *requisitions*: every decided run has a requisition — answered or not — for
  every organisation and pot it gave money to, of the amount it gave, and no other;
- *decision*: per pot, requisitioned + declined + not yet answered = what the
  decisions gave + what the decided redistribution rounds gave again;
- *flow*: per pot and per requisition, nothing is further along than what came
  before it: paid ≤ requisitioned, used ≤ paid, repaid and redistributed ≤ claimed;
- *claims*: claimed = claimed as not used + taken back, each within what it
  comes from (unspent after an accepted report; declined or not requisitioned);
- *repayments*: per claim, the repayments add up to no more than the claim, and a claim
  for money not used counts as repaid exactly when they add up to it; money taken back has
  no repayments. Per pot, repaid in full ≤ repayments ≤ claimed as not used, so what a
  redistribution divides (claims repaid in full) was repaid;
- *audit*: every answered requisition, payment, claim, repayment (each part of one),
  submitted and reviewed report and application status change has its audit entry.

The per-pot money (`pot_money`) is what the dashboard's columns show too; every
figure is read the way `applications.services` defines it, summed per pot in SQL
in a fixed number of queries whatever the number of recipients:

- *requisitioned*: the decided amount of accepted requisitions (`services.Balance`);
- *declined* and *not yet answered*: the decided amount of the other requisitions;
- *paid*: the payments (`services.paid_total`);
- *reported used*: the usage lines of reports the provider has submitted or the
  official has accepted. A draft or a report returned for completion does not
  count: its figures may still change;
- *unspent*: paid minus used, for the requisitions whose report counts
  (`services.unspent`); claimable once the report is accepted (`services.claimable`);
- *claimed back*: every repayment claim, whatever its reason; *repaid*: the
  claims with a repayment date (a declined or unrequisitioned amount is taken
  back, and so repaid, the day it is claimed);
- *redistributed*: claims whose money went into a decided redistribution round
  (omfördelning) of the pot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields

from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from allocations import books as ledger
from allocations.books import Breach, capped, kronor
from allocations.models import (
    AllocationRow,
    AllocationRun,
    AuditEntry,
    Grant,
    Organisation,
    Pot,
    PotResult,
)
from allocations.tree import Tree
from allocations.wording import format_kronor

from . import review_figures, services
from .models import (
    Application,
    ApplicationStatus,
    ClaimReason,
    ClaimRepayment,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageLine,
    UsageReport,
)

# Reports whose figures count as used: submitted by the provider or accepted by the official.
COUNTED_REPORTS = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
TAKEN_BACK = (ClaimReason.DECLINED, ClaimReason.UNREQUISITIONED)


@dataclass
class PotMoney:
    """A pot's money after the decision, in whole kronor."""

    decided: int = 0  # what the decisions followed gave the pot
    requisitions: int = 0  # the decided amount of every requisition, answered or not
    requisitioned: int = 0
    pending: int = 0
    paid: int = 0
    used: int = 0
    paid_reported: int = 0  # paid on requisitions whose report counts
    used_accepted: int = 0
    paid_accepted: int = 0  # paid on requisitions whose report is accepted
    claimed: int = 0
    claimed_unspent: int = 0
    claimed_taken_back: int = 0  # declined or not requisitioned in time
    repaid: int = 0
    redistributed: int = 0
    redistributed_unrepaid: int = 0  # never so through the services: a round takes repaid money
    repayments: int = 0  # every repayment recorded on a claim for money not used
    repaid_unspent: int = 0  # claims for money not used that are repaid in full
    redecided: int = 0  # what the decided redistribution rounds of the pot allocated again

    @property
    def declined(self) -> int:
        return self.requisitions - self.requisitioned - self.pending

    @property
    def unspent(self) -> int:
        return self.paid_reported - self.used

    @property
    def unspent_accepted(self) -> int:
        return self.paid_accepted - self.used_accepted

    def __add__(self, other: PotMoney) -> PotMoney:
        return PotMoney(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def followed_requisitions(grant: Grant, decided_run: AllocationRun | None) -> QuerySet:
    """The requisitions of the latest decided run and of the decided redistribution rounds."""
    if decided_run is None:
        return Requisition.objects.none()
    return Requisition.objects.filter(
        Q(run=decided_run) | Q(run__redistributes__isnull=False),
        run__grant=grant,
        run__decided_on__isnull=False,
    )


def _sum(field: str, condition: Q | None = None):
    return Sum(field, filter=condition, default=0)


def pot_money(grant: Grant, decided_run: AllocationRun | None) -> dict[int, PotMoney]:
    """Each pot's money (by pot id) after `decided_run`, as the dashboard follows it."""
    if decided_run is None:
        return {}
    return _pot_money(
        grant,
        followed_requisitions(grant, decided_run),
        AllocationRun.objects.filter(pk=decided_run.pk),
    )


def _per_requisition(model, link: str):
    """The sum of `model`'s amounts on each requisition (0 for none), as a subquery."""
    sums = (
        model.objects.filter(**{link: OuterRef("pk")})
        .order_by()
        .values(link)
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(sums, output_field=BigIntegerField()), Value(0))


def _pot_money(grant: Grant, requisitions: QuerySet, decisions: QuerySet) -> dict[int, PotMoney]:
    """Each pot's money as its own requisitions have it; parents are not summed.

    `decisions` are the ordinary decided runs whose allocation the requisitions follow.
    Three queries whatever the number of requisitions: the requisitions with what was paid,
    used and repaid on each, summed per pot; their claims per pot; the decided allocations.
    """
    ids = requisitions.order_by().values("pk")
    money: dict[int, PotMoney] = {}

    def at(pot_id: int) -> PotMoney:
        return money.setdefault(pot_id, PotMoney())

    counted = Q(report__status__in=COUNTED_REPORTS)
    accepted = Q(report__status=ReportStatus.ACCEPTED)
    # A requisition has at most one report (the join adds no rows); its lines, payments and
    # repayments are summed per requisition first, so no sum is counted twice.
    rows = (
        Requisition.objects.filter(pk__in=ids)
        .annotate(
            paid_sum=_per_requisition(Payment, "requisition"),
            used_sum=_per_requisition(UsageLine, "report__requisition"),
            repaid_sum=_per_requisition(ClaimRepayment, "claim__requisition"),
        )
        .values("pot_id")
        .annotate(
            requisitions=Sum("amount"),
            requisitioned=_sum("amount", Q(status=RequisitionStatus.ACCEPTED)),
            pending=_sum("amount", Q(status=RequisitionStatus.PENDING)),
            paid=Sum("paid_sum"),
            paid_reported=_sum("paid_sum", counted),
            paid_accepted=_sum("paid_sum", accepted),
            used=_sum("used_sum", counted),
            used_accepted=_sum("used_sum", accepted),
            repayments=Sum("repaid_sum"),
        )
        .order_by()
    )
    for row in rows:
        m = at(row.pop("pot_id"))
        for name, total in row.items():
            setattr(m, name, total)
    unspent = Q(reason=ClaimReason.UNSPENT)
    repaid = Q(paid_on__isnull=False)
    redistributed = Q(redistribution__decided_on__isnull=False)
    claims = (
        RepaymentClaim.objects.filter(requisition__in=ids)
        .values("requisition__pot_id")
        .annotate(
            claimed=Sum("amount"),
            claimed_unspent=_sum("amount", unspent),
            claimed_taken_back=_sum("amount", Q(reason__in=TAKEN_BACK)),
            repaid=_sum("amount", repaid),
            repaid_unspent=_sum("amount", repaid & unspent),
            redistributed=_sum("amount", redistributed),
            redistributed_unrepaid=_sum("amount", redistributed & ~repaid),
        )
        .order_by()
    )
    for row in claims:
        m = at(row.pop("requisition__pot_id"))
        for name, total in row.items():
            setattr(m, name, total)
    # What the decisions gave each leaf pot, and what the pot's decided redistribution rounds
    # gave again.
    leaf = ~Exists(Pot.objects.filter(parent=OuterRef("pot")))
    decided = Q(run__in=decisions.values("pk")) & leaf
    redecided = Q(
        run__grant=grant,
        run__redistributes__isnull=False,
        run__decided_on__isnull=False,
        pot_id=F("run__redistributes_id"),
    )
    results = (
        PotResult.objects.filter(decided | redecided)
        .values("pot_id")
        .annotate(decided=_sum("allocated", decided), redecided=_sum("allocated", redecided))
        .order_by()
    )
    for row in results:
        m = at(row["pot_id"])
        m.decided, m.redecided = row["decided"], row["redecided"]
    return money


def rolled_up(money: dict[int, PotMoney], tree: Tree[Pot]) -> dict[int, PotMoney]:
    """Every pot's money with its sub-pots' added: a parent holds what its parts hold."""
    totals = {pot.pk: money.get(pot.pk, PotMoney()) for pot in tree.items}
    for pot in tree.items:
        own = money.get(pot.pk)
        if own is None:
            continue
        for parent in tree.ancestors(pot.pk):
            totals[parent.pk] = totals[parent.pk] + own
    return totals


# ---------------------------------------------------------------- the checks


def check_grant(grant: Grant) -> list[Breach]:
    """Every identity of `grant`, the ledger's and the workflow's, that does not hold."""
    breaches = ledger.check_grant(grant)
    pots = {pot.pk: pot for pot in grant.pots.order_by("position", "id")}
    runs = {run.pk: run for run in grant.runs.order_by("number")}
    money = _pot_money(
        grant,
        Requisition.objects.filter(run__grant=grant),
        grant.runs.filter(decided_on__isnull=False, redistributes=None),
    )
    decision, flow, claims = [], [], []
    for pot_id, pot in pots.items():  # in the tree's order, whatever order the sums come in
        m = money.get(pot_id)
        if m is None:
            continue
        name = pot.name
        decision += ties_to_decision(name, m)
        flow += flows_in_order(name, m)
        claims += claims_have_a_source(name, m)
    return [
        *breaches,
        *capped("requisitions", requisition_breaches(grant, runs, pots)),
        *capped("decision", decision),
        *capped("flow", flow + requisition_flow_breaches(grant)),
        *capped("claims", claims),
        *capped("repayments", repayment_breaches(grant)),
        *capped("audit", workflow_audit_breaches(grant)),
        *capped("review figures", review_figures.books_breaches(grant)),
    ]


def check_all(grant_slug: str | None = None) -> dict[str, list[Breach]]:
    """The breaches of every grant (or the one named), by grant id; only grants with some."""
    grants = Grant.objects.order_by("slug")
    if grant_slug is not None:
        grants = grants.filter(slug=grant_slug)
    found = {grant.slug: check_grant(grant) for grant in grants}
    return {slug: breaches for slug, breaches in found.items() if breaches}


def ties_to_decision(name: str, m: PotMoney) -> list[str]:
    """Requisitioned + declined + not yet answered = decided + given again, for a pot."""
    given = m.decided + m.redecided
    if m.requisitions == given:
        return []
    words = kronor(
        requisitions=m.requisitions,
        requisitioned=m.requisitioned,
        declined=m.declined,
        pending=m.pending,
        decided=given,
    )
    if m.redecided:
        text = _(
            "%(pot)s: the requisitions add up to %(requisitions)s (requisitioned "
            "%(requisitioned)s, declined %(declined)s, not yet answered %(pending)s), "
            "but the decision and its redistribution rounds gave %(decided)s."
        )
    else:
        text = _(
            "%(pot)s: the requisitions add up to %(requisitions)s (requisitioned "
            "%(requisitioned)s, declined %(declined)s, not yet answered %(pending)s), "
            "but %(decided)s was decided."
        )
    return [text % {"pot": name, **words}]


def flows_in_order(name: str, m: PotMoney) -> list[str]:
    """Nothing further along than what came before it: requisitioned ≤ decided ≤ …"""
    given = m.decided + m.redecided
    rules = [
        (
            m.requisitioned > given,
            _("%(pot)s: %(a)s is requisitioned, more than the %(b)s decided."),
            m.requisitioned,
            given,
        ),
        (
            m.paid > m.requisitioned,
            _("%(pot)s: %(a)s is paid, more than the %(b)s requisitioned."),
            m.paid,
            m.requisitioned,
        ),
        (
            m.used > m.paid_reported,
            _(
                "%(pot)s: the reports say %(a)s was used, more than the %(b)s paid to those "
                "who reported."
            ),
            m.used,
            m.paid_reported,
        ),
        (
            m.repaid > m.claimed,
            _("%(pot)s: %(a)s is repaid, more than the %(b)s claimed back."),
            m.repaid,
            m.claimed,
        ),
        (
            m.repaid_unspent > m.repayments,
            _(
                "%(pot)s: %(a)s of the claims for money not used is repaid in full, but the "
                "repayments recorded add up to %(b)s."
            ),
            m.repaid_unspent,
            m.repayments,
        ),
        (
            m.repayments > m.claimed_unspent,
            _(
                "%(pot)s: %(a)s is recorded as repaid, more than the %(b)s claimed back as "
                "not used."
            ),
            m.repayments,
            m.claimed_unspent,
        ),
        (
            m.redistributed > m.claimed,
            _("%(pot)s: %(a)s is redistributed, more than the %(b)s claimed back."),
            m.redistributed,
            m.claimed,
        ),
        (
            m.redistributed_unrepaid > 0,
            _("%(pot)s: %(a)s of the %(b)s redistributed has not been repaid."),
            m.redistributed_unrepaid,
            m.redistributed,
        ),
        (
            m.redecided > m.redistributed,
            _(
                "%(pot)s: its redistribution rounds gave %(a)s, more than the %(b)s "
                "claimed back into them."
            ),
            m.redecided,
            m.redistributed,
        ),
    ]
    return [text % {"pot": name, **kronor(a=a, b=b)} for broken, text, a, b in rules if broken]


def claims_have_a_source(name: str, m: PotMoney) -> list[str]:
    """Claimed = not used + declined + not requisitioned, each part within what it comes from."""
    problems = []
    if m.claimed != m.claimed_unspent + m.claimed_taken_back:
        problems.append(
            _(
                "%(pot)s: %(claimed)s is claimed back, but the claims for money not used "
                "(%(unspent)s) and for money declined or not requisitioned (%(taken)s) add "
                "up to %(sum)s."
            )
            % {
                "pot": name,
                **kronor(
                    claimed=m.claimed,
                    unspent=m.claimed_unspent,
                    taken=m.claimed_taken_back,
                    sum=m.claimed_unspent + m.claimed_taken_back,
                ),
            }
        )
    if m.claimed_unspent > m.unspent_accepted:
        problems.append(
            _(
                "%(pot)s: %(a)s is claimed back as not used, but the accepted reports "
                "leave only %(b)s unspent."
            )
            % {"pot": name, **kronor(a=m.claimed_unspent, b=m.unspent_accepted)}
        )
    if m.claimed_taken_back > m.declined:
        problems.append(
            _(
                "%(pot)s: %(a)s is taken back as declined or not requisitioned, but only "
                "%(b)s of the requisitions is declined."
            )
            % {"pot": name, **kronor(a=m.claimed_taken_back, b=m.declined)}
        )
    return problems


def requisition_breaches(
    grant: Grant, runs: dict[int, AllocationRun], pots: dict[int, Pot]
) -> list[str]:
    """Every decided run has a requisition of what it gave for each organisation and pot."""
    given = {
        (row["run_id"], row["organisation_id"], row["pot_id"]): row["total"]
        for row in AllocationRow.objects.filter(run__grant=grant, run__decided_on__isnull=False)
        .values("run_id", "organisation_id", "pot_id")
        .annotate(total=Sum("amount"))
        .order_by()
        if row["total"] > 0
    }
    opened = {
        (run_id, org_id, pot_id): amount
        for run_id, org_id, pot_id, amount in Requisition.objects.filter(
            run__grant=grant
        ).values_list("run_id", "organisation_id", "pot_id", "amount")
    }
    wrong = sorted(
        (key for key in set(given) | set(opened) if given.get(key) != opened.get(key)),
        key=lambda k: (runs[k[0]].number, k[2], k[1]),
    )
    names = dict(
        Organisation.objects.filter(pk__in={key[1] for key in wrong}).values_list("pk", "name")
    )
    problems = []
    for key in wrong:
        run_id, org_id, pot_id = key
        words = {
            "number": runs[run_id].number,
            "organisation": names[org_id],
            "pot": pots[pot_id].name,
            **kronor(given=given.get(key, 0), opened=opened.get(key, 0)),
        }
        if key not in opened:
            text = _(
                "Run %(number)s gave %(organisation)s %(given)s from %(pot)s, but no "
                "requisition was opened for it."
            )
        elif not runs[run_id].is_decided:
            text = _(
                "Run %(number)s is not decided, but a requisition of %(opened)s from %(pot)s "
                "was opened for %(organisation)s."
            )
        else:
            text = _(
                "Run %(number)s gave %(organisation)s %(given)s from %(pot)s, but its "
                "requisition is of %(opened)s."
            )
        problems.append(text % words)
    return problems


def requisition_flow_breaches(grant: Grant) -> list[str]:
    """Per requisition: paid only what is requisitioned, used only what is paid."""
    broken = (
        services.with_balances(Requisition.objects.filter(run__grant=grant))
        .filter(
            Q(paid_sum__gt=0) & ~Q(status=RequisitionStatus.ACCEPTED)
            | Q(paid_sum__gt=F("amount"))
            | Q(used_sum__gt=F("paid_sum"))
        )
        .select_related("organisation", "pot", "run")
        .order_by("run__number", "pot__position", "organisation__name")
    )
    problems = []
    for req in broken:
        requisitioned = req.amount if req.status == RequisitionStatus.ACCEPTED else 0
        words = {
            "organisation": req.organisation.name,
            "pot": req.pot.name,
            "number": req.run.number,
        }
        if req.paid_sum > requisitioned:
            problems.append(
                _(
                    "%(organisation)s, %(pot)s (run %(number)s): %(paid)s is paid, more than the "
                    "%(requisitioned)s requisitioned."
                )
                % {**words, **kronor(paid=req.paid_sum, requisitioned=requisitioned)}
            )
        if req.used_sum > req.paid_sum:
            problems.append(
                _(
                    "%(organisation)s, %(pot)s (run %(number)s): the report says %(used)s was "
                    "used, more than the %(paid)s paid."
                )
                % {**words, **kronor(used=req.used_sum, paid=req.paid_sum)}
            )
    return problems


def repayment_breaches(grant: Grant) -> list[str]:
    """Per claim: repaid no more than claimed, repaid in full exactly when marked so."""
    claims = RepaymentClaim.objects.filter(requisition__run__grant=grant)
    unspent = Q(reason=ClaimReason.UNSPENT)
    broken = (
        claims.annotate(
            recorded=Coalesce(
                Subquery(
                    ClaimRepayment.objects.filter(claim=OuterRef("pk"))
                    .order_by()
                    .values("claim")
                    .annotate(total=Sum("amount"))
                    .values("total"),
                    output_field=BigIntegerField(),
                ),
                Value(0),
            )
        )
        .filter(
            unspent & Q(recorded__gt=F("amount"))
            | unspent & Q(paid_on__isnull=False) & ~Q(recorded=F("amount"))
            | unspent & Q(paid_on__isnull=True) & Q(recorded=F("amount"))
            | ~unspent & ~Q(recorded=0)
        )
        .select_related("requisition__organisation")
        .order_by("pk")
    )
    problems = []
    for claim in broken:
        words = {
            "organisation": claim.requisition.organisation.name,
            **kronor(amount=claim.amount, repaid=claim.recorded),
        }
        if claim.reason != ClaimReason.UNSPENT:
            text = _(
                "The claim of %(amount)s from %(organisation)s took back money never paid out, "
                "but %(repaid)s is recorded as repaid on it."
            )
        elif claim.recorded > claim.amount:
            text = _(
                "The claim of %(amount)s from %(organisation)s has %(repaid)s repaid on it, "
                "more than it claims."
            )
        elif claim.paid_on is not None:
            text = _(
                "The claim of %(amount)s from %(organisation)s is marked repaid, but only "
                "%(repaid)s is recorded as repaid on it."
            )
        else:
            text = _(
                "The claim of %(amount)s from %(organisation)s is repaid in full by its "
                "repayments, but not marked repaid."
            )
        problems.append(text % words)
    return problems


# ---------------------------------------------------------------- the audit trail

STATUS_ACTIONS = (
    "application.submitted",
    "application.reviewed",
    "application.withdrawn",
    "application.status",
)
# The only actions the audit check looks for; the other entries (drafts started, runs, calls,
# notices…) are not read.
CHECKED_ACTIONS = frozenset(
    (
        *STATUS_ACTIONS,
        *(f"requisition.{status}" for status in RequisitionStatus.values),
        "payment.recorded",
        "claim.created",
        "claim.repaid",
        "report.submitted",
        "report.reviewed",
    )
)


def workflow_audit_breaches(grant: Grant) -> list[str]:
    """Every answered requisition, payment, claim, repayment, report and status change is logged."""
    # Each entry with the status it recorded (`after.status`, None if it records none), read
    # out by PostgreSQL: decoding every entry's whole JSON in Python took longer than the rest
    # of the books for a grant with thousands of applications.
    entries: dict[tuple[str, str], list[tuple[str, str | None]]] = defaultdict(list)
    for object_type, object_id, action, status in (
        AuditEntry.objects.filter(grant=grant, action__in=CHECKED_ACTIONS)
        .order_by("id")
        .values_list("object_type", "object_id", "action", KT("after__status"))
    ):
        entries[object_type, object_id].append((action, status))

    def logged(model, pk: int, *actions: str) -> bool:
        assert CHECKED_ACTIONS.issuperset(actions), actions  # read from the database above
        return any(
            a in actions for a, _status in entries.get((model._meta.label_lower, str(pk)), [])
        )

    problems = []
    requisitions = Requisition.objects.filter(run__grant=grant).exclude(
        status=RequisitionStatus.PENDING
    )
    late = set(
        RepaymentClaim.objects.filter(
            requisition__in=requisitions.values("pk"), reason=ClaimReason.UNREQUISITIONED
        ).values_list("requisition_id", flat=True)
    )
    for req in requisitions.select_related("organisation", "pot"):
        action = f"requisition.{req.status}"
        if not logged(Requisition, req.pk, action) and req.pk not in late:
            problems.append(
                _(
                    "The requisition of %(organisation)s from %(pot)s is %(status)s, but the audit "
                    "trail has no entry for the answer."
                )
                % {
                    "organisation": req.organisation.name,
                    "pot": req.pot.name,
                    "status": req.get_status_display(),
                }
            )
    for payment in Payment.objects.filter(requisition__run__grant=grant).select_related(
        "requisition__organisation"
    ):
        if not logged(Payment, payment.pk, "payment.recorded"):
            problems.append(
                _("The payment of %(amount)s to %(organisation)s on %(date)s has no audit entry.")
                % {
                    "amount": format_kronor(payment.amount),
                    "organisation": payment.requisition.organisation.name,
                    "date": payment.paid_on.isoformat(),
                }
            )
    repayments_of = dict(
        ClaimRepayment.objects.filter(claim__requisition__run__grant=grant)
        .values("claim_id")
        .annotate(count=Count("pk"))
        .values_list("claim_id", "count")
        .order_by()
    )
    for claim in RepaymentClaim.objects.filter(requisition__run__grant=grant).select_related(
        "requisition__organisation"
    ):
        words = {
            "amount": format_kronor(claim.amount),
            "organisation": claim.requisition.organisation.name,
        }
        if not logged(RepaymentClaim, claim.pk, "claim.created"):
            problems.append(
                _("The claim of %(amount)s from %(organisation)s has no audit entry.") % words
            )
        entered = sum(
            a == "claim.repaid"
            for a, _status in entries.get((RepaymentClaim._meta.label_lower, str(claim.pk)), [])
        )
        if entered < repayments_of.get(claim.pk, 0):
            problems.append(
                _(
                    "The claim of %(amount)s from %(organisation)s is repaid, but the audit trail "
                    "has no entry for the repayment."
                )
                % words
            )
    reports = UsageReport.objects.filter(requisition__run__grant=grant).exclude(
        status=ReportStatus.DRAFT
    )
    for report in reports.select_related("requisition__organisation", "requisition__pot"):
        words = {
            "organisation": report.requisition.organisation.name,
            "pot": report.requisition.pot.name,
        }
        if not logged(UsageReport, report.pk, "report.submitted"):
            problems.append(
                _(
                    "The usage report of %(organisation)s on %(pot)s is submitted, but the audit "
                    "trail has no entry for it."
                )
                % words
            )
        reviewed = report.status in (ReportStatus.ACCEPTED, ReportStatus.RETURNED)
        if reviewed and not logged(UsageReport, report.pk, "report.reviewed"):
            problems.append(
                _(
                    "The usage report of %(organisation)s on %(pot)s is reviewed, but the audit "
                    "trail has no entry for the review."
                )
                % words
            )
    problems += application_audit_breaches(grant, entries)
    return problems


def application_audit_breaches(grant: Grant, entries: dict) -> list[str]:
    """An application's status is the one its latest status entry recorded.

    The applications are read as plain values (a grant has thousands); only those in breach
    are read again, with their organisation, to be named.
    """
    label = Application._meta.label_lower
    broken = []
    for pk, status, submitted_at, reviewed_at in (
        Application.objects.filter(grant=grant)
        .order_by("position", "id")
        .values_list("pk", "status", "submitted_at", "reviewed_at")
    ):
        mine = entries.get((label, str(pk)), [])
        actions = {action for action, _status in mine}
        statuses = [
            recorded
            for action, recorded in mine
            if action in STATUS_ACTIONS and recorded is not None
        ]
        needed = []
        if submitted_at is not None:
            needed.append(("application.submitted",))
        if reviewed_at is not None:
            needed.append(("application.reviewed",))
        if status == ApplicationStatus.WITHDRAWN:
            needed.append(("application.withdrawn", "application.status"))
        missing = any(not actions & set(options) for options in needed)
        if missing or (statuses and statuses[-1] != status):
            broken.append(pk)
    return [
        _(
            "Application %(application)s of %(organisation)s is %(status)s, but the audit "
            "trail does not record that change."
        )
        % {
            "application": app.slug,
            "organisation": app.organisation.name,
            "status": app.get_status_display(),
        }
        for app in Application.objects.filter(pk__in=broken)
        .select_related("organisation")
        .order_by("position", "id")
    ]
