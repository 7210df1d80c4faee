from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from stimulans.roles import is_official


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("Applications")

    def ready(self):
        from allocations import jobs
        from allocations.services import COMPUTE, register_applicant_source

        from .computing import applicants

        register_applicant_source(applicants)
        # Officials compute grants from their pages: they follow any computation's job.
        jobs.allow(COMPUTE, viewers=is_official, links=office_links)


def office_links(job, user) -> list[tuple[str, str]]:
    """A computation's grant and run on the officials' pages."""
    from django.urls import reverse

    if not is_official(user):
        return []
    found = []
    if job.grant_id:
        found.append((job.grant.title, reverse("office:grant", args=[job.grant_id])))
    if job.run_id:
        label = _("Run %(number)s") % {"number": job.run.number}
        found.append((str(label), reverse("office:run", args=[job.run_id])))
    return found
