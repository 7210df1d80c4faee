from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from allocations import grantfile
from allocations.models import Grant
from allocations.services import compute_grant
from applications.grantfiles import import_grant

FIXTURES = Path(settings.BASE_DIR) / "fixtures"


class Command(BaseCommand):
    help = "Load the four seed grants from fixtures/ and compute them (skips those loaded)."

    def handle(self, *args, **options):
        for path in sorted(FIXTURES.glob("*.json")):
            data = grantfile.parse(path.read_bytes())
            slug = data["grant"]["id"]
            if Grant.objects.filter(slug=slug).exists():
                self.stdout.write(f"{slug}: already loaded")
                continue
            grant = import_grant(data, review=True, actor_label="load_demo_grants (command)")
            run = compute_grant(grant_id=grant.pk, actor_label="load_demo_grants (command)")
            self.stdout.write(f"{slug}: loaded, run {run.number} computed")
        # The city's roadmap (seed 004), which pots are followed up against.
        call_command("loaddata", "roadmap-2021", stdout=self.stdout)
