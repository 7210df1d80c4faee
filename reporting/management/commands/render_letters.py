import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reporting.documents import RenderError
from reporting.services import letters_zip

from ._common import get_grant, pick_run, write_bytes


class Command(BaseCommand):
    help = "Render a decided run's decision letters, one PDF per recipient, into a ZIP."

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("-o", "--output", type=Path, required=True, help="ZIP to write")
        parser.add_argument(
            "--run",
            type=int,
            metavar="NUMBER",
            help="run number, a redistribution round's too (default: the latest decided "
            "allocation of the whole grant)",
        )

    def handle(self, *args, grant_id, output, run, **options):
        target = pick_run(get_grant(grant_id), run, decided=True)
        buffer = io.BytesIO()
        try:
            count = letters_zip(target, buffer)
        except RenderError as exc:
            raise CommandError(str(exc)) from None
        write_bytes(output, buffer.getvalue())
        what = f"run {target.number}"
        if target.is_redistribution:
            what += f" (redistribution {target.round_number} of pot '{target.redistributes.slug}')"
        self.stdout.write(f"Wrote {count} letters of {what} to {output}")
