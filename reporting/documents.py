"""What the decision report and the decision letters say, gathered from a computed run.

The templates (`templates/reporting/documents/`) only lay these out: every
number comes from the run's stored rows and pot results, and the totals are
checked to tie to the grant before anything is rendered. Words are English
msgids, rendered in Swedish (`translation.override("sv")`) by `pdf`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from allocations import engine, grantfile
from allocations.jobs import JobRefused
from allocations.models import (
    AllocationRun,
    DatasetValue,
    Grant,
    GrantUnit,
    Organisation,
    Pot,
    PotResult,
)
from allocations.wording import (
    NBSP,
    format_count,
    format_kronor,
    format_rate,
    measure_word,
    rule_text,
    tier_text,
)

from .models import DecisionText
from .texts import Texts, texts_for


class RenderError(JobRefused):
    """A document cannot be produced; the message is for the official who asked."""


def kr(amount: int) -> str:
    return format_kronor(amount, nbsp=True)


def runs_of(grant: Grant) -> QuerySet[AllocationRun]:
    """The grant's runs over the whole budget tree.

    A redistribution round (omfördelning, `redistributes`) is a run of one pot
    and gets documents of its own, not these.
    """
    return grant.runs.filter(redistributes=None)


def latest_run(grant: Grant, *, decided: bool = False) -> AllocationRun:
    runs = runs_of(grant)
    if decided:
        runs = runs.exclude(decided_on=None)
    run = runs.order_by("-number").first()
    if run is None:
        if decided:
            raise RenderError(
                _("“%(grant)s” has no decided allocation yet.") % {"grant": grant.title}
            )
        raise RenderError(
            _("“%(grant)s” has not been computed yet: compute it first.") % {"grant": grant.title}
        )
    return run


# ---------------------------------------------------------------- the run, loaded once


@dataclass
class Line:
    """One row as a document shows it."""

    organisation_id: int
    organisation: str
    org_number: str
    unit: str
    quantity: int | None
    amount: int
    basis: str


@dataclass
class PotSection:
    pot: Pot
    result: PotResult
    depth: int
    leaf: bool
    model_type: str | None
    description: list[str] = field(default_factory=list)
    rule: str = ""  # who is eligible, in sentences; empty for a model without a rule
    by_organisation: list[Line] = field(default_factory=list)
    by_unit: list[Line] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.pot.name

    @property
    def unit_based(self) -> bool:
        return self.model_type in engine.UNIT_BASED


class RunData:
    """A run's pots, results, organisations, units and key values, read in a few queries.

    `organisation_ids` limits the rows read to those recipients (a batch of letters).
    """

    def __init__(self, run: AllocationRun, organisation_ids: list[int] | None = None):
        self.run = run
        self.grant = run.grant
        self.tree = self.grant.pot_tree()
        self.pots = self.tree.by_key
        self.results = list(run.pot_results.order_by("position"))
        rows = run.rows.order_by("id")
        if organisation_ids is not None:
            rows = rows.filter(organisation_id__in=organisation_ids)
        self.rows = list(
            rows.values_list("pot_id", "organisation_id", "unit_id", "quantity", "amount")
        )
        org_ids = {r[1] for r in self.rows} | self._model_organisations()
        self.organisations = {
            o.pk: o for o in Organisation.objects.filter(pk__in=org_ids).order_by("name")
        }
        self.org_by_slug = {o.slug: o for o in self.organisations.values()}
        unit_ids = {r[2] for r in self.rows if r[2] is not None}
        self.units = {
            gu.unit_id: gu
            for gu in GrantUnit.objects.filter(grant=self.grant, unit_id__in=unit_ids)
            .select_related("unit")
            .only("unit_id", "type", "places", "customers", "unit__name", "unit__slug")
        }
        self.key_values: dict[str, dict[int, int]] = defaultdict(dict)
        self.datasets = {d.slug: d for d in self.grant.datasets.all()}
        if any(self._model(p).get("type") == "key" for p in self.pots.values()):
            values = DatasetValue.objects.filter(dataset__grant=self.grant)
            if organisation_ids is not None:
                values = values.filter(organisation_id__in=organisation_ids)
            for slug, org_id, value in values.values_list(
                "dataset__slug", "organisation_id", "value"
            ):
                self.key_values[slug][org_id] = value
        self.depths = self.tree.depths()
        self.parents = self.tree.parents

    def _model(self, pot: Pot) -> dict:
        """The pot's model as this run used it: a redistribution round's, among its recipients."""
        model = pot.model if isinstance(pot.model, dict) else {}
        chosen = self.run.redistribution_recipients
        if self.run.redistributes_id != pot.pk or not chosen:
            return model
        model = dict(model)
        if "amounts" in model:
            model["amounts"] = {k: v for k, v in model["amounts"].items() if k in chosen}
        if model.get("recipients") is not None:
            model["recipients"] = [o for o in model["recipients"] if o in chosen]
        return model

    def _model_organisations(self) -> set[int]:
        """Organisations a pot's model names (fixed, equal, remainder), for its description."""
        slugs = set()
        for pot in self.pots.values():
            model = self._model(pot)
            slugs.update(model.get("amounts", {}))
            slugs.update(model.get("recipients") or ())
            if model.get("recipient"):
                slugs.add(model["recipient"])
        if not slugs:
            return set()
        return set(Organisation.objects.filter(slug__in=slugs).values_list("pk", flat=True))

    def org_name(self, slug: str) -> str:
        org = self.org_by_slug.get(slug)
        return org.name if org is not None else slug

    # ---------------------------------------------------------------- words

    def describe(self, pot: Pot, result: PotResult) -> list[str]:
        """The pot's allocation model in words, with its figures (what is left is the report's)."""
        model = self._model(pot)
        kind = model.get("type")
        lines = [pot.description] if pot.description else []
        if kind == "fixed":
            amounts = "; ".join(
                f"{self.org_name(slug)} {kr(int(amount))}"
                for slug, amount in model["amounts"].items()
            )
            lines.append(_("Fixed amounts: %(amounts)s.") % {"amounts": amounts})
        elif kind == "equal":
            count = len(model["recipients"])
            lines.append(
                _("Split equally among %(count)s recipients, %(share)s each.")
                % {"count": count, "share": kr(result.allocated // count if count else 0)}
            )
            odd = result.allocated % count if count else 0
            if odd:
                lines.append(
                    _(
                        "The %(odd)s that do not divide evenly go one krona each by the "
                        "largest-remainder method."
                    )
                    % {"odd": kr(odd)}
                )
        elif kind == "remainder":
            lines.append(
                _("What is left goes to %(recipient)s.")
                % {"recipient": self.org_name(model["recipient"])}
            )
        elif kind == "key":
            lines.append(self._key_text(model))
        elif kind == "per_unit":
            lines.extend(self._per_unit_text(model, result))
        elif kind == "tiered":
            lines.extend(self._tiered_text(model))
        elif kind == "approved_amounts":
            lines.append(_("Amounts granted on application, within the pot."))
        return lines

    def _key_text(self, model: dict) -> str:
        factors = model["factors"]
        total = sum(Decimal(f["weight"]) for f in factors)
        parts = []
        for factor in factors:
            dataset = self.datasets.get(factor["dataset"])
            share = (Decimal(factor["weight"]) / total * 100).quantize(Decimal("0.1"))
            label = dataset.label if dataset else factor["dataset"]
            details = (
                f" ({dataset.source}, {dataset.reference_date:%Y-%m-%d})"
                if dataset and dataset.source
                else ""
            )
            parts.append(f"{format_percent(share)} {label}{details}")
        return _("Split by a key: %(factors)s.") % {"factors": "; ".join(parts)}

    def rule(self, pot: Pot) -> str:
        """Who is eligible in the pot, in sentences (`wording.rule_text`); "" without a rule."""
        model = self._model(pot)
        if model.get("type") not in engine.UNIT_BASED:
            return ""
        if model.get("type") == "tiered" and not model.get("eligible"):
            return ""
        return rule_text(model.get("eligible"), municipality=self.grant.recipient)

    def _per_unit_text(self, model: dict, result: PotResult) -> list[str]:
        measure = model["measure"]
        lines = [
            _("Split per %(measure)s among the units that meet the eligibility rule.")
            % {"measure": measure_word(measure, 1)}
        ]
        if model.get("applicants_only", True):
            lines.append(_("Only units named in an approved application take part."))
        if model.get("max_rate"):
            lines.append(
                _("At most %(rate)s per %(measure)s; what is not divided stays unallocated.")
                % {
                    "rate": format_rate(Fraction(model["max_rate"]), nbsp=True),
                    "measure": measure_word(measure, 1),
                }
            )
        rate = result.rate
        if rate:
            total = int(result.allocated / rate) if rate else 0
            lines.append(
                _("%(count)s %(measure)s in all gives %(rate)s per %(one)s.")
                % {
                    "count": format_count(total),
                    "measure": measure_word(measure, total),
                    "rate": format_rate(rate, nbsp=True),
                    "one": measure_word(measure, 1),
                }
            )
        return lines

    def _tiered_text(self, model: dict) -> list[str]:
        lines = [_("Fixed amounts by activity and volume:")]
        for tier in grantfile.to_model(model).tiers:
            lines.append(tier_text(tier))
        if model.get("overflow") == "scale":
            lines.append(_("If the amounts exceed the pot, every amount is scaled down in step."))
        return lines

    def basis(self, pot: Pot, result: PotResult | None, org_id: int, unit_id, quantity) -> str:
        """Why a row has its amount, in a few words: `64 platser × 1 200,05 kr`."""
        model = self._model(pot)
        kind = model.get("type")
        if kind == "per_unit" and result is not None and result.rate is not None:
            return _("%(count)s %(measure)s × %(rate)s") % {
                "count": format_count(quantity),
                "measure": measure_word(model["measure"], quantity or 0),
                "rate": format_rate(result.rate, nbsp=True),
            }
        if kind == "tiered" and unit_id in self.units:
            unit = self.units[unit_id]
            # The figures the run used are the grant's, as stored with the unit.
            tier = engine.tier_for(
                grantfile.to_model(model).tiers,
                engine.Unit(str(unit_id), "", unit.type, unit.places, unit.customers),
            )
            if tier is not None:
                return tier_text(tier)
        if kind == "key":
            values = []
            for factor in model["factors"]:
                dataset = self.datasets.get(factor["dataset"])
                value = self.key_values.get(factor["dataset"], {}).get(org_id, 0)
                label = dataset.label if dataset else factor["dataset"]
                values.append(f"{label}: {format_count(value)}")
            return _("Key: %(values)s") % {"values": "; ".join(values)}
        if kind == "equal":
            return _("Equal share, one of %(count)s") % {"count": len(model["recipients"])}
        if kind == "fixed":
            return _("Fixed amount")
        if kind == "remainder":
            return _("What is left of the pot")
        if kind == "approved_amounts":
            return _("Granted on application")
        return ""

    # ---------------------------------------------------------------- sections

    def sections(self) -> list[PotSection]:
        """Every pot in tree order, leaves with their rows by organisation and by unit."""
        rows_by_pot: dict[int, list[tuple]] = defaultdict(list)
        for row in self.rows:
            rows_by_pot[row[0]].append(row)
        out = []
        for result in self.results:
            pot = self.pots[result.pot_id]
            leaf = pot.pk not in self.parents
            section = PotSection(
                pot=pot,
                result=result,
                depth=self.depths[pot.pk],
                leaf=leaf,
                model_type=self._model(pot).get("type") if leaf else None,
            )
            if leaf:
                section.description = self.describe(pot, result)
                section.rule = self.rule(pot)
                self._fill(section, rows_by_pot.get(pot.pk, []))
            out.append(section)
        return out

    def _fill(self, section: PotSection, rows: list[tuple]) -> None:
        per_org: dict[int, list[int]] = {}
        for _pot, org_id, unit_id, quantity, amount in rows:
            org = self.organisations[org_id]
            if amount == 0:
                continue  # a remainder pot with nothing left; rows of 0 kr are left out
            if section.unit_based and unit_id is not None:
                unit = self.units.get(unit_id)
                section.by_unit.append(
                    Line(
                        org_id,
                        org.name,
                        org.org_number,
                        unit.unit.name if unit else "",
                        quantity,
                        amount,
                        self.basis(section.pot, section.result, org_id, unit_id, quantity),
                    )
                )
            total = per_org.setdefault(org_id, [0, 0, 0])
            total[0] += quantity or 0
            total[1] += amount
            total[2] += 1
        for org_id, (quantity, amount, _count) in sorted(
            per_org.items(), key=lambda item: self.organisations[item[0]].name
        ):
            org = self.organisations[org_id]
            basis = (
                ""
                if section.unit_based
                else self.basis(section.pot, section.result, org_id, None, None)
            )
            section.by_organisation.append(
                Line(
                    org_id,
                    org.name,
                    org.org_number,
                    "",
                    quantity if section.unit_based else None,
                    amount,
                    basis,
                )
            )
        section.by_unit.sort(key=lambda line: (line.organisation, line.unit))


def format_percent(value: Decimal) -> str:
    text = f"{value.normalize():f}".replace(".", ",")
    return f"{text}{NBSP}%"


# ---------------------------------------------------------------- the documents


def check_totals(data: RunData, sections: list[PotSection]) -> dict:
    """The figures the report prints, checked to tie: rows → pots → grant."""
    run = data.run
    if not data.rows:
        raise RenderError(
            _("“%(grant)s” has nothing allocated in run %(number)s: there is nothing to report.")
            % {"grant": data.grant.title, "number": run.number}
        )
    allocated = sum(r[4] for r in data.rows)
    top = [s for s in sections if s.depth == 0]
    top_allocated = sum(s.result.allocated for s in top)
    top_amount = sum(s.result.amount for s in top)
    problems = []
    for section in sections:
        if section.leaf:
            rows = sum(line.amount for line in section.by_organisation)
            if rows != section.result.allocated:
                problems.append(f"{section.result.path}: {rows} ≠ {section.result.allocated}")
    if top_allocated != allocated:
        problems.append(f"{top_allocated} ≠ {allocated}")
    if top_amount > run.grant_amount:
        problems.append(f"{top_amount} > {run.grant_amount}")
    if problems:
        raise RenderError(
            _("The totals of run %(number)s do not tie (%(problems)s); the report is not made.")
            % {"number": run.number, "problems": "; ".join(problems)}
        )
    return {
        "amount": run.grant_amount,
        "pots": top_amount,
        "allocated": allocated,
        "unallocated": run.grant_amount - allocated,
        "not_in_pots": run.grant_amount - top_amount,
    }


def decision_points(grant: Grant, text: DecisionText, totals: dict) -> list[str]:
    """The numbered points of the proposal (förvaltningens förslag till beslut)."""
    body = grant.decision_body
    points = [
        _(
            "%(body)s approves the administration's proposed model for allocating "
            "“%(title)s”, %(amount)s."
        )
        % {"body": body, "title": grant.title, "amount": kr(totals["amount"])}
    ]
    if grant.delegated_to:
        amount = text.delegated_amount if text.delegated_amount is not None else totals["amount"]
        points.append(
            _(
                "%(body)s delegates to the %(delegate)s to allocate %(amount)s according to the "
                "model proposed in this matter."
            )
            % {"body": body, "delegate": lower_first(grant.delegated_to), "amount": kr(amount)}
        )
    if text.immediate_adjustment:
        points.append(_("%(body)s declares the decision immediately adjusted.") % {"body": body})
    return points


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def default_summary(grant: Grant, totals: dict) -> str:
    return _(
        "%(recipient)s has received %(amount)s from %(source)s under the agreement "
        "“%(agreement)s”. This matter proposes how the money is allocated."
    ) % {
        "recipient": grant.recipient,
        "amount": kr(totals["amount"]),
        "source": grant.received_from,
        "agreement": grant.agreement.title,
    }


def agreement_paragraph(grant: Grant) -> str:
    agreement = grant.agreement
    text = _("The agreement “%(title)s” (%(year)s) between %(parties)s.") % {
        "title": agreement.title,
        "year": agreement.year,
        "parties": _(" and ").join(agreement.parties),
    }
    if agreement.national_amount:
        text += " " + _("It covers %(amount)s nationally.") % {
            "amount": kr(agreement.national_amount)
        }
    return f"{text} {agreement.purpose}"


# ---------------------------------------------------------------- what every decision says
# A Swedish administrative decision says who decided and on what authority, when, under which
# reference, what and why, on what conditions, by when, how to appeal, and whom to ask.

# Swedish endings of the offices and bodies that decide, and their definite form:
# "förvaltningschef" → "förvaltningschefen", "nämnd" → "nämnden", "utskott" → "utskottet".
DEFINITE_ENDINGS = (
    ("chef", "en"),
    ("direktör", "en"),
    ("nämnd", "en"),
    ("styrelse", "n"),
    ("are", "n"),
    ("utskott", "et"),
    ("råd", "et"),
)


def in_sentence(name: str) -> str:
    """An office or a body as it stands inside a Swedish sentence: `Förvaltningschef` →
    `förvaltningschefen`, `Äldrenämnden` → `äldrenämnden`.

    Only a one-word name is changed (a name of several words may hold a proper noun,
    "Stockholms stads äldrenämnd"), and only in Swedish; in English a name is as written.
    """
    name = name.strip()
    if not (get_language() or "").startswith("sv") or " " in name or len(name) < 2:
        return name
    word = name[0].lower() + name[1:] if name[1:2].islower() else name
    for ending, suffix in DEFINITE_ENDINGS:
        if word.endswith(ending):
            return word + suffix
    return word


def decided_by_text(*, body: str, delegate: str = "", reference: str = "") -> str:
    """Who decided and on what authority: "Beslut fattat av förvaltningschefen med stöd av
    delegation från äldrenämnden (delegationsordning punkt 3.2)." """
    if not delegate:
        return _("Decision made by %(body)s.") % {"body": in_sentence(body)}
    params = {"delegate": in_sentence(delegate), "body": in_sentence(body), "reference": reference}
    if reference:
        return (
            _("Decision made by %(delegate)s under delegation from %(body)s (%(reference)s).")
            % params
        )
    return _("Decision made by %(delegate)s under delegation from %(body)s.") % params


def default_appeal() -> str:
    """How a municipal decision is appealed: judicial review under the Local Government Act."""
    return _(
        "This decision can be appealed by judicial review (laglighetsprövning) under chapter 13 "
        "of the Local Government Act (2017:725). Any member of the municipality may appeal. The "
        "appeal is made in writing to the administrative court (förvaltningsrätten) and must "
        "have reached the court within three weeks from the day it was announced on the "
        "municipality's notice board (anslagstavla) that the decision had been made, or for a "
        "decision of a board, that its minutes had been approved. State which decision you "
        "appeal, with its date and reference number, and why you consider that it should be "
        "set aside: that it was not made in due order, that it concerns something outside the "
        "municipality's powers, that the body that made it exceeded its powers, or that it is "
        "otherwise contrary to law."
    )


def portal_url() -> str:
    return settings.STIMULANS_BASE_URL + reverse("portal:decisions")


def default_requisition(grant: Grant) -> str:
    """How to requisition: on the decision's page in the providers' portal."""
    return _(
        "Requisition the money in the stimulus-grant portal, %(url)s: sign in, choose "
        "Decisions and open the decision on “%(grant)s” (one for each part of the grant you "
        "are granted money from). On the decision's page, give the account the money is to be "
        "paid into and how you plan to use it under each of the agreement's headings; the "
        "amounts must add up to the amount granted. You can also decline the money there."
    ) % {"url": portal_url(), "grant": grant.title}


def administration(grant: Grant, text: DecisionText) -> dict:
    """Who sends the decision: name, postal address, organisation number and contact."""
    org = grant.administered_by
    return {
        "name": org.name,
        "municipality": grant.recipient,
        "address": text.address_lines(),
        "org_number": text.org_number or org.org_number,
        "contact_name": text.contact_name,
        "contact_title": text.contact_title,
        "contact_email": text.contact_email,
        "contact_phone": text.contact_phone,
    }


def requisition_deadlines(run: AllocationRun) -> dict[int, date | None]:
    """The requisition deadline the decision set (`Requisition.due_on`), per organisation."""
    out: dict[int, date | None] = {}
    for org_id, due_on in run.requisitions.values_list("organisation_id", "due_on"):
        if due_on is not None and (out.get(org_id) is None or due_on < out[org_id]):
            out[org_id] = due_on
        else:
            out.setdefault(org_id, due_on)
    return out


def requisition_deadline(run: AllocationRun) -> date | None:
    """The decision's requisition deadline for every recipient (the earliest, if they differ)."""
    dates = [d for d in requisition_deadlines(run).values() if d is not None]
    return min(dates) if dates else None


def common_context(run: AllocationRun, texts: Texts) -> dict:
    """What the report and the letters of one decision share."""
    grant = run.grant
    text = texts.text
    decided = run.is_decided
    body = run.decided_by if decided else grant.decision_body
    delegate = run.delegation if decided else grant.delegated_to
    agreement = grant.agreement
    return {
        **redistribution_context(run),
        "grant": grant,
        "agreement": agreement,
        "run": run,
        "decided": decided,
        "text": text,
        "sections_extra": texts.sections,
        "signatories": texts.signatories,
        "reference": run.decision_reference or grant.reference,
        "administration": grant.administered_by.name,
        "sender": administration(grant, text),
        "decided_by": decided_by_text(
            body=body, delegate=delegate, reference=text.delegation_reference if delegate else ""
        ),
        "appeal": text.appeal or default_appeal(),
        "requisition_how": text.letter_requisition or default_requisition(grant),
        "uses": list(agreement.permitted_uses.all()),
    }


def decision_context(run: AllocationRun) -> dict:
    """Everything the decision report (tjänsteutlåtande) shows, checked to tie."""
    data = RunData(run)
    grant = data.grant
    texts = texts_for(run)
    text = texts.text
    sections = data.sections()
    totals = check_totals(data, sections)
    appendix = [s for s in sections if s.leaf and s.by_unit]
    attachments = []
    if appendix:
        attachments.append(_("Appendix 1: Allocation per unit"))
    attachments.extend(text.attachment_lines())
    return {
        **common_context(run, texts),
        "date": run.decided_on or text.meeting_date,
        "points": decision_points(grant, text, totals),
        "summary_default": default_summary(grant, totals),
        "agreement_paragraph": agreement_paragraph(grant),
        "tree": sections,
        "leaves": [s for s in sections if s.leaf],
        "appendix": appendix,
        "totals": totals,
        "attachments": attachments,
        "requisition_by": requisition_deadline(run) if run.is_decided else None,
    }


def redistribution_context(run: AllocationRun) -> dict:
    """What a redistribution round's documents say of it: which round, of what money, from where."""
    if not run.is_redistribution:
        return {"redistribution": False}
    sources = (
        AllocationRun.objects.filter(requisitions__claims__redistribution=run)
        .distinct()
        .select_related("redistributes")
        .order_by("number")
    )
    return {
        "redistribution": True,
        "round_title": run.title_with_amount(),
        "round_number": run.round_number,
        "source_runs": [
            _("%(title)s, decided on %(date)s")
            % {"title": source.title(), "date": f"{source.decided_on:%Y-%m-%d}"}
            for source in sources
        ],
    }


def recipients(run: AllocationRun) -> list[Organisation]:
    """The organisations a run gives money to, by name: one letter each."""
    ids = run.rows.filter(amount__gt=0).values_list("organisation_id", flat=True).distinct()
    return list(Organisation.objects.filter(pk__in=ids).order_by("name", "slug"))


def letter_contexts(run: AllocationRun, organisation_ids: list[int]) -> list[dict]:
    """One decision letter (beslut om stimulansmedel) per recipient, in the order given."""
    if not run.is_decided:
        raise RenderError(
            _("Run %(number)s of “%(grant)s” is not decided: letters go out after the decision.")
            % {"number": run.number, "grant": run.grant.title}
        )
    data = RunData(run, organisation_ids)
    sections = [s for s in data.sections() if s.leaf]
    common = {**common_context(run, texts_for(run)), "date": run.decided_on}
    deadlines = requisition_deadlines(run)
    out = []
    for org_id in organisation_ids:
        org = data.organisations.get(org_id)
        if org is None:
            raise RenderError(
                _("Run %(number)s gives nothing to organisation %(id)s.")
                % {"number": run.number, "id": org_id}
            )
        groups, conditions, computations = [], [], []
        for section in sections:
            mine = [line for line in section.by_unit if line.organisation_id == org_id]
            totals = [line for line in section.by_organisation if line.organisation_id == org_id]
            if not totals:
                continue
            groups.append((section, mine or totals))
            if section.model_type != "fixed":  # a fixed amount's basis says all there is
                computations.append((section.name, section.description))
            if section.rule:
                conditions.append((section.name, section.rule))
        if not groups:
            raise RenderError(
                _("Run %(number)s gives nothing to organisation %(id)s.")
                % {"number": run.number, "id": org.name}
            )
        out.append(
            {
                **common,
                "organisation": org,
                "groups": groups,
                "computations": computations,
                "total": sum(line.amount for _section, lines in groups for line in lines),
                "conditions": conditions,
                "requisition_by": deadlines.get(org_id),
            }
        )
    return out
