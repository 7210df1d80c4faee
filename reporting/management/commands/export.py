import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reporting.documents import RenderError
from reporting.exporters import EXPORTERS, get_exporter
from reporting.formulas import DEFAULT_DELIMITER, DELIMITERS

from ._common import get_grant, write_bytes


class Command(BaseCommand):
    help = (
        "Write any export of a grant — the ones the documents page offers — as xlsx or CSV "
        "(or JSON for 360Giving)."
    )

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument(
            "--exporter", required=True, choices=sorted(EXPORTERS), help="which export"
        )
        parser.add_argument("--format", default="xlsx", help="xlsx, csv (json for 360giving)")
        parser.add_argument("-o", "--output", type=Path, required=True, help="file to write")
        parser.add_argument("--pot", help="pot id (the applications export)")
        parser.add_argument("--run", type=int, help="run number (allocations, 360giving)")
        parser.add_argument("--organisation", help="one recipient's id (usage, payments)")
        parser.add_argument(
            "--delimiter",
            choices=sorted(DELIMITERS),
            default=DEFAULT_DELIMITER,
            help="CSV separator: semicolon with a byte-order mark (Swedish Excel) or comma",
        )

    def handle(self, *args, grant_id, exporter, format, output, delimiter, **options):
        grant = get_grant(grant_id)
        chosen = {k: options[k] for k in ("pot", "run", "organisation") if options.get(k)}
        buffer = io.BytesIO()
        try:
            count = get_exporter(exporter)(grant, chosen).write(format, buffer, delimiter=delimiter)
        except RenderError as exc:
            raise CommandError(str(exc)) from None
        write_bytes(output, buffer.getvalue())
        self.stdout.write(f"Wrote {count} rows to {output}")
