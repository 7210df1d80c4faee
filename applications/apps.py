from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("Applications")

    def ready(self):
        from allocations.models import GrantUnit
        from allocations.services import register_applicant_source

        from .computing import applicants

        register_applicant_source(applicants)

        post_save.connect(
            stale_screening, sender=GrantUnit, dispatch_uid="applications.stale_screening"
        )


def stale_screening(sender, instance, created, **kwargs):
    """A unit's figures for a grant changed: its stored verdicts in applications are stale."""
    if not created:
        from .models import ApplicationUnit

        ApplicationUnit.objects.filter(grant_unit=instance).update(screened_with="")
