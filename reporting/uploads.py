"""Uploaded files are limited in size while they arrive: see `stimulans.uploads`.

The imports read and import an upload, never store it; the checks live in `stimulans.uploads`
so that the workflow's attachments use the same ones. Named here too for the code that
imports them from here.
"""

from stimulans.uploads import (  # noqa: F401
    LimitedUploadHandler,
    OversizeUpload,
    UploadField,
    sniff,
    too_large,
    upload_limit,
)
