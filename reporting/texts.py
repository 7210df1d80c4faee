"""The decision texts a grant's documents use, their one door for changes, and what stays decided.

An official writes a grant's texts (`DecisionText`: the report's sections, the letters'
conditions, how to requisition and to appeal, the delegation's reference, the administration's
address and contact) on the officials' page or in the admin; both call `save_texts`, which
records who changed what (`allocations.audit`).

A decision is public and stays as decided, its texts included, while the grant's texts may go
on changing (a later redistribution round, a new contact person). So before the first change
after a decision, the texts as they stood are copied to each decided run that has no copy yet
(`keep_decided_texts`), and a decided run's documents read its copy (`texts_for`). Until then,
the grant's texts are still exactly what the decision used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from allocations import audit
from allocations.models import AllocationRun, Grant

from .models import DecidedTexts, DecisionSection, DecisionText, Signatory

# The fields of `DecisionText` the documents read, in the form's order.
TEXT_FIELDS = (
    "subtitle",
    "meeting_date",
    "delegated_amount",
    "immediate_adjustment",
    "summary",
    "background",
    "matter",
    "preparation",
    "considerations",
    "gender_analysis",
    "attachments",
    "letter_conditions",
    "letter_requisition",
    "appeal",
    "delegation_reference",
    "postal_address",
    "org_number",
    "contact_name",
    "contact_title",
    "contact_email",
    "contact_phone",
)
SECTION_FIELDS = ("heading", "body", "position")
SIGNATORY_FIELDS = ("name", "title", "organisation", "position")


@dataclass
class Texts:
    """What a document says around its figures: the texts, further sections and signatories."""

    text: DecisionText
    sections: list[DecisionSection] = field(default_factory=list)
    signatories: list[Signatory] = field(default_factory=list)
    kept: bool = False  # read from a decided run's copy


def _value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def text_values(text: DecisionText) -> dict:
    return {name: _value(getattr(text, name)) for name in TEXT_FIELDS}


def snapshot(text: DecisionText | None) -> dict:
    """The grant's texts as plain JSON values (an empty text when none is written yet)."""
    if text is None or text.pk is None:
        return {"text": text_values(DecisionText()), "sections": [], "signatories": []}
    return {
        "text": text_values(text),
        "sections": [
            {name: getattr(s, name) for name in SECTION_FIELDS} for s in text.sections.all()
        ],
        "signatories": [
            {name: getattr(s, name) for name in SIGNATORY_FIELDS} for s in text.signatories.all()
        ],
    }


def _from_snapshot(grant: Grant, data: dict) -> Texts:
    text = DecisionText(grant=grant)
    for name in TEXT_FIELDS:
        if name in data["text"]:
            setattr(text, name, data["text"][name])
    text.meeting_date = DecisionText._meta.get_field("meeting_date").to_python(text.meeting_date)
    return Texts(
        text=text,
        sections=[DecisionSection(**s) for s in data.get("sections", ())],
        signatories=[Signatory(**s) for s in data.get("signatories", ())],
        kept=True,
    )


def current_texts(grant: Grant) -> Texts:
    """The grant's texts as they are now, or empty ones: a grant can be rendered before anyone
    writes."""
    text = DecisionText.objects.filter(grant=grant).first()
    if text is None:
        return Texts(text=DecisionText(grant=grant))
    return Texts(
        text=text, sections=list(text.sections.all()), signatories=list(text.signatories.all())
    )


def texts_for(run: AllocationRun) -> Texts:
    """The texts `run`'s documents use: its kept copy when decided and kept, else the grant's."""
    if run.is_decided:
        kept = DecidedTexts.objects.filter(run=run).first()
        if kept is not None:
            return _from_snapshot(run.grant, kept.texts)
    return current_texts(run.grant)


def keep_decided_texts(*, grant: Grant) -> list[DecidedTexts]:
    """Copy the grant's texts as they stand to every decided run that has no copy yet.

    Called before any change to the texts; the texts are locked, so a change and a copy of
    the texts it changes cannot interleave.
    """
    text = DecisionText.objects.select_for_update().filter(grant=grant).first()
    runs = grant.runs.decided().filter(decided_texts__isnull=True)
    if not runs.exists():
        return []
    data = snapshot(text)
    now = timezone.now()
    return DecidedTexts.objects.bulk_create(
        DecidedTexts(run=run, texts=data, kept_at=now) for run in runs
    )


@transaction.atomic
def save_texts(*, grant: Grant, values: dict, actor) -> DecisionText:
    """Write the grant's decision texts (`values`: field → value, fields of `TEXT_FIELDS`).

    The one door for the officials' page; the admin calls `keep_decided_texts` and `log_change`
    around its own save, because its inlines are saved by the admin itself.
    """
    unknown = set(values) - set(TEXT_FIELDS)
    if unknown:
        raise ValueError(f"not decision text fields: {sorted(unknown)}")
    keep_decided_texts(grant=grant)
    text = DecisionText.objects.select_for_update().filter(grant=grant).first()
    created = text is None
    if created:
        text = DecisionText(grant=grant)
    before = text_values(text)
    for name, value in values.items():
        setattr(text, name, value)
    text.full_clean()
    after = text_values(text)
    if not created and before == after:
        return text
    text.save()
    log_change(text, actor=actor, before=before if not created else None, after=after)
    return text


def log_change(text: DecisionText, *, actor, before: dict | None, after: dict) -> None:
    """The audit entry of a change to the texts: only the fields that changed."""
    if before is not None:
        changed = [name for name in after if before.get(name) != after[name]]
        before = {name: before.get(name) for name in changed}
        after = {name: after[name] for name in changed}
    audit.log(
        "decision_texts_changed", text, grant=text.grant, actor=actor, before=before, after=after
    )
