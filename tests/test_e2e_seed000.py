"""Seed 000 from call to redistribution, through HTTP, each step by the role that does it.

The official opens a call on "Fördelning till särskilda boenden"; Nära Omsorg AB applies
through the portal for a care home of its own that no application names yet (vob-074,
57 places), sees the live rate and the eligibility preview, and submits. The official
approves it, computes and decides through the pages; the grant's 8 209 071 kr goes out
in requisitions. The provider requisitions its money by heading, the official pays it,
the provider reports what it used, the official accepts, claims the unspent money back
for redistribution, marks it repaid, redistributes it and decides the round.

Every step is checked in the database and on the page the role reads next.
"""

import re
from datetime import timedelta
from fractions import Fraction

import pytest
from django.core import mail
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from allocations.models import (
    AllocationRun,
    GrantUnit,
    Job,
    Organisation,
    PermittedUse,
    Pot,
    PotResult,
)
from allocations.wording import format_kronor, format_rate
from applications import services
from applications.models import (
    Application,
    ApplicationStatus,
    Call,
    ClaimDisposition,
    ClaimReason,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageReport,
)

from .conftest import SEED_000, fit_agreement
from .factories import official_user, provider_user

pytestmark = pytest.mark.django_db

GRANT_AMOUNT = 8_209_071
PASSWORD = "Ett-långt-lösenord-42"


def kr(amount: int) -> str:
    """An amount as the kronor filter shows it: `8\xa0209\xa0071\xa0kr`."""
    return format_kronor(amount, nbsp=True)


def rate_text(rate: Fraction) -> str:
    return format_rate(rate).replace(" ", "\u00a0")


def text(response) -> str:
    """The page with its layout whitespace collapsed; the no-break spaces in amounts stay."""
    assert response.status_code == 200, response.status_code
    return re.sub(r"[ \t\r\n]+", " ", response.content.decode())


def signed_in(username: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)
    return client


def test_seed_000_from_call_to_redistribution(import_seed, django_capture_on_commit_callbacks):
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    nara = Organisation.objects.get(slug="nara-omsorg-ab")
    home = GrantUnit.objects.get(grant=grant, unit__slug="vob-074")
    assert (home.organisation, home.places) == (nara, 57)
    assert not home.applications.exists()

    official = official_user(password=PASSWORD)
    provider = provider_user(nara, "nara", password=PASSWORD)
    office, portal = signed_in("handlaggare"), signed_in("nara")
    today = timezone.localdate()
    # The seed's report-by date (2020-01-31) is moved to lie after a call opened today.
    fit_agreement(grant, report_by=today + timedelta(days=365))

    # ------------------------------------------------------------ the official opens a call
    response = office.post(
        reverse("office:call_new"),
        {
            "pot": pot.pk,
            "title": "Intresseanmälan särskilda boenden",
            "opens_on": today.isoformat(),
            "closes_on": (today + timedelta(days=30)).isoformat(),
            "instructions": "Anmäl era boenden senast sista ansökningsdag.",
        },
    )
    call = Call.objects.get()
    assert response.url == reverse("office:call", args=[call.pk])
    assert (call.pot, call.created_by, call.is_open(today)) == (pot, official, True)
    page = text(office.get(response.url))
    assert "Intresseanmälan särskilda boenden" in page

    # ------------------------------------------------------------ the provider applies
    page = text(portal.get(reverse("portal:start")))
    assert "Nära Omsorg AB" in page
    assert call.title in page
    rate_before, places_before = services.indicative_rate(call)
    # What the imported applications name: 5 174 eligible places share 6 209 071 kr.
    assert (rate_before, places_before) == (Fraction(6_209_071, 5_174), 5_174)
    assert rate_text(rate_before) == "1\u00a0200,05\u00a0kr"
    page = text(portal.get(reverse("portal:call", args=[call.pk])))
    assert f"The pot holds {kr(6_209_071)}." in page
    assert (
        f"Indicative rate now: {rate_text(rate_before)} per place, "
        f"with {places_before:,} places applied for so far."
    ) in page
    assert "Application ans-008 to this pot is recommended." in page

    response = portal.post(reverse("portal:apply", args=[call.pk]), {"organisation": nara.pk})
    app = Application.objects.get(call=call)
    assert (app.organisation, app.status, app.created_by) == (
        nara,
        ApplicationStatus.DRAFT,
        provider,
    )
    edit_url = reverse("portal:application_edit", args=[app.pk])
    assert response.url == edit_url
    page = text(portal.get(edit_url))
    assert home.unit.name in page
    assert "Vård- och omsorgsboendet 014" not in page  # Vårdhem Syd AB's

    uses = list(PermittedUse.objects.filter(agreement=grant.agreement).order_by("position", "pk"))
    response = portal.post(
        edit_url,
        {
            "units": [str(home.pk)],
            f"places_{home.pk}": "57",
            "uses": [str(uses[0].pk), str(uses[3].pk)],
            "intended_use": "Handledning och introduktion för nyanställda undersköterskor.",
            "contact_name": "Nora Nilsson",
            "contact_email": "nora@example.invalid",
            "contact_phone": "08-555 01 02",
            "payment_method": "bankgiro",
            "payment_account": "5050-1055",
            "will_report": "on",
            "declare_facts": "on",
            "review": "1",
        },
    )
    review_url = reverse("portal:application_review", args=[app.pk])
    assert response.url == review_url
    app.refresh_from_db()
    assert list(app.units.all()) == [home]
    assert set(app.uses.all()) == {uses[0], uses[3]}
    assert (app.payment_method, app.payment_account) == ("bankgiro", "5050-1055")
    page = text(portal.get(review_url))
    assert "meets the rule" in page  # the eligibility preview
    assert "Put this right" not in page
    assert "Send the application" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(review_url)
    assert response.url == reverse("portal:application", args=[app.pk])
    app.refresh_from_db()
    assert (app.status, app.unit_reasons) == (ApplicationStatus.SUBMITTED, {})
    # The confirmation goes to the contact person and to the user who sent it.
    assert [sorted(m.to) for m in mail.outbox] == [["nara@example.invalid", "nora@example.invalid"]]
    page = text(portal.get(reverse("portal:call", args=[call.pk])))
    rate_sent, places_sent = services.indicative_rate(call)
    assert places_sent == places_before + 57
    assert rate_sent < rate_before
    assert f"{rate_text(rate_sent)} per place, with {places_sent:,} places" in page

    # ------------------------------------------------------------ the official approves
    page = text(office.get(reverse("office:call", args=[call.pk])))
    assert app.slug in page
    assert "Nära Omsorg AB" in page
    response = office.post(
        reverse("office:review_application", args=[app.pk]), {"decision": "approve"}
    )
    assert response.url == reverse("office:call", args=[call.pk])
    app.refresh_from_db()
    assert (app.status, app.reviewed_by) == (ApplicationStatus.APPROVED, official)
    assert "Application recommended" in text(
        portal.get(reverse("portal:application", args=[app.pk]))
    )

    # ------------------------------------------------------------ compute, close and decide
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(reverse("office:compute", args=[grant.pk]))
    run = AllocationRun.objects.get(grant=grant, redistributes=None)
    job = Job.objects.get(kind="compute", grant=grant)
    assert (response.url, job.run) == (reverse("allocations:job", args=[job.pk]), run)
    assert run.allocated() == GRANT_AMOUNT
    result = PotResult.objects.get(run=run, pot=pot)
    # The new home's 57 places join them: 1 186,98 kr a place, about 1 200 kr as published.
    assert result.rate == Fraction(6_209_071, 5_174 + 57)
    assert abs(result.rate - 1200) < 1200 * Fraction(15, 1000)
    page = text(office.get(reverse("office:run", args=[run.pk])))
    assert f"{kr(GRANT_AMOUNT)} allocated" in page
    assert rate_text(result.rate) in page
    assert "Record the decision" in page

    # Applications may come in until the call closes: the decision waits for that.
    too_early = office.post(
        reverse("office:decide", args=[run.pk]),
        {"decided_on": today.isoformat(), "decided_by": "Förvaltningschef"},
    )
    assert "before the call “Intresseanmälan särskilda boenden” closes" in text(too_early)
    # Closing the call and deciding are each confirmed on a page that says what happens.
    close = reverse("office:call_close", args=[call.pk])
    assert "closes at the end of today" in text(office.get(close))
    assert Call.objects.get().is_open(today + timedelta(days=1))
    office.post(close, {"confirmed": "yes"})
    assert not Call.objects.get().is_open(today + timedelta(days=1))

    decision = {
        "decided_on": today.isoformat(),
        "decided_by": "Förvaltningschef",
        "delegation": "Äldrenämndens delegationsordning",
        "reference": "ÄN 2020/55",
        "requisition_by": (today + timedelta(days=14)).isoformat(),
    }
    summary = text(office.post(reverse("office:decide", args=[run.pk]), decision))
    assert f"The decision allocates {kr(GRANT_AMOUNT)} to" in summary
    assert "cannot be changed once recorded" in summary
    run.refresh_from_db()
    assert not run.is_decided
    response = office.post(
        reverse("office:decide", args=[run.pk]), {**decision, "confirmed": "yes"}
    )
    assert response.url == reverse("office:run", args=[run.pk])
    run.refresh_from_db()
    assert run.decided_on == today
    requisitions = Requisition.objects.filter(run=run)
    assert sum(r.amount for r in requisitions) == GRANT_AMOUNT
    assert {r.due_on for r in requisitions} == {today + timedelta(days=14)}
    page = text(office.get(reverse("office:run", args=[run.pk])))
    assert f"Decided on {today.isoformat()} by Förvaltningschef" in page
    listing = office.get(reverse("office:requisitions"), {"run": run.pk})
    assert sum(b.decided for b in listing.context["pots"]) == GRANT_AMOUNT
    page = text(listing)
    for amount in (1_000_000, 6_209_071):  # the two fixed pots and särskilda boenden
        assert f'<td class="text-end">{kr(amount)}</td>' in page

    req = requisitions.get(organisation=nara, pot=pot)
    # vob-074 with 57 places and the imported ans-008's three homes, all at the pot's rate.
    places = 57 + sum(
        GrantUnit.objects.filter(
            grant=grant, unit__slug__in=["vob-018", "vob-037", "vob-056"]
        ).values_list("places", flat=True)
    )
    assert abs(req.amount - result.rate * places) < 1
    row = run.rows.get(unit=home.unit)
    assert row.quantity == 57

    # ------------------------------------------------------------ the provider requisitions
    page = text(portal.get(reverse("portal:decisions")))
    assert kr(req.amount) in page
    req_url = reverse("portal:requisition", args=[req.pk])
    page = text(portal.get(req_url))
    assert f"57 places × {rate_text(result.rate)}" in page
    assert kr(row.amount) in page
    assert "Requisition the money" in page
    first = req.amount // 3
    response = portal.post(
        req_url,
        {
            "action": "accept",
            "payment_method": "bankgiro",
            "payment_account": "5050-1055",
            f"use_{uses[0].pk}": format_kronor(first, nbsp=True),
            f"use_{uses[3].pk}": f"{req.amount - first}",
        },
    )
    assert response.url == req_url
    req.refresh_from_db()
    assert (req.status, req.answered_by) == (RequisitionStatus.ACCEPTED, provider)
    assert {line.use_id: line.amount for line in req.lines.all()} == {
        uses[0].pk: first,
        uses[3].pk: req.amount - first,
    }
    assert "Money requisitioned" in text(portal.get(req_url))

    # ------------------------------------------------------------ the official pays
    page = text(office.get(reverse("office:requisition", args=[req.pk])))
    assert kr(req.amount) in page
    response = office.post(
        reverse("office:record_payment", args=[req.pk]),
        {"paid_on": today.isoformat(), "amount": kr(req.amount), "reference": "VER-2020-074"},
    )
    assert response.url == reverse("office:requisition", args=[req.pk])
    payment = Payment.objects.get(requisition=req)
    assert (payment.amount, payment.reference, payment.recorded_by) == (
        req.amount,
        "VER-2020-074",
        official,
    )
    assert services.paid_total(req) == req.amount
    assert "VER-2020-074" in text(portal.get(req_url))

    # ------------------------------------------------------------ the provider reports use
    unspent = 25_000
    used_first = first - 5_000
    used_second = req.amount - first - 20_000
    report_url = reverse("portal:report", args=[req.pk])
    page = text(portal.get(report_url))
    assert f'id="unspent">{kr(req.amount)}' in page  # nothing reported yet
    response = portal.post(
        report_url,
        {
            f"use_{uses[0].pk}": str(used_first),
            f"use_{uses[3].pk}": str(used_second),
            "unspent": "0",  # computed, never typed: ignored
            "achievements": "Tolv nyanställda fick handledare under sitt första halvår.",
            "benefit": "Färre vikarier och tryggare omsorg för de boende.",
            "submit": "1",
        },
    )
    assert response.url == report_url
    report = UsageReport.objects.get(requisition=req)
    assert (report.status, report.submitted_by) == (ReportStatus.SUBMITTED, provider)
    assert services.unspent(report) == unspent
    page = text(portal.get(report_url))
    assert f'id="unspent">{kr(unspent)}' in page
    assert "Save and submit" not in page

    # ------------------------------------------------------------ the official accepts it
    office_report = reverse("office:report", args=[report.pk])
    page = text(office.get(office_report))
    assert kr(unspent) in page
    response = office.post(
        reverse("office:review_report", args=[report.pk]), {"decision": "accept", "comment": ""}
    )
    assert response.url == office_report
    report.refresh_from_db()
    assert (report.status, report.reviewed_by) == (ReportStatus.ACCEPTED, official)

    # ------------------------------------------------------------ claim back and redistribute
    page = office.get(reverse("office:requisition", args=[req.pk]))
    assert page.context["claimable"] == (ClaimReason.UNSPENT, unspent)
    assert kr(unspent) in text(page)
    due = today + timedelta(days=60)
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(
            reverse("office:claim", args=[req.pk]),
            {
                "amount": str(unspent),
                "due_on": due.isoformat(),
                "disposition": "redistribute",
                "confirmed": "yes",
            },
        )
    assert response.url == reverse("office:requisition", args=[req.pk])
    claim = RepaymentClaim.objects.get()
    assert (claim.requisition, claim.reason, claim.amount, claim.due_on, claim.paid_on) == (
        req,
        ClaimReason.UNSPENT,
        unspent,
        due,
        None,
    )
    assert claim.disposition == ClaimDisposition.REDISTRIBUTE
    assert mail.outbox[-1].to == ["nara@example.invalid"]  # the provider's users are told
    assert kr(unspent) in mail.outbox[-1].body
    page = text(portal.get(reverse("portal:start")))
    assert "Repay unused money" in page
    assert kr(unspent) in page

    response = office.post(
        reverse("office:claim_repaid", args=[claim.pk]), {"paid_on": today.isoformat()}
    )
    assert response.url == reverse("office:requisition", args=[req.pk])
    claim.refresh_from_db()
    assert claim.paid_on == today
    page = office.get(reverse("office:claims"))
    assert page.context["waiting"] == [(pot, unspent)]
    assert kr(unspent) in text(page)

    # The official sees who returned the money, previews, and creates the round.
    choose = reverse("office:redistribute", args=[pot.pk])
    page = office.get(choose)
    assert [c.pk for c in page.context["claims"]] == [claim.pk]
    everyone = [str(o.pk) for o in page.context["candidates"]]
    assert str(nara.pk) in everyone
    chosen = {"amount": str(unspent), "organisations": everyone}
    preview = office.post(choose, {**chosen, "preview": "1"})
    assert preview.context["preview"].allocated == unspent
    assert not AllocationRun.objects.filter(redistributes=pot).exists()
    confirm = reverse("office:redistribute_confirm", args=[pot.pk])
    assert "The round divides" in text(office.post(confirm, chosen))
    assert not AllocationRun.objects.filter(redistributes=pot).exists()
    response = office.post(confirm, {**chosen, "confirmed": "yes"})
    round_ = AllocationRun.objects.get(redistributes=pot)
    assert response.url == reverse("office:run", args=[round_.pk])
    assert round_.redistributed_amount == round_.allocated() == unspent
    claim.refresh_from_db()
    assert claim.redistribution == round_
    page = text(office.get(response.url))
    assert f"Redistribution 1 of money repaid from {pot.name}: {kr(unspent)}" in page
    assert f"The round divides {kr(unspent)} claimed back from the pot" in page

    response = office.post(
        reverse("office:decide", args=[round_.pk]),
        {
            "decided_on": today.isoformat(),
            "decided_by": "Förvaltningschef",
            "reference": "ÄN 2020/56",
            "requisition_by": (today + timedelta(days=14)).isoformat(),
            "confirm": "on",
            "confirmed": "yes",
        },
    )
    assert response.url == reverse("office:run", args=[round_.pk])
    round_.refresh_from_db()
    assert round_.decided_on == today
    again = Requisition.objects.filter(run=round_)
    assert sum(r.amount for r in again) == unspent
    assert {r.pot for r in again} == {pot}
    assert again.filter(organisation=nara).exists()  # its places count in the round too
    # The first decision stands, whole and unchanged.
    run.refresh_from_db()
    assert run.allocated() == GRANT_AMOUNT
    assert sum(Requisition.objects.filter(run=run).values_list("amount", flat=True)) == (
        GRANT_AMOUNT
    )
    page = text(portal.get(reverse("portal:decisions")))
    assert kr(again.get(organisation=nara).amount) in page
