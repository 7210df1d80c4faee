from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reporting import pdf
from reporting.documents import RenderError

from ._common import get_grant, pick_run, write_bytes


class Command(BaseCommand):
    help = (
        "Render a grant's decision report (tjänsteutlåtande) as PDF: the latest run; "
        "an undecided run renders as a proposal."
    )

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("-o", "--output", type=Path, required=True, help="PDF to write")
        parser.add_argument("--run", type=int, help="run number (default: the latest)")

    def handle(self, *args, grant_id, output, run, **options):
        target = pick_run(get_grant(grant_id), run)
        try:
            data = pdf.render_decision(target)
        except RenderError as exc:
            raise CommandError(str(exc)) from None
        write_bytes(output, data)
        kind = "decision" if target.is_decided else "proposal"
        self.stdout.write(f"Wrote the {kind} of run {target.number} to {output}")
