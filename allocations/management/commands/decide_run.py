from datetime import date

from django.core.management.base import BaseCommand, CommandError

from allocations.services import RunFrozen, decide_run

from ._common import get_grant, get_run


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date in the form YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Record the decision (beslut) on a grant's latest run; it is frozen from then on."

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("--date", required=True, help="decision date, YYYY-MM-DD")
        parser.add_argument("--by", required=True, help="who decided, e.g. 'Äldrenämnden'")
        parser.add_argument("--delegation", default="")
        parser.add_argument("--reference", default="", help="diarienummer")
        parser.add_argument("--run", type=int, help="run number (default: the latest)")

    def handle(self, *args, grant_id, date, by, delegation, reference, run, **options):
        decided_on = iso_date(date)
        target = get_run(get_grant(grant_id), run)
        try:
            decided = decide_run(
                run_id=target.pk,
                decided_on=decided_on,
                decided_by=by,
                delegation=delegation,
                reference=reference,
                actor_label="decide_run (command)",
            )
        except (RunFrozen, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Run {decided.number} of '{grant_id}' decided on {decided_on}.")
