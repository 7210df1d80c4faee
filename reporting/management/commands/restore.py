"""`restore FILE [--replace] [--create-missing-users]`: read back what `backup` wrote."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from reporting.backup import BackupError, open_archive, restore


class Command(BaseCommand):
    help = (
        "Restore an archive that `backup` wrote: one grant beside the others, or the whole "
        "database into an empty one. The archive is checked first; all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="restore a grant that exists over it (never one with a decided run)",
        )
        parser.add_argument(
            "--create-missing-users",
            action="store_true",
            help="make the users a grant's records name that are not here: inactive, no password",
        )

    def handle(self, *args, file: Path, replace: bool, create_missing_users: bool, **options):
        try:
            archive = open_archive(file)
            result = restore(
                archive,
                replace=replace,
                create_users=create_missing_users,
                actor_label="restore (command)",
            )
        except BackupError as exc:
            raise CommandError(f"{exc}\nNothing was restored.") from None
        except DatabaseError as exc:
            raise CommandError(
                f"the database refused the archive's records ({exc}).\nNothing was restored."
            ) from None
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        what = (
            f"grant '{result.grants[0]}'"
            if result.scope == "grant"
            else f"the whole database ({len(result.grants)} grants)"
        )
        ids = "with their ids" if result.kept_ids else "under new ids (the old ones are taken)"
        self.stdout.write(
            f"Restored {what} from {file}: {sum(result.counts.values())} records {ids}, "
            f"{result.files} files."
        )
        if result.created_users:
            kind = (
                "with their password hashes"
                if result.scope == "all"
                else "inactive and without a password: an administrator must activate them"
            )
            self.stdout.write(
                f"Created {len(result.created_users)} users ({kind}): "
                + ", ".join(result.created_users)
            )
        breaches = [f"{slug}: {b}" for slug, found in result.breaches.items() for b in found]
        if breaches:
            self.stderr.write("warning: the books do not balance after the restore:")
            for line in breaches:
                self.stderr.write(f"  {line}")
        else:
            self.stdout.write("The books balance (check_books).")
