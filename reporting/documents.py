"""What the decision report and the decision letters say, gathered from a computed run.

The templates (`templates/reporting/documents/`) only lay these out: every
number comes from the run's stored rows and pot results, and the totals are
checked to tie to the grant before anything is rendered. Words are English
msgids, rendered in Swedish (`translation.override("sv")`) by `pdf`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import QuerySet
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


def decision_text(grant: Grant) -> DecisionText:
    """The official's texts, or empty ones: a grant can be rendered before anyone writes."""
    text = DecisionText.objects.filter(grant=grant).first()
    return text if text is not None else DecisionText(grant=grant)


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
        """The pot's allocation model in words, with its figures."""
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
        if result.unallocated:
            lines.append(_("Not allocated: %(amount)s.") % {"amount": kr(result.unallocated)})
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

    def _per_unit_text(self, model: dict, result: PotResult) -> list[str]:
        measure = model["measure"]
        lines = [
            _("Split per %(measure)s among units that meet the rule: %(rule)s.")
            % {"measure": measure_word(measure, 1), "rule": rule_text(model.get("eligible"))}
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
        if model.get("eligible"):
            lines.append(_("Eligibility: %(rule)s.") % {"rule": rule_text(model["eligible"])})
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


def decision_context(run: AllocationRun) -> dict:
    """Everything the decision report (tjänsteutlåtande) shows, checked to tie."""
    data = RunData(run)
    grant = data.grant
    text = decision_text(grant)
    sections = data.sections()
    totals = check_totals(data, sections)
    appendix = [s for s in sections if s.leaf and s.by_unit]
    attachments = []
    if appendix:
        attachments.append(_("Appendix 1: Allocation per unit"))
    attachments.extend(text.attachment_lines())
    return {
        "grant": grant,
        "agreement": grant.agreement,
        "run": run,
        "decided": run.is_decided,
        "date": run.decided_on or text.meeting_date,
        "reference": run.decision_reference or grant.reference,
        "administration": grant.administered_by.name,
        "text": text,
        "sections_extra": list(text.sections.all()) if text.pk else [],
        "signatories": list(text.signatories.all()) if text.pk else [],
        "points": decision_points(grant, text, totals),
        "summary_default": default_summary(grant, totals),
        "agreement_paragraph": agreement_paragraph(grant),
        "tree": sections,
        "leaves": [s for s in sections if s.leaf],
        "appendix": appendix,
        "totals": totals,
        "attachments": attachments,
        "uses": list(grant.agreement.permitted_uses.all()),
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
    grant = data.grant
    text = decision_text(grant)
    sections = [s for s in data.sections() if s.leaf]
    agreement = grant.agreement
    common = {
        **redistribution_context(run),
        "grant": grant,
        "agreement": agreement,
        "run": run,
        "text": text,
        "date": run.decided_on,
        "reference": run.decision_reference or grant.reference,
        "administration": grant.administered_by.name,
        "uses": list(agreement.permitted_uses.all()),
        "signatories": list(text.signatories.all()) if text.pk else [],
    }
    out = []
    for org_id in organisation_ids:
        org = data.organisations.get(org_id)
        if org is None:
            raise RenderError(
                _("Run %(number)s gives nothing to organisation %(id)s.")
                % {"number": run.number, "id": org_id}
            )
        groups, conditions = [], []
        for section in sections:
            mine = [line for line in section.by_unit if line.organisation_id == org_id]
            totals = [line for line in section.by_organisation if line.organisation_id == org_id]
            if not totals:
                continue
            groups.append((section, mine or totals))
            rule = data._model(section.pot).get("eligible")
            if rule:
                conditions.append((section.name, rule_text(rule)))
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
                "total": sum(line.amount for _section, lines in groups for line in lines),
                "conditions": conditions,
            }
        )
    return out
