"""The grant dashboard: the budget tree's columns balance, and the charts show the money."""

import threading
from datetime import date, timedelta

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from allocations.models import AuditEntry, Grant, PotResult
from allocations.services import compute_grant
from allocations.wording import format_kronor
from reporting import dashboard, tasks
from reporting.models import BooksCheck

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


@pytest.mark.breaks_books  # changes records behind the services' back, on purpose
def test_the_dashboard_shows_the_kept_books_check_and_checks_again(import_seed, client, settings):
    """The page shows the latest books check with its time, and checks again when a change
    went through the services, when the check is too old, or when an official asks."""
    grant = import_seed(SEED_003)
    run = compute_grant(grant_id=grant.pk)
    user = official_user("o")
    client.force_login(user)
    url = reverse("reporting:dashboard", args=[grant.slug])
    page = client.get(url).content.decode()
    check = BooksCheck.objects.get(grant=grant)
    assert check.balanced
    assert check.checked_by is None
    assert check.audit_mark == AuditEntry.objects.order_by("-id").first().pk
    assert "Räkenskaperna stämmer:" in page
    assert "Kontrollera nu" in page
    assert f"Kontrollerat {date_format(localtime(check.checked_at), 'j F Y H:i')}" in page

    # A change past the services leaves no audit entry: the kept check is shown until an
    # official asks for a new one (or the beat makes it).
    broken = PotResult.objects.filter(run=run, pot__slug="grundstod-sdf")
    allocated = broken.get().allocated
    broken.update(allocated=5_400_000)
    page = client.get(url).content.decode()
    assert "Räkenskaperna stämmer:" in page
    assert BooksCheck.objects.get(grant=grant).checked_at == check.checked_at
    answer = client.post(url, {"action": "check-books"}, follow=True)
    page = answer.content.decode()
    assert "Räkenskaperna stämmer inte:" in page
    assert "Utveckling av den nära vården" in page
    assert "Räkenskaperna är kontrollerade nu: de stämmer inte." in page
    check = BooksCheck.objects.get(grant=grant)
    assert check.checked_by == user
    assert not check.balanced
    # Kept in each language, as the check words it in that language.
    assert any("its parts add up to" in text for text in check.texts("en"))
    assert any("underliggande delarna uppgår sammanlagt" in text for text in check.texts("sv"))
    with translation.override("en"):
        assert check.texts() == check.texts("en")

    # Put right past the services, then a change through them (the decision) leaves an audit
    # entry: the page checks again by itself.
    broken.update(allocated=allocated)
    assert not BooksCheck.objects.get(grant=grant).balanced
    decide(run_id=run.pk, decided_on=date(2023, 5, 25), decided_by="Äldrenämnden")
    page = client.get(url).content.decode()
    assert "Räkenskaperna stämmer:" in page
    assert BooksCheck.objects.get(grant=grant).balanced

    # A check older than twice the beat's interval is made again by the page.
    old = timezone.now() - timedelta(minutes=2 * settings.STIMULANS_BOOKS_CHECK_MINUTES + 1)
    BooksCheck.objects.filter(grant=grant).update(checked_at=old)
    client.get(url)
    assert BooksCheck.objects.get(grant=grant).checked_at > old

    # The beat's task checks every grant and keeps the result.
    BooksCheck.objects.all().delete()
    assert tasks.check_books() == Grant.objects.count()
    assert BooksCheck.objects.filter(grant=grant).exists()


def test_a_transaction_id_read_from_pg_locks_is_made_whole_near_the_snapshots():
    """pg_locks gives 32-bit transaction ids; the check keeps full ones (xid8), made from the
    snapshot's xmax: below and above it, and across a wraparound of the 32 bits."""
    from reporting.services import _full_xid

    assert _full_xid(825, 826) == 825
    assert _full_xid(830, 826) == 830  # in flight above the xmax
    epoch = 2**32
    assert _full_xid(2**32 - 3, epoch + 10) == epoch - 3
    assert _full_xid(5, epoch - 3) == epoch + 5
    assert _full_xid(7, 5 * epoch + 9) == 5 * epoch + 7


def _held_open(change, *, commit: bool):
    """Run `change` on a connection of its own (a thread's) in a transaction it leaves open.

    Returns what the change returned, the transaction's id and the newest audit entry it
    wrote, and a function that ends the transaction (commits it when `commit`) and waits."""
    from django.db import connection, transaction

    written, end = threading.Event(), threading.Event()
    result: dict = {}

    def work():
        try:
            with transaction.atomic():
                result["value"] = change()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()::text")
                    result["xid"] = int(cursor.fetchone()[0])
                result["entry"] = AuditEntry.objects.order_by("-id").first().pk
                written.set()
                assert end.wait(30)
                transaction.set_rollback(not commit)
        except BaseException as error:  # given to the test to raise
            result["error"] = error
            written.set()
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    assert written.wait(30)
    assert "error" not in result, result.get("error")

    def finish():
        end.set()
        thread.join(30)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")

    return result, finish


def test_a_change_that_commits_after_the_kept_check_read_the_books_makes_it_stale(
    transactional_db, import_seed
):
    """A change through the services that took its audit entry before the newest the check
    saw but had not committed when the check read the books is not in the kept check: the
    newest entry does not move when it commits, yet the check is stale from then on and is
    made again; a change rolled back leaves it current. The change runs on a connection of
    its own and waits in its transaction, as another request's would."""
    from django.db import connection, transaction

    from allocations import audit
    from reporting import services

    grant = import_seed(SEED_003)
    other = import_seed(SEED_000)
    other_run = compute_grant(grant_id=other.pk)
    first = services.check_books(grant=grant)
    assert first.balanced
    assert first.in_flight == []

    def compute_and_break():
        """The grant computed, through the service, then one of its pots changed past the
        services (so that a check which sees this change says so)."""
        run = compute_grant(grant_id=grant.pk)
        PotResult.objects.filter(run=run, pot__slug="grundstod-sdf").update(allocated=5_400_000)
        return run

    # Another change takes its transaction id first, this one its audit entry first, and the
    # other commits a newer entry: the check's snapshot, whose xmax is one past the other's id,
    # does not list this one among the transactions in flight. (The other writes its entry
    # without a savepoint: a service's would take a newer transaction id for it.)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")
        change, commit = _held_open(compute_and_break, commit=True)
        audit.log("grant.noted", other, grant=other, actor_label="test")
    check = services.check_books(grant=grant)
    assert change["entry"] < check.audit_mark  # the race: older than the newest it saw
    assert change["xid"] in check.in_flight
    assert check.balanced  # the change is not seen
    assert not services.books_check_is_stale(check)  # still open
    assert services.current_books_check(grant).checked_at == check.checked_at

    commit()
    assert AuditEntry.objects.order_by("-id").first().pk == check.audit_mark  # did not move
    assert services.books_check_is_stale(check)
    again = services.current_books_check(grant)
    assert again.checked_at > check.checked_at
    assert not again.balanced  # it sees the change now
    assert any("Utveckling av den nära vården" in text for text in again.texts("sv"))
    assert change["xid"] not in again.in_flight
    assert not services.books_check_is_stale(again)

    # Put right past the services and checked; then a change that is rolled back.
    run = change["value"]
    rows = run.rows.filter(pot__slug="grundstod-sdf").aggregate(total=Sum("amount"))["total"]
    PotResult.objects.filter(run=run, pot__slug="grundstod-sdf").update(allocated=rows)
    assert services.check_books(grant=grant).balanced
    change, rollback = _held_open(
        lambda: decide(run_id=run.pk, decided_on=date(2023, 5, 25), decided_by="Äldrenämnden"),
        commit=False,
    )
    decide(run_id=other_run.pk, decided_on=date(2020, 4, 1), decided_by="Nämnden")
    check = services.check_books(grant=grant)
    assert change["entry"] < check.audit_mark
    assert change["xid"] in check.in_flight
    rollback()
    assert not services.books_check_is_stale(check)
    kept = services.current_books_check(grant)
    assert kept.checked_at == check.checked_at
    assert kept.balanced
    run.refresh_from_db()
    assert run.decided_on is None
