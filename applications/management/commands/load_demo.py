"""A development install to click through: the seed grants, one user per role, an open call.

Refused unless DEBUG is on: every demo user has the password "demo".

The seeds carry their real dates (the 2020 grant's agreement asks for a report by
2020-01-31), so the demo moves the dates of the agreement its call depends on forward by
whole years, keeping day and month, until the first of them lies at least `DECISION_TIME`
after the call closes: an official can then close the call, decide and ask for
requisitions today, and nothing a provider sees is late.
"""

from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from allocations.models import Agreement, Grant, Organisation, Pot
from applications import services
from applications.models import Call, Membership

PASSWORD = "demo"
DEMO_GRANT = "aldrenamnden-2020-vardens-medarbetare"
DEMO_POT = "sarskilda-boenden"
# User name -> the private provider of the demo grant it acts for.
PROVIDERS = {"utforare-a": "omsorg-norr-ab", "utforare-b": "vardhem-syd-ab"}
CALL_DAYS = 30
# From the call's close to the agreement's first date: to decide, requisition and spend.
DECISION_TIME = timedelta(days=90)
AGREEMENT_DATES = ("spend_by", "report_by", "repay_by")


def years_later(day: date, years: int) -> date:
    """The same day and month `years` later; 29 February becomes the 28th in other years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def years_to_move(dates: list[date], after: date) -> int:
    """The fewest whole years that move the first of `dates` past `after`."""
    if not dates:
        return 0
    first = min(dates)
    years = max(0, after.year - first.year)  # a year earlier would still lie before `after`
    while years_later(first, years) <= after:
        years += 1
    return years


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

    def fit_agreement(self, agreement: Agreement, closes_on: date) -> None:
        """Move the agreement's dates by whole years to lie after the call and the decision."""
        given = [f for f in AGREEMENT_DATES if getattr(agreement, f)]
        years = years_to_move(
            [getattr(agreement, f) for f in given], after=closes_on + DECISION_TIME
        )
        if not years:
            return
        for field in given:
            setattr(agreement, field, years_later(getattr(agreement, field), years))
        agreement.full_clean()
        agreement.save(update_fields=given)
        moved = ", ".join(f"{f} {getattr(agreement, f).isoformat()}" for f in given)
        self.stdout.write(f"Agreement “{agreement.title}”: dates moved {years} years ({moved})")

    def open_call(self, actor) -> None:
        today = timezone.localdate()
        pot = Pot.objects.select_related("grant__agreement").get(
            grant__slug=DEMO_GRANT, slug=DEMO_POT
        )
        call = Call.objects.filter(pot=pot, opens_on__lte=today, closes_on__gte=today).first()
        closes_on = call.closes_on if call else today + timedelta(days=CALL_DAYS)
        self.fit_agreement(pot.grant.agreement, closes_on)
        if call is not None:
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
            closes_on=closes_on,
            actor=actor,
        )
        self.stdout.write(f"Call on {DEMO_POT}: opened until {closes_on}")
