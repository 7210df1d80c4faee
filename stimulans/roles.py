"""The three roles, defined once for every app.

- An *administrator* is a superuser: the Django admin, agreements, grants, users.
- An *official* (handläggare) holds the permission `applications.handle_cases`:
  calls, review, decisions, payments, reports, claims, documents and exports.
  Recording a decision also needs `allocations.decide_allocationrun`.
- A *provider user* acts for one or more organisations through a membership.

Being staff alone makes nobody an official. This module imports no models, so
every layer may use it.
"""

from __future__ import annotations

OFFICIAL_PERMISSION = "applications.handle_cases"
DECIDE_PERMISSION = "allocations.decide_allocationrun"


def _active(user) -> bool:
    return user.is_authenticated and user.is_active


def is_administrator(user) -> bool:
    return _active(user) and user.is_superuser


def is_official(user) -> bool:
    return _active(user) and user.has_perm(OFFICIAL_PERMISSION)


def may_decide(user) -> bool:
    return is_official(user) and user.has_perm(DECIDE_PERMISSION)


def organisation_ids(user) -> set[int]:
    """The organisations a provider user acts for (cached on the user object)."""
    known = known_organisation_ids(user)
    if known is None:
        known = set(user.memberships.values_list("organisation_id", flat=True))
        remember_organisation_ids(user, known)
    return known


def known_organisation_ids(user) -> set[int] | None:
    """`organisation_ids(user)` when it needs no query (read already, or an inactive user);
    None when a caller may read the memberships with more and `remember_organisation_ids`."""
    if not _active(user):
        return set()
    return getattr(user, "_stimulans_orgs", None)


def remember_organisation_ids(user, ids) -> None:
    """Fill `organisation_ids`' cache from a query that read the memberships already (with
    the organisations' names, say): the ids need no query of their own. Every permission check
    trusts this cache: `ids` must be exactly the organisations of the user's memberships, as
    `organisation_ids` would read them (`permissions.own_organisations` is the one caller,
    tested to agree)."""
    user._stimulans_orgs = set(ids)


def is_provider(user) -> bool:
    return bool(organisation_ids(user))


def acts_for(user, organisation_id: int) -> bool:
    return organisation_id in organisation_ids(user)
