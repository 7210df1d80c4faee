import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reporting.documents import RenderError
from reporting.exporters import ApplicationsExporter

from ._common import get_grant, write_bytes


class Command(BaseCommand):
    help = "Write the applications to one pot of a grant, as xlsx or CSV."

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("pot_id")
        parser.add_argument("-o", "--output", type=Path, required=True, help="file to write")
        parser.add_argument("--format", choices=ApplicationsExporter.formats, default="xlsx")

    def handle(self, *args, grant_id, pot_id, output, format, **options):
        buffer = io.BytesIO()
        try:
            count = ApplicationsExporter(get_grant(grant_id), {"pot": pot_id}).write(format, buffer)
        except RenderError as exc:
            raise CommandError(str(exc)) from None
        write_bytes(output, buffer.getvalue())
        self.stdout.write(f"Wrote {count} applications to {output}")
