import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reporting.documents import RenderError
from reporting.giving import GivingExporter

from ._common import get_grant, write_bytes


class Command(BaseCommand):
    help = "Write a decided grant as 360Giving open data: a JSON package, or its flat CSV."

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("-o", "--output", type=Path, required=True, help="file to write")
        parser.add_argument("--format", choices=GivingExporter.formats, default="json")
        parser.add_argument("--run", type=int, help="run number (default: the latest decided)")

    def handle(self, *args, grant_id, output, format, run, **options):
        buffer = io.BytesIO()
        try:
            exporter = GivingExporter(get_grant(grant_id), {"run": run})
            count = exporter.write(format, buffer)
        except RenderError as exc:
            raise CommandError(str(exc)) from None
        write_bytes(output, buffer.getvalue())
        self.stdout.write(f"Wrote {count} grants of run {exporter.run.number} to {output}")
