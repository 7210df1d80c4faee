"""The delegation report (anmälan av delegationsbeslut): decisions taken under delegation.

A board that delegates a decision is told of it at its next meeting: for a period, every
decision taken under delegation — date, delegate, grant, diarienummer, what was decided and
the amount. The report comes as an archival PDF (the documents' template and writer) and as
xlsx, from the page `reporting:delegation` and the command `delegation_report`.

Who decided under which delegation is answered by `delegation_of` alone; every part of the
report asks it, so moving to other fields (a delegate and delegation reference per grant)
changes that one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import IO

from django.utils import translation
from django.utils.translation import gettext as _

from allocations.models import AllocationRun

from .documents import RenderError
from .exporters import Column, Sheet, _Counter, write_xlsx
from .texts import texts_for


@dataclass(frozen=True)
class Delegation:
    """Who decided (the delegate, e.g. förvaltningschef) on whose behalf, and where it says so."""

    delegate: str
    body: str  # the board that delegated (delegerande nämnd)
    reference: str = ""  # the point in the delegation order (delegationsordning), when known


def delegation_of(run: AllocationRun) -> Delegation | None:
    """Who decided `run` under which delegation; None when the board itself decided.

    Today a decision records its delegate in the run's `delegation` (filled from the grant's
    `delegated_to` when the official decides) and the delegating board is the grant's
    `decision_body`; the point of the delegation order is the decision texts' reference, as
    the run's documents give it (`texts.texts_for`: the texts kept with a decided run).
    """
    if not run.is_decided or not run.delegation.strip():
        return None
    return Delegation(
        delegate=run.delegation.strip(),
        body=run.grant.decision_body,
        reference=texts_for(run).text.delegation_reference.strip(),
    )


@dataclass(frozen=True)
class DelegatedDecision:
    decided_on: date
    delegation: Delegation
    grant: str
    reference: str
    decided: str
    amount: int
    run: AllocationRun


def what_was_decided(run: AllocationRun) -> str:
    if run.is_redistribution:
        return _("%(title)s (run %(number)s)") % {"title": run.title(), "number": run.number}
    return _("Allocation of the grant, run %(number)s") % {"number": run.number}


def delegated_decisions(start: date, end: date) -> list[DelegatedDecision]:
    """Every decision taken under delegation from `start` to `end`, both included, by date."""
    if end < start:
        raise RenderError(_("The period ends before it begins."))
    runs = (
        AllocationRun.objects.filter(decided_on__range=(start, end))
        .select_related("grant__administered_by", "redistributes")
        .with_round_numbers()
        .order_by("decided_on", "grant__slug", "number")
    )
    out = []
    for run in runs:
        delegation = delegation_of(run)
        if delegation is None:
            continue
        out.append(
            DelegatedDecision(
                decided_on=run.decided_on,
                delegation=delegation,
                grant=run.grant.title,
                reference=run.decision_reference or run.grant.reference,
                decided=what_was_decided(run),
                amount=run.allocated(),
                run=run,
            )
        )
    return out


def sheet(decisions: list[DelegatedDecision]) -> Sheet:
    return Sheet(
        title=_("Delegated decisions"),
        columns=[
            Column(_("Decision date"), "date"),
            Column(_("Delegate"), width=24),
            Column(_("On behalf of"), width=20),
            Column(_("Grant"), width=max((len(d.grant) for d in decisions), default=20)),
            Column(_("Reference number (diarienummer)"), width=16),
            Column(
                _("What was decided"), width=max((len(d.decided) for d in decisions), default=20)
            ),
            Column(_("Amount"), "kronor", total=True),
        ],
        rows=[
            (
                d.decided_on,
                d.delegation.delegate,
                d.delegation.body,
                d.grant,
                d.reference or None,
                d.decided,
                d.amount,
            )
            for d in decisions
        ],
        totals=True,
    )


def write_report_xlsx(start: date, end: date, out: IO[bytes]) -> int:
    decisions = delegated_decisions(start, end)
    write_xlsx(iter([sheet(decisions)]), out, _Counter(None, None))
    return len(decisions)


def report_pdf(start: date, end: date) -> bytes:
    """The report as an archival, accessible PDF (see `reporting.archival`), in Swedish."""
    from . import pdf

    decisions = delegated_decisions(start, end)
    with translation.override(pdf.DOCUMENT_LANGUAGE):
        html = pdf.render_html(
            "reporting/documents/delegation.html",
            {
                "document_kind": _("Report of delegated decisions"),
                "start": start,
                "end": end,
                "decisions": decisions,
                "total": sum(d.amount for d in decisions),
                "bodies": sorted({d.delegation.body for d in decisions}),
                "administration": ", ".join(
                    sorted({d.run.grant.administered_by.name for d in decisions})
                ),
                "created": end,
            },
        )
    return pdf.PdfWriter().write(html, created=end)


def filename(start: date, end: date, fmt: str) -> str:
    return f"delegationsbeslut-{start:%Y-%m-%d}-{end:%Y-%m-%d}.{fmt}"
