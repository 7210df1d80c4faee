"""Attachments to a usage report: known by their bytes, limited in size, stored where no URL
reaches them, and handed out only to the reporting organisation and the officials."""

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from allocations.models import AuditEntry, Organisation
from applications import services
from applications.models import ReportAttachment, ReportStatus
from stimulans.uploads import sniff

from . import test_office
from .factories import provider_user, signed_in

office, decided, seed000, english = (
    test_office.office,
    test_office.decided,
    test_office.seed000,
    test_office.english,
)

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
JPEG = b"\xff\xd8\xff\xe0" + bytes(32)


def xlsx() -> bytes:
    out = io.BytesIO()
    book = Workbook()
    book.active.append(["Kvitto", 1200])
    book.save(out)
    return out.getvalue()


def test_a_file_is_known_by_its_bytes_not_its_name():
    assert sniff(PDF) == "pdf"
    assert sniff(PNG) == "png"
    assert sniff(JPEG) == "jpeg"
    assert sniff(xlsx()) == "xlsx"
    assert sniff(b"MZ\x90\x00 an executable") is None
    assert sniff(b"<html><script>alert(1)</script>") is None
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hej")
    assert sniff(plain_zip.getvalue()) is None
    assert sniff(b"PK\x03\x04 broken") is None


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, req, name: str, data: bytes):
    return client.post(
        reverse("portal:attachment_add", args=[req.pk]),
        {"file": SimpleUploadedFile(name, data, content_type="application/pdf")},
        follow=True,
    )


@pytest.mark.django_db
def test_a_provider_attaches_reads_and_removes_files_and_nobody_else_reads_them(
    decided, office, media, django_capture_on_commit_callbacks
):
    _run, req, user = decided
    client = signed_in(user)

    response = upload(client, req, "kvitto.pdf", PDF)
    assert "kvitto.pdf is attached." in response.content.decode()
    upload(client, req, "bild.png", PNG)
    upload(client, req, "../../ekonomi.xlsx", xlsx())
    attachments = list(ReportAttachment.objects.order_by("pk"))
    assert [(a.name, a.kind) for a in attachments] == [
        ("kvitto.pdf", "pdf"),
        ("bild.png", "png"),
        ("ekonomi.xlsx", "xlsx"),
    ]
    pdf = attachments[0]
    stored = Path(pdf.file.path)
    # Stored in the private storage, under a name of its own, where no URL reaches it.
    assert stored.is_relative_to(Path(media) / "attachments")
    assert stored.read_bytes() == PDF
    assert "kvitto" not in stored.name
    assert not stored.is_relative_to(Path(django_settings.STATIC_ROOT))
    assert client.get("/" + django_settings.MEDIA_URL + pdf.file.name).status_code == 404
    assert AuditEntry.objects.filter(action="report.attachment_added").count() == 3

    page = client.get(reverse("portal:report", args=[req.pk])).content.decode()
    assert reverse("portal:attachment", args=[pdf.pk]) in page
    download = client.get(reverse("portal:attachment", args=[pdf.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert "attachment" in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == PDF
    # The official reads it from the report's page too.
    assert office.get(reverse("portal:attachment", args=[pdf.pk])).status_code == 200

    # Another organisation's user cannot fetch it, nor tell it from one that does not exist.
    other = Organisation.objects.exclude(pk=req.organisation_id).first()
    stranger = signed_in(provider_user(other, "annan"))
    assert stranger.get(reverse("portal:attachment", args=[pdf.pk])).status_code == 404
    assert stranger.get(reverse("portal:attachment", args=[pdf.pk + 999])).status_code == 404
    assert stranger.post(reverse("portal:attachment_remove", args=[pdf.pk])).status_code == 404
    response = upload(stranger, req, "smyg.pdf", PDF)
    assert response.status_code == 404
    assert signed_in().get(reverse("portal:attachment", args=[pdf.pk])).status_code == 302
    assert ReportAttachment.objects.count() == 3

    with django_capture_on_commit_callbacks(execute=True):  # the file goes once committed
        client.post(reverse("portal:attachment_remove", args=[attachments[1].pk]))
    assert ReportAttachment.objects.count() == 2
    assert not Path(attachments[1].file.path).exists()

    # Once the report is submitted, its attachments stay as they are.
    report = services.report_for(req)
    report.status = ReportStatus.SUBMITTED
    report.save(update_fields=["status"])
    response = client.post(reverse("portal:attachment_remove", args=[pdf.pk]), follow=True)
    assert "can no longer be changed" in response.content.decode()
    upload(client, req, "sen.pdf", PDF)
    assert ReportAttachment.objects.count() == 2
    report.status = ReportStatus.DRAFT
    report.save(update_fields=["status"])


@pytest.mark.django_db
def test_a_file_of_another_kind_or_too_large_is_refused_and_nothing_is_stored(
    decided, media, settings
):
    _run, req, user = decided
    client = signed_in(user)
    response = upload(client, req, "faktura.pdf", b"MZ\x90\x00 not a pdf at all")
    assert "this file is none of them" in response.content.decode()
    response = upload(client, req, "sida.png", b"<svg onload=alert(1)>")
    assert "this file is none of them" in response.content.decode()
    settings.STIMULANS_UPLOAD_MAX_BYTES = 20
    response = upload(client, req, "stor.pdf", PDF)
    assert "at most 20" in response.content.decode()
    assert not ReportAttachment.objects.exists()
    assert not list(Path(media).rglob("*.*"))
    # The service refuses what no form sends, too.
    with pytest.raises(services.WorkflowError):
        services.add_attachment(
            report=services.report_for(req), name="x.pdf", content=io.BytesIO(b""), actor=user
        )
