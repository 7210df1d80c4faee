from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    name = "applications"
    verbose_name = _("Applications")

    def ready(self):
        from allocations.services import register_applicant_source

        from .computing import applicants

        register_applicant_source(applicants)
