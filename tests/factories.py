"""The people the tests act as, made one way everywhere."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission, User
from django.contrib.auth.tokens import default_token_generator
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

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


def owner_draft(*, call, organisation: Organisation, actor: User, **text):
    """A provider's draft in `call`, filled in for one permitted use and paid by bankgiro;
    `text` gives its intended use and contact (name, e-mail, phone)."""
    from allocations.models import PermittedUse
    from applications import services

    uses = PermittedUse.objects.filter(agreement=call.pot.grant.agreement).order_by("pk")
    draft = services.start_application(
        call=call, organisation=organisation, actor=actor, today=timezone.localdate()
    )
    services.save_draft(
        app=draft,
        units=[],  # its homes are in its imported applications already
        uses=[uses.first()],
        payment_method="bankgiro",
        payment_account="5050-1055",
        will_report=True,
        actor=actor,
        **text,
    )
    return draft


def finished_export(*, run, requested_by: User | None = None):
    """A finished export job of `run` with its CSV file, as the worker leaves one: for the
    pages that show, poll and serve a job (the worker itself is tested in
    test_reporting_jobs). Asked for by `requested_by`, or by "test" when None."""
    from allocations.models import Job, JobStatus
    from reporting.models import JobKind

    job = Job.objects.create(
        kind=JobKind.EXPORT,
        title="Export",
        grant=run.grant,
        run=run,
        status=JobStatus.DONE,
        progress=100,
        requested_by=requested_by,
        requested_by_label=requested_by.get_username() if requested_by else "test",
        finished_at=timezone.now(),
    )
    job.file.save("export.csv", ContentFile(b"organisation;amount\n"))
    return job


def played_on(
    *,
    grant,
    pot,
    call,
    owner_org: Organisation,
    owner: User,
    official: User,
    draft,
    submitted,
    achievements: str,
) -> dict:
    """A grant played on through the services until every URL of the apps names an object
    (the worlds of the permission matrix and the accessibility crawl): the grant computed
    and decided; `owner_org`'s requisition in `pot` accepted, paid, reported with a receipt,
    the report accepted and 4 000 kr claimed back; a user invited; a finished export job
    with a letter.

    Returns the URL arguments keyed as `test_permission_matrix.url_kwargs` reads them
    (`objects`, `invitation`, naming `draft` in the portal and `submitted` on the officials'
    pages), with the run and the requisition.
    """
    from allocations.models import JobPart, PermittedUse, Unit
    from allocations.services import compute_grant
    from applications import services
    from applications.invitations import invitation_tokens
    from applications.models import ClaimDisposition

    today = timezone.localdate()
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement).order_by("pk"))
    run = compute_grant(grant_id=grant.pk, actor=official)
    services.decide(
        run=run,
        decided_on=today - timedelta(days=2),  # the round before the open call
        decided_by=grant.decision_body or "Äldrenämnden",
        delegation="",
        reference=grant.reference or "ÄN 2020/55",
        requisition_by=today + timedelta(days=14),
        actor=official,
    )
    req = run.requisitions.get(organisation=owner_org, pot=pot)
    services.accept_requisition(
        req=req,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={uses[0]: req.amount},
        actor=owner,
    )
    services.record_payment(
        req=req, paid_on=today, amount=req.amount, reference="VER-1", actor=official
    )
    report = services.report_for(req)
    services.save_report(
        report=report,
        lines={uses[0]: req.amount - 10_000},
        achievements=achievements,
        benefit="Tryggare vård.",
        actor=owner,
    )
    attachment = services.add_attachment(
        report=report, name="kvitto.pdf", content=ContentFile(b"%PDF-1.7 kvitto"), actor=owner
    )
    services.submit_report(report=report, actor=owner)
    services.review_report(report=report, accept=True, comment="", actor=official)
    claim = services.claim_repayment(
        req=req,
        amount=4_000,
        due_on=today + timedelta(days=30),
        disposition=ClaimDisposition.REDISTRIBUTE,
        today=today,
        actor=official,
    )
    invited = User.objects.create(username="inbjuden@example.invalid", email="x@example.invalid")
    invited.set_unusable_password()
    invited.save()
    job = finished_export(run=run)
    part = JobPart.objects.create(job=job, position=1, label="letter", done=True)
    part.file.save("letter.pdf", ContentFile(b"%PDF-1.7 letter"))

    objects = {
        "slug": grant.slug,
        "org_slug": owner_org.slug,
        "run_id": run.pk,
        "fmt": "xlsx",
        **{f"allocations:{n}": job.pk for n in ("job", "job-status", "download", "job-again")},
        "allocations:download-part": job.pk,
        "call": call.pk,
        "apply": call.pk,
        "application": draft.pk,
        "application_edit": draft.pk,
        "application_review": draft.pk,
        "application_withdraw": draft.pk,
        "requisition": req.pk,
        "report": req.pk,
        "unit_edit": Unit.objects.filter(organisation=owner_org).order_by("pk").first().pk,
        "grant": grant.pk,
        "compute": grant.pk,
        "facts": grant.pk,
        "facts_import": grant.pk,
        "call_close": call.pk,
        "pot_review": pot.pk,
        "redistribute": pot.pk,
        "redistribute_confirm": pot.pk,
        "bulk_review": pot.pk,
        "office:application": submitted.pk,
        "review_application": submitted.pk,
        "confirm_location": submitted.pk,
        "confirm_location:unit_pk": submitted.units.first().pk,
        "run": run.pk,
        "run_units": run.pk,
        "decide": run.pk,
        "office:requisition": req.pk,
        "record_payment": req.pk,
        "answer_requisition": req.pk,
        "invite_recipient_user": req.pk,
        "claim": req.pk,
        "claim_repaid": claim.pk,
        "claim_repayment": claim.pk,
        "claim_letter": claim.pk,
        "claim_account": grant.pk,
        "attachment_add": req.pk,
        "attachment": attachment.pk,
        "attachment_remove": attachment.pk,
        "office:report": report.pk,
        "review_report": report.pk,
    }
    invitation = {
        "uidb64": urlsafe_base64_encode(force_bytes(invited.pk)),
        "token": invitation_tokens.make_token(invited),
    }
    # A password reset's link has a token of its own, not an invitation's.
    objects["password_reset_confirm"] = {
        **invitation,
        "token": default_token_generator.make_token(invited),
    }
    return {"objects": objects, "invitation": invitation, "run": run, "requisition": req}
