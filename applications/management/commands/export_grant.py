import json
from pathlib import Path

from django.core.management.base import BaseCommand

from allocations.management.commands._common import get_grant, write_bytes
from applications.grantfiles import export_grant


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
        write_bytes(output, text.encode("utf-8"))
        self.stdout.write(f"Wrote {output}")
