from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AllocationsConfig(AppConfig):
    name = "allocations"
    verbose_name = _("Grants and allocations")

    def ready(self):
        from django.urls import reverse

        from stimulans.roles import is_administrator

        from . import jobs, lookups, services  # noqa: F401 (lookups: registers `field__any`)

        def admin_links(job, user) -> list[tuple[str, str]]:
            if not is_administrator(user):
                return []
            found = []
            if job.grant_id:
                url = reverse("admin:allocations_grant_change", args=[job.grant_id])
                found.append((job.grant.title, url))
            if job.run_id:
                found.append(
                    (
                        _("Run %(number)s") % {"number": job.run.number},
                        reverse("admin:allocations_allocationrun_change", args=[job.run_id]),
                    )
                )
            return found

        jobs.register(
            services.COMPUTE,
            label=_("computation"),
            run=services.run_compute,
            summary=services.compute_summary,
        )
        jobs.allow(services.COMPUTE, links=admin_links)
