"""One door per change: the officials' page, the admin and the command give the same outcome.

Each change of state is one service; these tests take it through every door that offers it
and read back the same records, audit entries, requisitions and notices.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from allocations.models import (
    AllocationRun,
    AuditEntry,
    GrantUnit,
    Organisation,
    PermittedUse,
    Pot,
)
from allocations.services import compute_grant
from applications import services, units
from applications.models import Application, ApplicationStatus, Call

from .conftest import SEED_000, fit_agreement
from .factories import provider_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def import_seed(import_seed):
    """Seed 000 with an agreement whose dates fit the spring 2020 these tests play."""

    def load(slug):
        grant = import_seed(slug)
        fit_agreement(
            grant,
            spend_by=date(2020, 12, 31),
            report_by=date(2021, 1, 31),
            repay_by=date(2021, 3, 31),
        )
        return grant

    return load


DECISION = {
    "decided_on": "2020-02-20",
    "decided_by": "Äldrenämnden",
    "delegation": "Förvaltningschef",
    "reference": "ÄN 2020/42",
    "requisition_by": "2020-03-31",
}


def decide_on_the_page(run, official, admin_client):
    url = reverse("office:decide", args=[run.pk])
    return signed_in(official).post(url, {**DECISION, "confirmed": "yes"})


def decide_in_the_admin(run, official, admin_client):
    url = reverse("admin:allocations_allocationrun_decide", args=[run.pk])
    return admin_client.post(url, DECISION)


def decide_with_the_command(run, official, admin_client):
    call_command(
        "decide_run",
        run.grant.slug,
        "--date",
        DECISION["decided_on"],
        "--by",
        DECISION["decided_by"],
        "--delegation",
        DECISION["delegation"],
        "--reference",
        DECISION["reference"],
        "--requisition-by",
        DECISION["requisition_by"],
    )


@pytest.mark.parametrize(
    "door",
    [decide_on_the_page, decide_in_the_admin, decide_with_the_command],
    ids=lambda d: d.__name__,
)
def test_a_decision_opens_the_same_requisitions_and_notices_through_every_door(
    door, import_seed, official, admin_client, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    recipient = run.rows.filter(unit__isnull=False).select_related("organisation").first()
    provider_user(recipient.organisation, "mottagare")

    with django_capture_on_commit_callbacks(execute=True):
        door(run, official, admin_client)

    run = AllocationRun.objects.get(pk=run.pk)
    assert (run.decided_on, run.decided_by, run.delegation, run.decision_reference) == (
        date(2020, 2, 20),
        "Äldrenämnden",
        "Förvaltningschef",
        "ÄN 2020/42",
    )
    given = {
        (t["organisation_id"], t["pot_id"]): t["total"]
        for t in run.rows.values("organisation_id", "pot_id").annotate(total=Sum("amount"))
        if t["total"] > 0
    }
    opened = {(r.organisation_id, r.pot_id): r.amount for r in run.requisitions.all()}
    assert opened == given
    assert set(run.requisitions.values_list("due_on", flat=True)) == {date(2020, 3, 31)}
    decided = AuditEntry.objects.filter(action="run.decided", object_id=str(run.pk))
    assert decided.count() == 1
    to_recipient = run.requisitions.filter(organisation=recipient.organisation).count()
    assert to_recipient >= 1
    assert [m.to for m in mail.outbox] == [["mottagare@example.invalid"]] * to_recipient


@pytest.mark.parametrize("door", ["page", "admin"])
def test_a_second_decision_is_refused_the_same_way_through_every_door(
    door, import_seed, official, admin_client
):
    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    decide_on_the_page(run, official, admin_client)
    count = run.requisitions.count()

    again = {**DECISION, "decided_on": "2020-04-01", "requisition_by": "2020-04-30"}
    if door == "page":
        response = signed_in(official).post(reverse("office:decide", args=[run.pk]), again)
    else:
        url = reverse("admin:allocations_allocationrun_decide", args=[run.pk])
        response = admin_client.post(url, again, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "was decided on 2020-02-20" in str(response.context["form"].non_field_errors())
    assert run.requisitions.count() == count
    assert AuditEntry.objects.filter(action="run.decided").count() == 1


def test_the_command_refuses_a_second_decision_in_words(import_seed, official, admin_client):
    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    decide_with_the_command(run, official, admin_client)

    with pytest.raises(Exception, match="fattades 2020-02-20"):
        decide_with_the_command(run, official, admin_client)
    assert AuditEntry.objects.filter(action="run.decided").count() == 1


# ---------------------------------------------------------------- review


def reject_on_the_page(app, official, admin_client):
    url = reverse("office:review_application", args=[app.pk])
    return signed_in(official).post(url, {"decision": "reject", "reason": "Late"})


def reject_in_the_admin(app, official, admin_client):
    url = reverse("admin:applications_application_changelist")
    return admin_client.post(
        url, {"action": "reject_applications", "_selected_action": [app.pk], "reason": "Late"}
    )


@pytest.mark.parametrize(
    "door", [reject_on_the_page, reject_in_the_admin], ids=lambda d: d.__name__
)
def test_a_rejection_is_the_same_review_through_every_door(
    door, import_seed, official, admin_client
):
    grant = import_seed(SEED_000)
    app = Application.objects.filter(grant=grant, status=ApplicationStatus.APPROVED).first()

    response = door(app, official, admin_client)

    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.status, app.status_reason) == (ApplicationStatus.REJECTED, "Late")
    assert app.reviewed_at is not None
    entry = AuditEntry.objects.get(action="application.reviewed", object_id=str(app.pk))
    assert (entry.before["status"], entry.after["status"]) == ("approved", "rejected")
    assert entry.after["reason"] == "Late"


def approve_on_the_page(app, official, admin_client):
    url = reverse("office:review_application", args=[app.pk])
    return signed_in(official).post(url, {"decision": "approve", "reason": ""})


def approve_in_the_admin(app, official, admin_client):
    url = reverse("admin:applications_application_changelist")
    return admin_client.post(url, {"action": "approve_applications", "_selected_action": [app.pk]})


@pytest.mark.parametrize(
    "door", [approve_on_the_page, approve_in_the_admin], ids=lambda d: d.__name__
)
def test_an_approval_is_the_same_review_through_every_door(
    door, import_seed, official, admin_client
):
    grant = import_seed(SEED_000)
    app = Application.objects.filter(grant=grant, status=ApplicationStatus.SUBMITTED).first()

    response = door(app, official, admin_client)

    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPROVED
    assert app.reviewed_at is not None
    entry = AuditEntry.objects.get(action="application.reviewed", object_id=str(app.pk))
    assert (entry.before["status"], entry.after["status"]) == ("submitted", "approved")


# ---------------------------------------------------------------- calls

CALL = {"title": "Ansökan 2020", "opens_on": "2020-01-07", "closes_on": "2020-01-31"}


def open_on_the_page(pot, official, admin_client):
    return signed_in(official).post(reverse("office:call_new"), {**CALL, "pot": pot.pk})


def open_in_the_admin(pot, official, admin_client):
    return admin_client.post(
        reverse("admin:applications_call_add"), {**CALL, "pot": pot.pk, "instructions": ""}
    )


@pytest.mark.parametrize("door", [open_on_the_page, open_in_the_admin], ids=lambda d: d.__name__)
def test_a_call_is_opened_the_same_way_through_every_door(
    door, import_seed, official, admin_client
):
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")

    response = door(pot, official, admin_client)

    assert response.status_code == 302
    call = Call.objects.get(pot=pot)
    assert (call.title, call.opens_on, call.closes_on) == (
        "Ansökan 2020",
        date(2020, 1, 7),
        date(2020, 1, 31),
    )
    assert call.created_by is not None
    entry = AuditEntry.objects.get(action="call.opened", object_id=str(call.pk))
    assert entry.after == {"opens_on": "2020-01-07", "closes_on": "2020-01-31"}


def test_the_admin_closes_a_call_through_the_service_and_never_edits_its_dates(
    import_seed, official, admin_client
):
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    open_on_the_page(pot, official, admin_client)
    call = Call.objects.get(pot=pot)
    call.closes_on = date(2999, 12, 31)  # still open: the admin action closes it today
    call.save()

    response = admin_client.post(
        reverse("admin:applications_call_changelist"),
        {"action": "close_calls", "_selected_action": [call.pk]},
    )

    assert response.status_code == 302
    call.refresh_from_db()
    assert call.closes_on <= date.today()
    assert AuditEntry.objects.filter(action="call.closed", object_id=str(call.pk)).count() == 1
    change = admin_client.get(reverse("admin:applications_call_change", args=[call.pk]))
    assert "closes_on" not in change.context["adminform"].form.fields


# ---------------------------------------------------------------- usage reports and claims


@pytest.fixture
def reported(django_db_blocker, official):
    """Seed 003 decided; one recipient requisitioned, was paid, and reported 100 000 kr used."""
    from applications import services
    from applications.grantfiles import import_grant

    from .conftest import SEED_003, seed_data
    from .test_reporting_workflow import accept, decide, report

    grant = import_grant(seed_data(SEED_003), review=True)
    run = decide(compute_grant(grant_id=grant.pk), official)
    req = run.requisitions.order_by("-amount", "pk").first()
    accept(req, official)
    services.record_payment(
        req=req, paid_on=date(2023, 7, 1), amount=req.amount, reference="V1", actor=official
    )
    return req, report(req, 100_000, official)


def accept_report_on_the_page(report, official, admin_client):
    url = reverse("office:review_report", args=[report.pk])
    return signed_in(official).post(url, {"decision": "accept", "comment": ""})


def accept_report_in_the_admin(report, official, admin_client):
    url = reverse("admin:applications_usagereport_changelist")
    return admin_client.post(url, {"action": "accept_reports", "_selected_action": [report.pk]})


@pytest.mark.parametrize(
    "door", [accept_report_on_the_page, accept_report_in_the_admin], ids=lambda d: d.__name__
)
def test_a_usage_report_is_accepted_the_same_way_through_every_door(
    door, reported, official, admin_client
):
    _req, report = reported

    response = door(report, official, admin_client)

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "accepted"
    assert report.reviewed_at is not None
    entries = AuditEntry.objects.filter(action="report.reviewed", object_id=str(report.pk))
    assert [e.after for e in entries] == [{"status": "accepted", "comment": ""}]


def repaid_on_the_page(claim, official, admin_client):
    url = reverse("office:claim_repaid", args=[claim.pk])
    return signed_in(official).post(url, {"paid_on": date.today().isoformat()})


def repaid_in_the_admin(claim, official, admin_client):
    url = reverse("admin:applications_repaymentclaim_changelist")
    return admin_client.post(url, {"action": "mark_repaid_today", "_selected_action": [claim.pk]})


@pytest.mark.parametrize(
    "door", [repaid_on_the_page, repaid_in_the_admin], ids=lambda d: d.__name__
)
def test_a_repayment_is_registered_the_same_way_through_every_door(
    door, reported, official, admin_client
):
    from applications import services

    req, report = reported
    services.review_report(report=report, accept=True, comment="", actor=official)
    claim = services.claim_repayment(
        req=req,
        amount=req.amount - 100_000,
        due_on=date(2024, 3, 31),
        disposition="redistribute",
        today=date(2024, 2, 1),
        actor=official,
    )

    response = door(claim, official, admin_client)

    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.paid_on == date.today()
    entries = AuditEntry.objects.filter(action="claim.repaid", object_id=str(claim.pk))
    assert entries.count() == 1
    repayment = claim.repayments.get()  # all that was left, in one repayment
    assert entries.get().after == {
        "paid_on": date.today().isoformat(),
        "amount": claim.amount,
        "repaid": claim.amount,
        "left": 0,
        "settled": True,
        "repayment": repayment.pk,
    }


# ---------------------------------------------------------------- a unit's stated facts


def stated_new_home(grant, official):
    """Omsorg Norr AB applies, today, with a care home new to the grant, stating that it lies
    in the city with 90 % of its residents placed by the city, 42 places."""
    today = timezone.localdate()
    fit_agreement(
        grant,
        spend_by=today + timedelta(days=300),
        report_by=today + timedelta(days=365),
        repay_by=today + timedelta(days=420),
    )
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan",
        opens_on=today - timedelta(days=1),
        closes_on=today + timedelta(days=30),
        actor=official,
    )
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider_user(org, "norr")
    home = units.create_unit(
        organisation=org, actor=user, name="Solgläntan", type="care_home", places=40, customers=None
    )
    app = services.start_application(call=call, organisation=org, actor=user, today=today)
    units.save_draft_with_new_units(
        app=app,
        units=[],
        new_units=[
            units.NewUnitChoice(home, places=42, in_city=True, city_placed_share=Decimal("0.9"))
        ],
        declared=True,
        actor=user,
        uses=list(PermittedUse.objects.filter(agreement=grant.agreement)[:1]),
        intended_use="Kompetensutveckling.",
        contact_name="Anna",
        contact_email="anna@example.invalid",
        contact_phone="",
        payment_method="bankgiro",
        payment_account="5050-1055",
        will_report=True,
    )
    services.submit_application(app=app, actor=user, today=today)
    return app, GrantUnit.objects.get(grant=grant, unit=home)


def verify_on_the_list(app, gu, official, tmp_path):
    link = app.applicationunit_set.get(grant_unit=gu)
    url = reverse("office:facts", args=[app.grant_id])
    return signed_in(official).post(url, {"links": [link.pk]})


def confirm_on_the_application_page(app, gu, official, tmp_path):
    url = reverse("office:confirm_location", args=[app.pk, gu.pk])
    prefix = f"unit-{gu.pk}-"
    return signed_in(official).post(
        url, {f"{prefix}in_city": "on", f"{prefix}city_placed_percent": "90"}
    )


def import_on_the_page(app, gu, official, tmp_path):
    content = f"id;share;date\n{gu.unit.slug};90 %;2020-03-01\n".encode()
    url = reverse("office:facts_import", args=[app.grant_id])
    return signed_in(official).post(url, {"file": SimpleUploadedFile("reg.csv", content)})


def import_with_the_command(app, gu, official, tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text(f"id,share,date\n{gu.unit.slug},0.9,2020-03-01\n")
    call_command("import_placements", app.grant.slug, str(path), stdout=io.StringIO())


@pytest.mark.parametrize(
    "door",
    [
        verify_on_the_list,
        confirm_on_the_application_page,
        import_on_the_page,
        import_with_the_command,
    ],
    ids=lambda d: d.__name__,
)
def test_a_units_stated_facts_are_verified_the_same_way_through_every_door(
    door, import_seed, official, tmp_path
):
    grant = import_seed(SEED_000)
    app, gu = stated_new_home(grant, official)
    assert (gu.in_city, gu.city_placed_share, gu.places) == (False, Decimal(0), 40)

    door(app, gu, official, tmp_path)

    gu.refresh_from_db()
    assert (gu.in_city, gu.city_placed_share, gu.places) == (True, Decimal("0.9"), 42)
    link = app.applicationunit_set.get(grant_unit=gu)
    assert link.verified_at is not None
    assert link.eligible is True
    entry = AuditEntry.objects.get(action="grantunit.facts_verified", object_id=str(gu.pk))
    assert entry.before == {
        "in_city": False,
        "city_placed_share": "0.0000",
        "places": 40,
        "customers": None,
    }
    assert (entry.after["in_city"], entry.after["places"], entry.after["corrected"]) == (
        True,
        42,
        [],
    )
    history = AuditEntry.objects.get(action="application.facts_verified", object_id=str(app.pk))
    assert history.after["units"] == ["Solgläntan"]
    source = "placements" if door.__name__.startswith("import") else "official"
    assert entry.after["source"] == history.after["source"] == source
    # Nothing changes a grant unit's figures beside the verification.
    assert not AuditEntry.objects.filter(action="grantunit.changed").exists()
