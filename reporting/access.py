"""Who may see reports, documents and exports: every rule here, every object fetched here.

For now only officials (staff users) may; the portal's permission module
(`applications.permissions`) takes these over when providers sign in.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from allocations.models import Grant

from .models import Job


def may_report(user) -> tuple[bool, str]:
    """(allowed, why not) for the reporting pages."""
    if not user.is_authenticated:
        return False, _("Sign in first.")
    if not (user.is_active and user.is_staff):
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


def get_job_for(user, pk: int) -> Job:
    job = get_object_or_404(Job.objects.select_related("grant", "run"), pk=pk)
    allowed, reason = may_report(user)
    if not allowed:
        raise PermissionDenied(reason)
    return job
