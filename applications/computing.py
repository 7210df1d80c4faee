"""What the workflow hands the ledger when a grant is computed: its applications.

The ledger (`allocations.services.load_grant`) does not import the workflow; it
calls the one function registered here at start-up (`ApplicationsConfig.ready`).
"""

from __future__ import annotations

from collections.abc import Mapping

from allocations import engine
from allocations.models import Grant
from allocations.services import Applicants

from .models import Application, ApplicationUnit


def applicants(grant: Grant, unit_slugs: Mapping[int, str]) -> Applicants:
    """Every application to the grant, with its units, in the engine's terms, in two queries.

    Fetched whole, not through a server-side cursor: a cursor costs a DECLARE, FETCHes and a
    CLOSE, each a round trip, for rows that fit in memory anyway."""
    app_units: dict[int, list[str]] = {}
    for app_id, grant_unit_id in (
        ApplicationUnit.objects.filter(application__grant=grant)
        .order_by("application_id", "position")
        .values_list("application_id", "grant_unit_id")
    ):
        app_units.setdefault(app_id, []).append(unit_slugs[grant_unit_id])
    found = Applicants()
    apps = []
    for pk, slug, pot, org_id, org, status, granted in Application.objects.filter(
        grant=grant
    ).values_list(
        "pk",
        "slug",
        "pot__slug",
        "organisation_id",
        "organisation__slug",
        "status",
        "granted_amount",
    ):
        apps.append(
            engine.Application(slug, pot, org, tuple(app_units.get(pk, ())), status, granted)
        )
        found.org_ids[org] = org_id
    found.applications = tuple(apps)
    return found
