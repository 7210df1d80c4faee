"""Rules that live in one place: every reader of a rule gets the same answer from it."""

import dataclasses
import io
import json
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from allocations import engine, grantfile
from allocations.forms import Draft, budget_problems
from allocations.models import Grant, ModelType, PotResult
from allocations.rates import rate_digits, round_rate
from allocations.services import compute_grant, export_allocations
from allocations.tree import pot_tree
from allocations.wording import format_kronor, format_rate
from reporting import pdf
from reporting.documents import RunData
from reporting.exporters import RATE_FORMAT, AllocationsExporter

from .conftest import SEED_000, SEED_001, seed_json
from .factories import signed_in

# ---------------------------------------------------------------- the rate


def test_a_rate_is_rounded_half_up_to_the_ore():
    assert round_rate(Fraction(240_001, 200)) == Decimal("1200.01")  # exactly 1 200,005
    assert round_rate(Fraction(240_0009, 2000)) == Decimal("1200.00")  # 1 200,0045
    assert round_rate(Fraction(1, 3)) == Decimal("0.33")
    assert round_rate(Fraction(2, 3)) == Decimal("0.67")
    assert round_rate(0) == Decimal("0.00")
    assert format_rate(Fraction(240_001, 200)) == "1 200,01 kr"
    with pytest.raises(TypeError):
        round_rate(1200.005)


def test_the_machine_readable_rate_is_cut_not_rounded():
    assert rate_digits(Fraction(2, 3)) == "0.6666666666"
    assert rate_digits(Fraction(240_001, 200)) == "1200.005"
    assert rate_digits(1200) == "1200"


def half_ore_grant(tmp_path) -> Grant:
    """Seed 000 with one approved application of one 200-place home in the rest pot of
    240 001 kr: exactly 1 200,005 kr a place, the case where roundings part ways."""
    data = seed_json(SEED_000)
    unit = next(u for u in data["units"] if u["type"] == "care_home" and u["in_city"])
    unit["places"] = 200
    app = next(a for a in data["applications"] if a["pot"] == "sarskilda-boenden")
    app.update(organisation=unit["organisation"], units=[unit["id"]], status="approved")
    data["applications"] = [app]
    fixed = sum(p["amount"] for p in data["pots"] if p["amount"] != "rest")
    data["grant"]["amount"] = fixed + 240_001
    path = tmp_path / "half-ore.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    call_command("import_grant", str(path), stdout=io.StringIO())
    return Grant.objects.get(slug=data["grant"]["id"])


@pytest.mark.django_db
def test_a_rate_shows_the_same_digits_on_the_page_in_the_pdf_and_in_xlsx(tmp_path, official):
    grant = half_ore_grant(tmp_path)
    run = compute_grant(grant_id=grant.pk)
    result = PotResult.objects.get(run=run, pot__slug="sarskilda-boenden")
    assert result.rate == Fraction(240_001, 200)
    shown = "1\u00a0200,01\u00a0kr"

    assert Template("{% load money %}{{ r|rate }}").render(Context({"r": result.rate})) == shown
    page = signed_in(official).get(reverse("office:run", args=[run.pk]))
    assert shown in page.content.decode()

    reader = PdfReader(io.BytesIO(pdf.render_decision(run)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert shown in re.sub(r"[ \n]+", " ", text)
    assert "1\u00a0200,00" not in text

    out = io.BytesIO()
    AllocationsExporter(grant).write("xlsx", out)
    out.seek(0)
    summary = load_workbook(out).worksheets[0]
    cell = next(row[5] for row in summary.iter_rows(min_row=2) if row[0].value == result.pot.slug)
    assert Decimal(str(cell.value)) == Decimal("1200.01")
    assert cell.number_format == RATE_FORMAT

    # The file export keeps the exact digits (cut after ten decimals), as docs/grant-file.md says.
    pots = {p["id"]: p for p in export_allocations(run)["pots"]}
    assert pots["sarskilda-boenden"]["rate"] == "1200.005"


# ---------------------------------------------------------------- model types


def test_the_model_type_choices_are_the_engines():
    assert tuple(ModelType.values) == engine.MODEL_TYPES
    assert engine.UNIT_BASED < engine.APPLIED_FOR <= set(engine.MODEL_TYPES)
    assert grantfile.UNIT_BASED is engine.UNIT_BASED


# ---------------------------------------------------------------- the budget tree


def test_a_rest_pot_whose_fixed_amounts_exceed_what_is_left_is_refused_by_every_reader():
    """Seed 000's rest pot gets 6 209 071 kr; fixed amounts of 7 000 000 kr do not fit."""
    fixed = {"type": "fixed", "amounts": {"aldreforvaltningen": 7_000_000}}
    data = seed_json(SEED_000)
    data["pots"][2]["model"] = fixed
    data["applications"] = []

    with pytest.raises(grantfile.GrantFileError) as refused:
        grantfile.check(data)
    errors = [f"{p}: {m}" for p, m in refused.value.errors]
    assert errors == [
        "pots[2].model.amounts: the amounts (7000000 kr) exceed the pot (6209071 kr) by 790929 kr"
    ]

    pots = [
        engine.Pot("a", "A", 1_000_000, engine.Fixed((("x", 1_000_000),))),
        engine.Pot("b", "B", 1_000_000, engine.Fixed((("y", 1_000_000),))),
        engine.Pot("c", "C", engine.REST, engine.Fixed((("z", 7_000_000),))),
    ]
    with pytest.raises(engine.AllocationError) as info:
        engine.compute(engine.GrantInput(amount=8_209_071, pots=tuple(pots)))
    assert (info.value.pot, info.value.message) == (
        "c",
        "the fixed amounts (7000000 kr) exceed the pot (6209071 kr) by 790929 kr",
    )

    drafts = [
        Draft(1, "A", None, 1_000_000, True, 1_000_000),
        Draft(2, "B", None, 1_000_000, True, 1_000_000),
        Draft(3, "C", None, None, True, grantfile.fixed_total(fixed)),
    ]
    problems = budget_problems(8_209_071, drafts)
    assert [(p.pot, p.code) for p in problems] == [(3, "fixed_exceeds")]
    assert "C" in problems[0].message
    assert format_kronor(790_929) in problems[0].message


def test_one_mistake_gives_one_problem_not_a_cascade():
    """Parts that exceed their parent leave the rest pot beside them unknown, not 0 kr."""
    tree = [
        engine.BudgetPot("a", 900, has_model=True),
        engine.BudgetPot("b", 200, has_model=True),
        engine.BudgetPot("c", engine.REST, children=(engine.BudgetPot("c1", 50, has_model=True),)),
    ]
    amounts, problems = engine.check_budget(1000, tree)
    assert [(p.code, p.pot, p.total, p.amount) for p in problems] == [("exceeds", None, 1100, 1000)]
    assert amounts["c"] is None
    assert amounts["c1"] == 50


# ---------------------------------------------------------------- tiers and the tree


@pytest.mark.django_db
def test_a_tiered_rows_basis_names_the_tier_the_engine_chose(import_seed):
    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    section = next(s for s in RunData(run).sections() if s.pot.slug == "digital-utveckling")
    assert section.by_unit
    for line in section.by_unit:
        # overflow "error": every row is its tier's amount, and the basis ends with it.
        assert line.basis.endswith(format_kronor(line.amount, nbsp=True)), line


def test_the_tree_puts_parents_before_children_by_position():
    @dataclasses.dataclass
    class P:
        pk: int
        parent_id: int | None
        position: int

    pots = [P(1, None, 2), P(2, None, 1), P(3, 1, 0), P(4, 3, 0), P(5, 2, 0)]
    tree = pot_tree(pots)
    assert [(p.pk, d) for p, d in tree.walk()] == [(2, 0), (5, 1), (1, 0), (3, 1), (4, 2)]
    assert tree.parents == {1, 2, 3}
    assert [p.pk for p in tree.ancestors(4)] == [3, 1]
    assert tree.below(1) == {3, 4}
    assert tree.fold(lambda p, kids: (p.pk, kids)) == [(2, [(5, [])]), (1, [(3, [(4, [])])])]
