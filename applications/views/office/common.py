"""What every officials' page shares: the access check, pagination, the pot tree, history."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render

from allocations.models import AuditEntry

from ... import permissions

PAGE_SIZE = 50


def official_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        decision = permissions.can_handle_cases(request.user)
        if not decision:
            raise PermissionDenied(decision.reason)
        return view(request, *args, **kwargs)

    return wrapped


def paginate(
    request, items, per_page: int = PAGE_SIZE, param: str = "page", count: int | None = None
):
    """One page of `items`; `count`, when the caller knows it, spares the paginator's COUNT."""
    paginator = Paginator(items, per_page)
    if count is not None:
        paginator.count = count  # a cached property: set, it is not computed
    return paginator.get_page(request.GET.get(param))


def audit_history(*objects: tuple[str, list[int]]) -> list[AuditEntry]:
    """The audit entries of the named objects, oldest first (for `applications/_history.html`)."""
    match = Q(pk__in=[])
    for object_type, ids in objects:
        match |= Q(object_type=object_type, object_id__in=[str(pk) for pk in ids])
    return list(AuditEntry.objects.filter(match).order_by("at", "id"))


CONFIRMED = "confirmed"


def is_confirmed(request) -> bool:
    """An irreversible action happens only on a POST that carries the confirmation."""
    return request.method == "POST" and request.POST.get(CONFIRMED) == "yes"


def confirmation_page(
    request,
    *,
    title: str,
    summary: list[str],
    action: str,
    back: str,
    button: str,
    form=None,
    hidden: dict | None = None,
):
    """What an irreversible action will do, with the amounts, and the button that does it.

    Shown for a GET and for a POST not yet confirmed; it writes nothing. A form still to be
    filled in (unbound, or with errors) is shown to be completed first ("Continue"); a valid
    one is carried in hidden fields beside the summary made from it, so that what is
    confirmed is exactly what was summed up.
    """
    ready = form is None or (form.is_bound and form.is_valid())
    carried = []  # a valid form's fields as posted, one hidden input per value
    if form is not None and ready:
        for field in form:
            values = field.value()
            for value in values if isinstance(values, list | tuple) else [values]:
                carried.append((field.html_name, "" if value is None else value))
    context = {
        "title": title,
        "summary": summary if ready else [],
        "action": action,
        "back": back,
        "button": button,
        "form": form,
        "ready": ready,
        "hidden": sorted((hidden or {}).items()) + carried,
        "confirmed": CONFIRMED,
    }
    return render(request, "applications/office/confirm.html", context)
