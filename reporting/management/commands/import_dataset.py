from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from allocations.management.commands._common import iso_date
from allocations.tables import ImportRefused
from reporting.imports import import_dataset

from ._common import get_grant


class Command(BaseCommand):
    help = (
        "Import a dataset of a grant (values per organisation, e.g. population from SCB or "
        "Kolada) from an xlsx or CSV file with the columns organisation and value. "
        "All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("dataset_id")
        parser.add_argument("file", type=Path)
        parser.add_argument("--label", required=True, help="e.g. 'Folkmängd 65+ 2023-12-31'")
        parser.add_argument("--source", required=True, help="e.g. 'SCB'")
        parser.add_argument("--date", required=True, help="reference date, YYYY-MM-DD")
        parser.add_argument("--replace", action="store_true", help="replace the dataset")

    def handle(self, *args, grant_id, dataset_id, file, label, source, date, replace, **options):
        grant = get_grant(grant_id)
        try:
            content = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            dataset = import_dataset(
                grant,
                content,
                file.name,
                slug=dataset_id,
                label=label,
                source=source,
                reference_date=iso_date(date),
                replace=replace,
                actor_label="import_dataset (command)",
            )
        except ImportRefused as exc:
            raise CommandError(f"{exc.summary()}\n{exc}") from None
        self.stdout.write(
            f"Imported dataset '{dataset.slug}' of '{grant.slug}': {dataset.values.count()} values."
        )
