from django.core.management.base import BaseCommand, CommandError

from allocations.management.commands._common import get_grant, get_run, iso_date
from applications.services import WorkflowError, decide


class Command(BaseCommand):
    help = (
        "Record the decision (beslut) on a grant's latest run, as the officials' page does: "
        "the run is frozen from then on and each recipient gets a requisition to answer."
    )

    def add_arguments(self, parser):
        parser.add_argument("grant_id")
        parser.add_argument("--date", required=True, help="decision date, YYYY-MM-DD")
        parser.add_argument("--by", required=True, help="who decided, e.g. 'Äldrenämnden'")
        parser.add_argument("--delegation", default="")
        parser.add_argument("--reference", default="", help="diarienummer")
        parser.add_argument(
            "--requisition-by", help="last day to requisition or decline, YYYY-MM-DD"
        )
        parser.add_argument("--run", type=int, help="run number (default: the latest)")

    def handle(self, *args, grant_id, date, by, delegation, reference, run, **options):
        decided_on = iso_date(date)
        requisition_by = options["requisition_by"]
        requisition_by = iso_date(requisition_by) if requisition_by else None
        target = get_run(get_grant(grant_id), run)
        try:
            decided = decide(
                run=target,
                decided_on=decided_on,
                decided_by=by,
                delegation=delegation,
                reference=reference,
                requisition_by=requisition_by,
                actor=None,
                actor_label="decide_run (command)",
            )
        except WorkflowError as exc:
            raise CommandError(str(exc)) from None
        count = decided.requisitions.count()
        self.stdout.write(
            f"Run {decided.number} of '{grant_id}' decided on {decided_on}; "
            f"{count} requisitions opened."
        )
