#!/usr/bin/env python
"""Load benchmark: the product on gunicorn under a mix of signed-in users, driven by locust.

Builds a database of its own on PostgreSQL — seed 000, a closed call on "särskilda boenden"
with `--applications` (10 000) applications from `--organisations` (500) provider
organisations (one care home each), computed and decided, so every provider has a decision;
then an open call on the same pot where each provider has a draft — with one provider user
per organisation and `--officials` officials. Starts `gunicorn stimulans.wsgi` on 127.0.0.1
with DEBUG off, sessions and cache on Redis (`CACHE_URL`), persistent database connections,
and the benchmark's floor URLs (`bench/portal_settings.py`, `bench/portal_urls.py`). Signs
every identity in through the sign-in form, then runs locust, headless, for a fixed time:

1. **paced**: `--users` (50) users — providers on their start page, the application form and
   their decisions, officials on the review list, the run and the dashboard — each waiting
   1–5 s between requests, plus two users on the floor; target: zero errors, p95 < 200 ms;
2. **saturation**: each page alone, then the floor, `--rounds` (2) interleaved rounds of
   `--saturation-seconds` (15) s, `--saturation-users` (8) users that never wait, spread over
   `--client-processes` (2) locust processes; target: every page ≥ 15 % of the floor's req/s.

The floor is `/bench/floor/page/`: a signed-in page that renders the site's empty layout.
Prints a table per phase with PASS/FAIL per target. It is a report, not a test: it exits 0
whether the targets are met or not (non-zero only when it cannot run).

Needs `DATABASE_URL=postgres://…` naming a role that may create databases (the benchmark
drops and recreates `stimulans_bench_load` and never touches the database in the URL) and,
for the sessions, `CACHE_URL` or `CELERY_BROKER_URL` naming a Redis (database 1 of its server
is used). `scripts/bench.sh load` starts a throwaway PostgreSQL and Redis and runs this.
Every request goes to 127.0.0.1 only; every locust run stops by itself after its duration.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for path in (ROOT, BENCH):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from allocation_bench import database_url, recreate_database  # noqa: E402
from portal_bench import (  # noqa: E402
    APPLICATION_TEXT,
    HOST,
    PASSWORD,
    Server,
    add_units_and_uses,
    care_homes,
    database_version,
    free_port,
    provider_organisations,
    request,
    seed_grant,
    server_env,
    sign_in,
)

LOCUSTFILE = BENCH / "load_locustfile.py"
P95_TARGET_MS = 200
SHARE_TARGET = 0.15

# The pages, in the order the tables show them: key → (label, role).
PAGES = {
    "start": ("provider: start page", "provider"),
    "apply": ("provider: application form", "provider"),
    "decisions": ("provider: decisions", "provider"),
    "review": ("official: review list (call)", "official"),
    "run": ("official: run result", "official"),
    "dashboard": ("official: dashboard", "official"),
}
FLOOR = ("floor", ("floor: signed-in empty layout", "provider"))


# ---------------------------------------------------------------- the data


def build(*, applications: int, organisations: int, officials: int, seed: int) -> dict:
    """The grant as a city would have it mid-year; returns what the users need to know."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from allocations.models import AuditEntry, GrantUnit
    from allocations.services import compute_grant
    from applications import services
    from applications.models import (
        Application,
        ApplicationStatus,
        ApplicationUnit,
        Membership,
        Requisition,
    )

    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(seed)
    today = timezone.localdate()
    closed_opens, closed_closes = today - timedelta(days=90), today - timedelta(days=45)
    decided_on = today - timedelta(days=30)
    with transaction.atomic():
        grant, pot = seed_grant(today)

        # One password hash for every bench user: hashing 500 times would take minutes.
        hashed = make_password(PASSWORD)
        staff = User.objects.bulk_create(
            User(username=f"bench-handlaggare-{i:02d}", email="h@example.invalid", password=hashed)
            for i in range(officials)
        )
        handle_cases = Permission.objects.get(codename="handle_cases")
        User.user_permissions.through.objects.bulk_create(
            User.user_permissions.through(user_id=u.pk, permission_id=handle_cases.pk)
            for u in staff
        )
        official = staff[0]
        orgs = provider_organisations(grant, organisations)
        providers = User.objects.bulk_create(
            User(username=f"bench-utforare-{i:03d}", email=f"u{i}@example.invalid", password=hashed)
            for i in range(organisations)
        )
        Membership.objects.bulk_create(
            Membership(user=u, organisation=o) for u, o in zip(providers, orgs, strict=True)
        )

        # The spring call: closed, every application sent and most reviewed.
        closed = services.open_call(
            pot=pot,
            title="Intresseanmälan särskilda boenden (benchmark)",
            opens_on=closed_opens,
            closes_on=closed_closes,
            actor=official,
        )
        # Each organisation sends a run of consecutive applications, so each has some of every
        # kind below (ineligible homes, rejected and pending applications).
        owner_index = [i * organisations // applications for i in range(applications)]
        owners = [orgs[k] for k in owner_index]
        grant_units = care_homes(grant, owners, rng)
        statuses = [ApplicationStatus.APPROVED] * 7 + [ApplicationStatus.SUBMITTED] * 2
        statuses += [ApplicationStatus.REJECTED]
        sent = timezone.now() - timedelta(days=60)
        first = Application.objects.filter(grant=grant).count()
        common = {**APPLICATION_TEXT, "grant": grant, "pot": pot}

        def sent_application(i: int, gu: GrantUnit) -> Application:
            status = statuses[i % len(statuses)]
            reviewed = status != ApplicationStatus.SUBMITTED
            return Application(
                **common,
                call=closed,
                slug=f"bench-{i:05d}",
                organisation=gu.organisation,
                status=status,
                status_reason="Utanför uppdraget." if status == ApplicationStatus.REJECTED else "",
                created_by=providers[owner_index[i]],
                submitted_at=sent,
                reviewed_at=sent if reviewed else None,
                reviewed_by=official if reviewed else None,
                position=first + i,
            )

        apps = Application.objects.bulk_create(
            sent_application(i, gu) for i, gu in enumerate(grant_units)
        )
        add_units_and_uses(grant, apps, grant_units)
    services.refresh_screening(pot)  # as an import does: the pages only read the verdicts
    with transaction.atomic():
        # What submitting and reviewing record: the units the rule refused, and the audit trail
        # (the books check that every status has its entry).
        refused = {
            app_id: {slug: {"code": reason[0], "details": reason[1]}}
            for app_id, slug, reason in ApplicationUnit.objects.filter(
                application__call=closed, eligible=False
            ).values_list("application_id", "grant_unit__unit__slug", "reason")
        }
        for app in apps:
            app.unit_reasons = refused.get(app.pk, {})
        Application.objects.bulk_update(
            [app for app in apps if app.unit_reasons], ["unit_reasons"], batch_size=1000
        )
        AuditEntry.objects.bulk_create(
            (entry for app in apps for entry in application_trail(app, official)),
            batch_size=2000,
        )

    # Computed and decided through the one door each, dated after the call closed.
    run = compute_grant(grant_id=grant.pk, actor=official)
    run = services.decide(
        run=run,
        decided_on=decided_on,
        decided_by="Förvaltningschef",
        delegation="Delegationsordning 3.2",
        reference="Dnr 1.2.3-456/2026",
        requisition_by=today + timedelta(days=60),
        actor=official,
    )

    # The autumn call on the same pot, open now: each provider has a draft on it.
    with transaction.atomic():
        autumn = services.open_call(
            pot=pot,
            title="Höstens ansökan särskilda boenden (benchmark)",
            opens_on=today - timedelta(days=7),
            closes_on=today + timedelta(days=30),
            actor=official,
        )
        first = Application.objects.filter(grant=grant).count()
        drafts = Application.objects.bulk_create(
            Application(
                **common,
                call=autumn,
                slug=f"bench-host-{i:03d}",
                organisation=org,
                status=ApplicationStatus.DRAFT,
                created_by=user,
                position=first + i,
            )
            for i, (org, user) in enumerate(zip(orgs, providers, strict=True))
        )
        AuditEntry.objects.bulk_create(
            entry for app in drafts for entry in application_trail(app, official)
        )
    services.refresh_screening(pot)
    with connection.cursor() as cursor:
        # Vacuumed and analysed, as autovacuum leaves settled tables: otherwise it may start
        # on the freshly written ones during a measured round (the floor and a page measured
        # at different times).
        cursor.execute("VACUUM ANALYZE")

    requisitions = dict(Requisition.objects.filter(run=run).values_list("organisation_id", "pk"))
    # Each provider's first home: the application form offers it to choose.
    first_unit = {gu.organisation_id: gu.unit.name for gu in reversed(grant_units)}
    missing = [o.slug for o in orgs if o.pk not in requisitions]
    if missing:
        sys.exit(f"bench: no decision for {len(missing)} providers, e.g. {missing[0]}")
    return {
        "grant_slug": grant.slug,
        "call": closed.pk,
        "run": run.pk,
        "decided_on": decided_on.isoformat(),
        "applications": Application.objects.count(),
        "requisitions": Requisition.objects.filter(run=run).count(),
        "officials": [u.username for u in staff],
        "providers": [
            {
                "username": user.username,
                "organisation": org.name,
                "draft": draft.pk,
                "unit": first_unit[org.pk],
                "requisition": requisitions[org.pk],
            }
            for user, org, draft in zip(providers, orgs, drafts, strict=True)
        ],
    }


def application_trail(app, official) -> list:
    """The audit entries `start_application`, `submit_application` and `review_application`
    leave, for an application made in bulk."""
    from allocations.models import AuditEntry

    common = {
        "object_type": "applications.application",
        "object_id": str(app.pk),
        "object_repr": str(app)[:300],
        "grant": app.grant,
    }
    provider = app.created_by
    trail = [
        AuditEntry(
            action="application.started", actor=provider, actor_label=provider.username, **common
        )
    ]
    if app.submitted_at is not None:
        trail.append(
            AuditEntry(
                action="application.submitted",
                actor=provider,
                actor_label=provider.username,
                after={"status": "submitted", "ineligible_units": sorted(app.unit_reasons)},
                **common,
            )
        )
    if app.reviewed_at is not None:
        trail.append(
            AuditEntry(
                action="application.reviewed",
                actor=official,
                actor_label=official.username,
                before={"status": "submitted", "granted_amount": None},
                after={"status": app.status, "granted_amount": None, "reason": app.status_reason},
                **common,
            )
        )
    return trail


def check_books() -> str:
    """`check_books` on the built data: the benchmark measures honest books only."""
    import io

    from django.core.management import CommandError, call_command

    out = io.StringIO()
    try:
        call_command("check_books", stdout=out)
    except CommandError as exc:
        sys.exit(f"bench: the built data does not pass check_books: {exc}\n{out.getvalue()}")
    return out.getvalue().strip().splitlines()[-1]


# ---------------------------------------------------------------- identities


def identities(port: int, built: dict, *, providers: int, officials: int) -> dict:
    """Sign each identity in through the sign-in form; per identity its pages and their data."""
    floor = ("/bench/floor/page/", "</main>")
    people = {"provider": [], "official": []}

    def provider(p: dict) -> dict:
        return {
            "cookie": sign_in(port, p["username"]),
            "pages": {
                "start": ("/portal/", p["organisation"]),
                "apply": (f"/portal/ansokningar/{p['draft']}/andra/", p["unit"]),
                "decisions": ("/portal/beslut/", f"/portal/beslut/{p['requisition']}/"),
                "floor": floor,
            },
        }

    def official(username: str) -> dict:
        return {
            "cookie": sign_in(port, username),
            "pages": {
                "review": (f"/handlaggning/utlysningar/{built['call']}/", "bench-00000"),
                # The decision shows as made, on the run and on the dashboard.
                "run": (
                    f"/handlaggning/korningar/{built['run']}/",
                    f"Beslutad {built['decided_on']} av Förvaltningschef",
                ),
                "dashboard": (
                    f"/reporting/grants/{built['grant_slug']}/",
                    "Beslutat: fördelningsomgång 1,",
                ),
                "floor": floor,
            },
        }

    jobs = [(provider, p) for p in built["providers"][:providers]]
    jobs += [(official, u) for u in built["officials"][:officials]]
    results: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                make, arg = jobs.pop()
            person = make(arg)
            with lock:
                results.append(("provider" if make is provider else "official", person))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for role, person in results:
        people[role].append(person)
    for role in people:
        people[role].sort(key=lambda p: p["cookie"])  # the same order whatever thread was first
    return {
        "identities": people,
        "labels": {key: label for key, (label, _role) in [*PAGES.items(), FLOOR]},
        "roles": {key: role for key, (_label, role) in [*PAGES.items(), FLOOR]},
    }


def check_pages(port: int, data: dict) -> dict[str, int]:
    """Every page answers 200 with its data for one identity; returns the sizes in bytes."""
    sizes = {}
    for role, people in data["identities"].items():
        person = people[0]
        for key, (path, expect) in person["pages"].items():
            answer = request(port, "GET", path, person["cookie"])
            if answer.status != 200 or expect.encode() not in answer.body:
                sys.exit(
                    f"bench: {key} ({path}) as a {role} answered {answer.status} without {expect!r}"
                )
            sizes[key] = len(answer.body)
            for _ in range(6):  # warm every gunicorn worker's templates and URL resolver
                request(port, "GET", path, person["cookie"])
    return sizes


# ---------------------------------------------------------------- profile


def profile_pages(
    data: dict,
    *,
    repeat: int,
    top: int,
    pages: list[str] | None = None,
    show_sql: bool = False,
    dump: Path | None = None,
) -> None:
    """Where each page's time goes, in this process (no server, no network).

    Per page: the median wall time of `repeat` requests through Django's full stack (the
    same middleware and signed-in session, from Redis), its SQL (count and time, through a
    database execute wrapper), the template rendering (cumulative, lazy queries included),
    then the top functions of a cProfile of `repeat` more requests by own time.
    """
    import cProfile
    import pstats
    from http.cookies import SimpleCookie

    from django.db import connection
    from django.test import Client

    sql = {"n": 0, "s": 0.0, "statements": []}

    def timed(execute, query, params, many, context):
        began = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            seconds = time.perf_counter() - began
            sql["n"] += 1
            sql["s"] += seconds
            if show_sql:  # as sent, its parameters in place: ready for EXPLAIN
                query = connection.ops.last_executed_query(context["cursor"], query, params)
                sql["statements"].append((seconds, query))

    print()
    print("=" * 100)
    print(f"PROFILE: in-process, Django's test client, median of {repeat} requests per page")
    for key, (label, role) in [*PAGES.items(), FLOOR]:
        if pages and key not in pages:
            continue
        person = data["identities"][role][0]
        path, expect = person["pages"][key]
        client = Client(HTTP_HOST=HOST)
        client.cookies = SimpleCookie(person["cookie"])
        for _ in range(3):
            answer = client.get(path)
            if answer.status_code != 200 or expect.encode() not in answer.content:
                sys.exit(f"bench: profile: {key} answered {answer.status_code} without its data")
        walls, queries, sql_times = [], [], []
        with connection.execute_wrapper(timed):
            for _ in range(repeat):
                sql.update(n=0, s=0.0, statements=[])
                began = time.perf_counter()
                client.get(path)
                walls.append(time.perf_counter() - began)
                queries.append(sql["n"])
                sql_times.append(sql["s"])
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(repeat):
            client.get(path)
        profiler.disable()
        stats = pstats.Stats(profiler)
        if dump:
            stats.dump_stats(dump / f"{key}.pstats")
        total = stats.total_tt / repeat
        rendering = sum(
            ct
            for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()
            if name == "render" and file.endswith("django/template/backends/django.py")
        )
        print("-" * 100)
        print(
            f"{label}: {statistics.median(walls) * 1000:.1f} ms, {statistics.median(queries)} "
            f"queries in {statistics.median(sql_times) * 1000:.1f} ms, "
            f"template rendering {rendering / repeat / (total or 1) * 100:.0f} % "
            f"of the profiled {total * 1000:.1f} ms (its lazy queries included), "
            f"{stats.total_calls // repeat} Python calls"
        )
        rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
        for (file, line, name), (_cc, calls, tt, ct, _callers) in rows:
            where = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
            print(
                f"    {tt / repeat * 1000:7.2f} ms own {ct / repeat * 1000:8.2f} ms cum "
                f"{calls // repeat:>7} calls  {name} ({where}:{line})"
            )
        if show_sql:
            print("  its statements (the last request):")
            for seconds, query in sql["statements"]:
                print(f"    {seconds * 1000:6.2f} ms  {query}")
    print("=" * 100)


# ---------------------------------------------------------------- locust


@dataclass
class Stats:
    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    rates: list[float] = field(default_factory=list)


def run_locust(
    *,
    port: int,
    data_path: Path,
    users: int,
    seconds: int,
    wait: str,
    classes: list[str],
    processes: int = 1,
    page: str = "",
    out: Path,
) -> dict[str, Stats]:
    """One headless locust run of fixed duration; its stats per page label."""
    prefix = out / f"locust-{time.monotonic_ns()}"
    env = dict(os.environ, LOAD_BENCH_DATA=str(data_path), LOAD_BENCH_WAIT=wait)
    if page:
        env["LOAD_BENCH_PAGE"] = page
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        f"--host=http://{HOST}:{port}",
        f"--users={users}",
        f"--spawn-rate={max(users, 10)}",
        f"--run-time={seconds}s",
        "--stop-timeout=10",
        f"--csv={prefix}",
        "--only-summary",
        "--loglevel=WARNING",
        "--exit-code-on-error=0",
    ]
    if processes > 1:
        # A port of this run's own: on locust's default (5557) the workers of another
        # benchmark running on the machine at the same time would report to this master.
        master = free_port()
        command += [
            f"--processes={processes}",
            f"--master-bind-host={HOST}",
            f"--master-bind-port={master}",
            f"--master-port={master}",
        ]
    command += classes
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    stats_file = Path(f"{prefix}_stats.csv")
    if done.returncode != 0 or not stats_file.exists():
        sys.exit(f"bench: locust failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    found: dict[str, Stats] = {}
    with stats_file.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                continue
            found[row["Name"]] = Stats(
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=float(row["Requests/s"]),
                p50=float(row["50%"]),
                p95=float(row["95%"]),
                p99=float(row["99%"]),
            )
    failures_file = Path(f"{prefix}_failures.csv")
    if failures_file.exists():
        with failures_file.open(newline="") as f:
            for row in csv.DictReader(f):
                print(f"bench:   error on {row['Name']}: {row['Error']} ({row['Occurrences']}×)")
    return found


# ---------------------------------------------------------------- report


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_paced(stats: dict[str, Stats], users: int, seconds: int) -> tuple[bool, int]:
    width = 100
    print()
    print("=" * width)
    print(f"PACED: {users} users, each waiting 1-5 s between requests, {seconds} s")
    print(
        f"{'page':34}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'errors':>8}{'p95 < 200 ms':>14}"
    )
    print("-" * width)
    ok, errors = True, 0
    for key, (label, _role) in [*PAGES.items(), FLOOR]:
        s = stats.get(label, Stats())
        errors += s.failures
        met = s.requests > 0 and s.p95 < P95_TARGET_MS
        if key != "floor":
            ok &= met
        verdict = pass_fail(met) if key != "floor" else "(floor)"
        print(
            f"{label:34}{s.requests:>9}{s.rps:>8.1f}{s.p50:>8.0f}{s.p95:>8.0f}{s.p99:>8.0f}"
            f"{s.failures:>8}{verdict:>14}"
        )
    print("=" * width)
    return ok, errors


def print_saturation(
    stats: dict[str, Stats], users: int, processes: int, seconds: int, rounds: int
) -> tuple[bool, int]:
    floor = stats[FLOOR[1][0]]
    f = statistics.median(floor.rates)
    width = 108
    print()
    print("=" * width)
    print(
        f"SATURATION: each page alone, {users} users that never wait, {processes} client "
        f"processes, {rounds} rounds of {seconds} s (req/s = median of the rounds)"
    )
    print(
        f"{'page':34}{'req/s':>8}{'% floor':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'errors':>8}{'>= 15 % of floor':>18}  req/s by round"
    )
    print("-" * width)
    ok, errors = True, 0
    for key, (label, _role) in [*PAGES.items(), FLOOR]:
        if label not in stats:  # not saturated this time (--saturation-pages)
            continue
        s = stats[label]
        rate = statistics.median(s.rates)
        share = rate / f if f else 0.0
        errors += s.failures
        met = share >= SHARE_TARGET
        if key != "floor":
            ok &= met
        verdict = pass_fail(met) if key != "floor" else "(floor)"
        by_round = ", ".join(f"{r:.1f}" for r in s.rates)
        print(
            f"{label:34}{rate:>8.1f}{share * 100:>8.1f}%{s.p50:>8.0f}{s.p95:>8.0f}{s.p99:>8.0f}"
            f"{s.failures:>8}{verdict:>18}  {by_round}"
        )
    print("=" * width)
    return ok, errors


def merge(into: dict[str, Stats], found: dict[str, Stats]) -> None:
    """Add one saturation round's figures (the percentiles of the slower round are kept)."""
    for label, s in found.items():
        total = into.setdefault(label, Stats())
        total.requests += s.requests
        total.failures += s.failures
        total.rates.append(s.rps)
        total.p50, total.p95, total.p99 = (
            max(total.p50, s.p50),
            max(total.p95, s.p95),
            max(total.p99, s.p99),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=10_000, help="applications (10000)")
    parser.add_argument("--organisations", type=int, default=500, help="providers (500)")
    parser.add_argument("--officials", type=int, default=10, help="official users (10)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn sync workers (2 × CPUs + 1, gunicorn's rule of thumb)",
    )
    parser.add_argument("--users", type=int, default=50, help="paced users (50)")
    parser.add_argument("--paced-seconds", type=int, default=120, help="paced phase (120 s)")
    parser.add_argument("--saturation-users", type=int, default=8, help="saturation users (8)")
    parser.add_argument(
        "--client-processes", type=int, default=2, help="locust processes at saturation (2)"
    )
    parser.add_argument(
        "--saturation-seconds", type=int, default=15, help="per page and round (15 s)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="saturation rounds (2)")
    parser.add_argument(
        "--saturation-pages",
        help="saturate only these pages (and the floor), comma-separated keys: " + ", ".join(PAGES),
    )
    parser.add_argument(
        "--only", choices=["paced", "saturation", "profile"], help="run one phase only"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="first profile each page in-process (time, queries, top functions)",
    )
    parser.add_argument(
        "--profile-repeat", type=int, default=10, help="profiled requests per page (10)"
    )
    parser.add_argument(
        "--profile-pages",
        help="profile only these pages, comma-separated keys: " + ", ".join([*PAGES, FLOOR[0]]),
    )
    parser.add_argument(
        "--profile-sql", action="store_true", help="print each profiled page's statements"
    )
    parser.add_argument(
        "--profile-dump",
        type=Path,
        metavar="DIR",
        help="write each profiled page's cProfile stats to DIR/<page>.pstats",
    )
    parser.add_argument("--database-name", default="stimulans_bench_load")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--reuse", action="store_true", help="use the kept database as it is (skip the build)"
    )
    args = parser.parse_args()
    unknown = set((args.saturation_pages or "").split(",")) - set(PAGES) - {""}
    if unknown:
        parser.error(f"--saturation-pages: unknown {', '.join(sorted(unknown))}")

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench: set DATABASE_URL=postgres://… (or run `scripts/bench.sh load`)")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    cache_url = os.environ.get("CACHE_URL") or (broker.rsplit("/", 1)[0] + "/1" if broker else "")
    if not cache_url:
        sys.exit(
            "bench: set CACHE_URL=redis://… (or CELERY_BROKER_URL; or `scripts/bench.sh load`)"
        )
    bench_url = database_url(url, args.database_name)
    paced_users = args.users
    print(
        f"bench: {args.applications} applications from {args.organisations} providers, "
        f"{args.officials} officials; gunicorn {args.workers} sync workers"
    )
    print(f"bench: Python {platform.python_version()}, {os.cpu_count()} CPUs")

    # The server as in production (`server_env`), persistent connections; the broker stays
    # configured for it (nothing these pages do queues work, so no worker runs).
    env = server_env(bench_url, cache_url=cache_url, conn_max_age=60)
    data_file = Path(tempfile.gettempdir()) / f"stimulans-load-{os.getpid()}"
    kept = Path(tempfile.gettempdir()) / f"{args.database_name}.json"  # --keep, for --reuse
    data_file.mkdir(exist_ok=True)
    started = time.perf_counter()
    if args.reuse:
        import django

        django.setup()
        built = json.loads(kept.read_text())
    else:
        recreate_database(url, args.database_name)
        built = build(
            applications=args.applications,
            organisations=args.organisations,
            officials=args.officials,
            seed=args.seed,
        )
        if args.keep:
            kept.write_text(json.dumps(built))
    books = check_books()
    print(
        f"bench: PostgreSQL {database_version()}; {built['applications']} applications, "
        f"{built['requisitions']} decisions, built in {time.perf_counter() - started:.1f} s; "
        f"check_books: {books}"
    )

    log = data_file / "gunicorn.log"
    server = Server(env, args.workers, log)
    ok_paced = ok_saturation = True
    errors = 0
    try:
        server.wait_ready()
        port = server.port
        print(f"bench: gunicorn (pid {server.proc.pid}) on {HOST}:{port}, DEBUG off")
        providers = max(1, paced_users * 4 // 5)
        officials = min(args.officials, max(1, paced_users - providers))
        if args.only == "profile":
            providers = officials = 1
        started = time.perf_counter()
        data = identities(port, built, providers=providers, officials=officials)
        data_path = data_file / "users.json"
        data_path.write_text(json.dumps(data))
        print(
            f"bench: signed in {len(data['identities']['provider'])} providers and "
            f"{len(data['identities']['official'])} officials through the sign-in form "
            f"in {time.perf_counter() - started:.1f} s"
        )
        sizes = check_pages(port, data)
        print(
            "bench: every page answers 200 with its data: "
            + ", ".join(f"{key} {size // 1024} KB" for key, size in sizes.items())
        )
        if args.profile or args.only == "profile":
            pages = args.profile_pages.split(",") if args.profile_pages else None
            profile_pages(
                data,
                repeat=args.profile_repeat,
                top=12,
                pages=pages,
                show_sql=args.profile_sql,
                dump=args.profile_dump,
            )
        if args.only in (None, "paced"):
            print(
                f"bench: paced phase, {paced_users} users + 2 on the floor, {args.paced_seconds} s"
            )
            paced = run_locust(
                port=port,
                data_path=data_path,
                users=paced_users + 2,
                seconds=args.paced_seconds,
                wait="1,5",
                classes=["ProviderUser", "OfficialUser", "FloorUser"],
                out=data_file,
            )
            ok_paced, paced_errors = print_paced(paced, paced_users, args.paced_seconds)
            errors += paced_errors
        if args.only in (None, "saturation"):
            saturation: dict[str, Stats] = {}
            chosen = {
                key: PAGES[key]
                for key in (args.saturation_pages.split(",") if args.saturation_pages else PAGES)
            }
            for round_ in range(1, args.rounds + 1):
                for key in [FLOOR[0], *chosen]:
                    found = run_locust(
                        port=port,
                        data_path=data_path,
                        users=args.saturation_users,
                        seconds=args.saturation_seconds,
                        wait="0,0",
                        classes=["OnePageUser"],
                        processes=args.client_processes,
                        page=key,
                        out=data_file,
                    )
                    merge(saturation, found)
                print(
                    f"bench: saturation round {round_}: "
                    + ", ".join(
                        f"{key} {saturation[label].rates[-1]:.1f}/s"
                        for key, (label, _r) in [FLOOR, *chosen.items()]
                    )
                )
            ok_saturation, saturation_errors = print_saturation(
                saturation,
                args.saturation_users,
                args.client_processes,
                args.saturation_seconds,
                args.rounds,
            )
            errors += saturation_errors
    finally:
        server.stop()
        if server.proc.returncode not in (0, -15):
            print(f"bench: gunicorn log ({log}):\n{log.read_text()}")

    print()
    print(f"TARGET zero errors (all phases): {errors} errors  {pass_fail(errors == 0)}")
    if args.only in (None, "paced"):
        print(
            f"TARGET p95 < {P95_TARGET_MS} ms for every page, {paced_users} users waiting 1-5 s: "
            f"{pass_fail(ok_paced)}"
        )
    if args.only in (None, "saturation"):
        print(
            "TARGET every page >= 15 % of the floor's req/s at saturation: "
            + pass_fail(ok_saturation)
        )
    print(
        "floor = /bench/floor/page/: @login_required, renders the site's layout (base.html) "
        "for the signed-in user, on the same gunicorn, in the same run."
    )
    print(
        f"server: gunicorn {args.workers} sync workers, DEBUG off, DATABASE_CONN_MAX_AGE=60, "
        "sessions and cache on Redis (CACHE_URL); client: locust FastHttpUser on 127.0.0.1, "
        "every answer must be a 200 showing the user's own data."
    )
    if not args.keep and not args.reuse:
        recreate_database(url, args.database_name, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
