"""HTML to PDF with WeasyPrint: A4, embedded fonts, real text, the run's date only.

Every document is PDF/A-2a and PDF/UA-1 in one file (`reporting.archival`): the copy
stored with the decision is the one served to people.

Documents are Swedish public documents: they are rendered in Swedish whatever
the language of the official who asked.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from django.conf import settings
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from allocations.models import AllocationRun

from . import archival, documents
from .documents import RenderError

FONT_FACES = (
    ("normal", "normal", "DejaVuSans.ttf"),
    ("bold", "normal", "DejaVuSans-Bold.ttf"),
    ("normal", "italic", "DejaVuSans-Oblique.ttf"),
)
DOCUMENT_LANGUAGE = "sv"

Progress = Callable[[int], None]


def font_dir() -> Path:
    return Path(settings.STIMULANS_DOCUMENT_FONT_DIR)


def font_css() -> str:
    """@font-face rules for the vendored fonts; refuses when one is missing.

    WeasyPrint would silently fall back to some other font; a public document
    must look the same wherever it is rendered.
    """
    directory = font_dir()
    rules = []
    for weight, style, name in FONT_FACES:
        path = directory / name
        if not path.is_file():
            raise RenderError(
                _(
                    "The document font %(font)s is missing (looked in %(dir)s); "
                    "ask the administrator to reinstall it."
                )
                % {"font": name, "dir": directory}
            )
        rules.append(
            "@font-face { font-family: 'DejaVu Sans'; "
            f"font-weight: {weight}; font-style: {style}; src: url('{path.as_uri()}'); }}"
        )
    return "\n".join(rules)


def render_html(template: str, context: dict) -> str:
    try:
        return render_to_string(template, context)
    except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
        raise RenderError(
            _("The document template %(template)s is broken: %(error)s")
            % {"template": template, "error": exc}
        ) from exc


STEP = re.compile(r"Step (\d)")


class _ProgressHandler(logging.Handler):
    """WeasyPrint logs its seven steps; they become the job's progress."""

    def __init__(self, progress: Progress, start: int, end: int):
        super().__init__()
        self.progress, self.start, self.end = progress, start, end

    def emit(self, record: logging.LogRecord) -> None:
        match = STEP.match(record.getMessage())
        if match:
            step = int(match.group(1))
            self.progress(self.start + (self.end - self.start) * step // 7)


@contextmanager
def _weasyprint_progress(progress: Progress | None, start: int, end: int) -> Iterator[None]:
    if progress is None:
        yield
        return
    logger = logging.getLogger("weasyprint.progress")
    handler = _ProgressHandler(progress, start, end)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def _source_date(when: date | datetime) -> Iterator[None]:
    """Font subsets carry a timestamp; fontTools takes it from SOURCE_DATE_EPOCH when set.

    Set to the document's own date, the same run gives the same bytes.
    """
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(when.timestamp()))
    try:
        yield
    finally:
        if saved is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved


class PdfWriter:
    """Writes PDFs with the document fonts; one writer serves a whole batch of letters."""

    def __init__(self):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.font_config = FontConfiguration()
        self.stylesheets = [CSS(string=font_css(), font_config=self.font_config)]

    def write(
        self,
        html: str,
        *,
        created: date | datetime,
        progress: Progress | None = None,
        span=(20, 95),
    ) -> bytes:
        from weasyprint import HTML

        try:
            with _source_date(created), _weasyprint_progress(progress, *span):
                return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(
                    stylesheets=self.stylesheets,
                    font_config=self.font_config,
                    finisher=archival.finish,
                    **archival.WRITE_OPTIONS,
                )
        except RenderError:
            raise
        except Exception as exc:
            raise RenderError(
                _("WeasyPrint could not lay out the document: %(error)s") % {"error": exc}
            ) from exc


def document_date(run: AllocationRun) -> date | datetime:
    """The one date a document carries: the decision's, or the computation's for a proposal."""
    return run.decided_on or run.computed_at


def decision_html(run: AllocationRun) -> str:
    with translation.override(DOCUMENT_LANGUAGE):
        context = documents.decision_context(run)
        context["created"] = document_date(run)
        context["document_kind"] = _("Official report")
        return render_html("reporting/documents/decision.html", context)


def render_decision(run: AllocationRun, progress: Progress | None = None) -> bytes:
    """The decision report (tjänsteutlåtande) of a run; a proposal until it is decided."""
    writer = PdfWriter()
    html = decision_html(run)
    if progress:
        progress(20)
    return writer.write(html, created=document_date(run), progress=progress)


def letters_html(run: AllocationRun, organisation_ids: list[int]) -> list[str]:
    with translation.override(DOCUMENT_LANGUAGE):
        contexts = documents.letter_contexts(run, organisation_ids)
        html = []
        for context in contexts:
            context["created"] = document_date(run)
            context["document_kind"] = (
                _("Decision on redistribution of stimulus grant")
                if context.get("redistribution")
                else _("Decision on stimulus grant")
            )
            html.append(render_html("reporting/documents/letter.html", context))
        return html


def render_letters(run: AllocationRun, organisation_ids: list[int]) -> list[bytes]:
    """Decision letters (beslut om stimulansmedel) for these recipients, one PDF each."""
    writer = PdfWriter()
    created = document_date(run)
    return [writer.write(html, created=created) for html in letters_html(run, organisation_ids)]


def claim_letter_html(claim) -> str:
    """The letter claiming money back (återkrav) from a recipient, in Swedish."""
    from applications import services as workflow

    req = claim.requisition
    grant = req.run.grant
    repaid = workflow.repaid_total(claim)
    report = getattr(req, "report", None)
    with translation.override(DOCUMENT_LANGUAGE):
        context = {
            "claim": claim,
            "req": req,
            "grant": grant,
            "organisation": req.organisation,
            "administration": grant.administered_by.name,
            "reference": grant.reference,
            "created": claim.created_at.date(),
            "paid": workflow.paid_total(req),
            "used": workflow.used_total(report) if report is not None else 0,
            "repaid": repaid,
            "left": claim.amount - repaid,
        }
        return render_html("reporting/documents/claim_letter.html", context)


def render_claim_letter(claim) -> bytes:
    """The claim letter as a PDF, dated the day of the claim."""
    return PdfWriter().write(claim_letter_html(claim), created=claim.created_at.date())
