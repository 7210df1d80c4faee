"""The dashboard after the decision: requisitioned, paid, used, claimed back, redistributed.

The money goes the whole way through the services the pages call: decision →
requisitions accepted and declined → payments → usage reports → claims →
redistribution, and every column and check is read back per pot, per parent
and for the grant.
"""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from allocations.models import PermittedUse, Pot
from allocations.services import compute_grant
from allocations.wording import format_kronor
from applications import services
from applications.models import ClaimDisposition, Payment, RepaymentClaim, UsageLine
from reporting import dashboard
from reporting import services as reporting_services

from .conftest import SEED_003, dates_after

pytestmark = pytest.mark.django_db

DECIDED_ON = date(2023, 5, 25)
DUE = date(2023, 6, 30)


@pytest.fixture(autouse=True)
def english():
    """The checks' words are read in English (the msgids)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def decide(run, official, requisition_by=DUE):
    dates_after(run.grant, DECIDED_ON)
    return services.decide(
        run=run,
        decided_on=DECIDED_ON,
        decided_by="Äldrenämnden",
        delegation="",
        reference="ÄN 2023/123",
        requisition_by=requisition_by,
        actor=official,
    )


def accept(req, official):
    uses = list(PermittedUse.objects.filter(agreement=req.run.grant.agreement)[:2])
    half = req.amount // 2
    services.accept_requisition(
        req=req,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={uses[0]: half, uses[1]: req.amount - half},
        actor=official,
    )
    return uses


def report(req, used: int, official, *, submit=True, accept_it=False):
    uses = list(PermittedUse.objects.filter(agreement=req.run.grant.agreement)[:2])
    usage = services.report_for(req)
    services.save_report(
        report=usage,
        lines={uses[0]: used - used // 3, uses[1]: used // 3},
        achievements="Utbildning",
        benefit="Tryggare vård",
        actor=official,
    )
    if submit:
        services.submit_report(report=usage, actor=official)
    if accept_it:
        services.review_report(report=usage, accept=True, comment="", actor=official)
    return usage


@pytest.fixture
def followed(import_seed, official):
    """Seed 003 decided, and the pot `prioriterade-omraden` followed through every step."""
    grant = import_seed(SEED_003, review=True)
    run = decide(compute_grant(grant_id=grant.pk), official)
    pot = Pot.objects.get(grant=grant, slug="prioriterade-omraden")
    reqs = list(run.requisitions.filter(pot=pot).order_by("amount", "pk"))
    assert len(reqs) >= 6
    full, declined, half, drafted, late = reqs[-1], reqs[0], reqs[-2], reqs[-3], reqs[1]
    f = {"grant": grant, "run": run, "pot": pot}

    # Accepted, paid in two parts, 100 000 used and accepted: the rest is claimed back
    # for redistribution, repaid, and divided again in a decided round.
    accept(full, official)
    services.record_payment(
        req=full, paid_on=date(2023, 7, 1), amount=400_000, reference="V1", actor=official
    )
    services.record_payment(
        req=full,
        paid_on=date(2023, 8, 1),
        amount=full.amount - 400_000,
        reference="V2",
        actor=official,
    )
    report(full, 100_000, official, accept_it=True)
    unspent_claim = services.claim_repayment(
        req=full,
        amount=full.amount - 100_000,
        due_on=date(2024, 3, 31),
        disposition=ClaimDisposition.REDISTRIBUTE,
        today=date(2024, 2, 1),
        actor=official,
    )
    services.mark_claim_repaid(claim=unspent_claim, paid_on=date(2024, 3, 1), actor=official)
    round_run = services.redistribute(pot=pot, actor=official)
    decide(round_run, official, requisition_by=date(2024, 6, 30))

    # Declined, and taken back for the state.
    services.decline_requisition(req=declined, reason="Vi avstår", actor=official)
    services.claim_repayment(
        req=declined,
        amount=declined.amount,
        due_on=None,
        disposition=ClaimDisposition.RETURN_TO_STATE,
        today=date(2023, 7, 5),
        actor=official,
    )
    # Half paid; a report submitted, not yet reviewed: it counts.
    accept(half, official)
    services.record_payment(
        req=half, paid_on=date(2023, 7, 2), amount=half.amount // 2, reference="V3", actor=official
    )
    report(half, 50_000, official)
    # Paid in full, the report still a draft: it does not count.
    accept(drafted, official)
    services.record_payment(
        req=drafted, paid_on=date(2023, 7, 3), amount=drafted.amount, reference="V4", actor=official
    )
    report(drafted, 10_000, official, submit=False)
    # Not requisitioned in time: taken back.
    services.claim_repayment(
        req=late,
        amount=late.amount,
        due_on=None,
        disposition=ClaimDisposition.RETURN_TO_STATE,
        today=date(2023, 7, 10),
        actor=official,
    )
    f.update(
        full=full,
        declined=declined,
        half=half,
        drafted=drafted,
        late=late,
        round=round_run,
        claim=unspent_claim,
    )
    return f


def rows_by_slug(table):
    return {row.pot.slug: row.values for row in table["rows"]}


def test_every_column_follows_the_money_of_a_pot(followed):
    f = followed
    full, declined, half, drafted, late = (
        f[k] for k in ("full", "declined", "half", "drafted", "late")
    )
    pot_decided = f["run"].pot_results.get(pot=f["pot"]).allocated
    redecided = f["round"].pot_results.get(pot=f["pot"]).allocated
    assert redecided == full.amount - 100_000  # a key model divides every krona

    table = dashboard.budget_table(f["grant"])
    assert table["problems"] == []
    values = rows_by_slug(table)["prioriterade-omraden"]
    assert values["decided"] == pot_decided
    assert values["requisitioned"] == full.amount + half.amount + drafted.amount
    assert values["paid"] == full.amount + half.amount // 2 + drafted.amount
    assert values["used"] == 100_000 + 50_000  # the draft's 10 000 does not count
    assert values["unspent"] == (full.amount - 100_000) + (half.amount // 2 - 50_000)
    assert values["claimed"] == (full.amount - 100_000) + declined.amount + late.amount
    assert values["repaid"] == values["claimed"]  # taken back the day it was claimed
    assert values["redistributed"] == full.amount - 100_000

    money = table["figures"].money[f["pot"].pk]
    assert money.requisitions == pot_decided + redecided  # the round's requisitions too
    assert money.declined == declined.amount + late.amount
    assert money.pending == money.requisitions - money.requisitioned - money.declined
    assert money.unspent_accepted == full.amount - 100_000
    for key in ("requisitioned", "paid", "used", "unspent", "claimed", "repaid", "redistributed"):
        assert isinstance(values[key], int)


def test_parents_and_the_grant_hold_what_their_parts_hold(followed):
    table = dashboard.budget_table(followed["grant"])
    values = rows_by_slug(table)
    own = values["prioriterade-omraden"]
    for parent in ("nara-vard-sdf", "nara-vard"):
        for key in ("requisitioned", "paid", "used", "claimed", "redistributed"):
            assert values[parent][key] == own[key], (parent, key)
    assert values["vardens-medarbetare"]["paid"] == 0
    totals = table["totals"]
    assert totals["paid"] == own["paid"]
    assert totals["claimed"] == own["claimed"]
    assert totals["decided"] == 51_650_636
    group = table["groups"][1]
    assert [c.key for c in group["columns"]][:3] == ["decided", "requisitioned", "paid"]
    assert group["total_cells"][2] == own["paid"]


def test_the_dashboard_reads_in_a_fixed_number_of_queries(followed, official):
    grant, half = followed["grant"], followed["half"]
    dashboard.budget_table(grant)  # keeps a books check
    services.record_payment(
        req=half, paid_on=date(2023, 9, 1), amount=999, reference="X", actor=official
    )
    with CaptureQueriesContext(connection) as before:  # a change since: checks again
        dashboard.budget_table(grant)
    for n in range(5):
        services.record_payment(
            req=half, paid_on=date(2023, 9, 1), amount=1_000 + n, reference=f"X{n}", actor=official
        )
    others = followed["run"].requisitions.filter(status="pending")[:3]
    for req in others:
        accept(req, official)
    with CaptureQueriesContext(connection) as after:
        dashboard.budget_table(grant)
    assert len(after) == len(before)
    # Nothing changed since: the kept check is shown, the books are not read again.
    with CaptureQueriesContext(connection) as unchanged:
        dashboard.budget_table(grant)
    assert len(unchanged) < len(before) / 2


def checked(grant) -> list[str]:
    """The dashboard's breaches after an official pressed "Check now" (the changes these tests
    make behind the services leave no audit entry, so the page would not check by itself)."""
    reporting_services.check_books(grant=grant)
    return dashboard.budget_table(grant)["problems"]


@pytest.mark.breaks_books  # changes records behind the services' back, on purpose
def test_a_column_that_does_not_balance_is_said_in_words(followed):
    f = followed
    full, half, declined = f["full"], f["half"], f["declined"]
    label = f["pot"].name

    # Paid past the requisition (behind the services' back).
    Payment.objects.create(
        requisition=half, paid_on=date(2023, 9, 1), amount=half.amount, reference="FEL"
    )
    problems = checked(f["grant"])
    paid = half.amount // 2 + half.amount
    assert any(p.startswith(f"{label}: ") and "is paid, more than" in p for p in problems)
    assert any(format_kronor(paid + full.amount + f["drafted"].amount) in p for p in problems)
    Payment.objects.filter(reference="FEL").delete()

    # Used more than paid.
    UsageLine.objects.filter(report__requisition=half).update(amount=half.amount)
    problems = checked(f["grant"])
    assert any("the reports say" in p and "more than the" in p for p in problems)

    # A requisition whose amount no longer ties to the decision.
    UsageLine.objects.filter(report__requisition=half).update(amount=25_000)
    declined.amount += 7
    declined.save(update_fields=["amount"])
    problems = checked(f["grant"])
    assert any(
        "the requisitions add up to" in p and "redistribution rounds gave" in p for p in problems
    )
    # … and more taken back than was declined? No: the claim stayed, the declined amount grew.
    assert not any("taken back as declined" in p for p in problems)
    declined.amount -= 7
    declined.save(update_fields=["amount"])

    # Redistributed more than repaid; repaid more than claimed.
    RepaymentClaim.objects.filter(pk=f["claim"].pk).update(paid_on=None)
    problems = checked(f["grant"])
    assert any("redistributed has not been repaid" in p for p in problems)
    RepaymentClaim.objects.filter(pk=f["claim"].pk).update(paid_on=date(2024, 3, 1), amount=1)
    problems = checked(f["grant"])
    assert any(
        "redistribution rounds gave" in p and "claimed back into them" in p for p in problems
    )

    # Claimed back more than a source holds.
    RepaymentClaim.objects.filter(pk=f["claim"].pk).update(amount=full.amount)
    RepaymentClaim.objects.filter(requisition=f["late"]).update(amount=f["late"].amount + 1)
    problems = checked(f["grant"])
    assert any(
        "claimed back as not used, but the accepted reports leave only "
        f"{format_kronor(full.amount - 100_000)} unspent" in p
        for p in problems
    )
    assert any("taken back as declined or not requisitioned" in p for p in problems)


def test_the_page_shows_the_follow_up_in_swedish_kronor(followed, official, client):
    from django.utils import translation

    client.force_login(official)  # handle_cases, not staff
    with translation.override("sv"):
        page = client.get(reverse("reporting:dashboard", args=[followed["grant"].slug]))
    assert page.status_code == 200
    text = page.content.decode()
    paid = rows_by_slug(dashboard.budget_table(followed["grant"]))["prioriterade-omraden"]["paid"]
    assert format_kronor(paid, nbsp=True) in text
    assert "alert-danger" not in text


def test_the_roadmap_follow_up_shows_what_was_paid_and_used(followed, client, official):
    from django.core.management import call_command

    from reporting import roadmap
    from reporting import services as reporting_services
    from reporting.models import Roadmap

    call_command("loaddata", "roadmap-2021", verbosity=0)
    plan = Roadmap.objects.get(slug="fardplan-aldreomsorg-2021")
    nara = Pot.objects.get(grant=followed["grant"], slug="nara-vard")
    reporting_services.tag_pot(pot=nara, codes=["god-och-nara-vard"])
    own = rows_by_slug(dashboard.budget_table(followed["grant"]))["prioriterade-omraden"]

    report = roadmap.followup(plan)
    assert [c.key for c in report["columns"]] == ["allocated", "decided", "paid", "used"]
    lines = {line.need.code: line for area in report["areas"] for line in area.needs}
    assert lines["god-och-nara-vard"].values["paid"] == own["paid"]
    assert lines["god-och-nara-vard"].values["used"] == own["used"] == 150_000
    assert report["totals"]["paid"] == own["paid"]
    client.force_login(official)
    page = client.get(reverse("reporting:followup")).content.decode()
    assert format_kronor(own["paid"], nbsp=True) in page


def test_the_dashboard_keeps_its_figures_until_a_change_through_the_services(
    import_seed, official, client, settings
):
    """The page's figures are kept in the cache under the newest audit entry and the kept books
    check (`dashboard.figures_key`): every change through the services shows on the next view,
    exactly as freshly computed figures would; a change past the audit trail shows with the next
    check; each language has its own."""
    import re
    import time

    from django.core.cache import cache
    from django.db.models import Sum
    from django.utils import translation

    from allocations.models import Organisation
    from reporting.models import BooksCheck

    grant = import_seed(SEED_003, review=True)
    run = compute_grant(grant_id=grant.pk)
    client.force_login(official)
    url = reverse("reporting:dashboard", args=[grant.slug])
    pages: list[str] = []

    def page() -> str:
        """The page as served (figures kept if their key did not change), after checking that
        it is the page with the figures computed afresh."""
        served = client.get(url).content.decode()
        cache.clear()
        fresh = client.get(url).content.decode()
        token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
        assert token.sub("", served) == token.sub("", fresh)
        pages.append(served)
        return served

    def changed() -> bool:
        page()
        return pages[-1] != pages[-2]

    def keep_figures() -> None:
        """View the page until its figures are kept: they are not when another transaction of
        the server was writing as they were read (`dashboard._writes_in_flight`, autovacuum's
        included), and the next view then reads them afresh."""
        for _ in range(50):
            client.get(url)
            check = BooksCheck.objects.get(grant=grant)
            with translation.override(settings.LANGUAGE_CODE):  # the page's language
                if cache.get(dashboard.figures_key(grant, check)) is not None:
                    return
            time.sleep(0.1)
        raise AssertionError("the dashboard's figures were never kept")

    assert "Inget beslutat ännu." in page()
    # Nothing changed: the figures come from the cache, not from the ledger.
    keep_figures()
    with CaptureQueriesContext(connection) as kept:
        client.get(url)
    cache.clear()
    with CaptureQueriesContext(connection) as computed:
        client.get(url)
    assert len(kept) < len(computed) / 2

    run = decide(run, official)
    assert changed()  # decided: the Decided column and the columns after the decision
    pot = Pot.objects.get(grant=grant, slug="prioriterade-omraden")
    reqs = list(run.requisitions.filter(pot=pot).order_by("amount", "pk"))
    full, declined = reqs[-1], reqs[0]
    accept(full, official)
    assert changed()  # requisitioned
    services.decline_requisition(req=declined, reason="Vi avstår", actor=official)
    page()  # declined is no column of its own: the page is as computed afresh
    services.record_payment(
        req=full, paid_on=date(2023, 7, 1), amount=full.amount, reference="V1", actor=official
    )
    assert changed()  # paid
    usage = report(full, 100_000, official)
    assert changed()  # reported used (submitted), unspent
    services.review_report(report=usage, accept=True, comment="", actor=official)
    page()
    claim = services.claim_repayment(
        req=full,
        amount=full.amount - 100_000,
        due_on=date(2024, 3, 31),
        disposition=ClaimDisposition.REDISTRIBUTE,
        today=date(2024, 2, 1),
        actor=official,
    )
    assert changed()  # claimed back
    services.record_repayment(claim=claim, amount=1_000, paid_on=date(2024, 3, 1), actor=official)
    page()  # a part repaid: the claim is not repaid yet
    services.mark_claim_repaid(claim=claim, paid_on=date(2024, 3, 2), actor=official)
    assert changed()  # repaid
    round_run = services.redistribute(pot=pot, actor=official)
    page()
    decide(round_run, official, requisition_by=date(2024, 6, 30))
    assert changed()  # redistributed
    services.claim_repayment(
        req=declined,
        amount=declined.amount,
        due_on=None,
        disposition=ClaimDisposition.RETURN_TO_STATE,
        today=date(2023, 7, 5),
        actor=official,
    )
    assert changed()  # claimed back and repaid: taken back the day it is claimed

    # Renamed past the audit trail: the kept figures stay until the books are checked again
    # (the beat's check, or an official's "Check now"), as the books' line does.
    biggest = run.rows.values("organisation").annotate(t=Sum("amount")).order_by("-t")[0]
    organisation = Organisation.objects.get(pk=biggest["organisation"])
    assert organisation.name in pages[-1]
    keep_figures()
    Organisation.objects.filter(pk=organisation.pk).update(name="Omdöpt Omsorg AB")
    assert "Omdöpt Omsorg AB" not in client.get(url).content.decode()
    client.post(url, {"action": "check-books"})
    assert "Omdöpt Omsorg AB" in client.get(url).content.decode()

    # Each language has its own: the figures' words are translated.
    swedish = client.get(url).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(url).content.decode()
    assert "Medelsflöde" in swedish
    assert "Money flow" not in swedish
    assert "Money flow" in english
    assert "Medelsflöde" not in english


def test_the_dashboard_does_not_keep_figures_read_while_another_change_is_uncommitted(
    import_seed, official, client
):
    """A change whose audit entry is older than the newest but commits after it would leave the
    key as it is: figures read while another transaction has written are shown, not kept."""
    import psycopg2
    from django.core.cache import cache

    from allocations.models import AuditEntry

    from .conftest import worker_database_url

    grant = import_seed(SEED_003, review=True)
    compute_grant(grant_id=grant.pk)
    client.force_login(official)
    url = reverse("reporting:dashboard", args=[grant.slug])
    assert client.get(url).status_code == 200
    check = reporting_services.current_books_check(grant)
    key = dashboard.figures_key(grant, check)
    assert cache.get(key) is not None  # nothing else in flight: kept

    other = psycopg2.connect(worker_database_url())
    try:
        with other.cursor() as cursor:  # another request's change, not yet committed
            cursor.execute(
                f'INSERT INTO "{AuditEntry._meta.db_table}" (at, actor_label, action, '
                "object_type, object_id, object_repr) VALUES (now(), 'x', 'x', 'x', '1', 'x')"
            )
        cache.clear()
        page = client.get(url)
        assert page.status_code == 200
        assert "Medelsflöde" in page.content.decode()  # shown
        assert cache.get(key) is None  # not kept
    finally:
        other.rollback()
        other.close()
    client.get(url)
    assert cache.get(key) is not None
