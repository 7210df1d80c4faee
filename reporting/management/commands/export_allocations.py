import io
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allocations.management.commands._common import get_grant, get_run, write_bytes
from allocations.models import Organisation
from allocations.services import export_allocations
from reporting.formulas import DEFAULT_DELIMITER, DELIMITERS, CsvWriter


class Command(BaseCommand):
    help = (
        "Write a grant's allocation rows as stimulans-allocations/1 JSON, or CSV, or xlsx "
        "(a sheet per pot, totals and Swedish number formats)."
    )

    formats = ("json", "csv", "xlsx")

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("--format", choices=self.formats, default="json")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
        parser.add_argument("--run", type=int, help="run number (default: the latest)")
        parser.add_argument(
            "--delimiter",
            choices=sorted(DELIMITERS),
            default=DEFAULT_DELIMITER,
            help="CSV separator: semicolon with a byte-order mark (Swedish Excel) or comma",
        )

    def handle(self, *args, grant_id, format, output, run, delimiter, **options):
        grant = get_grant(grant_id)
        if format == "xlsx":
            self.write_xlsx(grant, output, get_run(grant, run))
            return
        data = export_allocations(get_run(grant, run))
        if format == "json":
            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        else:
            text = to_csv(data, delimiter)
        if output is None:
            self.stdout.write(text, ending="")
            return
        write_bytes(output, text.encode("utf-8"))
        self.stdout.write(f"Wrote {len(data['rows'])} rows to {output}")

    def write_xlsx(self, grant, output, run) -> None:
        from reporting.exporters import AllocationsExporter

        if output is None:
            raise CommandError("xlsx is a binary file: name it with -o")
        partial = output.with_name(output.name + ".part")
        try:
            with partial.open("wb") as out:
                count = AllocationsExporter(grant, {"run": run.number}).write("xlsx", out)
            partial.replace(output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stdout.write(f"Wrote {count} rows to {output}")


def to_csv(data: dict, delimiter: str = DEFAULT_DELIMITER) -> str:
    buffer = io.StringIO()
    writer = CsvWriter(buffer, delimiter)
    numbers = dict(
        Organisation.objects.filter(
            slug__in={row["organisation"] for row in data["rows"]}
        ).values_list("slug", "org_number")
    )
    writer.writerow(["pot", "organisation", "org_number", "unit", "quantity", "amount"])
    for row in data["rows"]:
        writer.writerow(
            [
                row["pot"],
                row["organisation"],
                numbers.get(row["organisation"], ""),
                row["unit"] or "",
                "" if row["quantity"] is None else row["quantity"],
                row["amount"],
            ]
        )
    return buffer.getvalue()
