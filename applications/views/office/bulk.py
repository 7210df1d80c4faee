"""Work on many rows of a list at once: review the ticked applications, remind recipients."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ... import permissions, services
from ...forms.office import BulkReviewForm, ReminderForm
from .common import official_required


def _back(request, default: str) -> str:
    """Back to the list the rows were ticked in (its filters and page), never off the site."""
    back = request.POST.get("next", "")
    # A path on this site only: `redirect` would take anything else for a URL name.
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return default


def _report_refused(request, refused: list[tuple[str, str]]) -> None:
    if refused:
        messages.warning(
            request,
            format_html(
                "{}<ul class='mb-0'>{}</ul>",
                ngettext(
                    "%(count)s was refused and left as it was:",
                    "%(count)s were refused and left as they were:",
                    len(refused),
                )
                % {"count": len(refused)},
                format_html_join("", "<li>{}: {}</li>", refused),
            ),
        )


@official_required
@require_POST
def bulk_review(request, pk):
    """Approve or reject the ticked applications of a pot's list, each through the one door."""
    pot = permissions.get_pot_for_official(request.user, pk)
    back = _back(request, default=reverse("office:pot_review", args=[pot.pk]))
    form = BulkReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return redirect(back)
    # Only the pot's own applications: an id from elsewhere is simply not among them.
    ids = permissions.applications_for(request.user).filter(pot=pot, pk__in=form.ticked)
    approve = form.cleaned_data["decision"] == BulkReviewForm.APPROVE
    outcome = services.bulk_review_applications(
        application_ids=list(ids.values_list("pk", flat=True)),
        approve=approve,
        reason=form.cleaned_data["reason"],
        actor=request.user,
    )
    if approve:
        done = ngettext(
            "%(count)s application approved.", "%(count)s applications approved.", len(outcome.done)
        )
    else:
        done = ngettext(
            "%(count)s application rejected.", "%(count)s applications rejected.", len(outcome.done)
        )
    messages.success(request, done % {"count": len(outcome.done)})
    _report_refused(request, [(app.slug, reason) for app, reason in outcome.refused])
    return redirect(back)


@official_required
@require_POST
def remind(request):
    """Remind the ticked requisitions' recipients to requisition, or to report."""
    back = _back(request, default=reverse("office:requisitions"))
    form = ReminderForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return redirect(back)
    ids = permissions.requisitions_for(request.user).filter(pk__in=form.ticked)
    outcome = services.remind_recipients(
        requisition_ids=list(ids.values_list("pk", flat=True)),
        today=timezone.localdate(),
        actor=request.user,
    )
    messages.success(
        request,
        ngettext(
            "%(count)s reminder is queued for sending.",
            "%(count)s reminders are queued for sending.",
            len(outcome.done),
        )
        % {"count": len(outcome.done)},
    )
    _report_refused(
        request,
        [(f"{req.organisation.name} ({req.pot.name})", why) for req, why in outcome.refused],
    )
    return redirect(back)
