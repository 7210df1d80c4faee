"""A recipient with no portal users: an official answers its requisition on its word, and
invites its users so that it can answer for itself next time."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations.models import PermittedUse

from ... import invitations, permissions, services
from ...forms.office import OnBehalfForm
from ...forms.portal import RequisitionAcceptForm, RequisitionDeclineForm
from ...models import Requisition
from ...services import WorkflowError
from .common import official_required

ACCEPT, DECLINE = "accept", "decline"


def answer_forms(user, req: Requisition, data=None, action: str = "") -> dict:
    """The forms of the requisition's office page for answering on the recipient's behalf,
    and for inviting its users; forms already bound (`data`) for the action posted."""
    context: dict = {
        "no_portal_users": not permissions.recipient_has_portal_users(req),
        "invite_form": invitations.InviteForm(initial={"organisation": req.organisation_id}),
    }
    if not permissions.can_answer_for_recipient(user, req):
        return context
    uses = list(PermittedUse.objects.filter(agreement_id=req.run.grant.agreement_id))
    bound = data if action else None
    context.update(
        behalf_form=OnBehalfForm(bound, prefix="behalf"),
        accept_form=RequisitionAcceptForm(
            data if action == ACCEPT else None, req=req, uses=uses, prefix="accept"
        ),
        decline_form=RequisitionDeclineForm(data if action == DECLINE else None, prefix="decline"),
    )
    return context


@official_required
@require_POST
def answer_requisition(request, pk):
    """Requisition or decline for the recipient, through the portal's own services."""
    from .requisitions import _requisition_page

    req = permissions.get_requisition_for(request.user, pk)
    allowed = permissions.can_answer_for_recipient(request.user, req)
    if not allowed:
        messages.error(request, allowed.reason)
        return redirect("office:requisition", req.pk)
    action = request.POST.get("action", "")
    if action not in (ACCEPT, DECLINE):
        return redirect("office:requisition", req.pk)
    forms = answer_forms(request.user, req, request.POST, action)
    behalf_form, form = forms["behalf_form"], forms[f"{action}_form"]
    if behalf_form.is_valid() and form.is_valid():
        on_behalf = services.OnBehalf(
            name=behalf_form.cleaned_data["on_behalf_name"],
            role=behalf_form.cleaned_data["on_behalf_role"],
            given_on=behalf_form.cleaned_data["on_behalf_given_on"],
        )
        try:
            if action == ACCEPT:
                services.accept_requisition(
                    req=req,
                    payment_method=form.cleaned_data["payment_method"],
                    payment_account=form.cleaned_data["payment_account"],
                    lines=form.lines(),
                    actor=request.user,
                    on_behalf=on_behalf,
                )
            else:
                services.decline_requisition(
                    req=req,
                    reason=form.cleaned_data["decline_reason"],
                    actor=request.user,
                    on_behalf=on_behalf,
                )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("The requisition is answered for %(recipient)s on the word of %(person)s.")
                % {"recipient": req.organisation, "person": on_behalf.describe()},
            )
            return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, **forms)


@official_required
@require_POST
def invite_recipient_user(request, pk):
    """Invite a user of the requisition's recipient to the portal (the invitation flow)."""
    from .requisitions import _requisition_page

    req = permissions.get_requisition_for(request.user, pk)
    data = request.POST.copy()
    data["organisation"] = str(req.organisation_id)  # the recipient's, whatever was posted
    form = invitations.InviteForm(data)
    if form.is_valid():
        membership = invitations.invite(request=request, **form.cleaned_data)
        messages.success(
            request,
            _("%(email)s is invited to act for %(organisation)s.")
            % {"email": membership.user.email, "organisation": membership.organisation},
        )
        return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, invite_form=form)
