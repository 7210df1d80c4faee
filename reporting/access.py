"""Who may see reports, documents and exports: every rule here, every object fetched here.

Officials see everything (`stimulans.roles.is_official`; being staff is not
enough). A provider user
sees only what belongs to the organisations it acts for — its own decision
letters and figures — fetched through `get_letter_for` and `get_organisation_for`,
which answer 404 for anything else, so a guessed URL tells nothing.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from allocations.models import AllocationRun, Grant, Organisation
from stimulans.roles import is_official, organisation_ids


def may_report(user) -> tuple[bool, str]:
    """(allowed, why not) for the reporting pages."""
    if not user.is_authenticated:
        return False, _("Sign in first.")
    if not is_official(user):
        return False, _("Only officials of the administration may see reports and documents.")
    return True, ""


def official_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        allowed, reason = may_report(request.user)
        if not allowed:
            raise PermissionDenied(reason)
        return view(request, *args, **kwargs)

    return wrapped


def get_grant_for(user, slug: str) -> Grant:
    grant = get_object_or_404(Grant.objects.select_related("agreement"), slug=slug)
    allowed, reason = may_report(user)
    if not allowed:
        raise PermissionDenied(reason)
    return grant


def get_organisation_for(user, slug: str) -> Organisation:
    """An organisation the user acts for (an official: any); 404 for any other."""
    qs = Organisation.objects.all()
    if not is_official(user):
        qs = qs.filter(pk__in=organisation_ids(user))
    return get_object_or_404(qs, slug=slug)


def get_letter_for(user, run_id: int, org_slug: str) -> tuple[AllocationRun, Organisation]:
    """A decided run and one of its recipients whose letter the user may read; else 404.

    404 also for an undecided run and for an organisation the run gives nothing:
    a provider cannot tell another organisation's letter from one that does not exist.
    """
    organisation = get_organisation_for(user, org_slug)
    run = get_object_or_404(
        AllocationRun.objects.select_related("grant").exclude(decided_on=None), pk=run_id
    )
    if not run.rows.filter(organisation=organisation, amount__gt=0).exists():
        raise Http404
    return run, organisation
