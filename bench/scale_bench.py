#!/usr/bin/env python
"""Scale benchmark: a city's five years of grants, and the officials' bulk actions on them.

Builds a synthetic city once, in a database of its own on the PostgreSQL that DATABASE_URL
names (`stimulans_bench_scale`): `--organisations` (200) provider organisations running
`--units` (500) care homes, 14 district administrations and the elderly-care administration,
`--officials` (12) officials and one portal user per provider; `--grants` (5) grants a year
over `--years` (5) years. The older years are imported, computed and decided (through
`import_grant`, `compute_grant` and `decide`); this year's are imported, and on the first of
them ("särskilda boenden") every provider applies in two calls through the portal's services
(`start_application`, `save_draft(..., declared=True)` stating each home's facts,
`submit_application`): 400 applications naming the 500 homes. `check_books` must be clean.

Then, in one run, each step beside its floor, measured in the same run:

1. the officials' bulk verification of the 500 homes' stated facts (`verify_facts`); floor:
   one SQL statement updating the same grant-unit and application-unit rows;
2. the bulk approval of the 400 applications (`bulk_review_applications`); floor: one SQL
   UPDATE of the same rows;
3. computing (`request_compute`, the stored job, run eagerly here) and deciding (`decide`)
   every one of this year's grants; floor: the same run, rows, pot results and requisitions
   copied by one INSERT … SELECT per table;
4. every decision letter of the year (the letters job, `reporting.services.request_job`);
   floor: WeasyPrint alone on the same HTML;
5. the page each bulk action returns to (`office:facts`, `office:pot_review`), a GET through
   Django's test client signed in as an official, right after the action (median).

It is a report, not a test: it exits 0 whether the targets are met or not (non-zero only
when it cannot run). `scripts/bench.sh scale` starts a throwaway PostgreSQL and runs this.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for path in (ROOT, BENCH):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from allocation_bench import database_url, recreate_database  # noqa: E402

BULK_SECONDS = 2.0  # each bulk action, at 500 rows (400 approvals)
FLOOR_RATIO = 10.0  # and within 10 × its floor
PAGE_MS = 300.0  # the page a bulk action returns to
PASSWORD = "bench-scale-losenord"
ADMIN = "skala-aldreforvaltningen"
DISTRICTS = 14
KINDS = (  # this year's and every year's grants: (slug part, title)
    ("sarskilda-boenden", "Stimulans till särskilda boenden"),
    ("kompetenslyft", "Kompetenslyft i äldreomsorgen"),
    ("digitalisering", "Digitalisering i äldreomsorgen"),
    ("demensvard", "Utvecklad demensvård"),
    ("ensamhet", "Minskad ensamhet bland äldre"),
)


class Rollback(Exception):
    """Raised to roll back a floor's (or a profile's) transaction once it is timed."""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# ---------------------------------------------------------------- the city


def organisations(n: int) -> list[dict]:
    admin = {
        "id": ADMIN,
        "name": "Skalans äldreförvaltning",
        "kind": "specialist_administration",
        "ownership": "public",
    }
    districts = [
        {
            "id": f"skala-sdf-{j:02d}",
            "name": f"Stadsdelsförvaltning {j:02d}",
            "kind": "district_administration",
            "ownership": "public",
        }
        for j in range(DISTRICTS)
    ]
    providers = [
        {
            "id": f"skala-utforare-{i:03d}",
            "name": f"Skalans Omsorg {i:03d} AB",
            "kind": "private_provider",
            "ownership": "private",
        }
        for i in range(n)
    ]
    return [admin, *districts, *providers]


def units(n: int, providers: int, seed: int) -> list[dict]:
    """`n` care homes; home i belongs to provider i mod `providers` (so the first hold one
    more). One in ten lies outside the city, mostly placed by others: the rule refuses it."""
    rng = random.Random(seed)
    return [
        {
            "id": f"skala-vob-{i:04d}",
            "organisation": f"skala-utforare-{i % providers:03d}",
            "name": f"Skalboendet {i:04d}",
            "type": "care_home",
            "places": rng.randint(10, 120),
            "in_city": i % 10 != 0,
            "city_placed_share": "0.50" if i % 10 == 0 else rng.choice(("0.85", "0.95", "1.00")),
        }
        for i in range(n)
    ]


def grant_file(
    *,
    year: int,
    kind: int,
    orgs: list[dict],
    homes: list[dict],
    current: bool,
    today: date,
    seed: int,
) -> dict:
    """One grant of the city's: the first kind a `per_unit` pot over the care homes of those
    who apply (the older years' applications come with the file, approved); the others a
    fixed pot to the administration and a key over the districts' population 80+."""
    rng = random.Random(seed * 1000 + year * 10 + kind)
    slug, title = KINDS[kind]
    report_by = today + timedelta(days=300) if current else date(year + 1, 1, 31)
    repay_by = today + timedelta(days=360) if current else date(year + 1, 3, 31)
    districts = [o["id"] for o in orgs if o["kind"] == "district_administration"]
    if kind == 0:
        amount = 40_000_000 + 1_000_000 * (year % 7) + 7
        pots = [
            {
                "id": "boendeplatser",
                "name": "Fördelning till särskilda boenden",
                "amount": amount,
                "model": {
                    "type": "per_unit",
                    "measure": "places",
                    "applicants_only": True,
                    "eligible": {
                        "unit_types": ["care_home"],
                        "any": [
                            {"field": "in_city", "op": "eq", "value": True},
                            {"field": "city_placed_share", "op": "gte", "value": "0.80"},
                        ],
                    },
                },
            }
        ]
        by_org: dict[str, list[str]] = {}
        for home in homes:
            by_org.setdefault(home["organisation"], []).append(home["id"])
        applications = (
            []
            if current
            else [
                {
                    "id": f"ans-{year}-{i:03d}",
                    "pot": "boendeplatser",
                    "organisation": org,
                    "units": ids,
                    "uses": ["kompetens"],
                    "intended_use": "Kompetensutveckling för undersköterskor.",
                    "status": "approved",
                }
                for i, (org, ids) in enumerate(sorted(by_org.items()))
            ]
        )
        unit_items, datasets = homes, []
    else:
        amount = 5_000_000 + 250_000 * kind + 3
        fixed = 1_000_000
        pots = [
            {
                "id": "forvaltningen",
                "name": "Äldreförvaltningens utvecklingsarbete",
                "amount": fixed,
                "model": {"type": "fixed", "amounts": {ADMIN: fixed}},
            },
            {
                "id": "stadsdelar",
                "name": "Efter befolkning 80+ i stadsdelarna",
                "amount": amount - fixed,
                "model": {"type": "key", "factors": [{"dataset": "befolkning-80", "weight": "1"}]},
            },
        ]
        applications, unit_items = [], []
        datasets = [
            {
                "id": "befolkning-80",
                "label": "Invånare 80 år och äldre",
                "source": "Syntetisk",
                "reference_date": f"{year - 1}-12-31",
                "values": {d: rng.randint(1_500, 9_000) for d in districts},
                "illustrative": True,
            }
        ]
    return {
        "format": "stimulans-grant/1",
        "agreement": {
            "title": f"{title} {year}",
            "year": year,
            "parties": ["Staten", "Sveriges Kommuner och Regioner (SKR)"],
            "purpose": f"{title}: syntetisk överenskommelse för skalmätning.",
            "permitted_uses": [{"code": "kompetens", "label": "Kompetensutveckling"}],
            "report_by": report_by.isoformat(),
            "repay_by": repay_by.isoformat(),
        },
        "grant": {
            "id": f"skala-{year}-{slug}",
            "title": f"{title} {year}",
            "received_from": "Staten",
            "recipient": "Skalans kommun",
            "administered_by": ADMIN,
            "amount": amount,
            "decision_body": "Äldrenämnden",
        },
        "organisations": orgs,
        "units": unit_items,
        "datasets": datasets,
        "pots": pots,
        "applications": applications,
        "illustrative": {"units": True, "applications": True, "datasets": True},
    }


def build(args) -> dict:
    """The city, its history and this year's applications; returns what the steps need."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from allocations.models import GrantUnit, Organisation, PermittedUse, Pot
    from allocations.services import compute_grant
    from applications import services
    from applications.grantfiles import import_grant
    from applications.models import Application, Membership

    call_command("migrate", verbosity=0, interactive=False)
    today = timezone.localdate()
    orgs = organisations(args.organisations)
    homes = units(args.units, args.organisations, args.seed)
    timings = {}

    # Background: people and organisations, in bulk (one password hash for all of them).
    started = time.perf_counter()
    with transaction.atomic():
        Organisation.objects.bulk_create(
            Organisation(slug=o["id"], name=o["name"], kind=o["kind"], ownership=o["ownership"])
            for o in orgs
        )
        hashed = make_password(PASSWORD)
        officials = User.objects.bulk_create(
            User(
                username=f"skala-handlaggare-{i:02d}",
                email=f"h{i}@example.invalid",
                password=hashed,
            )
            for i in range(args.officials)
        )
        handle_cases = Permission.objects.get(codename="handle_cases")
        User.user_permissions.through.objects.bulk_create(
            User.user_permissions.through(user_id=u.pk, permission_id=handle_cases.pk)
            for u in officials
        )
        by_slug = {o.slug: o for o in Organisation.objects.filter(slug__startswith="skala-")}
        providers = [o for o in orgs if o["kind"] == "private_provider"]
        users = User.objects.bulk_create(
            User(username=o["id"], email=f"{o['id']}@example.invalid", password=hashed)
            for o in providers
        )
        Membership.objects.bulk_create(
            Membership(user=u, organisation=by_slug[o["id"]])
            for u, o in zip(users, providers, strict=True)
        )
    official = officials[0]
    timings["people"] = time.perf_counter() - started

    # History: every older year's grants imported, computed and decided through their doors.
    started = time.perf_counter()
    this_year = today.year
    years = range(this_year - args.years + 1, this_year + 1)
    grants: dict[int, list] = {}
    for year in years:
        current = year == this_year
        for kind in range(args.grants):
            data = grant_file(
                year=year,
                kind=kind,
                orgs=orgs,
                homes=homes,
                current=current,
                today=today,
                seed=args.seed,
            )
            grant = import_grant(data, actor_label="bench")
            grants.setdefault(year, []).append(grant)
            if not current:
                run = compute_grant(grant_id=grant.pk, actor=official)
                services.decide(
                    run=run,
                    decided_on=date(year, 4, 15),
                    decided_by="Äldrenämnden",
                    delegation="",
                    reference=f"ÄN {year}/{kind + 1}",
                    requisition_by=date(year, 6, 30),
                    actor=official,
                )
        print(f"bench:   {year}: {args.grants} grants ({load()})", flush=True)
    timings["history"] = time.perf_counter() - started

    # This year's first grant: the providers apply through the portal's services, in two
    # calls (one application per organisation and call): the first home, then the others.
    started = time.perf_counter()
    grant = grants[this_year][0]
    pot = Pot.objects.get(grant=grant, slug="boendeplatser")
    calls = [
        services.open_call(
            pot=pot,
            title=title,
            opens_on=today - timedelta(days=20),
            closes_on=today + timedelta(days=20),
            actor=official,
        )
        for title in ("Vårens ansökan (skalmätning)", "Höstens ansökan (skalmätning)")
    ]
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement))
    gus: dict[int, list] = {}
    for gu in GrantUnit.objects.filter(grant=grant).order_by("position"):
        gus.setdefault(gu.organisation_id, []).append(gu)
    rng = random.Random(args.seed)
    member = {m.organisation_id: m.user for m in Membership.objects.select_related("user")}
    n = 0
    with transaction.atomic():
        for org_slug in sorted(o["id"] for o in providers):
            org = by_slug[org_slug]
            mine = gus.get(org.pk, [])
            for call, homes_here in zip(calls, (mine[:1], mine[1:]), strict=True):
                if not homes_here:
                    continue
                user = member[org.pk]
                app = services.start_application(
                    call=call, organisation=org, actor=user, today=today
                )
                choices = [
                    services.UnitChoice(
                        grant_unit=gu,
                        # What the provider states: mostly the register's figures, now and
                        # then a home newly in the city or a changed number of places.
                        places=gu.places + (rng.choice((-2, 3)) if rng.random() < 0.2 else 0),
                        in_city=gu.in_city or rng.random() < 0.3,
                        city_placed_share=gu.city_placed_share,
                    )
                    for gu in homes_here
                ]
                services.save_draft(
                    app=app,
                    units=choices,
                    uses=uses,
                    intended_use="Kompetensutveckling för undersköterskor.",
                    contact_name="Kontakt",
                    contact_email="kontakt@example.invalid",
                    contact_phone="",
                    payment_method="bankgiro",
                    payment_account="5050-1055",
                    will_report=True,
                    declared=True,
                    actor=user,
                )
                services.submit_application(app=app, actor=user, today=today)
                n += 1
    for call in calls:
        services.close_call(call=call, today=today, actor=official)
    timings["applications"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "grant": grant.pk,
        "pot": pot.pk,
        "current": [g.pk for g in grants[this_year]],
        "official": official.pk,
        "applications": Application.objects.filter(pot=pot, status="submitted").count(),
        "timings": timings,
    }


def check_books() -> tuple[bool, str]:
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    try:
        call_command("check_books", stdout=out)
    except CommandError as exc:
        return False, f"{exc}\n{out.getvalue()}"
    return True, out.getvalue().strip().splitlines()[-1]


# ---------------------------------------------------------------- measuring


@contextmanager
def rolled_back():
    """A transaction that is always rolled back: the floor leaves the data as it was."""
    from django.db import transaction

    try:
        with transaction.atomic():
            yield
            raise Rollback
    except Rollback:
        pass


def timed_floor(sql: list[tuple[str, list]]) -> tuple[float, float]:
    """Run these statements in one transaction, timed, then roll it back: the time with the
    foreign-key checks (the floor) and the statements' alone (printed beside it).

    The timing ends after the foreign keys the statements touched are checked: PostgreSQL
    defers those checks (Django makes its foreign keys DEFERRABLE INITIALLY DEFERRED) to the
    commit, which the product's step pays for and a rolled-back floor never would.
    `SET CONSTRAINTS ALL IMMEDIATE` runs them at once, as the commit would.
    """
    from django.db import connection

    with rolled_back(), connection.cursor() as cursor:
        started = time.perf_counter()
        for statement, params in sql:
            cursor.execute(statement, params)
        statements = time.perf_counter() - started
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return time.perf_counter() - started, statements


def profile(label: str, action, top: int) -> None:
    """cProfile of `action` in a transaction rolled back afterwards, off the clock."""
    profiler = cProfile.Profile()
    with rolled_back():
        profiler.enable()
        try:
            action()
        finally:
            profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"bench: profile of {label}: {stats.total_tt:.3f} s profiled; top by own time:")
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (file, line, name), (_cc, calls, tt, ct, _callers) in rows:
        where = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        print(
            f"    {tt * 1000:8.1f} ms own {ct * 1000:9.1f} ms cum {calls:>8} calls  "
            f"{name} ({where}:{line})"
        )


def page_ms(client, url: str, expect: str, args) -> tuple[float, list[float]]:
    """The median of `--page-repeat` GETs of `url` (after one to warm up); with `--profile`,
    a cProfile of one more."""
    repeat = args.page_repeat
    answer = client.get(url)  # warm: templates, URL resolver, the session
    if answer.status_code != 200 or expect.encode() not in answer.content:
        dump = Path(tempfile.gettempdir()) / "stimulans-scale-page.html"
        dump.write_bytes(answer.content)
        sys.exit(f"bench: {url} answered {answer.status_code} without {expect!r} (see {dump})")
    if args.profile:
        profile(f"GET {url}", lambda: client.get(url), args.top)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), times


def step_verify(state: dict, args) -> dict:
    from django.contrib.auth.models import User
    from django.db.models import Count

    from allocations.models import AuditEntry, Grant
    from applications import services
    from applications.models import ApplicationUnit

    grant = Grant.objects.get(pk=state["grant"])
    official = User.objects.get(pk=state["official"])
    link_ids = list(
        ApplicationUnit.objects.filter(application__grant=grant, verified_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    verifications = [services.Verification(pk) for pk in link_ids]
    changed = (
        ApplicationUnit.objects.filter(pk__in=link_ids)
        .exclude(stated_in_city=None, places=None, customers=None, stated_city_placed_share=None)
        .count()
    )
    floor_sql = [
        (
            """
            WITH figures AS (
                UPDATE allocations_grantunit gu
                SET in_city = COALESCE(au.stated_in_city, gu.in_city),
                    city_placed_share = COALESCE(au.stated_city_placed_share,
                                                 gu.city_placed_share),
                    places = COALESCE(au.places, gu.places),
                    customers = COALESCE(au.customers, gu.customers)
                FROM applications_applicationunit au
                WHERE au.id = ANY(%s) AND gu.id = au.grant_unit_id
                RETURNING gu.id
            )
            UPDATE applications_applicationunit
            SET verified_at = now(), verified_by_id = %s, verification_note = ''
            WHERE id = ANY(%s)
            """,
            [link_ids, official.pk, link_ids],
        )
    ]
    floor, statements = timed_floor(floor_sql)
    if args.profile:
        profile(
            "verify_facts",
            lambda: services.verify_facts(
                grant=grant, verifications=verifications, reason="", actor=official
            ),
            args.top,
        )
    entries = AuditEntry.objects.count()
    started = time.perf_counter()
    count = services.verify_facts(
        grant=grant, verifications=verifications, reason="", actor=official
    )
    product = time.perf_counter() - started
    if count != len(link_ids):
        sys.exit(f"bench: verify_facts verified {count} of {len(link_ids)}")
    left = ApplicationUnit.objects.filter(pk__in=link_ids, verified_at__isnull=True).count()
    audit = AuditEntry.objects.count() - entries
    eligible = (
        ApplicationUnit.objects.filter(pk__in=link_ids)
        .values("eligible")
        .annotate(n=Count("pk"))
        .order_by("eligible")
    )
    print(
        f"bench: 1. verify_facts: {count} homes ({changed} stated figures of their own), "
        f"{left} left unverified, {audit} audit entries; verdicts now "
        + ", ".join(f"{'eligible' if e['eligible'] else 'ineligible'} {e['n']}" for e in eligible)
    )
    return {"rows": count, "product": product, "floor": floor, "statements": statements}


def step_approve(state: dict, args) -> dict:
    from django.contrib.auth.models import User

    from applications import services
    from applications.models import Application

    official = User.objects.get(pk=state["official"])
    ids = list(
        Application.objects.filter(pot_id=state["pot"], status="submitted")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    floor_sql = [
        (
            """
            UPDATE applications_application
            SET status = 'approved', status_reason = '', reviewed_at = now(),
                reviewed_by_id = %s
            WHERE id = ANY(%s)
            """,
            [official.pk, ids],
        )
    ]
    floor, statements = timed_floor(floor_sql)
    if args.profile:
        profile(
            "bulk_review_applications",
            lambda: services.bulk_review_applications(
                application_ids=ids, approve=True, reason="", actor=official
            ),
            args.top,
        )
    started = time.perf_counter()
    outcome = services.bulk_review_applications(
        application_ids=ids, approve=True, reason="", actor=official
    )
    product = time.perf_counter() - started
    if outcome.refused or len(outcome.done) != len(ids):
        sys.exit(f"bench: bulk approval refused {len(outcome.refused)}: {outcome.refused[:1]}")
    print(f"bench: 2. bulk_review_applications: {len(outcome.done)} approved, none refused")
    return {"rows": len(ids), "product": product, "floor": floor, "statements": statements}


def copy_run_sql(run_pk: int) -> list[tuple[str, list]]:
    """One INSERT … SELECT per table: the run, its rows, pot results, ineligibilities and
    requisitions, copied as a new run (number + 1000) of the same grant."""
    from allocations.models import AllocationRow, AllocationRun, Ineligibility, PotResult
    from applications.models import Requisition

    def columns(model, skip: set[str]) -> list[str]:
        return [
            f.column
            for f in model._meta.concrete_fields
            if not f.primary_key and f.column not in skip
        ]

    run_cols = columns(AllocationRun, {"number"})
    statements = [
        (
            f"CREATE TEMP TABLE bench_new_run_{run_pk} ON COMMIT DROP AS "
            f"WITH new AS (INSERT INTO {AllocationRun._meta.db_table} (number, "
            f"{', '.join(run_cols)}) SELECT number + 1000, {', '.join(run_cols)} "
            f"FROM {AllocationRun._meta.db_table} WHERE id = %s RETURNING id) SELECT id FROM new",
            [run_pk],
        )
    ]
    for model in (AllocationRow, PotResult, Ineligibility, Requisition):
        cols = columns(model, {"run_id"})
        table = model._meta.db_table
        statements.append(
            (
                f"INSERT INTO {table} (run_id, {', '.join(cols)}) "
                f"SELECT (SELECT id FROM bench_new_run_{run_pk}), {', '.join(cols)} FROM {table} "
                "WHERE run_id = %s",
                [run_pk],
            )
        )
    return statements


def step_decide(state: dict, args) -> dict:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from allocations.models import AllocationRow, AllocationRun, Grant, JobStatus
    from allocations.services import request_compute
    from applications import services
    from applications.models import Requisition

    official = User.objects.get(pk=state["official"])
    today = timezone.localdate()
    grants = list(Grant.objects.filter(pk__in=state["current"]).order_by("pk"))

    def decide_all() -> list:
        runs = []
        for grant in grants:
            job = request_compute(grant=grant, actor=official)
            if job.status != JobStatus.DONE:
                sys.exit(f"bench: the computation of {grant.slug} is {job.status}: {job.error}")
            run = AllocationRun.objects.filter(grant=grant).order_by("-number").first()
            runs.append(
                services.decide(
                    run=run,
                    decided_on=today,
                    decided_by="Äldrenämnden",
                    delegation="",
                    reference=f"ÄN {today.year}/{grant.pk}",
                    requisition_by=today + timedelta(days=60),
                    actor=official,
                )
            )
        return runs

    if args.profile:
        # In a rolled-back transaction the stored job would never leave on_commit: profile the
        # same work through its inner doors (compute_grant is what the job runs).
        from allocations.services import compute_grant

        def inner():
            for grant in grants:
                run = compute_grant(grant_id=grant.pk, actor=official)
                services.decide(
                    run=run,
                    decided_on=today,
                    decided_by="Äldrenämnden",
                    delegation="",
                    reference="ÄN profil",
                    requisition_by=today + timedelta(days=60),
                    actor=official,
                )

        profile("compute_grant + decide (5 grants)", inner, args.top)
    started = time.perf_counter()
    runs = decide_all()
    product = time.perf_counter() - started
    rows = AllocationRow.objects.filter(run__in=runs).count()
    reqs = Requisition.objects.filter(run__in=runs).count()
    floor, statements = timed_floor([s for run in runs for s in copy_run_sql(run.pk)])
    print(
        f"bench: 3. computed and decided {len(runs)} grants: {rows} allocation rows, "
        f"{reqs} requisitions"
    )
    state["runs"] = [run.pk for run in runs]
    return {
        "rows": rows + reqs,
        "product": product,
        "floor": floor,
        "statements": statements,
        "runs": runs,
    }


def step_letters(state: dict, args) -> dict:
    from django.contrib.auth.models import User
    from reporting_bench import weasyprint_floor

    from allocations.models import AllocationRun, JobStatus
    from reporting import pdf
    from reporting.documents import recipients
    from reporting.models import JobKind
    from reporting.services import request_job

    official = User.objects.get(pk=state["official"])
    runs = list(AllocationRun.objects.filter(pk__in=state["runs"]).select_related("grant"))
    html, created = [], []
    for run in runs:
        documents = pdf.letters_html(run, [o.pk for o in recipients(run)])
        html.append(documents)
        created.append(run.decided_on)
    letters = sum(len(h) for h in html)
    weasyprint_floor(html[0][:3], created[0])  # warm: fonts, WeasyPrint's caches
    started = time.perf_counter()
    done = 0
    for run in runs:
        job = request_job(kind=JobKind.LETTERS, grant=run.grant, run=run, user=official)
        job.refresh_from_db()
        if job.status != JobStatus.DONE:
            sys.exit(f"bench: the letters of {run.grant.slug} are {job.status}: {job.error}")
        done += job.parts_done
    product = time.perf_counter() - started
    floor = sum(weasyprint_floor(h, c)[0] for h, c in zip(html, created, strict=True))
    print(f"bench: 4. letters: {done} PDFs in {len(runs)} ZIPs (HTML for {letters} letters)")
    return {"rows": done, "product": product, "floor": floor}


# ---------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organisations", type=int, default=200, help="providers (200)")
    parser.add_argument("--units", type=int, default=500, help="care homes (500)")
    parser.add_argument("--officials", type=int, default=12, help="officials (12)")
    parser.add_argument("--years", type=int, default=5, help="years of grants (5)")
    parser.add_argument(
        "--grants", type=int, default=5, choices=range(1, 6), help="grants a year (5)"
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--page-repeat", type=int, default=7, help="GETs per page (7)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile each bulk action first (rolled back), top functions",
    )
    parser.add_argument("--top", type=int, default=15, help="functions a profile prints (15)")
    parser.add_argument("--database-name", default="stimulans_bench_scale")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database, and a copy of it as built (<name>_built)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="start from the copy a --keep run left (skip the build)",
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench: set DATABASE_URL=postgres://… (or run `scripts/bench.sh scale`)")
    built_name = f"{args.database_name}_built"
    kept = Path(tempfile.gettempdir()) / f"{built_name}.json"
    media = tempfile.mkdtemp(prefix="stimulans-scale-media-")
    # In this process, as a server would run: DEBUG off; Celery eager (no broker), so the
    # stored jobs (computation, letters) run here when their request commits; mail discarded.
    os.environ.update(
        DATABASE_URL=database_url(url, args.database_name),
        DJANGO_SETTINGS_MODULE="stimulans.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        MEDIA_ROOT=media,
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("CELERY_RESULT_BACKEND", None)
    os.environ.pop("CACHE_URL", None)
    load_start = load()
    began = time.perf_counter()
    print(
        f"bench: {args.organisations} providers, {args.units} care homes, {args.officials} "
        f"officials, {args.grants} grants a year over {args.years} years; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; load average {load_start}",
        flush=True,
    )
    if args.reuse:
        if not kept.exists():
            sys.exit(f"bench: --reuse needs a --keep run first ({kept} is missing)")
        copy_database(url, built_name, args.database_name)
        state = json.loads(kept.read_text())
    else:
        recreate_database(url, args.database_name)
    import django

    django.setup()
    from django.db import connections

    if not args.reuse:
        state = build(args)
        t = state["timings"]
        print(
            f"bench: built in {time.perf_counter() - began:.1f} s (people {t['people']:.1f} s, "
            f"history {t['history']:.1f} s, {state['applications']} applications through the "
            f"portal's services {t['applications']:.1f} s)",
            flush=True,
        )
        if args.keep:
            connections.close_all()
            copy_database(url, args.database_name, built_name)
            kept.write_text(json.dumps(state))
    ok, books = check_books()
    print(f"bench: check_books before: {books}")
    if not ok:
        sys.exit("bench: the built data does not pass check_books")

    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(User.objects.get(pk=state["official"]))
    results, pages = {}, {}
    facts_url = reverse("office:facts", args=[state["grant"]])
    # Before: the list as the official ticks it (by default the units not yet verified).
    pages["facts_before"] = page_ms(client, facts_url, "Skalboendet", args)
    results["verify"] = step_verify(state, args)
    # After: every unit, now verified (the default list, of the unverified, is empty then).
    pages["facts"] = page_ms(client, f"{facts_url}?show=", "Skalboendet", args)
    results["approve"] = step_approve(state, args)
    pages["review"] = page_ms(
        client,
        reverse("office:pot_review", args=[state["pot"]]),
        "Skalans Omsorg",
        args,
    )
    results["decide"] = step_decide(state, args)
    results["letters"] = step_letters(state, args)
    ok_end, books_end = check_books()
    load_end = load()

    width = 104
    print()
    print("=" * width)
    print(
        f"{'step':44}{'rows':>6}{'product s':>11}{'floor s':>10}{'ratio':>8}"
        f"{'target':>17}{'result':>8}"
    )
    print("-" * width)
    labels = {
        "verify": "1. verify stated facts (verify_facts)",
        "approve": "2. bulk approval (bulk_review_applications)",
        "decide": "3. compute + decide this year's grants",
        "letters": "4. every letter of the year (letters job)",
    }
    for key, label in labels.items():
        r = results[key]
        ratio = r["product"] / r["floor"] if r["floor"] else float("inf")
        if key == "letters":
            target, met = f"<= {FLOOR_RATIO:.0f}x", ratio <= FLOOR_RATIO
        else:
            target = f"< {BULK_SECONDS:.0f} s, <= {FLOOR_RATIO:.0f}x"
            met = r["product"] < BULK_SECONDS and ratio <= FLOOR_RATIO
        print(
            f"{label:44}{r['rows']:>6}{r['product']:>11.3f}{r['floor']:>10.4f}"
            f"{ratio:>7.1f}x{target:>17}{'PASS' if met else 'FAIL':>8}"
        )
    for key, label in (
        ("facts_before", "(before 1: office:facts, to tick)"),
        ("facts", "5. page after 1: office:facts?show="),
        ("review", "5. page after 2: office:pot_review"),
    ):
        median, _times = pages[key]
        met = median < PAGE_MS
        print(
            f"{label:44}{'':>6}{median / 1000:>11.3f}{'':>10}{'':>8}"
            f"{f'< {PAGE_MS:.0f} ms':>17}{'PASS' if met else 'FAIL':>8}"
        )
    print("=" * width)
    for key in ("facts_before", "facts", "review"):
        print(
            f"page {key}: median of {args.page_repeat} GETs, ms: "
            + ", ".join(f"{t:.0f}" for t in pages[key][1])
        )
    print(
        "floors: 1. one statement (a writable CTE) setting the same grant units' figures and "
        "application units' verification; 2. one UPDATE of the same applications; 3. the "
        "decided runs with their rows, pot results, ineligibilities and requisitions copied by "
        "one INSERT … SELECT per table; 4. WeasyPrint alone on the letters' finished HTML. "
        "Floors 1–3 run in a transaction that is rolled back once its deferred foreign-key "
        "checks have run (what a commit checks)."
    )
    print(
        "floors 1–3 without their foreign-key checks: "
        + ", ".join(
            f"{n}. {r['statements']:.4f} s ({r['product'] / r['statements']:.1f}x)"
            for n, r in ((1, results["verify"]), (2, results["approve"]), (3, results["decide"]))
        )
    )
    print(f"check_books after: {books_end}{'' if ok_end else '  (BREACHES)'}")
    print(
        f"load average (1/5/15 min): start {load_start}, end {load_end}; "
        f"whole run {time.perf_counter() - began:.0f} s"
    )
    connections.close_all()
    if not args.keep:
        recreate_database(url, args.database_name, drop_only=True)
    return 0


def copy_database(url: str, source: str, target: str) -> None:
    """`target` afresh, as a copy of `source` (PostgreSQL's CREATE DATABASE … TEMPLATE)."""
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(url)
    conn = psycopg2.connect(
        dbname=config["NAME"],
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    conn.close()


if __name__ == "__main__":
    sys.exit(main())
