"""Uploaded files are limited in size while they arrive.

`LimitedUploadHandler` comes first in FILE_UPLOAD_HANDLERS: it counts each file's bytes and,
once a file passes STIMULANS_UPLOAD_MAX_BYTES, hands nothing more to the handlers that keep
it (memory, temporary file), so an over-size upload never fills memory or the disk. The form
then gets a stand-in that knows only the name and the size, and `UploadField` refuses it
with a message saying so. Uploads are read and imported, never stored.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from allocations.tables import UploadField  # noqa: F401 (the pages' file field)


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
