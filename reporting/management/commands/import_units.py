from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allocations.tables import ImportRefused
from reporting.imports import import_units


class Command(BaseCommand):
    help = (
        "Add or update units (care homes, home-care offices) in the register from an xlsx or "
        "CSV file with the columns id, organisation, name, type and optionally places, "
        "customers, in_city, city_placed_share. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            counts = import_units(content, file.name, actor_label="import_units (command)")
        except ImportRefused as exc:
            raise CommandError(f"{exc.summary()}\n{exc}") from None
        self.stdout.write(
            f"Units: {counts['created']} added, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged."
        )
