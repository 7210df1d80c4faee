"""A grant's registry extract (diarieutdrag) for the registrar.

Every document of the matter that came in — applications, requisitions (rekvisitioner),
usage reports (återrapporteringar) — and every one that went out — the decision letters and
the repayment claims (återkrav) — with its date, diarienummer, counterpart (organisation and
organisation number) and a few words on what it is. The diarienummer is the matter's (the
grant's reference, else the one its first decision gave; a decision's own where it has one):
the records carry no number of their own. Drafts and unanswered requisitions are not received
documents and are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocations.models import AllocationRow, Grant, Organisation
from allocations.wording import format_kronor
from applications.models import (
    Application,
    ApplicationStatus,
    RepaymentClaim,
    Requisition,
    RequisitionStatus,
    UsageReport,
)

from .exporters import Column, Exporter, Sheet, register


@dataclass(frozen=True)
class Entry:
    day: date
    incoming: bool
    kind: str
    reference: str
    organisation: Organisation
    description: str
    amount: int | None
    document: str  # which record it is, for the registrar to find it: an id

    @property
    def direction(self) -> str:
        return _("Incoming") if self.incoming else _("Outgoing")


def _day(moment: datetime | None) -> date | None:
    return timezone.localdate(moment) if moment is not None else None


def kr(amount: int) -> str:
    return format_kronor(amount)


def matter_reference(grant: Grant) -> str:
    """The matter's diarienummer: the grant's, or else the one its first decision gave."""
    if grant.reference:
        return grant.reference
    run = grant.runs.decided().exclude(decision_reference="").order_by("decided_on", "number")
    return run.values_list("decision_reference", flat=True).first() or ""


def entries(grant: Grant) -> list[Entry]:
    """Every registered document of the grant, by date, incoming before outgoing on a day."""
    ref = matter_reference(grant)
    out: list[Entry] = []
    applications = (
        Application.objects.filter(grant=grant)
        .exclude(status=ApplicationStatus.DRAFT)
        .select_related("organisation", "pot")
    )
    for app in applications:
        day = _day(app.submitted_at or app.created_at)
        if day is None:
            continue
        words = _("Application to %(pot)s") % {"pot": app.pot.name}
        if app.requested_amount is not None:
            words += ", " + _("%(amount)s requested") % {"amount": kr(app.requested_amount)}
        out.append(
            Entry(
                day,
                True,
                _("Application"),
                ref,
                app.organisation,
                words,
                app.requested_amount,
                app.slug,
            )
        )
    requisitions = (
        Requisition.objects.filter(run__grant=grant)
        .exclude(status=RequisitionStatus.PENDING)
        .exclude(answered_at=None)
        .select_related("organisation", "pot", "run")
    )
    for req in requisitions:
        accepted = req.status == RequisitionStatus.ACCEPTED
        words = (
            _("Requisition of %(amount)s from %(pot)s")
            if accepted
            else _("Requisition of %(amount)s from %(pot)s declined")
        ) % {"amount": kr(req.amount), "pot": req.pot.name}
        out.append(
            Entry(
                _day(req.answered_at),
                True,
                _("Requisition"),
                req.run.decision_reference or ref,
                req.organisation,
                words,
                req.amount if accepted else 0,
                f"R{req.pk}",
            )
        )
    reports = UsageReport.objects.filter(
        requisition__run__grant=grant, submitted_at__isnull=False
    ).select_related("requisition__organisation", "requisition__pot", "requisition__run")
    for report in reports:
        req = report.requisition
        used = sum(line.amount for line in report.lines.all())
        out.append(
            Entry(
                _day(report.submitted_at),
                True,
                _("Usage report"),
                req.run.decision_reference or ref,
                req.organisation,
                _("Usage report on %(pot)s: %(amount)s used")
                % {"pot": req.pot.name, "amount": kr(used)},
                used,
                f"R{req.pk}",
            )
        )
    for run in grant.runs.decided().with_round_numbers().select_related("redistributes"):
        totals: dict[int, int] = {}
        for org_id, amount in AllocationRow.objects.filter(run=run, amount__gt=0).values_list(
            "organisation_id", "amount"
        ):
            totals[org_id] = totals.get(org_id, 0) + amount
        orgs = Organisation.objects.in_bulk(list(totals))
        for org_id, amount in totals.items():
            out.append(
                Entry(
                    run.decided_on,
                    False,
                    _("Decision"),
                    run.decision_reference or ref,
                    orgs[org_id],
                    _("Decision on stimulus grant, %(what)s: %(amount)s granted")
                    % {"what": run.title(), "amount": kr(amount)},
                    amount,
                    _("run %(number)s") % {"number": run.number},
                )
            )
    claims = RepaymentClaim.objects.filter(requisition__run__grant=grant).select_related(
        "requisition__organisation", "requisition__pot", "requisition__run"
    )
    for claim in claims:
        req = claim.requisition
        words = _("Repayment claim on %(pot)s: %(amount)s, %(reason)s") % {
            "pot": req.pot.name,
            "amount": kr(claim.amount),
            "reason": claim.get_reason_display(),
        }
        if claim.due_on:
            words += ", " + _("due on %(date)s") % {"date": f"{claim.due_on:%Y-%m-%d}"}
        out.append(
            Entry(
                _day(claim.created_at),
                False,
                _("Repayment claim"),
                req.run.decision_reference or ref,
                req.organisation,
                words,
                claim.amount,
                f"K{claim.pk}",
            )
        )
    out.sort(key=lambda e: (e.day, not e.incoming, e.kind, e.organisation.name, e.document))
    return out


@register
class RegistryExporter(Exporter):
    """The registry extract (diarieutdrag) of a grant, for the registrar."""

    identifier = "registry"
    verbose_name = gettext_lazy("Registry extract (diarium)")

    def sheets(self) -> Iterator[Sheet]:
        rows = entries(self.grant)
        yield Sheet(
            title=_("Registry"),
            columns=[
                Column(_("Date"), "date"),
                Column(_("Direction"), width=9),
                Column(_("Document"), width=16),
                Column(_("Reference number (diarienummer)"), width=16),
                Column(
                    _("Organisation"),
                    width=max((len(e.organisation.name) for e in rows), default=20),
                ),
                Column(_("Organisation number"), width=11),
                Column(_("Description"), width=60),
                Column(_("Amount"), "kronor"),
                Column(_("Id"), width=16),
            ],
            rows=[
                (
                    e.day,
                    e.direction,
                    e.kind,
                    e.reference or None,
                    e.organisation.name,
                    e.organisation.org_number or None,
                    e.description,
                    e.amount,
                    e.document,
                )
                for e in rows
            ],
        )
