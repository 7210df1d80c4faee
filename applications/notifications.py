"""E-mail to the people a workflow step concerns. Sent after the transaction commits."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
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
    _send("submitted", {"app": app}, _recipients(app.organisation_id, app.contact_email))


def decision_made(run, requisitions) -> None:
    for req in requisitions:
        _send("decision", {"run": run, "req": req}, _recipients(req.organisation_id))


def repayment_claimed(claim) -> None:
    req = claim.requisition
    _send("claim", {"claim": claim, "req": req}, _recipients(req.organisation_id))


def report_due(req, days_left: int) -> None:
    _send("report_due", {"req": req, "days_left": days_left}, _recipients(req.organisation_id))
