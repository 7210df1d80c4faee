"""`load_demo`: a development install with one user per role and an open call."""

import io
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from allocations import grantfile
from allocations.models import Agreement, Grant, OrganisationKind, PermittedUse
from applications import permissions, services
from applications.management.commands.load_demo import years_to_move
from applications.models import Call, Membership, RequisitionStatus, call_date_problems

pytestmark = pytest.mark.django_db


def test_load_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("load_demo")
    assert not User.objects.exists()
    assert not Grant.objects.exists()


def state() -> tuple:
    return (
        Grant.objects.count(),
        sorted(User.objects.values_list("username", flat=True)),
        Membership.objects.count(),
        Call.objects.count(),
        sorted(r.pk for g in Grant.objects.all() for r in g.runs.all()),
    )


def test_load_demo_is_idempotent_and_gives_every_role(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=io.StringIO())
    first = state()
    call_command("load_demo", stdout=io.StringIO())
    assert state() == first
    assert first[0] == 4
    assert first[1] == ["admin", "handlaggare", "utforare-a", "utforare-b"]

    users = {u.username: u for u in User.objects.all()}
    assert all(u.check_password("demo") for u in users.values())
    assert permissions.is_administrator(users["admin"])
    assert permissions.can_handle_cases(users["handlaggare"])
    assert not users["handlaggare"].is_superuser
    orgs = [m.organisation for m in Membership.objects.select_related("organisation")]
    assert len(orgs) == 2
    assert len({o.pk for o in orgs}) == 2
    assert all(o.kind == OrganisationKind.PRIVATE_PROVIDER for o in orgs)
    grant = Grant.objects.get(slug="aldrenamnden-2020-vardens-medarbetare")
    assert all(grant.organisations.filter(pk=o.pk).exists() for o in orgs)
    for name in ("utforare-a", "utforare-b"):
        assert permissions.is_provider(users[name])
        assert not permissions.can_handle_cases(users[name])

    today = timezone.localdate()
    call = Call.objects.get(pot__grant=grant, pot__slug="sarskilda-boenden")
    assert call.is_open(today)

    # Each demo user starts where their work is.
    for username, target in (("handlaggare", "office:start"), ("utforare-a", "portal:start")):
        client = Client()
        assert client.login(request=HttpRequest(), username=username, password="demo")
        assert client.get("/").url == reverse(target)
    client = Client()
    client.login(request=HttpRequest(), username="handlaggare", password="demo")
    assert client.get(reverse("office:start"), HTTP_ACCEPT_LANGUAGE="en").status_code == 200


def agreement_dates(agreement: Agreement) -> dict:
    return {f: getattr(agreement, f) for f in ("spend_by", "report_by", "repay_by")}


def provider_start_page(username: str):
    client = Client()
    assert client.login(request=HttpRequest(), username=username, password="demo")
    response = client.get(reverse("portal:start"), HTTP_ACCEPT_LANGUAGE="sv")
    assert response.status_code == 200
    return response


def test_the_demo_dates_fit_the_day_it_is_loaded(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=io.StringIO())
    today = timezone.localdate()
    grant = Grant.objects.select_related("agreement").get(
        slug="aldrenamnden-2020-vardens-medarbetare"
    )
    call = Call.objects.get(pot__grant=grant)
    agreement = grant.agreement

    # Every date in order: the call is open today, the agreement's dates lie after it.
    assert call.is_open(today)
    for each in Agreement.objects.all():
        assert grantfile.agreement_date_problems(agreement_dates(each)) == []
    for each in Call.objects.select_related("pot__grant__agreement"):
        assert (
            call_date_problems(pot=each.pot, opens_on=each.opens_on, closes_on=each.closes_on) == []
        )
    assert agreement.report_by > call.closes_on
    # Day and month are the seed's, the year moved: report by 31 January.
    assert (agreement.report_by.month, agreement.report_by.day) == (1, 31)
    assert agreement.report_by - call.closes_on < timedelta(days=366 + 90)

    # Loaded again the same day, nothing moves.
    before = agreement_dates(agreement)
    call_command("load_demo", stdout=io.StringIO())
    agreement.refresh_from_db()
    assert agreement_dates(agreement) == before

    for username in ("utforare-a", "utforare-b"):
        assert "försenad" not in provider_start_page(username).content.decode()

    # The official closes the call and decides today; the provider's tasks are not late.
    official = User.objects.get(username="handlaggare")
    services.close_call(call=call, today=today, actor=official)
    run = grant.runs.get()
    services.decide(
        run=run,
        decided_on=today,
        decided_by=grant.decision_body,
        delegation=grant.delegated_to,
        reference=grant.reference,
        requisition_by=today + timedelta(days=14),
        actor=official,
    )
    tasks = list(provider_start_page("utforare-a").context["tasks"])
    assert {t.kind for t in tasks} == {"requisition"}
    assert not any(t.overdue for t in tasks)

    use = PermittedUse.objects.filter(agreement=agreement).first()
    for req in run.requisitions.filter(
        organisation__slug="omsorg-norr-ab", status=RequisitionStatus.PENDING
    ):
        services.accept_requisition(
            req=req,
            payment_method="bankgiro",
            payment_account="5050-1055",
            lines={use: req.amount},
            actor=official,
        )
    response = provider_start_page("utforare-a")
    tasks = list(response.context["tasks"])
    assert {t.kind for t in tasks} == {"report"}
    assert {t.due_on for t in tasks} == {agreement.report_by}
    assert not any(t.overdue for t in tasks)
    assert "försenad" not in response.content.decode()


def test_the_agreement_moves_by_the_fewest_whole_years():
    assert years_to_move([date(2020, 1, 31)], after=date(2026, 1, 30)) == 6
    assert years_to_move([date(2020, 1, 31)], after=date(2026, 1, 31)) == 7
    assert years_to_move([date(2020, 12, 31), date(2021, 1, 31)], after=date(2026, 7, 1)) == 6
    assert years_to_move([date(2030, 1, 31)], after=date(2026, 7, 1)) == 0
    assert years_to_move([], after=date(2026, 7, 1)) == 0


@pytest.mark.django_db(False)
def test_make_run_sets_up_the_embedded_database_from_nothing(tmp_path):
    """What `make run` does before serving, on SQLite and eager Celery: migrate from an empty
    database (the freeze triggers survive every table rebuild), load the demo, books clean."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "CELERY_RESULT_BACKEND")
    }
    env.update(DEBUG="1", STIMULANS_DATA_DIR=str(tmp_path))
    for command in (["migrate", "-v0"], ["load_demo"], ["check_books"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    import sqlite3

    with sqlite3.connect(tmp_path / "stimulans.sqlite3") as db:
        triggers = {
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
    assert {"allocationrun_frozen_update", "allocationrow_frozen_delete"} <= triggers
