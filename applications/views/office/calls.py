"""Calls (utlysningar): the list, a new call, closing one."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ... import permissions, services
from ...forms.office import (
    CallFilterForm,
    CallForm,
)
from ...models import (
    ApplicationStatus,
    Call,
)
from ...services import WorkflowError
from .common import confirmation_page, is_confirmed, official_required, paginate


@official_required
def calls(request):
    today = timezone.localdate()
    form = CallFilterForm(request.GET)
    data = form.values()
    qs = Call.objects.select_related("pot__grant").annotate(
        total=Count("applications"),
        waiting=Count("applications", filter=Q(applications__status="submitted")),
    )
    if "grant" in data:
        qs = qs.filter(pot__grant=data["grant"])
    state = data.get("state")
    if state == CallFilterForm.OPEN:
        qs = qs.filter(opens_on__lte=today, closes_on__gte=today)
    elif state == CallFilterForm.UPCOMING:
        qs = qs.filter(opens_on__gt=today)
    elif state == CallFilterForm.CLOSED:
        qs = qs.filter(closes_on__lt=today)
    context = {
        "form": form,
        "page": paginate(request, qs.order_by("-opens_on", "id")),
        "today": today,
    }
    return render(request, "applications/office/calls.html", context)


@official_required
def call_new(request):
    today = timezone.localdate()
    if request.method == "POST":
        form = CallForm(request.POST)
        if form.is_valid():
            try:
                call = services.open_call(actor=request.user, **form.cleaned_data)
            except WorkflowError as exc:
                form.add_error("pot", str(exc))
            else:
                messages.success(request, _("The call “%s” is made.") % call)
                return redirect("office:call", call.pk)
    else:
        initial = {"opens_on": today}
        pot = request.GET.get("pot", "")
        if pot.isdigit():
            initial["pot"] = pot
        form = CallForm(initial=initial)
    return render(request, "applications/office/call_form.html", {"form": form})


@official_required
def call_close(request, pk):
    """Closing a call at the end of today, confirmed on a page that says what it means."""
    call = permissions.get_call_for(request.user, pk)
    today = timezone.localdate()
    if call.closes_on < today:
        messages.info(request, _("The call closed on %s already.") % call.closes_on.isoformat())
        return redirect("office:call", call.pk)
    if not is_confirmed(request):
        counts = call.applications.aggregate(
            submitted=Count("pk", filter=Q(status=ApplicationStatus.SUBMITTED)),
            drafts=Count("pk", filter=Q(status=ApplicationStatus.DRAFT)),
        )
        summary = [
            _("The call “%(call)s” closes at the end of today, %(today)s, instead of %(closes)s.")
            % {"call": call, "today": today.isoformat(), "closes": call.closes_on.isoformat()},
            _(
                "%(submitted)s submitted applications wait for review; the %(drafts)s drafts "
                "can no longer be submitted. A closed call is not opened again."
            )
            % counts,
        ]
        return confirmation_page(
            request,
            title=_("Close the call “%s”?") % call,
            summary=summary,
            action=reverse("office:call_close", args=[call.pk]),
            back=reverse("office:call", args=[call.pk]),
            button=_("Close the call"),
        )
    services.close_call(call=call, today=today, actor=request.user)
    messages.success(request, _("The call “%s” closes at the end of today.") % call)
    return redirect("office:call", call.pk)
