"""E-mail to the people a workflow step concerns. Sent after the transaction commits."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from .models import Membership


def _recipients(organisation_id: int, extra: str = "") -> list[str]:
    emails = set(
        Membership.objects.filter(organisation_id=organisation_id, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if extra:
        emails.add(extra)
    return sorted(emails)


def portal_url(name: str, pk: int) -> str:
    """An absolute link to a portal page: an e-mail has no request to take the host from."""
    return settings.STIMULANS_BASE_URL + reverse(f"portal:{name}", args=[pk])


def _send(template: str, context: dict, recipients: list[str]) -> None:
    if not recipients:
        return

    def send():
        with translation.override(settings.LANGUAGE_CODE):
            subject = render_to_string(f"applications/email/{template}_subject.txt", context)
            body = render_to_string(f"applications/email/{template}.txt", context)
        send_mail(" ".join(subject.split()), body, None, recipients)

    transaction.on_commit(send)


def application_submitted(app) -> None:
    context = {"app": app, "url": portal_url("application", app.pk)}
    _send("submitted", context, _recipients(app.organisation_id, app.contact_email))


def decision_made(run, requisitions) -> None:
    for req in requisitions:
        context = {"run": run, "req": req, "url": portal_url("requisition", req.pk)}
        _send("decision", context, _recipients(req.organisation_id))


def repayment_claimed(claim) -> None:
    req = claim.requisition
    context = {"claim": claim, "req": req, "url": portal_url("requisition", req.pk)}
    _send("claim", context, _recipients(req.organisation_id))


def report_due(req, days_left: int) -> None:
    context = {"req": req, "days_left": days_left, "url": portal_url("requisition", req.pk)}
    _send("report_due", context, _recipients(req.organisation_id))
