import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allocations.importing import export_grant

from ._common import get_grant


class Command(BaseCommand):
    help = "Write a grant back as a grant file (stimulans-grant/1)."

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    def handle(self, *args, grant_id, output, **options):
        text = json.dumps(export_grant(get_grant(grant_id)), ensure_ascii=False, indent=2) + "\n"
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stdout.write(f"Wrote {output}")
