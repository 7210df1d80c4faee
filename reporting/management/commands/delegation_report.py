import io
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allocations.management.commands._common import iso_date
from reporting import delegation
from reporting.documents import RenderError

from ._common import write_bytes


class Command(BaseCommand):
    help = (
        "Write the report of decisions taken under delegation (anmälan av delegationsbeslut) "
        "for a period, as PDF or xlsx, for the board's next meeting."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--format", choices=("pdf", "xlsx"), default="pdf")
        parser.add_argument("-o", "--output", type=Path, required=True, help="file to write")

    def handle(self, *args, start, end, format, output, **options):
        start, end = iso_date(start), iso_date(end)
        try:
            if format == "pdf":
                data = delegation.report_pdf(start, end)
            else:
                buffer = io.BytesIO()
                delegation.write_report_xlsx(start, end, buffer)
                data = buffer.getvalue()
        except RenderError as exc:
            raise CommandError(str(exc)) from None
        write_bytes(output, data)
        self.stdout.write(f"Wrote the delegated decisions {start} to {end} to {output}")
