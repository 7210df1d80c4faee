"""Backup and restore: one grant with everything about it, or the whole database, as one file.

An archive (`stimulans-backup`, version 1) is a ZIP file:

- `manifest.json`: the format and version, when the archive was made, what it holds (one
  grant or all), the number of records per model, the migrations the database had, and the
  SHA-256 and size of every other member;
- `records.json`: the records in Django's serializer format, in an order they can be
  inserted in (what a record points to comes before it). References to users, content
  types and the roadmap are natural keys (a username, an app label and model, a code);
  everything else keeps the primary keys it had;
- `users.json`: for one grant, the usernames its records name (never a password); for the
  whole database, the accounts themselves with their password hashes (as `pg_dump` would);
- `files/<name>`: every stored file the records name (decision reports, letters, exports),
  under the name the storage gave it.

Restoring checks the manifest and every checksum before it writes anything, then writes
everything in one transaction and removes the files it stored if that fails. One grant is
restored beside the other grants: the organisations, units, agreement and roadmap it names
are matched by their ids (slug, code; an agreement by all its details) and created only when
missing; its own records keep their ids when those are free, and get new ones otherwise (every
reference, including the audit trail's and the notices' object ids, follows). The whole
database is restored into an empty one, ids and all.
"""

from .archive import Archive, backup, open_archive
from .records import NOT_PER_GRANT, BackupError, grant_sections, whole_models
from .restoring import Restored, restore

__all__ = [
    "NOT_PER_GRANT",
    "Archive",
    "BackupError",
    "Restored",
    "backup",
    "grant_sections",
    "open_archive",
    "restore",
    "whole_models",
]
