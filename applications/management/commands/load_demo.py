"""A development install to click through: the seed grants, one user per role, an open call.

Refused unless DEBUG is on: every demo user has the password "demo".
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from allocations.models import Grant, Organisation, Pot
from applications import services
from applications.models import Call, Membership

PASSWORD = "demo"
DEMO_GRANT = "aldrenamnden-2020-vardens-medarbetare"
DEMO_POT = "sarskilda-boenden"
# User name -> the private provider of the demo grant it acts for.
PROVIDERS = {"utforare-a": "omsorg-norr-ab", "utforare-b": "vardhem-syd-ab"}


class Command(BaseCommand):
    help = (
        "Load the seed grants and create demo users (admin, handlaggare, utforare-a, "
        "utforare-b; password 'demo') and an open call. DEBUG only; safe to run again."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "load_demo creates users with the password 'demo' and runs only with DEBUG=1."
            )
        if not Grant.objects.filter(slug=DEMO_GRANT).exists():
            call_command("load_demo_grants", stdout=self.stdout, stderr=self.stderr)
        with transaction.atomic():
            admin = self.user("admin", superuser=True)
            official = self.user("handlaggare")
            official.user_permissions.add(
                Permission.objects.get(
                    content_type__app_label="applications", codename="handle_cases"
                ),
                Permission.objects.get(
                    content_type__app_label="allocations", codename="decide_allocationrun"
                ),
            )
            for username, organisation in PROVIDERS.items():
                user = self.user(username)
                Membership.objects.get_or_create(
                    user=user, organisation=Organisation.objects.get(slug=organisation)
                )
            self.open_call(admin)
        self.stdout.write(
            "Demo users (password 'demo'): admin (administrator), handlaggare (official), "
            f"utforare-a ({PROVIDERS['utforare-a']}), utforare-b ({PROVIDERS['utforare-b']})."
        )

    def user(self, username: str, superuser: bool = False):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            email = f"{username}@example.invalid"
            if superuser:
                user = User.objects.create_superuser(username, email, PASSWORD)
            else:
                user = User.objects.create_user(username, email, PASSWORD)
            self.stdout.write(f"User {username}: created")
        return user

    def open_call(self, actor) -> None:
        today = timezone.localdate()
        pot = Pot.objects.get(grant__slug=DEMO_GRANT, slug=DEMO_POT)
        if Call.objects.filter(pot=pot, opens_on__lte=today, closes_on__gte=today).exists():
            self.stdout.write(f"Call on {DEMO_POT}: open already")
            return
        services.open_call(
            pot=pot,
            title="Intresseanmälan: stimulansmedel till särskilda boenden",
            instructions=(
                "Anmäl de vård- och omsorgsboenden och servicehus ni driver. Medlen fördelas "
                "efter antal platser bland dem som anmäler intresse."
            ),
            opens_on=today,
            closes_on=today + timedelta(days=30),
            actor=actor,
        )
        self.stdout.write(f"Call on {DEMO_POT}: opened until {today + timedelta(days=30)}")
