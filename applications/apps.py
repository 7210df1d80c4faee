from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("Applications")

    def ready(self):
        from allocations import jobs
        from allocations.models import GrantUnit
        from allocations.services import COMPUTE

        from .permissions import is_official

        post_save.connect(
            stale_screening, sender=GrantUnit, dispatch_uid="applications.stale_screening"
        )
        # Officials compute grants from their pages: they follow any computation's job.
        jobs.allow(COMPUTE, viewers=is_official, links=office_links)


def office_links(job, user) -> list[tuple[str, str]]:
    """A computation's grant and run on the officials' pages."""
    from django.urls import reverse

    from .permissions import is_official

    if not is_official(user):
        return []
    found = []
    if job.grant_id:
        found.append((job.grant.title, reverse("office:grant", args=[job.grant_id])))
    if job.run_id:
        label = _("Run %(number)s") % {"number": job.run.number}
        found.append((str(label), reverse("office:run", args=[job.run_id])))
    return found


def stale_screening(sender, instance, created, **kwargs):
    """A unit's figures for a grant changed: its stored verdicts in applications are stale."""
    if not created:
        from .models import ApplicationUnit

        ApplicationUnit.objects.filter(grant_unit=instance).update(screened_with="")
