"""Redistribution (omfördelning) as a decision: who returned the money, who takes part, a preview,
a round stored and decided like any run, its letters — and money that is never divided twice.
"""

import io
import re
import threading
import zipfile
from datetime import date

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from pypdf import PdfReader

from allocations import engine, grantfile
from allocations.models import (
    AllocationRow,
    AllocationRun,
    AuditEntry,
    Job,
    JobStatus,
    Organisation,
    Pot,
)
from allocations.services import compute_grant, load_grant
from allocations.wording import format_kronor
from applications import services
from applications.models import ClaimDisposition, RepaymentClaim, Requisition
from reporting import pdf

from .conftest import SEED_000, fit_agreement, seed_data
from .factories import official_user, provider_user, signed_in

pytestmark = pytest.mark.django_db

RETURNER = "omsorg-norr-ab"
USED = 30_000


@pytest.fixture(autouse=True)
def english():
    # Pages and messages are asserted in their source language; letters are Swedish anyway.
    with translation.override("en"):
        yield


@pytest.fixture
def office(client, official):
    client.force_login(official)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def kr(amount: int) -> str:
    return format_kronor(amount, nbsp=True)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"[ \t\r\n]+", " ", response.content.decode())


def pdf_text(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"[ \n]+", " ", "\n".join(page.extract_text() for page in pages))


def returned_money(grant, official) -> tuple[AllocationRun, Requisition, int]:
    """Seed 000 decided; Omsorg Norr requisitions, is paid, uses 30 000 kr and repays the rest
    for redistribution."""
    run = compute_grant(grant_id=grant.pk)
    # Reported on and repaid in 2021, redistributed in the spring: the agreement's dates fit.
    fit_agreement(grant, report_by=date(2021, 12, 31), repay_by=date(2022, 3, 31))
    services.decide(
        run=run,
        decided_on=date(2020, 4, 1),
        decided_by="Förvaltningschef",
        delegation="",
        reference="ÄN 2020/55",
        requisition_by=date(2020, 5, 1),
        actor=official,
    )
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    org = Organisation.objects.get(slug=RETURNER)
    user = provider_user(org)
    req = run.requisitions.get(organisation=org, pot=pot)
    use = grant.agreement.permitted_uses.first()
    services.accept_requisition(
        req=req,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={use: req.amount},
        actor=user,
    )
    services.record_payment(
        req=req, paid_on=date(2020, 5, 10), amount=req.amount, reference="VER-1", actor=official
    )
    report = services.report_for(req)
    services.save_report(
        report=report, lines={use: USED}, achievements="Utbildning", benefit="Trygghet", actor=user
    )
    services.submit_report(report=report, actor=user)
    services.review_report(report=report, accept=True, comment="", actor=official)
    return run, req, req.amount - USED


def stored() -> tuple[int, int, int, int]:
    return (
        AllocationRun.objects.count(),
        AllocationRow.objects.count(),
        AuditEntry.objects.count(),
        RepaymentClaim.objects.filter(redistribution__isnull=False).count(),
    )


def through_the_pages(office, grant, official, capture):
    """Claim back, repay, see who returned it, preview, choose, create and decide: an official."""
    run, req, unspent = returned_money(grant, official)
    pot, org = req.pot, req.organisation
    office.post(
        reverse("office:claim", args=[req.pk]),
        {
            "amount": unspent,
            "due_on": "2021-03-31",
            "disposition": "redistribute",
            "confirmed": "yes",
        },
    )
    claim = RepaymentClaim.objects.get()
    office.post(reverse("office:claim_repaid", args=[claim.pk]), {"paid_on": "2021-03-01"})

    url = reverse("office:redistribute", args=[pot.pk])
    page = office.get(url)
    shown = text(page)
    # Who returned the money: organisation, requisition, amount, reason, repaid date.
    assert page.context["claims"] == [claim]
    assert page.context["amount"] == unspent
    assert org.pk in page.context["returned"]
    for fact in (org.name, kr(unspent), kr(req.amount), "not used", "2021-03-01", "returned money"):
        assert fact in shown
    candidates = page.context["candidates"]
    assert org in candidates
    leaf = engine.Pot(pot.slug, pot.name, 0, grantfile.to_model(pot.model))
    assert {o.slug for o in candidates} == set(
        engine.leaf_recipients(leaf, load_grant(grant).input)
    )
    # Every candidate is ticked at first: the official decides whom to leave out.
    assert set(page.context["form"]["organisations"].value()) == {o.pk for o in candidates}

    chosen = [o for o in candidates if o != org]
    post = {"amount": str(unspent), "organisations": [str(o.pk) for o in chosen]}

    # The preview is computed in memory: nothing is stored.
    before = stored()
    preview = office.post(url, {**post, "preview": "1"})
    assert stored() == before
    result = preview.context["preview"]
    assert result.amount == result.allocated == unspent
    assert {s.organisation for s in result.shares} == set(chosen)
    assert org.name not in text(preview).split('id="preview"')[1]

    # Bad input is a form error and changes nothing.
    confirm = reverse("office:redistribute_confirm", args=[pot.pk])
    outsider = Organisation.objects.exclude(pk__in=[o.pk for o in candidates]).first()
    for bad in (
        {**post, "organisations": []},
        {**post, "organisations": [str(outsider.pk)]},
        {**post, "amount": str(unspent + 1)},
        {**post, "amount": "abc"},
    ):
        response = office.post(confirm, {**bad, "confirmed": "yes"})
        assert response.status_code == 200
        assert response.context["form"].errors
        assert stored() == before
    changed = office.post(confirm, {**post, "amount": str(unspent - 1), "confirmed": "yes"})
    assert "has changed to" in text(changed)

    # Creating the round is confirmed on a page that says who gets what; a GET writes nothing.
    summary = office.get(confirm, post)
    assert stored() == before
    assert kr(unspent) in text(summary)
    assert "cannot be changed" in text(summary)
    response = office.post(confirm, {**post, "confirmed": "yes"})
    round_ = AllocationRun.objects.get(redistributes=pot)
    assert response.url == reverse("office:run", args=[round_.pk])
    assert round_.redistribution_recipients == sorted(o.slug for o in chosen)
    assert round_.redistributed_amount == round_.allocated() == unspent
    assert not round_.is_decided
    claim.refresh_from_db()
    assert claim.redistribution == round_
    # The stored round is what the preview showed.
    by_org = {
        o: sum(round_.rows.filter(organisation=o).values_list("amount", flat=True)) for o in chosen
    }
    assert by_org == {s.organisation: s.amount for s in result.shares}

    run_page = office.get(response.url)
    shown = text(run_page)
    assert f"Redistribution 1 of money repaid from {pot.name}: {kr(unspent)}" in shown
    assert run_page.context["left_out"] == [org]
    assert list(run_page.context["source_claims"]) == [claim]
    assert "freezes the round and opens a requisition for each of" in shown

    decision = {
        "decided_on": "2021-04-01",
        "decided_by": "Förvaltningschef",
        "reference": "ÄN 2021/12",
        "requisition_by": "2021-05-01",
    }
    unconfirmed = office.post(reverse("office:decide", args=[round_.pk]), decision)
    assert unconfirmed.context["form"].errors["confirm"]
    round_.refresh_from_db()
    assert not round_.is_decided
    assert not round_.requisitions.exists()
    provider_user(chosen[0], "mottagare")  # someone to tell
    mail.outbox.clear()
    with capture(execute=True):
        response = office.post(
            reverse("office:decide", args=[round_.pk]),
            {**decision, "confirm": "on", "confirmed": "yes"},
        )
    assert response.status_code == 302
    round_.refresh_from_db()
    assert round_.is_decided
    return run, round_, org, chosen, unspent


def test_the_official_chooses_previews_and_decides_a_redistribution(
    office, import_seed, official, django_capture_on_commit_callbacks
):
    grant = import_seed(SEED_000)
    run, round_, org, chosen, unspent = through_the_pages(
        office, grant, official, django_capture_on_commit_callbacks
    )
    # Requisitions for exactly the chosen recipients, summing to the round's amount.
    reqs = round_.requisitions.all()
    assert {r.organisation for r in reqs} == set(chosen)
    assert sum(r.amount for r in reqs) == round_.redistributed_amount == unspent
    assert not reqs.filter(organisation=org).exists()
    # The decision e-mail says what it is.
    (told,) = [m for m in mail.outbox if m.to == ["mottagare@example.invalid"]]
    pot = round_.redistributes
    # Swedish, the site's language: "Beslut om omfördelning 1 av återbetalda medel från …".
    assert f"Beslut om omfördelning 1 av återbetalda medel från {pot.name}" in told.subject
    assert f"omfördelning 1 av återbetalda medel från ”{pot.name}”" in told.body
    granted = round_.requisitions.get(organisation=chosen[0]).amount
    assert format_kronor(granted) in told.body.replace("\u00a0", " ")
    # The first decision stands as it was, and nothing waits any more.
    run.refresh_from_db()
    assert run.allocated() == 8_209_071
    assert list(services.waiting_claims(round_.redistributes)) == []
    # The recipient's portal lists the round's decision as what it is.
    portal = signed_in(User.objects.get(username="mottagare"))
    for page in ("portal:start", "portal:decisions"):
        shown = text(portal.get(reverse(page)))
        assert f" · {escape(f'Redistribution 1 of money repaid from {pot.name}')}<" in shown


def test_a_redistribution_rounds_letters_say_what_they_are(
    office, import_seed, official, django_capture_on_commit_callbacks, tmp_path
):
    grant = import_seed(SEED_000)
    run, round_, _org, chosen, _unspent = through_the_pages(
        office, grant, official, django_capture_on_commit_callbacks
    )
    amounts = {r.organisation_id: r.amount for r in round_.requisitions.all()}
    title = f"Omfördelning 1 av återbetalda medel från {round_.redistributes.name}"

    # One letter, rendered directly.
    first = chosen[0]
    (letter,) = pdf.render_letters(round_, [first.pk])
    words = pdf_text(letter)
    assert "omfördelning" in words.lower()
    assert title in words
    assert f"fördelningsomgång {round_.number}" in words  # the run it is
    assert f"Fördelning, omgång {run.number}, beslutad 2020-04-01" in words  # where it came from
    assert kr(amounts[first.pk]) in words

    # The batch, asked for on the documents page.
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(
            reverse("reporting:documents", args=[grant.slug]),
            {"action": "letters", "run": str(round_.pk)},
        )
    job = Job.objects.get()
    assert response.url == reverse("allocations:job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert job.run == round_
    assert "Redistribution 1 of money repaid from" in job.title
    assert job.parts_total == len(chosen)
    for part in job.parts.all():
        with part.file.open("rb") as fh:
            words = pdf_text(fh.read())
        assert title in words
        assert kr(amounts[part.organisation_id]) in words
    # A run that is not the grant's is refused with a message, and no job.
    refused = office.post(
        reverse("reporting:documents", args=[grant.slug]),
        {"action": "letters", "run": "999999"},
        follow=True,
    )
    said = [str(m) for m in refused.context["messages"]]
    assert said[-1] == "Choose one of the grant's decided runs."
    assert Job.objects.count() == 1

    # And from the command line, by the round's run number.
    out = tmp_path / "round.zip"
    call_command("render_letters", grant.slug, "--run", str(round_.number), "-o", str(out))
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert len(names) == len(chosen)
        words = pdf_text(archive.read(names[0]))
    assert "omfördelning" in words.lower()
    assert any(kr(a) in words for a in amounts.values())


def test_leaving_out_recipients_restricts_the_engine_input():
    grant = engine.GrantInput(
        amount=900,
        pots=(),
        units={
            "u1": engine.Unit("u1", "a", "care_home", places=10),
            "u2": engine.Unit("u2", "b", "care_home", places=30),
            "u3": engine.Unit("u3", "c", "care_home", places=0),
        },
        datasets={"pop": {"a": 1, "b": 2, "c": 3}},
        applications=(
            engine.Application("x", "p", "a", ("u1",)),
            engine.Application("y", "p", "b", ("u2",)),
            engine.Application("z", "p", "c", ("u3",)),
        ),
    )
    per_unit = engine.Pot("p", "P", 900, engine.PerUnit("places"))
    # c's only unit has no places: the model cannot give it anything.
    assert engine.leaf_recipients(per_unit, grant) == ("a", "b")
    leaf, restricted = engine.restrict_to(per_unit, grant, ["b"])
    result = engine.compute(
        engine.GrantInput(
            900, (leaf,), restricted.units, restricted.datasets, restricted.applications
        )
    )
    assert [(r.organisation, r.amount) for r in result.rows] == [("b", 900)]

    equal = engine.Pot("p", "P", 901, engine.Equal(("a", "b", "c")))
    leaf, restricted = engine.restrict_to(equal, grant, ["a", "c"])
    result = engine.compute(engine.GrantInput(901, (leaf,), restricted.units, restricted.datasets))
    assert sorted((r.organisation, r.amount) for r in result.rows) == [("a", 451), ("c", 450)]

    key = engine.Pot("p", "P", 100, engine.Key((engine.Factor("pop", 1),)))
    assert engine.leaf_recipients(key, grant) == ("a", "b", "c")
    leaf, restricted = engine.restrict_to(key, grant, ["a", "b"])
    result = engine.compute(engine.GrantInput(100, (leaf,), datasets=restricted.datasets))
    assert sorted((r.organisation, r.amount) for r in result.rows) == [("a", 33), ("b", 67)]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_presses_at_once_make_one_round_and_divide_each_claim_once():
    from applications.grantfiles import import_grant

    assert connection.vendor == "postgresql"
    grant = import_grant(seed_data(SEED_000))
    official = official_user()
    _run, req, unspent = returned_money(grant, official)
    first = services.claim_repayment(
        req=req,
        amount=unspent - 5_000,
        due_on=date(2021, 3, 31),
        disposition=ClaimDisposition.REDISTRIBUTE,
        today=date(2021, 2, 1),
        actor=official,
    )
    second = services.claim_repayment(
        req=req,
        amount=5_000,
        due_on=date(2021, 3, 31),
        disposition=ClaimDisposition.REDISTRIBUTE,
        today=date(2021, 2, 1),
        actor=official,
    )
    for claim in (first, second):
        services.mark_claim_repaid(claim=claim, paid_on=date(2021, 3, 1), actor=official)
    pot = req.pot
    chosen = [o for o in services.redistribution_candidates(pot) if o != req.organisation]
    barrier = threading.Barrier(20)
    errors, runs = [], []

    def press():
        try:
            barrier.wait()
            run = services.redistribute(
                pot=pot, organisations=chosen, amount=unspent, actor=official
            )
            runs.append(run.pk)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    round_ = AllocationRun.objects.get(redistributes=pot)
    assert set(runs) == {round_.pk}
    assert not round_.is_decided
    assert round_.redistributed_amount == round_.allocated() == first.amount + second.amount
    assert round_.pot_results.get().amount == unspent
    assert sorted(round_.source_claims.values_list("pk", flat=True)) == [first.pk, second.pk]
    assert AuditEntry.objects.filter(action="pot.redistributed").count() == 1
    assert AuditEntry.objects.filter(action="run.redistribution_computed").count() == 1
