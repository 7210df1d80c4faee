"""The delegation report (anmälan av delegationsbeslut) and the registry extract (diarium).

Both are read back from what they write — the PDF's text, the xlsx's cells, the CSV's
fields — and compared with the decisions and records in the database.
"""

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook

from allocations.models import AllocationRow
from allocations.services import compute_grant
from applications.models import (
    Application,
    ApplicationStatus,
    RepaymentClaim,
    Requisition,
    RequisitionStatus,
    UsageReport,
)
from reporting.delegation import delegated_decisions, delegation_of
from reporting.registry import entries

from .conftest import SEED_000, SEED_003
from .csvfiles import csv_rows
from .factories import decide
from .test_reporting_pdf import assert_archival, flat, kr, pdf_text
from .test_reporting_workflow import followed  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_the_delegation_report_lists_what_delegates_decided_in_the_period(
    import_seed, client, official, tmp_path
):
    delegated = import_seed(SEED_003, review=True)
    run = decide(
        run_id=compute_grant(grant_id=delegated.pk).pk,
        decided_on=date(2023, 5, 25),
        decided_by="Äldrenämnden",
        delegation="Förvaltningschef",
        reference="ÄN 2023/123",
    )
    board = import_seed(SEED_000)
    by_board = decide(
        run_id=compute_grant(grant_id=board.pk).pk,
        decided_on=date(2023, 5, 26),
        decided_by="Äldrenämnden",
    )
    assert delegation_of(by_board) is None
    (found,) = delegated_decisions(date(2023, 5, 1), date(2023, 6, 30))
    assert found.run == run
    assert (found.delegation.delegate, found.delegation.body) == (
        "Förvaltningschef",
        "Äldrenämnden",
    )
    assert found.amount == run.allocated() == 51_650_636
    assert delegated_decisions(date(2023, 5, 26), date(2023, 6, 30)) == []

    # The PDF, from the command: archival and accessible, saying who decided what.
    path = tmp_path / "delegation.pdf"
    call_command("delegation_report", "--from", "2023-05-01", "--to", "2023-06-30", "-o", path)
    data = path.read_bytes()
    assert_archival(data)
    words = flat(pdf_text(data))
    for text in ("Förvaltningschef", delegated.title, "ÄN 2023/123", "2023-05-25", kr(51_650_636)):
        assert text in words
    assert board.title not in words
    with pytest.raises(CommandError, match=r"ends before|slutar innan"):
        call_command("delegation_report", "--from", "2023-06-30", "--to", "2023-05-01", "-o", path)

    # The page: a form for the period, the table, and the xlsx.
    client.force_login(official)
    url = reverse("reporting:delegation")
    page = client.get(url, {"start": "2023-05-01", "end": "2023-06-30"})
    assert page.status_code == 200
    assert "Förvaltningschef" in page.content.decode()
    assert board.title not in page.content.decode()
    bad = client.get(url, {"start": "2023-06-30", "end": "2023-05-01"})
    assert bad.status_code == 200
    assert bad.context["form"].errors["end"]
    xlsx = client.get(url, {"start": "2023-05-01", "end": "2023-06-30", "format": "xlsx"})
    ws = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    row = [c.value for c in ws[2]]
    assert row[0].date() == date(2023, 5, 25)
    assert row[1:6] == [
        "Förvaltningschef",
        "Äldrenämnden",
        delegated.title,
        "ÄN 2023/123",
        found.decided,
    ]
    assert row[6] == 51_650_636
    assert ws.max_row == 3  # the header, the decision, the total
    pdf = client.get(url, {"start": "2023-05-01", "end": "2023-06-30", "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    assert "delegationsbeslut-2023-05-01-2023-06-30.pdf" in pdf["Content-Disposition"]


def test_the_registry_extract_holds_every_document_in_and_out(followed, client, official):  # noqa: F811
    grant = followed["grant"]
    listed = entries(grant)
    by_kind: dict[str, list] = {}
    for entry in listed:
        by_kind.setdefault(entry.document[:1] if entry.incoming else entry.kind, []).append(entry)
    incoming = [e for e in listed if e.incoming]
    outgoing = [e for e in listed if not e.incoming]
    applications = Application.objects.filter(grant=grant).exclude(status=ApplicationStatus.DRAFT)
    # Answered by the recipient; one taken back unrequisitioned was never received.
    answered = (
        Requisition.objects.filter(run__grant=grant)
        .exclude(status=RequisitionStatus.PENDING)
        .exclude(answered_at=None)
    )
    submitted = UsageReport.objects.filter(requisition__run__grant=grant).exclude(submitted_at=None)
    assert submitted.count() == 2  # the draft report is not a received document
    assert len(incoming) == applications.count() + answered.count() + submitted.count()
    letters = (
        AllocationRow.objects.filter(run__grant=grant, run__decided_on__isnull=False, amount__gt=0)
        .values("run", "organisation")
        .distinct()
        .count()
    )
    claims = RepaymentClaim.objects.filter(requisition__run__grant=grant)
    assert claims.count() == 3
    assert len(outgoing) == letters + claims.count()
    assert [e.day for e in listed] == sorted(e.day for e in listed)
    # The grant has no reference of its own: the matter's is the one its decision gave.
    assert not grant.reference
    assert all(e.reference == "ÄN 2023/123" for e in listed)

    client.force_login(official)
    url = reverse("reporting:registry", args=[grant.slug])
    page = client.get(url)
    assert page.status_code == 200
    csv_file = client.get(url, {"format": "csv"})
    rows = csv_rows(csv_file.content)
    assert len(rows) == 1 + len(listed)
    numbers = {e.organisation.name: e.organisation.org_number for e in listed}
    for row, entry in zip(rows[1:], listed, strict=True):
        assert row[0] == entry.day.isoformat()
        assert row[4] == entry.organisation.name
        assert row[5] == numbers[row[4]]
        assert row[6] == entry.description
    claim = claims.select_related("requisition__organisation").first()
    (claim_row,) = [r for r in rows if r[8] == f"K{claim.pk}"]
    assert claim_row[4] == claim.requisition.organisation.name
    assert kr(claim.amount).replace("\u00a0", " ") in claim_row[6]
    xlsx = client.get(url, {"format": "xlsx"})
    ws = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert ws.max_row == 1 + len(listed)
