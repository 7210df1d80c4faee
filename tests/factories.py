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
    """Decide a run through the workflow's door, which opens its requisitions (as the pages do).

    The seeds' agreements carry the upstream agreement's dates (seed 000's report-by date,
    2020-01-31, precedes its real decision of February 2020), which the decision's date rule
    refuses; where they do, the agreement is given report-by and repay-by dates after the
    decision, as an official would for this grant (`conftest.fit_agreement`).
    """
    from allocations.models import AllocationRun
    from applications import services

    from .conftest import dates_after

    run = AllocationRun.objects.select_related("grant__agreement").get(pk=run_id)
    dates_after(run.grant, decided_on)
    return services.decide(
        run=run,
        decided_on=decided_on,
        decided_by=decided_by,
        delegation=delegation,
        reference=reference,
        requisition_by=requisition_by,
        actor=actor,
    )
