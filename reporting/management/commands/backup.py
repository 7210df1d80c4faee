"""`backup [--grant GRANT_ID] -o FILE`: one grant, or the whole database, as one archive."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reporting.backup import BackupError, backup

from ._common import get_grant


class Command(BaseCommand):
    help = (
        "Write one grant (with its workflow records, audit trail and stored documents) or the "
        "whole database to one archive (stimulans-backup/1, a ZIP) that `restore` reads back."
    )

    def add_arguments(self, parser):
        parser.add_argument("--grant", help="a grant's id (default: the whole database)")
        parser.add_argument("-o", "--output", type=Path, required=True, help="archive to write")

    def handle(self, *args, grant=None, output: Path, **options):
        chosen = get_grant(grant) if grant else None
        if not output.resolve().parent.is_dir():
            raise CommandError(f"cannot write {output}: no such directory")
        try:
            manifest = backup(output, grant=chosen)
        except (BackupError, OSError) as exc:
            raise CommandError(f"cannot write {output}: {exc}") from None
        records = sum(manifest["counts"].values())
        what = f"grant '{chosen.slug}'" if chosen else "the whole database"
        self.stdout.write(
            f"Wrote {what} to {output}: {records} records, {manifest['users']} users, "
            f"{manifest['files']} files."
        )
        for name in manifest["missing_files"]:
            self.stderr.write(f"warning: the stored file {name} is missing; its record is kept")
