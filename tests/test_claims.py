"""Money back, clearly: a claim names where to pay, what to quote and by when; repayments are
recorded whole or in parts from the claims list, the overdue ones are flagged, and the claim
letter says it all in a PDF."""

import io
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from allocations.models import AuditEntry, Organisation
from applications import books, services
from applications.models import (
    ClaimAccount,
    ClaimRepayment,
    Notice,
    NoticeKind,
    RepaymentClaim,
)
from applications.services import WorkflowError

from . import test_office
from .factories import provider_user, signed_in
from .test_reporting_pdf import assert_archival

# The officials' fixtures, shared with the officials' pages' tests.
office, decided, seed000, english = (
    test_office.office,
    test_office.decided,
    test_office.seed000,
    test_office.english,
)
pay_and_report, page_text = test_office.pay_and_report, test_office.page_text

pytestmark = pytest.mark.django_db

USED = 30_000


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text)


def set_account(office, grant, **overrides):
    data = {
        "pays_to": "administration",
        "payee": "",
        "payment_method": "plusgiro",
        "payment_account": "4 77 88-5",
        "reference_prefix": "ÄN2020",
        "days_to_pay": "30",
        **overrides,
    }
    return office.post(reverse("office:claim_account", args=[grant.pk]), data)


@pytest.fixture
def unspent(office, decided, official):
    """The requisition, its provider, and what is left unspent after an accepted report."""
    _run, req, user = decided
    report = pay_and_report(req, user, official, USED)
    services.review_report(report=report, accept=True, comment="", actor=official)
    return req, user, req.amount - USED


def make_claim(office, req, amount, **data) -> RepaymentClaim:
    response = office.post(
        reverse("office:claim", args=[req.pk]),
        {"amount": amount, "disposition": "return", "confirmed": "yes", **data},
    )
    assert response.status_code == 302
    return RepaymentClaim.objects.latest("pk")


def test_a_claim_names_the_grants_account_reference_and_due_date_everywhere(
    office,
    unspent,
    django_capture_on_commit_callbacks,
):
    req, user, left = unspent
    grant = req.run.grant
    assert set_account(office, grant, payment_account="4 77 88-6").status_code == 200
    assert not ClaimAccount.objects.exists()  # a wrong check digit changes nothing
    assert set_account(office, grant).status_code == 302
    account = ClaimAccount.objects.get(grant=grant)
    assert (account.payee, account.payment_account) == (grant.administered_by.name, "47788-5")
    assert AuditEntry.objects.filter(action="grant.claim_account").count() == 1

    claim = make_claim(office, req, left)
    today = timezone.localdate()
    assert claim.payee == grant.administered_by.name
    assert (claim.payment_method, claim.payment_account) == ("plusgiro", "47788-5")
    assert claim.payment_reference == f"ÄN2020-{claim.pk}"
    assert claim.due_on == today + timedelta(days=30)

    # The e-mail, recorded with the claim, says it all and links to the provider's page.
    notice = Notice.objects.get(kind=NoticeKind.CLAIM)
    assert "47788-5" in notice.body
    assert claim.payment_reference in notice.body
    assert claim.due_on.isoformat() in notice.body
    assert reverse("portal:requisition", args=[req.pk]) in notice.body

    provider = signed_in(user)
    portal = page_text(provider.get(reverse("portal:requisition", args=[req.pk])))
    assert "47788-5" in portal
    assert claim.payment_reference in portal
    assert reverse("reporting:claim_letter", args=[claim.pk]) in portal

    letter = provider.get(reverse("reporting:claim_letter", args=[claim.pk]))
    assert letter["Content-Type"] == "application/pdf"
    text = pdf_text(letter.content)
    assert "Återkrav" in text
    assert req.organisation.name in text
    assert "47788-5" in text
    assert claim.payment_reference in text
    assert_archival(letter.content)  # a decision, archived like the decision letters
    assert claim.due_on.isoformat() in text
    assert re.sub(r"\s", " ", f"{left:,}".replace(",", " ")) in text.replace("\u00a0", " ")

    # Changing the account later leaves the claim as it was sent.
    set_account(office, grant, payment_method="bankgiro", payment_account="5050 1055")
    claim.refresh_from_db()
    assert claim.payment_account == "47788-5"


def test_a_state_grant_is_repaid_to_the_payee_the_agreement_names(office, unspent, official):
    req, _user, left = unspent
    grant = req.run.grant
    grant.agreement.repay_to = "Kammarkollegiet"
    grant.agreement.save()
    services.set_claim_account(
        grant=grant,
        pays_to="state",
        payee="",
        payment_method="bankgiro",
        payment_account="5050-1055",
        reference_prefix="",
        days_to_pay=20,
        actor=official,
    )
    claim = make_claim(office, req, left, due_on="2030-01-31")
    assert claim.payee == "Kammarkollegiet"
    assert claim.due_on == date(2030, 1, 31)  # the official's date wins over the default
    assert claim.payment_reference == f"AK-{claim.pk}"
    grant.agreement.repay_to = ""
    grant.agreement.save()
    with pytest.raises(WorkflowError, match="names nobody"):
        services.set_claim_account(
            grant=grant,
            pays_to="state",
            payee=" ",
            payment_method="bankgiro",
            payment_account="5050-1055",
            reference_prefix="",
            days_to_pay=20,
            actor=official,
        )
    for days in (0, 366, 1.5):
        with pytest.raises(WorkflowError):
            services.set_claim_account(
                grant=grant,
                pays_to="administration",
                payee="",
                payment_method="bankgiro",
                payment_account="5050-1055",
                reference_prefix="",
                days_to_pay=days,
                actor=official,
            )
    assert ClaimAccount.objects.get(grant=grant).days_to_pay == 20


def test_repayments_in_parts_from_the_claims_list_refuse_bad_amounts_and_change_nothing(
    office,
    unspent,
    official,
):
    req, _user, left = unspent
    claim = make_claim(office, req, left, due_on="2020-11-30")
    url = reverse("office:claim_repayment", args=[claim.pk])
    field = f"claim-{claim.pk}"
    listing = office.get(reverse("office:claims"))
    (row,) = [r for r in listing.context["rows"] if r[0].pk == claim.pk]
    assert row[1] is True  # overdue: due 2020-11-30, nothing repaid
    assert row[2] is not None  # a form to record a repayment

    def audit_count():
        return AuditEntry.objects.filter(action="claim.repaid").count()

    for amount, says in (
        (left + 1, "left to repay"),
        ("-5", "greater than or equal to 1"),
        ("0", "greater than or equal to 1"),
        ("1.5", "whole number"),
        ("abc", "whole number"),
    ):
        response = office.post(
            url, {f"{field}-amount": amount, f"{field}-paid_on": "2020-12-01"}, follow=True
        )
        assert says in page_text(response), amount
        assert not ClaimRepayment.objects.exists()
        assert audit_count() == 0
    response = office.post(
        url, {f"{field}-amount": "10", f"{field}-paid_on": "2999-01-01"}, follow=True
    )
    assert "cannot be dated after today" in page_text(response)
    assert not ClaimRepayment.objects.exists()

    first = 10_000
    response = office.post(
        url,
        {
            f"{field}-amount": "10 000",
            f"{field}-paid_on": "2020-12-01",
            "next": reverse("office:claims") + "?state=overdue",
        },
    )
    assert response.url == reverse("office:claims") + "?state=overdue"
    claim.refresh_from_db()
    assert claim.paid_on is None
    assert services.repaid_total(claim) == first
    listing = office.get(reverse("office:claims"), {"state": "overdue"})
    (row,) = listing.context["rows"]
    assert (row[0].repaid_sum, row[0].left) == (first, left - first)
    assert row[1] is True  # still overdue: not fully repaid

    office.post(
        url, {f"{field}-amount": str(left - first), f"{field}-paid_on": "2020-12-15"}, follow=True
    )
    claim.refresh_from_db()
    assert claim.paid_on == date(2020, 12, 15)
    assert list(claim.repayments.values_list("amount", flat=True)) == [first, left - first]
    entries = AuditEntry.objects.filter(action="claim.repaid").order_by("pk")
    assert [e.after["repaid"] for e in entries] == [first, left]
    assert all(e.actor_id == official.pk and e.at for e in entries)  # who and when
    assert office.get(reverse("office:claims"), {"state": "overdue"}).context["rows"] == []
    settled = office.get(reverse("office:claims"), {"state": "settled"})
    assert [r[0].pk for r in settled.context["rows"]] == [claim.pk]
    assert settled.context["rows"][0][2] is None  # nothing left to record
    again = office.post(url, {f"{field}-amount": "1", f"{field}-paid_on": "2020-12-16"})
    assert again.status_code == 302
    assert claim.repayments.count() == 2
    assert books.check_grant(req.run.grant) == []


def test_the_service_refuses_what_no_form_could_send(office, unspent, official):
    req, _user, left = unspent
    claim = make_claim(office, req, left)
    for amount in (1.5, True, -1, 0, left + 1, "100"):
        with pytest.raises(WorkflowError):
            services.record_repayment(
                claim=claim, amount=amount, paid_on=date(2020, 12, 1), actor=official
            )
    assert not ClaimRepayment.objects.exists()
    services.record_repayment(claim=claim, amount=1, paid_on=date(2020, 12, 1), actor=official)
    # "Registered as repaid" records what is left, in one door.
    services.mark_claim_repaid(claim=claim, paid_on=date(2020, 12, 2), actor=official)
    claim.refresh_from_db()
    assert claim.paid_on == date(2020, 12, 2)
    assert [r.amount for r in claim.repayments.all()] == [1, left - 1]


@pytest.mark.breaks_books
def test_the_books_see_a_claim_marked_repaid_that_its_repayments_do_not_cover(
    office,
    unspent,
    official,
):
    req, _user, left = unspent
    claim = make_claim(office, req, left)
    services.record_repayment(claim=claim, amount=100, paid_on=date(2020, 12, 1), actor=official)
    assert books.check_grant(req.run.grant) == []
    RepaymentClaim.objects.filter(pk=claim.pk).update(paid_on=date(2020, 12, 1))
    found = [str(b) for b in books.check_grant(req.run.grant)]
    assert any("is marked repaid, but only" in b for b in found), found
    assert any("repaid in full, but the repayments recorded" in b for b in found), found


def test_a_provider_reads_only_its_own_claim_letter(office, unspent):
    req, user, left = unspent
    claim = make_claim(office, req, left)
    url = reverse("reporting:claim_letter", args=[claim.pk])
    assert signed_in(user).get(url).status_code == 200
    other = Organisation.objects.exclude(pk=req.organisation_id).first()
    stranger = signed_in(provider_user(other, "annan"))
    assert stranger.get(url).status_code == 404
    assert stranger.get(reverse("reporting:claim_letter", args=[claim.pk + 999])).status_code == 404
    assert office.get(url).status_code == 200
