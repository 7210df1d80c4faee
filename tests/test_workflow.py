"""Every state change of the workflow, as the service the pages call."""

from datetime import date, timedelta

import pytest
from django.core import mail

from allocations.models import AuditEntry, GrantUnit, Organisation, PermittedUse, Pot, Unit
from allocations.services import compute_grant
from applications import permissions, services
from applications.models import (
    Application,
    ApplicationStatus,
    ClaimDisposition,
    ClaimReason,
    Notice,
    NoticeKind,
    NoticeStatus,
    ReportStatus,
    RequisitionStatus,
    mod10_ok,
    payment_account_problem,
)
from applications.reminders import send_report_reminders
from applications.services import UnitChoice, WorkflowError

from .conftest import SEED_000, SEED_002, fit_agreement
from .factories import provider_user

pytestmark = pytest.mark.django_db

TODAY = date(2020, 3, 2)


@pytest.fixture(autouse=True)
def english():
    """These tests read the services' messages in English (the msgids)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def seed000(import_seed, official):
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=date(2021, 1, 31))  # the flow below runs in 2020
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    # The portal's flow: the imported applications stay; a new provider applies through a call.
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan särskilda boenden",
        opens_on=date(2020, 3, 1),
        closes_on=date(2020, 3, 31),
        actor=official,
    )
    return grant, pot, call


def new_unit(grant, org, slug, places=50) -> GrantUnit:
    unit = Unit.objects.create(
        slug=slug, name=slug, type="care_home", organisation=org, places=places
    )
    return GrantUnit.objects.create(
        grant=grant, unit=unit, type="care_home", organisation=org, places=places
    )


def fill_in(app, units, actor, **overrides):
    uses = list(PermittedUse.objects.filter(agreement=app.grant.agreement)[:2])
    fields = {
        "units": units,
        "uses": uses,
        "intended_use": "Kompetensutveckling för undersköterskor.",
        "contact_name": "Anna Andersson",
        "contact_email": "anna@example.invalid",
        "contact_phone": "08-123 456",
        "payment_method": "bankgiro",
        "payment_account": "5050-1055",
        "will_report": True,
        "declared": True,
        **overrides,
    }
    return services.save_draft(app=app, actor=actor, **fields)


def test_bankgiro_and_plusgiro_check_digits():
    assert mod10_ok("50501055")
    assert payment_account_problem("bankgiro", "5050-1055") is None
    assert payment_account_problem("bankgiro", "5050-1056") is not None
    assert payment_account_problem("plusgiro", "90 20 01-1") is not None  # spaces not allowed
    assert payment_account_problem("plusgiro", "902001-7") is None
    assert payment_account_problem("swish", "123") is not None


def test_the_whole_flow_for_one_provider(seed000, official):
    grant, pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider_user(org)
    assert permissions.can_apply(user, call, org, TODAY)
    rate_before, places_before = services.indicative_rate(call)

    # Application: a unit that fails the rule is shown with its reason before sending.
    app = services.start_application(call=call, organisation=org, actor=user, today=TODAY)
    old = Application.objects.get(grant=grant, slug="ans-011")  # vob-071, outside the city
    services.withdraw_application(app=old, actor=user)
    far = GrantUnit.objects.get(grant=grant, unit__slug="vob-071")
    fill_in(app, [UnitChoice(far, places=far.places)], user)
    assert services.eligibility_preview(app) == {
        "vob-071": (
            "any",
            {
                "conditions": [
                    {"field": "in_city", "op": "eq", "value": True},
                    {"field": "city_placed_share", "op": "gte", "value": "0.80"},
                ]
            },
        )
    }
    # A new care home of the provider's, with its places corrected from 50 to 52.
    unit = Unit.objects.create(
        slug="vob-900", name="Nya hemmet", type="care_home", organisation=org, places=50
    )
    new = GrantUnit.objects.create(
        grant=grant, unit=unit, type="care_home", organisation=org, places=50
    )
    fill_in(app, [UnitChoice(new, places=52)], user)
    assert services.eligibility_preview(app) == {"vob-900": None}
    services.submit_application(app=app, actor=user, today=TODAY)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SUBMITTED
    assert len(mail.outbox) == 0  # sent after commit; the test transaction never commits
    assert Notice.objects.get(kind=NoticeKind.SUBMITTED).status == NoticeStatus.QUEUED
    with pytest.raises(WorkflowError, match="only withdrawn"):
        fill_in(app, [UnitChoice(new)], user)
    rate_after, places_after = services.indicative_rate(call)
    assert places_after == places_before + 52
    assert rate_after < rate_before

    # Review and decision.
    services.review_application(app=app, approve=True, actor=official)
    new.refresh_from_db()
    assert new.places == 50  # recommending does not verify what the provider stated
    link = app.applicationunit_set.get(grant_unit=new)
    services.verify_facts(
        grant=grant, verifications=[services.Verification(link.pk)], actor=official
    )
    new.refresh_from_db()
    assert new.places == 52  # the verified figure is what the computation uses
    assert AuditEntry.objects.filter(action="grantunit.facts_verified").exists()
    run = compute_grant(grant_id=grant.pk, actor=official)
    services.decide(
        run=run,
        decided_on=date(2020, 4, 1),
        decided_by="Förvaltningschef",
        delegation="Äldrenämndens delegationsordning",
        reference="ÄN 2020/55",
        requisition_by=date(2020, 5, 1),
        actor=official,
    )
    req = run.requisitions.get(organisation=org, pot=pot)
    assert req.amount == sum(r.amount for r in run.rows.filter(organisation=org, pot=pot))
    assert sum(r.amount for r in run.requisitions.all()) == 8_209_071
    with pytest.raises(services.WorkflowError):
        services.decide(
            run=run,
            decided_on=date(2020, 4, 2),
            decided_by="x",
            delegation="",
            reference="",
            requisition_by=None,
            actor=official,
        )

    # Requisition: amounts by heading must add up.
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement)[:2])
    with pytest.raises(WorkflowError, match="must add up to"):
        services.accept_requisition(
            req=req,
            payment_method="bankgiro",
            payment_account="5050-1055",
            lines={uses[0]: 1},
            actor=user,
        )
    half = req.amount // 2
    services.accept_requisition(
        req=req,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={uses[0]: half, uses[1]: req.amount - half},
        actor=user,
    )
    req.refresh_from_db()
    assert req.status == RequisitionStatus.ACCEPTED

    # Payment: never more than requisitioned.
    with pytest.raises(WorkflowError, match="is unpaid"):
        services.record_payment(
            req=req, paid_on=date(2020, 5, 10), amount=req.amount + 1, reference="X", actor=official
        )
    services.record_payment(
        req=req, paid_on=date(2020, 5, 10), amount=req.amount, reference="VER-1", actor=official
    )

    # Usage report: unspent is computed.
    report = services.report_for(req)
    services.save_report(
        report=report,
        lines={uses[0]: 30_000},
        achievements="Utbildning",
        benefit="Tryggare vård",
        actor=user,
    )
    assert services.unspent(report) == req.amount - 30_000
    services.submit_report(report=report, actor=user)
    with pytest.raises(WorkflowError, match="complete"):
        services.review_report(report=report, accept=False, comment="", actor=official)
    services.review_report(report=report, accept=True, comment="", actor=official)
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED

    # Repayment of the unspent money, then redistribution on the same pot.
    reason, most = services.claimable(req, date(2021, 2, 1))
    assert (reason, most) == (ClaimReason.UNSPENT, req.amount - 30_000)
    claim = services.claim_repayment(
        req=req,
        amount=most,
        due_on=date(2021, 3, 31),
        disposition=ClaimDisposition.REDISTRIBUTE,
        today=date(2021, 2, 1),
        actor=official,
    )
    assert list(services.waiting_claims(pot)) == []  # not repaid yet
    services.mark_claim_repaid(claim=claim, paid_on=date(2021, 3, 1), actor=official)
    assert list(services.waiting_claims(pot)) == [claim]
    again = services.redistribute(pot=pot, actor=official)
    assert again.redistributes_id == pot.pk
    assert again.allocated() == most
    claim.refresh_from_db()
    assert claim.redistribution_id == again.pk
    assert list(services.waiting_claims(pot)) == []
    # The original decision is untouched and both rounds stay readable.
    run.refresh_from_db()
    assert run.is_decided
    assert run.allocated() == 8_209_071
    history = AuditEntry.objects.filter(
        object_type="applications.application", object_id=str(app.pk)
    )
    assert [e.action for e in history.order_by("at", "id")] == [
        "application.started",
        "application.facts_stated",
        "application.facts_stated",
        "application.submitted",
        "application.reviewed",
        "application.facts_verified",
    ]


def test_submit_refuses_an_incomplete_application_and_a_closed_call(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="vardhem-syd-ab")
    user = provider_user(org)
    app = services.start_application(call=call, organisation=org, actor=user, today=TODAY)
    with pytest.raises(WorkflowError, match="Choose at least one unit"):
        services.submit_application(app=app, actor=user, today=TODAY)
    unit = new_unit(grant, org, "vob-901")
    fill_in(app, [UnitChoice(unit)], user, payment_account="5050-1056", will_report=False)
    with pytest.raises(WorkflowError) as info:
        services.submit_application(app=app, actor=user, today=TODAY)
    assert "check digit" in str(info.value)
    assert "report back" in str(info.value)
    fill_in(app, [UnitChoice(unit)], user)
    with pytest.raises(WorkflowError, match="closed"):
        services.submit_application(app=app, actor=user, today=date(2020, 4, 1))
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DRAFT


def test_another_organisations_unit_is_refused(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="vardhem-syd-ab")
    user = provider_user(org)
    app = services.start_application(call=call, organisation=org, actor=user, today=TODAY)
    foreign = GrantUnit.objects.exclude(organisation=org).filter(grant=grant).first()
    with pytest.raises(WorkflowError, match="another organisation"):
        fill_in(app, [UnitChoice(foreign)], user)
    assert not app.units.exists()


def test_rejection_needs_a_reason_the_provider_sees(seed000, official):
    grant, _pot, _call = seed000
    app = Application.objects.get(grant=grant, slug="ans-021")
    with pytest.raises(WorkflowError, match="reason"):
        services.review_application(app=app, approve=False, actor=official)
    services.review_application(app=app, approve=False, reason="Under 80 %", actor=official)
    app.refresh_from_db()
    assert (app.status, app.status_reason) == (ApplicationStatus.REJECTED, "Under 80 %")


def test_declined_and_unrequisitioned_money_can_be_taken_back(import_seed, official):
    grant = import_seed(SEED_002)
    run = compute_grant(grant_id=grant.pk)
    services.decide(
        run=run,
        decided_on=date(2019, 11, 1),
        decided_by="Storsthlm",
        delegation="",
        reference="",
        requisition_by=date(2019, 12, 31),
        actor=official,
    )
    danderyd = run.requisitions.get(organisation__slug="danderyd-kommun")
    user = provider_user(danderyd.organisation)
    services.decline_requisition(req=danderyd, reason="Vi avstår", actor=user)
    danderyd.refresh_from_db()
    assert services.claimable(danderyd, date(2020, 1, 5)) == (ClaimReason.DECLINED, 283_150)
    claim = services.claim_repayment(
        req=danderyd,
        amount=283_150,
        due_on=None,
        disposition=ClaimDisposition.RETURN_TO_STATE,
        today=date(2020, 1, 5),
        actor=official,
    )
    assert claim.paid_on == date(2020, 1, 5)
    assert services.claimable(danderyd, date(2020, 1, 5)) == (ClaimReason.DECLINED, 0)
    solna = run.requisitions.get(organisation__slug="solna-stad")
    assert services.claimable(solna, date(2019, 12, 1)) is None  # not yet due
    assert services.claimable(solna, date(2020, 1, 2)) == (ClaimReason.UNREQUISITIONED, 690_663)
    with pytest.raises(WorkflowError, match="At most"):
        services.claim_repayment(
            req=solna,
            amount=700_000,
            due_on=None,
            disposition="return",
            today=date(2020, 1, 2),
            actor=official,
        )


def test_report_reminders_go_once_before_report_by(import_seed, official):
    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    services.decide(
        run=run,
        decided_on=date(2019, 12, 1),
        decided_by="x",
        delegation="",
        reference="",
        requisition_by=None,
        actor=official,
    )
    req = run.requisitions.get(organisation__slug="socialforvaltningen")
    provider_user(req.organisation, "social")
    use = PermittedUse.objects.filter(agreement=grant.agreement).first()
    services.accept_requisition(
        req=req,
        payment_method="plusgiro",
        payment_account="902001-7",
        lines={use: req.amount},
        actor=official,
    )
    report_by = grant.agreement.report_by  # 2020-01-31
    assert send_report_reminders(today=report_by - timedelta(days=30)) == 0
    assert send_report_reminders(today=report_by - timedelta(days=10)) == 1
    assert send_report_reminders(today=report_by - timedelta(days=9)) == 0


def test_a_decision_out_of_order_with_its_dates_changes_nothing(seed000, official):
    grant, _pot, call = seed000  # the call runs in March 2020; report by 2021-01-31
    fit_agreement(grant, spend_by=date(2020, 12, 31), repay_by=date(2021, 3, 31))
    run = compute_grant(grant_id=grant.pk, actor=official)
    audited = AuditEntry.objects.count()

    def decide(decided_on, requisition_by=None):
        with pytest.raises(WorkflowError) as refused:
            services.decide(
                run=run,
                decided_on=decided_on,
                decided_by="Förvaltningschef",
                delegation="",
                reference="",
                requisition_by=requisition_by,
                actor=official,
            )
        return [field for field, _message in refused.value.problems], str(refused.value)

    fields, message = decide(date(2020, 3, 30))
    assert fields == ["decided_on"]
    assert f"before the call “{call.title}” closes (2020-03-31)" in message
    fields, message = decide(date(2021, 3, 31))
    assert fields == ["decided_on", "decided_on"]
    assert "report-by date (2021-01-31)" in message
    assert "repay-by date (2021-03-31)" in message
    assert decide(date(2020, 4, 1), date(2020, 3, 31))[0] == ["requisition_by"]
    assert decide(date(2020, 4, 1), date(2021, 1, 31))[0] == ["requisition_by"]
    run.refresh_from_db()
    assert not run.is_decided
    assert not run.requisitions.exists()
    assert AuditEntry.objects.count() == audited
    assert (
        services.decision_date_problems(
            run=run, decided_on=date(2020, 3, 31), requisition_by=date(2021, 1, 30)
        )
        == []
    )


def test_permission_rules_say_why(seed000, official):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    stranger = provider_user(Organisation.objects.get(slug="vardhem-syd-ab"), "stranger")
    decision = permissions.can_apply(stranger, call, org, TODAY)
    assert not decision
    assert decision.reason
    member = provider_user(org)
    assert not permissions.can_apply(member, call, org, date(2020, 4, 1))
    assert permissions.can_handle_cases(official)
    assert not permissions.can_handle_cases(member)
    app = Application.objects.get(grant=grant, slug="ans-010")
    from django.http import Http404

    with pytest.raises(Http404):
        permissions.get_application_for(stranger, app.pk)
    with pytest.raises(Http404):
        permissions.get_application_for(member, "not-a-number")
    assert permissions.get_application_for(member, app.pk) == app
    assert permissions.get_application_for(official, app.pk) == app


def test_a_unit_already_applied_for_cannot_be_applied_for_again(seed000):
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider_user(org)
    app = services.start_application(call=call, organisation=org, actor=user, today=TODAY)
    taken = GrantUnit.objects.get(grant=grant, unit__slug="vob-013")  # in approved ans-010
    with pytest.raises(WorkflowError, match="Already applied for"):
        fill_in(app, [UnitChoice(taken)], user)


def test_one_unit_is_sent_in_one_application_to_a_pot_whatever_the_call(seed000, official):
    grant, pot, call = seed000
    second = services.open_call(
        pot=pot,
        title="Andra omgången",
        opens_on=date(2020, 3, 1),
        closes_on=date(2020, 3, 31),
        actor=official,
    )
    org = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider_user(org)
    gu = new_unit(grant, org, "vob-950")
    first_app = services.start_application(call=call, organisation=org, actor=user, today=TODAY)
    second_app = services.start_application(call=second, organisation=org, actor=user, today=TODAY)
    assert first_app.pk != second_app.pk
    fill_in(first_app, [UnitChoice(gu)], user)
    fill_in(second_app, [UnitChoice(gu)], user)  # both drafts may name it
    services.submit_application(app=first_app, actor=user, today=TODAY)
    with pytest.raises(WorkflowError, match="Already applied for in another application: vob-950"):
        services.submit_application(app=second_app, actor=user, today=TODAY)
    second_app.refresh_from_db()
    assert second_app.status == ApplicationStatus.DRAFT
