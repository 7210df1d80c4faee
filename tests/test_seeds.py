"""The four seed decisions, imported and computed through the ledger, come out right."""

from fractions import Fraction

import pytest
from django.core.management import call_command

from allocations.models import AllocationRow, Ineligibility, PotResult
from allocations.services import compute_grant
from applications.models import Application, ApplicationStatus
from applications.services import review_application

from .conftest import SEED_000, SEED_001, SEED_002, SEED_003, seed_json

pytestmark = pytest.mark.django_db


def rows_by_org(run, pot_slug):
    out = {}
    for row in AllocationRow.objects.filter(run=run, pot__slug=pot_slug).select_related(
        "organisation"
    ):
        out[row.organisation.slug] = out.get(row.organisation.slug, 0) + row.amount
    return out


def pot_result(run, slug) -> PotResult:
    return run.pot_results.get(pot__slug=slug)


def test_seed_002_population_key_gives_exactly_twenty_million(import_seed):
    grant = import_seed(SEED_002)
    run = compute_grant(grant_id=grant.pk)
    amounts = rows_by_org(run, "befolkningsandel")
    assert sum(amounts.values()) == 20_000_000
    published = seed_json(SEED_002)["published"]["amounts"]
    assert sum(published.values()) == 20_000_002  # the published table overshoots
    differ = {
        org: (amounts[org], published[org]) for org in published if amounts[org] != published[org]
    }
    assert differ == {
        "danderyd-kommun": (283_150, 283_151),
        "upplands-vasby-kommun": (388_571, 388_572),
    }
    assert amounts["stockholms-stad"] == 8_209_071


def test_seed_000_per_place_pot_gives_1200_kr_per_place_when_all_apply(import_seed):
    grant = import_seed(SEED_000)
    run = compute_grant(grant_id=grant.pk)
    result = pot_result(run, "sarskilda-boenden")
    assert (result.amount, result.allocated, result.unallocated) == (6_209_071, 6_209_071, 0)
    places = sum(r.quantity for r in run.rows.filter(pot__slug="sarskilda-boenden"))
    assert places == 5_174
    assert result.rate == Fraction(6_209_071, 5_174)
    assert f"{float(result.rate):.2f}" == "1200.05"
    assert run.allocated() == 8_209_071
    fixed = rows_by_org(run, "utbildning-legitimerad-personal")
    assert fixed == {"aldreforvaltningen": 1_000_000}


def test_seed_000_rate_rises_when_fewer_apply(import_seed):
    grant = import_seed(SEED_000)
    first = compute_grant(grant_id=grant.pk)
    rate_all = pot_result(first, "sarskilda-boenden").rate
    app = Application.objects.filter(grant=grant, status=ApplicationStatus.APPROVED).first()
    review_application(app=app, approve=False, reason="Not in the city after all.", actor=None)
    again = compute_grant(grant_id=grant.pk)
    fewer = pot_result(again, "sarskilda-boenden")
    assert fewer.rate > rate_all
    assert fewer.allocated == 6_209_071
    assert not again.rows.filter(
        organisation=app.organisation, pot__slug="sarskilda-boenden"
    ).exists()


def test_seed_000_review_rejects_units_below_the_placement_share(import_seed):
    grant = import_seed(SEED_000, review=True)
    rejected = Application.objects.filter(grant=grant, status=ApplicationStatus.REJECTED)
    assert sorted(rejected.values_list("slug", flat=True)) == ["ans-011", "ans-021"]
    reasons = rejected.get(slug="ans-011").unit_reasons
    assert [r["code"] for r in reasons.values()] == ["any"]


def test_seed_001_tiered_pot_gives_9_135_000_and_says_why_nine_units_are_out(import_seed):
    grant = import_seed(SEED_001, review=True)
    run = compute_grant(grant_id=grant.pk)
    rows = run.rows.filter(pot__slug="digital-utveckling")
    by_amount = {}
    for row in rows:
        by_amount[row.amount] = by_amount.get(row.amount, 0) + 1
    assert by_amount == {20_000: 49, 35_000: 124, 30_000: 41, 55_000: 47}
    assert sum(r.amount for r in rows) == 9_135_000
    assert pot_result(run, "smarta-las").allocated == 1_565_000

    rejected = Application.objects.filter(grant=grant, status=ApplicationStatus.REJECTED)
    assert rejected.count() == 9
    codes = sorted(
        (reason["code"], reason["details"]["condition"]["field"])
        for app in rejected
        for reason in app.unit_reasons.values()
    )
    assert codes == [("condition", "customers")] * 6 + [("condition", "in_city")] * 3


def test_seed_001_approved_but_ineligible_units_get_nothing_and_a_reason(import_seed):
    grant = import_seed(SEED_001)
    for app in Application.objects.filter(grant=grant, status=ApplicationStatus.SUBMITTED):
        review_application(app=app, approve=True, actor=None)
    run = compute_grant(grant_id=grant.pk)
    assert run.rows.filter(pot__slug="digital-utveckling").count() == 261
    assert pot_result(run, "digital-utveckling").allocated == 9_135_000
    reasons = list(Ineligibility.objects.filter(run=run))
    assert len(reasons) == 9
    named = set(Application.objects.filter(grant=grant).values_list("slug", flat=True))
    assert all(r.application_slug in named for r in reasons)
    texts = sorted({r.reason() for r in reasons})
    assert texts == [
        "Villkoret uppfylls inte: enheten ska ha minst 10 kunder.",
        "Villkoret uppfylls inte: enheten ska ligga i staden.",
    ]


def test_seed_003_tree_allocates_each_area_and_leaves_160_000_open(import_seed):
    grant = import_seed(SEED_003)
    run = compute_grant(grant_id=grant.pk)
    top = {
        slug: (r.allocated, r.unallocated)
        for slug, r in (
            (s, pot_result(run, s))
            for s in ("nara-vard", "vardens-medarbetare", "vidareutbildning-ssk")
        )
    }
    assert top == {
        "nara-vard": (36_310_636, 0),
        "vardens-medarbetare": (10_300_000, 0),
        "vidareutbildning-ssk": (5_040_000, 160_000),
    }
    assert pot_result(run, "ssk-ansokan").unallocated == 160_000
    assert rows_by_org(run, "grundstod-sdf") == {
        f"stadsdelsforvaltning-{i:02d}": 500_000 for i in range(1, 12)
    }
    for key_pot, amount in (("prioriterade-omraden", 15_010_636), ("ovrigt-pagaende", 6_000_000)):
        assert sum(rows_by_org(run, key_pot).values()) == amount


# `allocate` waits for its job, which is queued only once its transaction commits.
@pytest.mark.django_db(transaction=True)
def test_every_seed_round_trips_through_allocate_and_export(import_seed, tmp_path, capsys):
    for slug in (SEED_000, SEED_001, SEED_002, SEED_003):
        import_seed(slug)
        call_command("allocate", slug)
        out = capsys.readouterr().out
        assert "Total" in out
    assert "51 810 636 kr" in out
    assert "160 000 kr" in out


# `allocate` waits for its job, which is queued only once its transaction commits.
@pytest.mark.django_db(transaction=True)
def test_allocate_shows_where_the_published_table_differs(import_seed, capsys):
    import_seed(SEED_002)
    call_command("allocate", SEED_002)
    out = capsys.readouterr().out
    assert "The published decision gave 20 000 002 kr in all" in out
    assert "danderyd-kommun: published 283 151 kr, computed 283 150 kr (-1 kr)" in out
    assert "upplands-vasby-kommun: published 388 572 kr, computed 388 571 kr (-1 kr)" in out
    assert out.count("published") == 3
