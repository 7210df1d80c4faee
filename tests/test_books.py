"""`check_books`: the books balance through the workflow, and every breach is named.

The breaches are made the way a careless admin with database access would:
queryset updates and raw SQL behind the services' back, around the triggers
that freeze a decided run where need be.
"""

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from allocations.models import (
    AllocationRow,
    AuditEntry,
    Grant,
    Ineligibility,
    Pot,
    PotResult,
)
from allocations.services import compute_grant
from applications import books, services
from applications.models import (
    ApplicationStatus,
    Payment,
    RepaymentClaim,
    Requisition,
    RequisitionStatus,
    UsageLine,
)
from reporting import dashboard
from reporting import services as reporting_services

from .conftest import SEED_000, SEED_003, SEEDS
from .test_reporting_workflow import decide, english, followed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def check_books(*args) -> str:
    """What `check_books` says when the books balance."""
    out = io.StringIO()
    call_command("check_books", *args, stdout=out)
    return out.getvalue()


def breached(grant: Grant, rule: str) -> str:
    """`check_books` on the grant fails; its output, after checking `rule` is named."""
    out = io.StringIO()
    with pytest.raises(CommandError, match="do not balance"):
        call_command("check_books", grant.slug, stdout=out)
    found = books.check_grant(grant)
    assert rule in {b.rule for b in found}, found
    # The dashboard shows the same breaches, in the same words, once checked (these tests break
    # the books past the services, which leaves no audit entry for the page to notice).
    reporting_services.check_books(grant=grant)
    assert dashboard.budget_table(grant)["problems"] == [str(b) for b in found]
    text = out.getvalue()
    assert all(line.startswith(f"{grant.slug}: ") for line in text.splitlines())
    return text


# ---------------------------------------------------------------- the books balance


def test_the_seeds_decided_through_the_workflow_balance(import_seed, official):
    for slug in SEEDS:
        grant = import_seed(slug, review=True)
        decide(compute_grant(grant_id=grant.pk), official)
        assert Requisition.objects.filter(run__grant=grant).exists()
    assert "The books balance (4 grants checked)." in check_books()
    assert "The books balance (1 grant checked)." in check_books(SEED_000)


def test_the_demo_balances(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=io.StringIO())
    assert "The books balance (4 grants checked)." in check_books()


def test_the_whole_way_through_the_workflow_balances(followed):  # noqa: F811
    assert books.check_grant(followed["grant"]) == []
    assert "The books balance" in check_books(followed["grant"].slug)


def test_an_unknown_grant_is_said_so():
    with pytest.raises(CommandError, match="nope"):
        call_command("check_books", "nope", stdout=io.StringIO())


# ---------------------------------------------------------------- the ledger's breaches


@pytest.fixture
def computed(import_seed):
    grant = import_seed(SEED_003, review=True)
    return grant, compute_grant(grant_id=grant.pk)


@pytest.mark.breaks_books
def test_a_parent_whose_parts_do_not_add_up(computed):
    grant, run = computed
    PotResult.objects.filter(run=run, pot__slug="grundstod-sdf").update(allocated=5_400_000)
    text = breached(grant, "pots")
    assert "Run 1, Utveckling av den nära vården: it allocated 36 310 636 kr" in text
    assert "but its parts add up to 36 210 636 kr" in text
    assert "its rows add up to 5 500 000 kr, the pot allocated 5 400 000 kr" in text


@pytest.mark.breaks_books
def test_a_configured_pot_whose_parts_exceed_it(computed):
    grant, _run = computed
    Pot.objects.filter(grant=grant, slug="ssk-lss").update(amount=9_000_000)
    text = breached(grant, "pots")
    assert "add up to 13 900 000 kr, 8 700 000 kr more than its 5 200 000 kr" in text


@pytest.mark.breaks_books
def test_a_row_changed_in_a_computed_run(computed):
    grant, run = computed
    row = run.rows.filter(pot__slug="lss-halsan").get()
    AllocationRow.objects.filter(pk=row.pk).update(amount=row.amount + 1)
    text = breached(grant, "rows")
    assert "its rows add up to 600 001 kr, the pot allocated 600 000 kr" in text


@pytest.fixture
def decided(computed, official):
    grant, run = computed
    return grant, decide(run, official)


@pytest.mark.breaks_books
def test_a_decided_run_changed_around_its_trigger(decided):
    grant, run = decided
    row = run.rows.filter(pot__slug="lss-halsan").get()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: the table can change
        cursor.execute("ALTER TABLE allocations_allocationrow DISABLE TRIGGER allocationrow_frozen")
        cursor.execute("UPDATE allocations_allocationrow SET quantity = 7 WHERE id = %s", [row.pk])
        cursor.execute("ALTER TABLE allocations_allocationrow ENABLE TRIGGER allocationrow_frozen")
    found = books.check_grant(grant)
    assert {b.rule for b in found} == {"digest"}  # the amounts still tie: only the fingerprint
    assert "Run 1 was decided on 2023-05-25, but what it holds now is not what was decided" in (
        breached(grant, "digest")
    )


@pytest.mark.breaks_books
def test_a_decided_runs_ineligibility_changed(decided):
    grant, run = decided
    entry = run.ineligible.order_by("id").first()
    assert entry is not None  # the per-unit pot leaves some units out
    Ineligibility.objects.filter(pk=entry.pk).update(code="changed")  # no trigger guards these
    assert "fingerprint differs" in breached(grant, "digest")


@pytest.mark.breaks_books
def test_a_decision_without_its_audit_entry(decided):
    grant, run = decided
    AuditEntry.objects.filter(action="run.decided", object_id=str(run.pk)).delete()
    assert "Run 1 is decided, but the audit trail has no entry for the decision." in breached(
        grant, "audit"
    )
    AuditEntry.objects.filter(action="run.computed", object_id=str(run.pk)).delete()
    assert "Run 1 has no audit entry for its computation." in breached(grant, "audit")


# ---------------------------------------------------------------- the workflow's breaches


@pytest.mark.breaks_books
def test_a_requisition_deleted(decided):
    grant, run = decided
    req = run.requisitions.filter(pot__slug="lss-halsan").get()
    Requisition.objects.filter(pk=req.pk).delete()
    text = breached(grant, "requisitions")
    assert (
        f"Run 1 gave {req.organisation.name} 600 000 kr from {req.pot.name}, but no "
        "requisition was opened for it." in text
    )
    assert "decision" in {b.rule for b in books.check_grant(grant)}  # the pot no longer ties


@pytest.mark.breaks_books
def test_a_requisition_whose_amount_changed(decided):
    grant, run = decided
    req = run.requisitions.filter(pot__slug="lss-halsan").get()
    Requisition.objects.filter(pk=req.pk).update(amount=600_007)
    assert "but its requisition is of 600 007 kr" in breached(grant, "requisitions")
    text = breached(grant, "decision")
    assert "the requisitions add up to 600 007 kr" in text
    assert "but 600 000 kr was decided" in text


@pytest.mark.breaks_books
def test_a_payment_over_the_requisitioned_amount(followed):  # noqa: F811
    f = followed
    half = f["half"]
    Payment.objects.create(
        requisition=half, paid_on=date(2023, 9, 1), amount=half.amount, reference="FEL"
    )
    text = breached(f["grant"], "flow")
    assert f"{half.organisation.name}, {half.pot.name} (run 1): " in text
    assert "is paid, more than the" in text
    # … and it went past the services, so the audit trail does not have it.
    assert "audit" in {b.rule for b in books.check_grant(f["grant"])}


@pytest.mark.breaks_books
def test_more_used_than_paid(followed):  # noqa: F811
    f = followed
    UsageLine.objects.filter(report__requisition=f["half"]).update(amount=f["half"].amount)
    assert "the report says" in breached(f["grant"], "flow")


@pytest.mark.breaks_books
def test_redistributed_but_never_repaid(followed):  # noqa: F811
    f = followed
    RepaymentClaim.objects.filter(pk=f["claim"].pk).update(paid_on=None)
    assert "redistributed has not been repaid" in breached(f["grant"], "flow")


@pytest.mark.breaks_books
def test_more_claimed_than_left_unspent(followed):  # noqa: F811
    f = followed
    RepaymentClaim.objects.filter(pk=f["claim"].pk).update(amount=f["full"].amount)
    text = breached(f["grant"], "claims")
    assert "is claimed back as not used, but the accepted reports leave only" in text


@pytest.mark.breaks_books
@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("payment.recorded", "has no audit entry"),
        ("requisition.accepted", "but the audit trail has no entry for the answer"),
        ("requisition.declined", "but the audit trail has no entry for the answer"),
        ("claim.created", "has no audit entry"),
        ("claim.repaid", "is repaid, but the audit trail has no entry for the repayment"),
        ("report.submitted", "is submitted, but the audit trail has no entry for it"),
        ("report.reviewed", "is reviewed, but the audit trail has no entry for the review"),
    ],
)
def test_a_money_record_without_its_audit_entry(followed, action, words):  # noqa: F811
    deleted, _ = AuditEntry.objects.filter(action=action).order_by("id")[:1].get().delete()
    assert deleted == 1
    assert words in breached(followed["grant"], "audit")


@pytest.mark.breaks_books
def test_an_application_status_changed_behind_the_trail(followed):  # noqa: F811
    app = followed["grant"].applications.order_by("id").first()
    assert books.check_grant(followed["grant"]) == []
    type(app).objects.filter(pk=app.pk).update(status=ApplicationStatus.WITHDRAWN)
    assert f"Application {app.slug} of {app.organisation.name} is withdrawn, but" in breached(
        followed["grant"], "audit"
    )


@pytest.mark.breaks_books
def test_an_application_status_other_than_the_last_one_its_trail_recorded(import_seed):
    """The latest status entry decides (its status read out of the entry's JSON by PostgreSQL)."""
    grant = import_seed(SEED_000)
    app = grant.applications.get(slug="ans-011")
    services.withdraw_application(app=app, actor=None)
    assert books.check_grant(grant) == []
    type(app).objects.filter(pk=app.pk).update(status=ApplicationStatus.SUBMITTED)
    text = breached(grant, "audit")
    assert f"Application ans-011 of {app.organisation.name} is submitted, but the audit" in text
    assert text.count("Application ") == 1


def test_an_unrequisitioned_amount_taken_back_needs_no_answer_of_its_own(decided, official):
    """Taken back after its date, a requisition is declined by the claim's entry."""
    grant, run = decided
    req = run.requisitions.filter(status=RequisitionStatus.PENDING).first()
    services.claim_repayment(
        req=req,
        amount=req.amount,
        due_on=None,
        disposition="return",
        today=date(2024, 1, 1),
        actor=official,
    )
    assert books.check_grant(grant) == []
