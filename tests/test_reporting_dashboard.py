"""The grant dashboard: the budget tree's columns balance, and the charts show the money."""

from datetime import date

import pytest
from django.urls import reverse

from allocations.models import PotResult
from allocations.services import compute_grant
from allocations.wording import format_kronor
from reporting import dashboard

from .conftest import SEED_000, SEED_002, SEED_003, SEEDS
from .factories import decide, official_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", SEEDS)
def test_every_seed_balances(import_seed, slug):
    grant = import_seed(slug, review=True)
    run = compute_grant(grant_id=grant.pk)
    table = dashboard.budget_table(grant)
    assert table["problems"] == []
    assert table["totals"]["amount"] == run.grant_amount
    assert table["totals"]["allocated"] == run.allocated()
    assert table["totals"]["decided"] is None  # nothing decided yet
    assert [c.key for c in table["columns"]] == [
        "amount",
        "allocated",
        "decided",
        "unallocated",
        "requisitioned",
        "paid",
        "used",
        "unspent",
        "claimed",
        "repaid",
        "redistributed",
    ]
    assert table["totals"]["paid"] is None  # nothing to follow before a decision
    assert len(table["groups"]) == 1  # the budget; the follow-up comes with a decision
    by_slug = {row.pot.slug: row for row in table["rows"]}
    for pr in run.pot_results.select_related("pot"):
        assert by_slug[pr.pot.slug].values["allocated"] == pr.allocated
        assert by_slug[pr.pot.slug].values["unallocated"] == pr.unallocated


def test_decided_is_the_latest_decided_run(import_seed):
    grant = import_seed(SEED_003)
    run = compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2023, 5, 25), decided_by="Äldrenämnden")
    table = dashboard.budget_table(grant)
    assert table["totals"]["decided"] == table["totals"]["allocated"] == 51_650_636
    assert table["totals"]["unallocated"] == 160_000


@pytest.mark.breaks_books  # changes records behind the services' back, on purpose
def test_a_column_that_does_not_balance_is_named(import_seed):
    grant = import_seed(SEED_003)
    run = compute_grant(grant_id=grant.pk)
    PotResult.objects.filter(run=run, pot__slug="grundstod-sdf").update(allocated=5_400_000)
    problems = dashboard.budget_table(grant)["problems"]
    assert any("Utveckling av den nära vården" in p for p in problems)
    assert any(format_kronor(36_210_636) in p for p in problems)  # its parts now add up to this


def test_the_money_flow_follows_the_money_up_the_chain(import_seed):
    upstream = import_seed(SEED_002)
    up_run = compute_grant(grant_id=upstream.pk)
    decide(run_id=up_run.pk, decided_on=date(2019, 11, 1), decided_by="Storsthlm")
    grant = import_seed(SEED_000, review=True)
    compute_grant(grant_id=grant.pk)
    assert dashboard.upstream_chain(grant) == [(upstream, 8_209_071)]
    svg = dashboard.money_flow(grant)
    assert svg.startswith("<svg")
    assert upstream.title[:20] in svg
    assert format_kronor(20_000_000 - 8_209_071) in svg  # the rest went to the others
    assert "Fördelning till särskilda boenden" in svg
    assert "<script" not in svg


def test_the_dashboard_page_shows_the_tree_and_charts(import_seed, client):
    grant = import_seed(SEED_003)
    compute_grant(grant_id=grant.pk)
    client.force_login(official_user("o"))
    page = client.get(reverse("reporting:dashboard", args=[grant.slug])).content.decode()
    assert "51\u00a0810\u00a0636\u00a0kr" in page
    assert page.count("<svg") >= 3  # the flow, the overview and the pots' bars
    assert "cdn" not in page.lower()
