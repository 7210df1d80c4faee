"""`check_books [GRANT_ID]`: the books check themselves, as the dashboard shows it."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from allocations.models import Grant
from applications import books


class Command(BaseCommand):
    help = (
        "Check every identity the books promise (pots, rows, decided runs unchanged, "
        "requisitions, the money after the decision, the audit trail) for every grant or "
        "the one named; exits non-zero on any breach."
    )

    def add_arguments(self, parser):
        parser.add_argument("grant_id", nargs="?", help="a grant's id (default: every grant)")

    def handle(self, *args, grant_id=None, **options):
        if grant_id is not None and not Grant.objects.filter(slug=grant_id).exists():
            raise CommandError(_("There is no grant “%(grant)s”.") % {"grant": grant_id})
        checked = Grant.objects.filter(slug=grant_id).count() if grant_id else Grant.objects.count()
        found = books.check_all(grant_id)
        count = 0
        for slug, breaches in found.items():
            for breach in breaches:
                self.stdout.write(f"{slug}: {breach}")
                count += 1
        if count:
            raise CommandError(
                ngettext(
                    "The books do not balance: %(count)s breach.",
                    "The books do not balance: %(count)s breaches.",
                    count,
                )
                % {"count": count}
            )
        self.stdout.write(
            ngettext(
                "The books balance (%(count)s grant checked).",
                "The books balance (%(count)s grants checked).",
                checked,
            )
            % {"count": checked}
        )
