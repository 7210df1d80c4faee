"""What the workflow hands the ledger when a grant is computed: its applications.

The ledger (`allocations.services.load_grant`) does not import the workflow; it
calls the one function registered here at start-up (`ApplicationsConfig.ready`).
"""

from __future__ import annotations

from collections.abc import Mapping

from allocations import engine
from allocations.models import Grant
from allocations.services import Applicants

from .models import Application


def applicants(grant: Grant, unit_slugs: Mapping[int, str]) -> Applicants:
    """Every application to the grant, with its units, in the engine's terms, in one query:
    a row per application and unit (one with no unit for an application naming none).

    Fetched whole, not through a server-side cursor: a cursor costs a DECLARE, FETCHes and a
    CLOSE, each a round trip, for rows that fit in memory anyway."""
    found = Applicants()
    apps = []
    last, units = None, []
    # In the applications' order (the grant's, then position, id), each one's units in theirs.
    rows = (
        Application.objects.filter(grant=grant)
        .order_by("position", "id", "applicationunit__position", "applicationunit__id")
        .values_list(
            "pk",
            "slug",
            "pot__slug",
            "organisation_id",
            "organisation__slug",
            "status",
            "granted_amount",
            "applicationunit__grant_unit_id",
        )
    )
    for pk, slug, pot, org_id, org, status, granted, grant_unit_id in rows:
        if pk != last:
            last, units = pk, []
            apps.append((slug, pot, org, units, status, granted))
            found.org_ids[org] = org_id
        if grant_unit_id is not None:
            units.append(unit_slugs[grant_unit_id])
    found.applications = tuple(
        engine.Application(slug, pot, org, tuple(units), status, granted)
        for slug, pot, org, units, status, granted in apps
    )
    return found
