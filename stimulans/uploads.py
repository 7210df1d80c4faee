"""Uploaded files: limited in size while they arrive, and known by their content.

`LimitedUploadHandler` comes first in FILE_UPLOAD_HANDLERS: it counts each file's bytes and,
once a file passes STIMULANS_UPLOAD_MAX_BYTES, hands nothing more to the handlers that keep
it (memory, temporary file), so an over-size upload never fills memory or the disk. The form
then gets a stand-in that knows only the name and the size, and `UploadField` refuses it
with a message saying so.

`sniff` says what a file is from its first bytes (and, for a workbook, the parts its zip
holds), never from its name or the type the browser claims. The imports (reporting) and the
usage reports' attachments (applications) both use it, so it lives below both.
"""

from __future__ import annotations

import io
import zipfile

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# An xlsx is a zip holding at least these parts; its name and the browser's word are not trusted.
XLSX_PARTS = ("[Content_Types].xml", "xl/workbook.xml")

# What each kind of file starts with.
MAGIC = (
    ("pdf", b"%PDF-"),
    ("png", b"\x89PNG\r\n\x1a\n"),
    ("jpeg", b"\xff\xd8\xff"),
)
# The file kinds, with the type they are served as and the ending they are stored with.
KINDS = {
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "png"),
    "jpeg": ("image/jpeg", "jpg"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def upload_limit() -> int:
    return settings.STIMULANS_UPLOAD_MAX_BYTES


def too_large(size: int) -> str:
    return _("The file is %(size)s; at most %(max)s can be uploaded.") % {
        "size": filesizeformat(size),
        "max": filesizeformat(upload_limit()),
    }


def sniff(data: bytes) -> str | None:
    """The kind of file `data` is ("pdf", "png", "jpeg", "xlsx"), or None for anything else."""
    for kind, magic in MAGIC:
        if data.startswith(magic):
            return kind
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
            return None
        if all(part in names for part in XLSX_PARTS):
            return "xlsx"
    return None


class OversizeUpload(UploadedFile):
    """An upload past the limit: its name and size, none of its bytes."""

    def __init__(self, name: str, content_type: str, size: int):
        super().__init__(io.BytesIO(), name, content_type, size)


class LimitedUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.over or start + len(raw_data) > settings.STIMULANS_UPLOAD_MAX_BYTES:
            self.over = True
            return None  # the later handlers get nothing more of this file
        return raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.over:
            return OversizeUpload(self.file_name, self.content_type, file_size)
        return None  # within the limit: the next handler's file is the upload


class UploadField(forms.FileField):
    """A file field that refuses a file over the upload limit, saying how large it was."""

    def to_python(self, data):
        upload = super().to_python(data)
        if upload is not None and upload.size > settings.STIMULANS_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(too_large(upload.size), code="too_large")
        return upload
