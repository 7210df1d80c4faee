from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Reporting")

    def ready(self):
        from django.urls import reverse

        from allocations import jobs
        from stimulans.roles import is_official

        from . import giving, registry, services, workflow_exports  # noqa: F401 - their exporters
        from .models import JobKind

        def documents_link(job, user) -> list[tuple[str, str]]:
            if job.grant_id is None or not is_official(user):
                return []
            return [(job.grant.title, reverse("reporting:documents", args=[job.grant.slug]))]

        for kind, run in (
            (JobKind.DECISION_REPORT, services.decision_report),
            (JobKind.LETTERS, services.start_letters),
            (JobKind.EXPORT, services.export),
        ):
            jobs.register(kind.value, label=kind.label, run=run)
            jobs.allow(kind.value, viewers=is_official, links=documents_link)
