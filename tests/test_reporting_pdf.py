"""The decision report and the decision letters: real text, embedded fonts, the run's numbers.

Every check reads the PDF back (pypdf) and compares what it says with the rows
in the database, not with what the rendering code computed.
"""

import io
import re
import zipfile
import zlib
from collections import defaultdict
from datetime import date

import pydyf
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from django.utils.translation import gettext, ngettext
from page import validate_pdf_bytes
from pypdf import PdfReader

from allocations.models import AllocationRow, PotResult
from allocations.services import compute_grant
from allocations.wording import format_kronor, format_rate
from reporting import archival, pdf
from reporting.documents import RenderError, recipients
from reporting.models import DecisionText, Signatory

from .conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEEDS
from .factories import decide

pytestmark = pytest.mark.django_db

AMOUNT = re.compile(r"(?<![\d\u00a0,])(\d{1,3}(?:\u00a0\d{3})*)\u00a0kr")


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def flat(text: str) -> str:
    """Lines joined and spaces normalised: a table cell may wrap anywhere."""
    return re.sub(r"[ \n]+", " ", text)


def amounts(text: str) -> list[int]:
    return [int(m.group(1).replace("\u00a0", "")) for m in AMOUNT.finditer(text)]


def appear_in_order(expected: list[int], found: list[int]) -> bool:
    it = iter(found)
    return all(any(value == seen for seen in it) for value in expected)


def kr(amount: int) -> str:
    return format_kronor(amount, nbsp=True)


def sv(msgid: str) -> str:
    with translation.override("sv"):
        return gettext(msgid)


def computed(import_seed, slug, *, decided=False):
    grant = import_seed(slug, review=True)
    run = compute_grant(grant_id=grant.pk)
    if decided:
        run = decide(
            run_id=run.pk,
            decided_on=date(2023, 5, 25),
            decided_by=grant.decision_body,
            delegation="Förvaltningschef",
            reference="ÄN 2023/123",
        )
    return grant, run


def expected_sequence(run) -> list[int]:
    """The amounts the report shows, in its order, read straight from the stored rows."""
    results = list(PotResult.objects.filter(run=run).select_related("pot").order_by("position"))
    parents = {pr.pot.parent_id for pr in results}
    sequence = []
    for pr in results:  # the summary table
        sequence += [pr.amount, pr.allocated, pr.unallocated]
    allocated = sum(pr.allocated for pr in results if pr.pot.parent_id is None)
    sequence += [run.grant_amount, allocated, run.grant_amount - allocated]
    unit_tables = []
    for pr in results:
        if pr.pot_id in parents:
            continue
        rows = AllocationRow.objects.filter(run=run, pot_id=pr.pot_id, amount__gt=0)
        per_org = defaultdict(int)
        for name, amount in rows.values_list("organisation__name", "amount"):
            per_org[name] += amount
        if per_org:
            sequence += [per_org[name] for name in sorted(per_org)] + [pr.allocated]
        if rows.exclude(unit=None).exists():
            unit_tables += [
                amount
                for *_key, amount in sorted(
                    rows.values_list("organisation__name", "unit__name", "amount")
                )
            ] + [pr.allocated]
    return sequence + unit_tables


def assert_archival(data: bytes) -> None:
    """PDF/A-2a and PDF/UA-1, by an independent validator: no rule fails."""
    for profile in archival.PROFILES:
        report = validate_pdf_bytes(data, profile=profile)
        failures = sorted({f"{f.rule_id}: {f.message}" for f in report.failures})
        assert not failures, (profile, failures)
        assert report.is_compliant, profile


def fonts_of(data: bytes) -> list[tuple[str, bool]]:
    """(base font, embedded?) for every font the pages use."""
    out = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            descriptor = descriptor.get_object()
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            out.append((str(font["/BaseFont"]), embedded))
    return out


@pytest.mark.parametrize("slug", SEEDS)
def test_the_proposal_of_every_seed_shows_the_computed_rows_in_order(import_seed, slug):
    grant, run = computed(import_seed, slug)
    data = pdf.render_decision(run)
    text = pdf_text(data)

    assert appear_in_order(expected_sequence(run), amounts(text))
    assert sum(run.rows.values_list("amount", flat=True)) == run.allocated()
    words = flat(text)
    assert grant.title in words
    assert sv("The administration's proposed decision") in words
    assert kr(run.grant_amount) in words
    assert sv("Proposal: not yet decided") in words  # the running footer of a proposal
    assert re.search(rf"{sv('Page')} 1 \(\d+\)", words)
    assert all(embedded for _name, embedded in fonts_of(data))
    # Only the vendored fonts, subset (ABCDEF+DejaVu-Sans) and embedded.
    assert {name.split("+")[-1] for name, _e in fonts_of(data)} <= {
        "DejaVu-Sans",
        "DejaVu-Sans-Bold",
        "DejaVu-Sans-Oblique",
    }


def test_seed_003_report_has_the_shape_of_the_published_decision(import_seed):
    grant, run = computed(import_seed, SEED_003, decided=True)
    text = DecisionText.objects.create(
        grant=grant,
        subtitle="Förslag till fördelningsmodell inom Stockholms stad",
        immediate_adjustment=True,
        summary="Regeringen och SKR har enats om överenskommelsen God och nära vård 2023.",
        gender_analysis="Äldreförvaltningen kan inte se att insatserna påverkar jämställdheten.",
        attachments="Överenskommelse God och nära vård 2023",
    )
    Signatory.objects.create(text=text, name="Patric Rylander", title="Äldredirektör")
    Signatory.objects.create(text=text, name="Linda Hamnes", title="Avdelningschef", position=1)
    data = pdf.render_decision(run)
    words = flat(pdf_text(data))

    assert_archival(data)
    reader = PdfReader(io.BytesIO(data))
    xmp = reader.xmp_metadata
    assert xmp.dc_title == {"x-default": grant.title}
    assert xmp.dc_language == ["sv"]
    assert xmp.dc_identifier == "ÄN 2023/123"
    ours = {
        node.localName: node.nodeValue
        for node in xmp.get_nodes_in_namespace("", archival.NS_STIMULANS)
    }
    assert ours == {
        "grant": grant.title,
        "reference": "ÄN 2023/123",
        "date": "2023-05-25",
        "kind": sv("Official report"),
    }
    assert reader.metadata["/Diarienummer"] == "ÄN 2023/123"
    assert reader.metadata["/Grant"] == grant.title
    assert reader.metadata["/DocumentKind"] == sv("Official report")
    assert reader.trailer["/Root"]["/Lang"] == "sv"
    assert "36\u00a0310\u00a0636\u00a0kr" in words  # seed 003's "Nära vård – totalt"
    assert "51\u00a0810\u00a0636\u00a0kr" in words
    assert "160\u00a0000\u00a0kr" in words  # not allocated, and says so
    assert "ÄN 2023/123" in words
    assert "Patric Rylander" in words
    assert "Linda Hamnes" in words
    assert "Äldredirektör" in words
    assert sv("Decision") in words
    assert sv("Gender equality analysis") in words
    assert sv("Appendix 1: Allocation per unit") in words
    assert "Överenskommelse God och nära vård 2023" in words
    assert "25 maj 2023" in words
    # Three numbered points: approve, delegate, immediate adjustment.
    assert re.search(r"\b1\. Äldrenämnden", words)
    assert re.search(r"\b2\. Äldrenämnden", words)
    assert re.search(r"\b3\. Äldrenämnden", words)


def test_seed_000_report_gives_the_rate_per_place_and_the_per_unit_appendix(import_seed):
    _grant, run = computed(import_seed, SEED_000)
    words = flat(pdf_text(pdf.render_decision(run)))
    rate = format_rate(PotResult.objects.get(run=run, pot__slug="sarskilda-boenden").rate)
    assert rate == "1 200,05 kr"
    assert rate.replace(" ", "\u00a0") in words
    row = AllocationRow.objects.filter(run=run, pot__slug="sarskilda-boenden").first()
    with translation.override("sv"):
        measure = ngettext("place", "places", row.quantity)
    basis = f"{row.quantity} {measure} × 1\u00a0200,05\u00a0kr"
    assert basis in words


def test_a_table_that_runs_over_pages_repeats_its_header(import_seed):
    _grant, run = computed(import_seed, SEED_001)
    reader = PdfReader(io.BytesIO(pdf.render_decision(run)))
    appendix = [p.extract_text() for p in reader.pages if "Hemtjänstkontoret" in p.extract_text()]
    assert len(appendix) >= 3
    for text in appendix:
        assert sv("Provider") in text
        assert sv("Basis") in text


def test_the_same_run_gives_the_same_document_byte_for_byte(import_seed):
    _grant, run = computed(import_seed, SEED_002, decided=True)
    first = pdf.render_decision(run)
    assert pdf.render_decision(run) == first
    info = PdfReader(io.BytesIO(first)).metadata
    assert info["/CreationDate"] == "D:20230525"  # the decision's date, not today's


def test_letters_say_what_each_recipient_gets_and_why(import_seed):
    grant, run = computed(import_seed, SEED_001, decided=True)
    DecisionText.objects.create(
        grant=grant,
        contact_name="Anna Andersson",
        contact_email="anna.andersson@example.invalid",
        letter_requisition="Rekvirera medlen senast 30 september 2020.",
    )
    orgs = recipients(run)
    letters = pdf.render_letters(run, [o.pk for o in orgs[:3]])
    agreement = grant.agreement
    assert_archival(letters[0])
    assert PdfReader(io.BytesIO(letters[0])).metadata["/Diarienummer"] == "ÄN 2023/123"
    for org, data in zip(orgs[:3], letters, strict=True):
        words = flat(pdf_text(data))
        rows = list(
            AllocationRow.objects.filter(run=run, organisation=org, amount__gt=0)
            .order_by("pot__position", "unit__name")
            .values_list("amount", flat=True)
        )
        found = amounts(words)
        assert sum(rows) in found
        assert sorted(found).count(sum(rows)) >= 2  # in the opening and as the total
        assert appear_in_order([sum(rows), *rows, sum(rows)], found)
        assert org.name in words
        assert "Anna Andersson" in words
        assert "Rekvirera medlen senast 30 september 2020." in words
        assert all(use.label in words for use in agreement.permitted_uses.all())
        assert "31 december 2020" in words  # spend by, in Django's Swedish month names
        assert "Kammarkollegiet" in words
        assert "ÄN 2023/123" in words


def test_letters_are_only_for_a_decided_run(import_seed):
    _grant, run = computed(import_seed, SEED_000)
    with pytest.raises(RenderError):
        pdf.render_letters(run, [o.pk for o in recipients(run)[:1]])


def test_render_commands_write_the_files(import_seed, tmp_path):
    _grant, run = computed(import_seed, SEED_000)
    call_command("render_decision", SEED_000, "-o", str(tmp_path / "report.pdf"))
    assert kr(8_209_071) in pdf_text((tmp_path / "report.pdf").read_bytes())
    with pytest.raises(CommandError, match=r"not|inte|ingen"):
        call_command("render_letters", SEED_000, "-o", str(tmp_path / "letters.zip"))
    assert not (tmp_path / "letters.zip").exists()
    decide(run_id=run.pk, decided_on=date(2020, 2, 20), decided_by="Äldrenämnden")
    call_command("render_letters", SEED_000, "-o", str(tmp_path / "letters.zip"))
    with zipfile.ZipFile(tmp_path / "letters.zip") as archive:
        names = archive.namelist()
        assert len(names) == len(recipients(run))
        total = 0
        for name in names:
            words = flat(pdf_text(archive.read(name)))
            total += max(amounts(words))
        assert total == 8_209_071


def test_a_stream_whose_data_ends_in_a_carriage_return_keeps_its_length():
    """pydyf ends stream data with a bare LF; data ending in CR would read one byte short."""
    content = next(
        text
        for n in range(10_000)
        if zlib.compress(text := f"{n} w\n".encode() * n, 9).endswith(b"\r")
    )
    document = pydyf.PDF()
    stream = pydyf.Stream([content], compress=True)
    document.add_object(stream)
    archival._safe_end(stream)
    data = stream.data
    raw = data[data.index(b"stream\n") + len(b"stream\n") : data.index(b"endstream")]
    assert raw.endswith(b"\r\r\n")
    length = int(re.search(rb"/Length (\d+)", data).group(1))
    assert length == len(raw) - 2  # the data, its own CR included; CR LF is the end marker
    assert zlib.decompress(raw[:length]) == content
