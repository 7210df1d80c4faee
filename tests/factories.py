"""The people the tests act as, made one way everywhere."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.test import Client

from allocations.models import Organisation
from applications.models import Membership

# What an official holds: handling cases, and recording decisions on allocation runs.
OFFICIAL_CODENAMES = ("handle_cases", "decide_allocationrun")


def official_user(username: str = "handlaggare", *, decide: bool = True, password="x") -> User:
    """An official (handläggare); `decide=False` for one who may not record decisions."""
    user = User.objects.create_user(username, f"{username}@example.invalid", password)
    codenames = OFFICIAL_CODENAMES if decide else ("handle_cases",)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)  # no cached permissions


def provider_user(org: Organisation, username: str = "utforare", *, password="x") -> User:
    """A provider user acting for `org`."""
    user = User.objects.create_user(username, f"{username}@example.invalid", password)
    Membership.objects.create(user=user, organisation=org)
    return user


def signed_in(user: User | None = None, language: str = "en") -> Client:
    """A test client reading the pages in `language`, signed in as `user` when given."""
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        client.force_login(user)
    return client


def decide(
    *,
    run_id: int,
    decided_on,
    decided_by: str,
    delegation: str = "",
    reference: str = "",
    requisition_by=None,
    actor=None,
):
    """Decide a run through the workflow's door, which opens its requisitions (as the pages do)."""
    from allocations.models import AllocationRun
    from applications import services

    return services.decide(
        run=AllocationRun.objects.get(pk=run_id),
        decided_on=decided_on,
        decided_by=decided_by,
        delegation=delegation,
        reference=reference,
        requisition_by=requisition_by,
        actor=actor,
    )
