from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allocations.models import Grant
from allocations.tables import ImportRefused
from applications.placements import import_placements
from applications.services import WorkflowError


class Command(BaseCommand):
    help = (
        "Verify the units' stated share placed by the city from the city's placement register "
        "(xlsx or CSV with the columns id, share, date) for one grant; reports every row it "
        "could not match or whose share differs. A bad file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("grant", help="the grant's id")
        parser.add_argument("file", type=Path)

    def handle(self, *args, grant: str, file: Path, **options):
        found = Grant.objects.filter(slug=grant).first()
        if found is None:
            raise CommandError(f"no grant '{grant}'")
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            report = import_placements(
                grant=found,
                content=content,
                name=file.name,
                actor=None,
                actor_label="import_placements (command)",
            )
        except ImportRefused as exc:
            raise CommandError(f"{exc.summary()}\n{exc}") from None
        except WorkflowError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Verified: {len(report.verified)} units.")
        for row, unit_id in report.unmatched:
            self.stdout.write(f"Row {row}: {unit_id} is in no sent application of the grant.")
        for row, name, stated, register in report.differing:
            self.stdout.write(f"Row {row}: {name} stated {stated}, the register says {register}.")
        for row, name in report.already:
            self.stdout.write(f"Row {row}: {name} was verified already.")
