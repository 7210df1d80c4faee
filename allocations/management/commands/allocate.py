from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from allocations import jobs
from allocations.models import AllocationRun, JobStatus
from allocations.services import published_differences, request_compute
from allocations.wording import format_kronor, format_rate

from ._common import get_grant


class Command(BaseCommand):
    help = "Compute a grant as a stored job (on the worker, if one is configured); print its pots."

    def add_arguments(self, parser):
        parser.add_argument("grant_id")

    def handle(self, *args, grant_id: str, **options):
        grant = get_grant(grant_id)
        try:
            job = request_compute(grant=grant, actor_label="allocate (command)")
            job = jobs.wait(job, seconds=settings.STIMULANS_TASK_WAIT_SECONDS)
        except jobs.JobRefused as exc:
            raise CommandError(str(exc)) from None
        except TimeoutError:
            raise CommandError(
                "no answer from a worker in time: is `celery -A stimulans worker` running?"
            ) from None
        if job.status != JobStatus.DONE:
            raise CommandError(job.error)
        run = AllocationRun.objects.get(pk=job.run_id)
        self.stdout.write(render_table(run))
        differences = published_differences(run)
        if differences:
            published = sum(run.grant.published["amounts"].values())
            self.stdout.write(
                f"\nThe published decision gave {format_kronor(published)} in all; "
                "where it differs from the exact result:"
            )
            for org, was, now in differences:
                self.stdout.write(
                    f"  {org}: published {format_kronor(was)}, computed {format_kronor(now)} "
                    f"({now - was:+d} kr)"
                )
        illustrative = [part for part, flag in run.grant.illustrative.items() if flag]
        if illustrative:
            self.stdout.write(
                f"\nNote: the {', '.join(illustrative)} of this grant are illustrative data."
            )


def render_table(run: AllocationRun) -> str:
    header = ("Pot", "Amount", "Allocated", "Unallocated", "Rate")
    lines = []
    for pr in run.pot_results.all():
        depth = pr.path.count(" / ")
        name = "  " * depth + pr.path.split(" / ")[-1]
        lines.append(
            (
                name,
                format_kronor(pr.amount),
                format_kronor(pr.allocated),
                format_kronor(pr.unallocated),
                format_rate(pr.rate),
            )
        )
    allocated = sum(pr.allocated for pr in run.pot_results.all() if " / " not in pr.path)
    lines.append(
        (
            "Total",
            format_kronor(run.grant_amount),
            format_kronor(allocated),
            format_kronor(run.grant_amount - allocated),
            "",
        )
    )
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    out = []
    status = f"decided {run.decided_on:%Y-%m-%d}" if run.is_decided else "not decided"
    out.append(f"Grant '{run.grant.slug}', run {run.number} ({status})")
    for i, row in enumerate([header, *lines]):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
        if i == 0 or i == len(lines) - 1:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
