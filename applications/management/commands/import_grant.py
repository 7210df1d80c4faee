from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allocations import grantfile
from applications.grantfiles import ImportRefused, import_grant


class Command(BaseCommand):
    help = "Import a grant file (stimulans-grant/1). All or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--replace", action="store_true", help="import a grant id that exists again"
        )
        parser.add_argument(
            "--review",
            action="store_true",
            help="approve or reject submitted applications by their pot's eligibility rule",
        )

    def handle(self, *args, file: Path, replace: bool, review: bool, **options):
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            data = grantfile.parse(raw)
            grant = import_grant(
                data, replace=replace, review=review, actor_label="import_grant (command)"
            )
        except grantfile.GrantFileError as exc:
            raise CommandError(f"{file} is not a valid grant file:\n{exc}") from None
        except ImportRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Imported grant '{grant.slug}': {grant.pots.count()} pots, "
            f"{grant.grant_units.count()} units, {grant.applications.count()} applications."
        )
