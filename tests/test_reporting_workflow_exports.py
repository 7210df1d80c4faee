"""The usage-and-repayments and payments exports read back, their command, job and provider view."""

import io
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook

from allocations.models import Job, JobStatus, Organisation, PermittedUse
from applications.models import Membership
from reporting import dashboard
from reporting.exporters import DATE_FORMAT, DATETIME_FORMAT, KRONOR_FORMAT
from reporting.forms import ExportForm
from reporting.workflow_exports import PaymentsExporter, UsageExporter

from .csvfiles import csv_rows
from .test_reporting_workflow import english, followed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def workbook(data: bytes):
    return load_workbook(io.BytesIO(data))


def written(exporter, fmt: str) -> bytes:
    out = io.BytesIO()
    exporter.write(fmt, out)
    return out.getvalue()


def sheet_rows(ws) -> tuple[list[str], list[tuple], tuple]:
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), rows[1:-1], rows[-1]


def test_the_usage_workbook_has_a_row_per_requisition_and_the_dashboards_totals(followed):  # noqa: F811
    f = followed
    full, drafted, declined = f["full"], f["drafted"], f["declined"]
    totals = dashboard.budget_table(f["grant"])["totals"]
    wb = workbook(written(UsageExporter(f["grant"]), "xlsx"))
    assert [ws.title for ws in wb.worksheets] == ["Requisitions", "Repayment claims"]

    ws = wb.worksheets[0]
    header, rows, total = sheet_rows(ws)
    uses = list(PermittedUse.objects.filter(agreement=f["grant"].agreement))
    assert header[:10] == [
        "Run",
        "Pot id",
        "Pot",
        "Organisation id",
        "Organisation",
        "Organisation number",
        "Requisition",
        "Decided",
        "Requisitioned",
        "Paid",
    ]
    assert header[10 : 10 + len(uses)] == [f"Used: {u.label}" for u in uses]
    assert header[10 + len(uses) :] == [
        "Reported used",
        "Unspent",
        "Claimed back",
        "Repaid",
        "Usage report",
        "Redistribution",
    ]
    assert len(rows) == f["run"].requisitions.count() + f["round"].requisitions.count()
    col = {name: i for i, name in enumerate(header)}
    by_req = {(r[0], r[1], r[3]): r for r in rows}
    row = by_req[(f["run"].number, "prioriterade-omraden", full.organisation.slug)]
    assert row[col["Decided"]] == row[col["Requisitioned"]] == full.amount
    assert row[col["Paid"]] == full.amount
    assert row[col["Reported used"]] == 100_000
    assert sum(v or 0 for v in row[10 : 10 + len(uses)]) == 100_000
    assert row[col["Unspent"]] == full.amount - 100_000
    assert row[col["Claimed back"]] == row[col["Repaid"]] == full.amount - 100_000
    assert row[col["Usage report"]] == "accepted"
    draft = by_req[(f["run"].number, "prioriterade-omraden", drafted.organisation.slug)]
    assert draft[col["Paid"]] == drafted.amount
    assert draft[col["Reported used"]] is None  # a draft does not count
    assert draft[col["Usage report"]] == "draft"
    gone = by_req[(f["run"].number, "prioriterade-omraden", declined.organisation.slug)]
    assert gone[col["Requisition"]] == "declined"
    assert gone[col["Requisitioned"]] == 0
    assert gone[col["Claimed back"]] == declined.amount

    assert total[0] == "Total"
    for name, key in (
        ("Requisitioned", "requisitioned"),
        ("Paid", "paid"),
        ("Reported used", "used"),
        ("Unspent", "unspent"),
        ("Claimed back", "claimed"),
        ("Repaid", "repaid"),
    ):
        assert total[col[name]] == totals[key], name
        assert isinstance(total[col[name]], int)
    assert total[col["Decided"]] == totals["decided"] + f["round"].allocated()
    assert ws.freeze_panes == "A2"
    assert (
        ws.auto_filter.ref
        == f"A1:{ws.cell(row=1, column=len(header)).column_letter}{len(rows) + 1}"
    )
    assert ws.cell(row=2, column=col["Paid"] + 1).number_format == KRONOR_FORMAT
    assert ws.cell(row=len(rows) + 2, column=col["Paid"] + 1).number_format == KRONOR_FORMAT

    claims_header, claims, claims_total = sheet_rows(wb.worksheets[1])
    assert len(claims) == 3
    assert claims_header[1:3] == ["Organisation", "Organisation number"]
    assert all((c[2] or "") == Organisation.objects.get(name=c[1]).org_number for c in claims)
    assert claims_total[4] == totals["claimed"]
    redistributed = [c for c in claims if c[8] is not None]
    assert [(c[4], c[8]) for c in redistributed] == [(full.amount - 100_000, f["round"].number)]
    # The round is called what it is: which redistribution, of which pot's money.
    assert [c[9] for c in redistributed] == [
        f"Redistribution 1 of money repaid from {f['round'].redistributes.name}"
    ]
    assert wb.worksheets[1].cell(row=2, column=6).number_format == DATE_FORMAT
    assert wb.worksheets[1].cell(row=2, column=12).number_format == DATETIME_FORMAT


def test_the_usage_csv_is_the_requisitions_table(followed):  # noqa: F811
    f = followed
    text = written(UsageExporter(f["grant"]), "csv").decode()
    rows = csv_rows(text)
    assert rows[0][:3] == ["Run", "Pot id", "Pot"]
    assert len(rows) == 1 + f["run"].requisitions.count() + f["round"].requisitions.count()
    mine = next(
        r for r in rows if r[3] == f["full"].organisation.slug and r[0] == str(f["run"].number)
    )
    assert str(f["full"].amount) in mine
    assert "100000" in mine
    assert mine[-2:] == ["accepted", ""]
    round_row = next(r for r in rows if r[0] == str(f["round"].number))
    assert round_row[-1] == f"Redistribution 1 of money repaid from {round_row[2]}"


def test_the_payments_export_lists_every_payment_in_the_order_paid(followed):  # noqa: F811
    f = followed
    wb = workbook(written(PaymentsExporter(f["grant"]), "xlsx"))
    ws = wb.worksheets[0]
    header, rows, total = sheet_rows(ws)
    assert header == [
        "Paid on",
        "Organisation id",
        "Organisation",
        "Organisation number",
        "Pot id",
        "Pot",
        "Run",
        "Amount",
        "Reference",
        "Recorded by",
        "Recorded at",
    ]
    assert [r[8] for r in rows] == ["V1", "V3", "V4", "V2"]
    assert rows[0][0] == datetime(2023, 7, 1)
    assert rows[0][1] == f["full"].organisation.slug
    assert rows[0][7] == 400_000
    assert rows[0][9] == "handlaggare"
    assert isinstance(rows[0][10], datetime)
    totals = dashboard.budget_table(f["grant"])["totals"]
    assert total[7] == totals["paid"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:K{len(rows) + 1}"
    assert ws.cell(row=2, column=8).number_format == KRONOR_FORMAT
    assert ws.cell(row=2, column=11).number_format == DATETIME_FORMAT

    text = written(PaymentsExporter(f["grant"]), "csv").decode()
    lines = csv_rows(text)
    assert lines[1][0] == "2023-07-01"
    assert lines[1][7] == "400000"
    assert len(lines[1][10]) == len("2023-07-01 12:00")


def test_one_recipients_export_holds_only_its_own(followed):  # noqa: F811
    f = followed
    org = f["half"].organisation
    exporter = PaymentsExporter(f["grant"], {"organisation": org.slug})
    text = written(exporter, "csv").decode()
    lines = csv_rows(text)[1:]
    assert [line[1] for line in lines] == [org.slug]
    assert exporter.filename("csv").endswith(f"-payments-{org.slug}.csv")


def test_the_export_command_writes_the_whole_file_or_nothing(followed, tmp_path):  # noqa: F811
    f = followed
    out = tmp_path / "usage.xlsx"
    call_command("export", f["grant"].slug, "--exporter", "usage", "-o", str(out))
    assert workbook(out.read_bytes()).worksheets[0].title == "Requisitions"
    out = tmp_path / "payments.csv"
    call_command(
        "export", f["grant"].slug, "--exporter", "payments", "--format", "csv", "-o", str(out)
    )
    assert csv_rows(out.read_bytes())[0][0] == "Paid on"
    assert len(out.read_text().splitlines()) == 5
    bad = tmp_path / "bad.pdf"
    with pytest.raises(CommandError, match="no format pdf"):
        call_command(
            "export", f["grant"].slug, "--exporter", "payments", "--format", "pdf", "-o", str(bad)
        )
    assert not bad.exists()
    with pytest.raises(CommandError):
        call_command("export", f["grant"].slug, "--exporter", "nothing", "-o", str(bad))
    with pytest.raises(CommandError, match="no grant"):
        call_command("export", "no-such-grant", "--exporter", "usage", "-o", str(bad))


def test_an_undecided_grant_has_nothing_to_follow(import_seed, tmp_path):
    from .conftest import SEED_002

    grant = import_seed(SEED_002)
    with pytest.raises(CommandError, match="no decided allocation"):
        call_command("export", grant.slug, "--exporter", "payments", "-o", str(tmp_path / "p"))


def test_the_documents_page_offers_them_and_runs_them_as_jobs(
    followed,  # noqa: F811
    official,
    client,
    django_capture_on_commit_callbacks,
):
    grant = followed["grant"]
    offered = dict(ExportForm(grant).fields["exporter"].choices)
    assert "usage" in offered
    assert "payments" in offered
    client.force_login(official)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("reporting:documents", args=[grant.slug]),
            {"action": "export", "exporter": "payments", "format": "xlsx"},
        )
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.status == JobStatus.DONE, job.error
    download = client.get(reverse("allocations:download", args=[job.pk]))
    rows = list(workbook(b"".join(download.streaming_content)).worksheets[0].values)
    assert len(rows) == 1 + 4 + 1


def test_a_provider_downloads_its_own_figures_only(followed, client):  # noqa: F811
    f = followed
    org, other = f["half"].organisation, f["full"].organisation
    user = User.objects.create_user("utforare", password="x")
    Membership.objects.create(user=user, organisation=org)
    client.force_login(user)
    url = reverse("reporting:provider-usage", args=[f["grant"].slug, org.slug, "csv"])
    response = client.get(url)
    assert response.status_code == 200
    lines = csv_rows(response.content)[1:]
    assert {line[3] for line in lines} == {org.slug}
    xlsx = client.get(reverse("reporting:provider-usage", args=[f["grant"].slug, org.slug, "xlsx"]))
    assert xlsx.status_code == 200
    assert workbook(xlsx.content).worksheets[0].max_row == len(lines) + 2  # header and total
    for args in (
        [f["grant"].slug, other.slug, "csv"],
        [f["grant"].slug, org.slug, "pdf"],
        ["no-such-grant", org.slug, "csv"],
    ):
        assert client.get(reverse("reporting:provider-usage", args=args)).status_code == 404
    assert not Job.objects.exists()  # rendered at once: no job, nothing queued
