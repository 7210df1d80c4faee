"""Uploaded files: type read from the content, size limited as they arrive, never stored.

Each file goes through the real import pages as an official posts it; a refused file
leaves the unit register, the datasets and the audit trail as they were.
"""

import io
import os
import subprocess
import sys
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from openpyxl import Workbook
from openpyxl.styles import Font

from allocations import tables
from allocations.models import AuditEntry, Dataset, Unit
from allocations.tables import ImportRefused
from reporting.imports import import_units
from stimulans.uploads import OversizeUpload

from .conftest import ROOT, SEED_000
from .factories import official_user, signed_in

pytestmark = pytest.mark.django_db

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["id", "organisation", "name", "type", "places"]
GOOD_ROW = ["vob-900", "bromma-stadsdelsforvaltning", "Nya hemmet", "care_home", 42]
NEITHER = "är varken en Excel-arbetsbok (.xlsx) eller en CSV-fil"


def xlsx(rows: list[list]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Length 12 >>\nstream\n\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\n"
    b"endstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


@pytest.fixture
def office(import_seed):
    grant = import_seed(SEED_000)
    return {"grant": grant, "client": signed_in(official_user(), language="sv")}


def post_units(client, content: bytes, name: str, content_type: str):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(reverse("reporting:import-units"), {"file": upload})


def unchanged(before: list) -> bool:
    return (
        list(Unit.objects.order_by("slug").values_list("slug", "name", "places")) == before
        and not AuditEntry.objects.filter(action__startswith="dataset").exists()
        and not Dataset.objects.exists()
    )


def snapshot() -> list:
    return list(Unit.objects.order_by("slug").values_list("slug", "name", "places"))


@pytest.mark.parametrize(
    ("content", "name", "content_type", "message"),
    [
        (PDF, "enheter.xlsx", XLSX_TYPE, "”enheter.xlsx” " + NEITHER),
        (
            zipped({"readme.txt": b"hej", "data/x.csv": b"id\n1\n"}),
            "enheter.xlsx",
            XLSX_TYPE,
            "”enheter.xlsx” är ett zip-arkiv, inte en Excel-arbetsbok (.xlsx)",
        ),
        (PNG, "enheter.csv", "text/csv", "”enheter.csv” " + NEITHER),
        (b"PK\x03\x04 not really a zip", "enheter.xlsx", XLSX_TYPE, NEITHER),
    ],
    ids=["pdf-named-xlsx", "zip-not-a-workbook", "binary-named-csv", "broken-zip"],
)
def test_a_file_that_is_not_what_its_name_says_is_refused(
    office, content, name, content_type, message
):
    before = snapshot()
    response = post_units(office["client"], content, name, content_type)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Filen importerades inte" in text
    assert message in text
    assert "Ladda upp en .xlsx- eller .csv-fil." in text
    assert unchanged(before)


def test_a_file_over_the_limit_is_refused_as_it_arrives(office, settings):
    settings.STIMULANS_UPLOAD_MAX_BYTES = 1000
    rows = [",".join(HEADER)] + [
        f"vob-9{i:02},bromma-stadsdelsforvaltning,Hem {i},care_home,{i}" for i in range(40)
    ]
    content = "\n".join(rows).encode()
    assert len(content) > 1000
    before = snapshot()
    response = post_units(office["client"], content, "enheter.csv", "text/csv")
    assert response.status_code == 200
    text = response.content.decode()
    assert f"Filen är {len(content) / 1024:.1f}".replace(".", ",") in text
    assert "högst 1000\xa0byte kan laddas upp" in text
    assert unchanged(before)
    # The file's bytes went nowhere: the form got a stand-in with its name and size only.
    request = RequestFactory().post(
        "/", {"file": SimpleUploadedFile("enheter.csv", content, content_type="text/csv")}
    )
    upload = request.FILES["file"]
    assert isinstance(upload, OversizeUpload)
    assert (upload.name, upload.size, upload.read()) == ("enheter.csv", len(content), b"")


def test_a_workbook_that_unpacks_too_far_is_refused_before_it_is_read(office, settings):
    settings.STIMULANS_UPLOAD_MAX_BYTES = 10_000
    bomb = zipped(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/sharedStrings.xml": b"<sst>" + b"A" * 300_000 + b"</sst>",
        }
    )
    assert len(bomb) < 10_000
    before = snapshot()
    response = post_units(office["client"], bomb, "enheter.xlsx", XLSX_TYPE)
    assert "Arbetsboken packas upp till mer än" in response.content.decode()
    assert unchanged(before)


def test_blank_rows_count_towards_the_row_limit(office, monkeypatch):
    monkeypatch.setattr(tables, "MAX_ROWS", 5)
    wb = Workbook()
    wb.active.append(HEADER)
    wb.active.append(GOOD_ROW)
    for row in range(3, 20):  # formatted, empty: a row to read all the same
        wb.active.cell(row=row, column=1).font = Font(bold=True)
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(ImportRefused, match="fler än 5 rader"):
        import_units(out.getvalue(), "enheter.xlsx")
    wide = xlsx([HEADER + [f"x{i}" for i in range(200)], GOOD_ROW])
    with pytest.raises(ImportRefused, match="fler än 100 kolumner"):
        import_units(wide, "enheter.xlsx")


def test_good_files_are_imported_whatever_they_are_called(office):
    client = office["client"]
    response = post_units(client, xlsx([HEADER, GOOD_ROW]), "enheter.dat", "text/plain")
    assert response.status_code == 302
    assert Unit.objects.get(slug="vob-900").places == 42
    csv_text = ";".join(HEADER) + "\nvob-901;bromma-stadsdelsforvaltning;Hemmet Å;care_home;7\n"
    response = post_units(client, csv_text.encode("cp1252"), "enheter.xlsx", XLSX_TYPE)
    assert response.status_code == 302
    assert Unit.objects.get(slug="vob-901").name == "Hemmet Å"


def test_the_dataset_import_checks_the_same_way(office):
    grant = office["grant"]
    url = reverse("reporting:import-dataset", args=[grant.slug])
    fields = {
        "dataset": "befolkning",
        "label": "Befolkning",
        "source": "SCB",
        "reference_date": "2023-12-31",
    }
    before = snapshot()
    response = office["client"].post(
        url, {**fields, "file": SimpleUploadedFile("befolkning.csv", PNG, "text/csv")}
    )
    assert response.status_code == 200
    assert NEITHER in response.content.decode()
    assert unchanged(before)
    org = grant.organisations.order_by("slug").first()
    good = f"organisation;value\n{org.slug};1200\n".encode()
    response = office["client"].post(
        url, {**fields, "file": SimpleUploadedFile("befolkning.txt", good, "text/plain")}
    )
    assert response.status_code == 302
    assert list(Dataset.objects.get(grant=grant).values.values_list("value", flat=True)) == [1200]


def test_stored_files_are_never_served_from_the_media_url(office, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "export.xlsx").write_bytes(b"secret")
    response = office["client"].get("/" + settings.MEDIA_URL + "jobs/export.xlsx")
    assert response.status_code == 404


def settings_outcome(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "MEDIA_ROOT", "STATIC_ROOT")
    }
    clean.update(STIMULANS_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", "import stimulans.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"STIMULANS_UPLOAD_MAX_BYTES": "10MB"},
            "STIMULANS_UPLOAD_MAX_BYTES='10MB' is not a whole",
        ),
        ({"STIMULANS_UPLOAD_MAX_BYTES": "0"}, "STIMULANS_UPLOAD_MAX_BYTES=0 must be at least 1"),
        ({"STATIC_ROOT": "{tmp}/site", "MEDIA_ROOT": "{tmp}/site/media"}, "must not contain"),
        ({"MEDIA_ROOT": str(ROOT / "static" / "uploads")}, "must not contain"),
    ],
)
def test_upload_settings_are_checked_at_start_up(tmp_path, env, message):
    env = {k: v.replace("{tmp}", str(tmp_path)) for k, v in env.items()}
    result = settings_outcome(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert settings_outcome(tmp_path).returncode == 0
