"""A decision that is complete: the letters and the decision report say everything a Swedish
administrative decision needs, the officials write its texts on their page, and a decided run
keeps the texts it was decided with.

Every check reads the PDF back (pypdf) and looks for what the database holds.
"""

import io
import os
import re
from datetime import date

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from pypdf import PdfReader

from allocations.models import AuditEntry
from allocations.services import compute_grant
from allocations.wording import format_kronor
from applications.models import Requisition
from reporting import pdf
from reporting.documents import default_appeal, default_requisition, recipients
from reporting.models import DecidedTexts, DecisionText
from reporting.texts import save_texts, texts_for

from .conftest import SEED_000, SEED_003, fit_agreement
from .factories import decide, provider_user
from .test_redistribution import through_the_pages

pytestmark = pytest.mark.django_db

TEXTS = {
    "delegation_reference": "delegationsordning punkt 3.2",
    "postal_address": "Box 44\n121 22 Stockholm",
    "org_number": "212000-0142",
    "contact_name": "Anna Andersson",
    "contact_title": "Utredare",
    "contact_email": "anna.andersson@example.invalid",
    "contact_phone": "08-508 000 00",
}


def pdf_text(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in pages))


def pages_of(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def plain(text: str) -> str:
    """Words as pypdf reads them back: no-break spaces as spaces, one space between words."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def sv(function, *args):
    with translation.override("sv"):
        return function(*args)


def kr(amount: int) -> str:
    return format_kronor(amount, nbsp=True)


def write_texts(grant, **values):
    """The grant's texts as an official writes them, and an agreement with every date."""
    fit_agreement(
        grant,
        spend_by=date(2020, 12, 31),
        report_by=date(2021, 12, 31),
        repay_by=date(2022, 3, 31),
        repay_to="Kammarkollegiet",
    )
    return save_texts(grant=grant, values={**TEXTS, **values}, actor=None)


def assert_complete(words: str, run, grant, org=None) -> None:
    """Everything a decision must say, each read from where the database keeps it."""
    words = plain(words)
    # Who decided, on what authority, when, under which reference.
    assert (
        "Beslut fattat av förvaltningschefen med stöd av delegation från äldrenämnden "
        "(delegationsordning punkt 3.2)." in words
    )
    decided = run.decided_on
    assert f"{decided.day} {sv(date_month, decided)} {decided.year}" in words
    assert run.decision_reference in words
    # The sender: name, postal address, organisation number and a named contact.
    assert grant.administered_by.name in words
    assert "Box 44" in words
    assert "121 22 Stockholm" in words
    assert "212000-0142" in words
    assert "Anna Andersson, Utredare" in words
    assert "anna.andersson@example.invalid" in words
    assert "08-508 000 00" in words
    # Dates and to whom unspent money goes back.
    agreement = grant.agreement
    for day in (agreement.spend_by, agreement.report_by, agreement.repay_by):
        assert sv(lambda d: plain(f"{d.day} {date_month(d)} {d.year}"), day) in words
    assert agreement.repay_to in words
    # The requisition deadline that was set, and how to requisition in the portal.
    due = Requisition.objects.filter(run=run).values_list("due_on", flat=True).first()
    assert due is not None
    assert f"{due.day} {sv(date_month, due)} {due.year}" in words
    assert settings.STIMULANS_BASE_URL + reverse("portal:decisions") in words.replace(" ", "")
    assert "Rekvirera medlen i e-tjänsten för stimulansmedel" in words
    old = sv(
        gettext, "Requisition the money from %(admin)s, quoting this decision's reference number."
    )
    assert old % {"admin": grant.administered_by.name} not in words  # contradicted the portal
    # How to appeal: judicial review, in writing, to the court, within three weeks.
    assert "laglighetsprövning" in words
    assert "13 kap. kommunallagen (2017:725)" in words
    assert "förvaltningsrätten" in words
    assert "tre veckor" in words
    assert "anslagstavla" in words
    # The permitted uses.
    for use in agreement.permitted_uses.all():
        assert plain(use.label) in words


def date_month(day: date) -> str:
    from django.utils.dateformat import format as date_format

    return date_format(day, "F")


def test_an_ordinary_decisions_letter_and_report_say_everything(import_seed, tmp_path):
    grant = import_seed(SEED_000, review=True)
    write_texts(grant)
    run = compute_grant(grant_id=grant.pk)
    run = decide(
        run_id=run.pk,
        decided_on=date(2020, 2, 20),
        decided_by=grant.decision_body,
        delegation=grant.delegated_to,
        reference="ÄN 2020/12",
        requisition_by=date(2020, 3, 31),
    )
    grant.refresh_from_db()
    org = recipients(run)[0]
    (letter,) = pdf.render_letters(run, [org.pk])
    pages = pages_of(letter)
    words = plain(pdf_text(letter))
    if os.environ.get("KEEP_PDF"):
        (tmp_path / "letter.pdf").write_bytes(letter)
        print(tmp_path)
    assert_complete(words, run, grant, org)
    assert "ÄN 2020/12" in words
    assert "20 februari 2020" in words
    assert "31 mars 2020" in words
    # The amount, and how it was computed: the rate per place and the eligibility in words.
    total = sum(run.rows.filter(organisation=org).values_list("amount", flat=True))
    assert plain(kr(total)) in words
    assert "Totalt 5 174 platser ger 1 200,05 kr per plats." in words
    assert (
        "Boendet ska ligga i Stockholms stad eller ha minst 80 procent boende placerade av "
        "staden." in words
    )
    assert "belägen i staden är" not in words  # not the code-like wording of before
    # Not a redistribution.
    assert "omfördelning" not in words.lower()
    # Page 2 is not left almost empty: the letter's second page carries its share.
    assert len(pages) >= 2
    assert len(plain(pages[1])) > 800, pages[1]

    report = plain(pdf_text(pdf.render_decision(run)))
    assert_complete(report, run, grant)
    assert "Äldrenämnden" in report
    assert (
        "Villkor för att delta: Vård- och omsorgsboenden och servicehus kan delta. Boendet ska "
        "ligga i Stockholms stad" in report
    )


def test_a_redistribution_rounds_letter_says_so_and_everything_else(
    client, official, import_seed, django_capture_on_commit_callbacks
):
    client.force_login(official)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the shared walk reads English pages
    grant = import_seed(SEED_000)
    write_texts(grant)
    with translation.override("en"):
        run, round_, _org, chosen, _unspent = through_the_pages(
            client, grant, official, django_capture_on_commit_callbacks
        )
    # The round was decided on the page by "Förvaltningschef" with no delegation: say so.
    (letter,) = pdf.render_letters(round_, [chosen[0].pk])
    words = plain(pdf_text(letter))
    assert "Beslut om omfördelning av stimulansmedel" in words
    assert f"Omfördelning 1 av återbetalda medel från {round_.redistributes.name}" in words
    assert f"Fördelning, omgång {run.number}, beslutad 2020-04-01" in words
    assert "Beslut fattat av förvaltningschefen." in words
    assert "ÄN 2021/12" in words
    assert "1 maj 2021" in words  # the round's requisition deadline
    granted = round_.requisitions.get(organisation=chosen[0]).amount
    assert plain(kr(granted)) in words
    for fact in ("Box 44", "212000-0142", "Anna Andersson", "laglighetsprövning", "tre veckor"):
        assert fact in words
    assert settings.STIMULANS_BASE_URL + reverse("portal:decisions") in words.replace(" ", "")
    assert "Kammarkollegiet" in words


def test_officials_edit_the_texts_on_their_page_with_permission_and_audit(
    client, official, import_seed
):
    grant = import_seed(SEED_003, review=True)
    url = reverse("reporting:texts", args=[grant.slug])
    # The grant's office page leads there.
    client.force_login(official)
    assert url in client.get(reverse("office:grant", args=[grant.pk])).content.decode()

    # Not an official (staff without the handles-cases permission, a provider): refused.
    from allocations.models import Organisation

    for user in (
        provider_user(Organisation.objects.first(), "utforare"),
        User.objects.create_user("personal", "personal@example.invalid", "x", is_staff=True),
    ):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"contact_name": "X"}).status_code == 403
    assert not DecisionText.objects.filter(grant=grant).exists()

    client.force_login(official)
    assert client.get(url).status_code == 200
    form = {**TEXTS, "appeal": "", "letter_requisition": "", "immediate_adjustment": ""}
    # Bad input is a form error and changes nothing.
    bad = client.post(url, {**form, "contact_email": "not an address", "org_number": "123"})
    assert bad.status_code == 200
    assert set(bad.context["form"].errors) == {"contact_email", "org_number"}
    assert not DecisionText.objects.filter(grant=grant).exists()
    assert not AuditEntry.objects.filter(action="decision_texts_changed").exists()

    response = client.post(url, form)
    assert response.status_code == 302
    text = DecisionText.objects.get(grant=grant)
    assert text.delegation_reference == "delegationsordning punkt 3.2"
    assert text.address_lines() == ["Box 44", "121 22 Stockholm"]
    entry = AuditEntry.objects.get(action="decision_texts_changed")
    assert entry.actor == official
    assert entry.grant == grant
    assert entry.after["contact_name"] == "Anna Andersson"

    # A change is logged with only what changed, before and after; the page lists it.
    client.post(url, {**form, "contact_name": "Bo Berg"})
    latest = AuditEntry.objects.filter(action="decision_texts_changed").order_by("-pk").first()
    assert latest.before == {"contact_name": "Anna Andersson"}
    assert latest.after == {"contact_name": "Bo Berg"}
    page = client.get(url).content.decode()
    assert official.get_username() in page
    # Saving without a change logs nothing.
    count = AuditEntry.objects.filter(action="decision_texts_changed").count()
    client.post(url, {**form, "contact_name": "Bo Berg"})
    assert AuditEntry.objects.filter(action="decision_texts_changed").count() == count


def test_a_decided_run_keeps_the_texts_it_was_decided_with(client, official, import_seed):
    grant = import_seed(SEED_003, review=True)
    write_texts(grant, appeal="Överklaga hos förvaltningsrätten i Stockholm.")
    run = compute_grant(grant_id=grant.pk)
    run = decide(
        run_id=run.pk,
        decided_on=date(2023, 5, 25),
        decided_by=grant.decision_body,
        delegation="Förvaltningschef",
        reference="ÄN 2023/123",
        requisition_by=date(2023, 6, 30),
    )
    org = recipients(run)[0]
    before = plain(pdf_text(pdf.render_letters(run, [org.pk])[0]))
    assert "Anna Andersson" in before
    assert "Överklaga hos förvaltningsrätten i Stockholm." in before

    # The official changes the contact and the appeal text on the page after the decision.
    client.force_login(official)
    form = {**TEXTS, "contact_name": "Bo Berg", "appeal": "", "letter_requisition": ""}
    assert client.post(reverse("reporting:texts", args=[grant.slug]), form).status_code == 302
    kept = DecidedTexts.objects.get(run=run)
    assert kept.texts["text"]["contact_name"] == "Anna Andersson"
    assert texts_for(run).kept

    # The decided run's letter and report still say what was decided, byte for byte.
    after = plain(pdf_text(pdf.render_letters(run, [org.pk])[0]))
    assert after == before
    report = plain(pdf_text(pdf.render_decision(run)))
    assert "Anna Andersson" in report
    assert "Bo Berg" not in report
    # The grant's texts are changed for what is decided next.
    assert DecisionText.objects.get(grant=grant).contact_name == "Bo Berg"
    # A second change keeps the first copy, not a new one.
    client.post(reverse("reporting:texts", args=[grant.slug]), {**form, "contact_name": "C"})
    assert DecidedTexts.objects.get(run=run).texts["text"]["contact_name"] == "Anna Andersson"


def test_the_defaults_describe_the_portal_and_a_municipal_appeal(import_seed):
    grant = import_seed(SEED_003)
    with translation.override("sv"):
        how = default_requisition(grant)
        appeal = default_appeal()
    assert "e-tjänsten" in how
    assert "Beslut" in how
    assert "konto" in how
    assert "diarienummer" not in how.split(".")[0]  # not "quote the reference number"
    assert "förvaltningsrätten" in appeal
    assert "tre veckor" in appeal
    assert "anslagstavla" in appeal
    assert "13 kap. kommunallagen (2017:725)" in appeal
