#!/usr/bin/env python
"""Allocation benchmark: computing a 100 000-unit grant through the task, against COPY.

Builds a synthetic grant (care homes with 1–120 places, a `per_unit` pot over
approved applications that cover every unit, and a `key` pot over the provider
organisations), imports it into a database of its own, then times
`allocations.services.request_compute` (a stored job) — load, compute, store —
and, in the same run, the floor: PostgreSQL `COPY` of the very rows the product
wrote into the same table. Prints the medians side by side with the targets
(≤ 3× the floor, peak memory < 500 MB). It is a report, not a test: it exits 0
whether the targets are met or not.

Needs `DATABASE_URL=postgres://…` naming a role that may create databases; the
benchmark drops and recreates its own database (`stimulans_bench` by default)
and never touches the one named in the URL. `scripts/bench.sh` (`make bench`)
starts a throwaway PostgreSQL and runs this.

Celery runs eagerly in-process (CELERY_BROKER_URL is ignored) unless `--worker`
is given: then a `celery worker` of our own is started on the broker, against
the benchmark database, and the job goes to it through a private queue.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GRANT_ID = "bench-omsorgsboenden"
PER_UNIT_POT = "boendeplatser"
KEY_POT = "befolkningsnyckel"
PER_UNIT_AMOUNT = 1_234_567_891  # odd on purpose: Hamilton has kronor left to hand out
KEY_AMOUNT = 98_765_431
RATIO_TARGET = 3.0
MEMORY_TARGET_MB = 500
ROW_COLUMNS = "run_id, pot_id, organisation_id, unit_id, quantity, amount"
ROW_TABLE = "allocations_allocationrow"


# ---------------------------------------------------------------- the synthetic grant


def build_grant(units: int, organisations: int, seed: int) -> dict:
    """A `stimulans-grant/1` dict: `units` care homes spread over `organisations` providers."""
    rng = random.Random(seed)
    admin = "aldreforvaltningen"
    providers = []
    for i in range(1, organisations + 1):
        kind = rng.choice(("private_provider", "private_provider", "district_administration"))
        providers.append(
            {
                "id": f"utforare-{i:05d}",
                "name": f"Utförare {i}",
                "kind": kind,
                "ownership": "public" if kind == "district_administration" else "private",
            }
        )
    owners = [p["id"] for p in providers]
    # Every provider runs at least one home; the rest are spread at random.
    assigned = owners[: min(units, organisations)] + [
        rng.choice(owners) for _ in range(max(0, units - organisations))
    ]
    unit_items = [
        {
            "id": f"vob-{i:06d}",
            "organisation": org,
            "name": f"Vård- och omsorgsboendet {i}",
            "type": "care_home",
            "places": rng.randint(1, 120),
            "in_city": True,
            "city_placed_share": rng.choice(("0.50", "0.75", "0.90", "1.00")),
        }
        for i, org in enumerate(assigned, start=1)
    ]
    by_org: dict[str, list[str]] = {}
    for unit in unit_items:
        by_org.setdefault(unit["organisation"], []).append(unit["id"])
    applications = [
        {
            "id": f"ans-{i:05d}",
            "pot": PER_UNIT_POT,
            "organisation": org,
            "units": by_org[org],
            "uses": ["kompetens"],
            "intended_use": "Kompetensutveckling för undersköterskor.",
            "status": "approved",
        }
        for i, org in enumerate(owners, start=1)
        if org in by_org
    ]
    return {
        "format": "stimulans-grant/1",
        "agreement": {
            "title": "Syntetisk överenskommelse för prestandamätning",
            "year": 2024,
            "parties": ["Staten", "Sveriges Kommuner och Regioner (SKR)"],
            "purpose": "Prestandamätning av fördelningen.",
            "permitted_uses": [{"code": "kompetens", "label": "Kompetensutveckling"}],
        },
        "grant": {
            "id": GRANT_ID,
            "title": f"Syntetiskt bidrag: {units} boenden",
            "received_from": "Staten",
            "recipient": "Benchmarks kommun",
            "administered_by": admin,
            "amount": PER_UNIT_AMOUNT + KEY_AMOUNT,
            "decision_body": "Äldrenämnden",
        },
        "organisations": [
            {
                "id": admin,
                "name": "Äldreförvaltningen",
                "kind": "specialist_administration",
                "ownership": "public",
            },
            *providers,
        ],
        "units": unit_items,
        "datasets": [
            {
                "id": "befolkning-65-plus",
                "label": "Invånare 65 år och äldre",
                "source": "Syntetisk",
                "reference_date": "2023-12-31",
                "values": {org: rng.randint(500, 60_000) for org in owners},
                "illustrative": True,
            }
        ],
        "pots": [
            {
                "id": PER_UNIT_POT,
                "name": "Per plats i vård- och omsorgsboende",
                "amount": PER_UNIT_AMOUNT,
                "model": {
                    "type": "per_unit",
                    "measure": "places",
                    "eligible": {
                        "unit_types": ["care_home"],
                        "all": [{"field": "in_city", "op": "eq", "value": True}],
                    },
                    "applicants_only": True,
                },
            },
            {
                "id": KEY_POT,
                "name": "Efter befolkning 65+",
                "amount": KEY_AMOUNT,
                "model": {
                    "type": "key",
                    "factors": [{"dataset": "befolkning-65-plus", "weight": "1"}],
                },
            },
        ],
        "applications": applications,
        "illustrative": {"units": True, "applications": True, "datasets": True},
    }


# ---------------------------------------------------------------- databases and processes


def database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str, name: str, *, drop_only: bool = False) -> None:
    """Drop `name` and (unless `drop_only`) create it afresh, connected through `url`."""
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(url)
    if config["NAME"] == name:
        sys.exit(
            f"bench: DATABASE_URL already names '{name}'; the benchmark needs its own database"
        )
    conn = psycopg2.connect(
        dbname=config["NAME"],
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def setup_database(args) -> dict:
    """Child process: migrate the benchmark database and import the synthetic grant.

    Runs apart from the timed process so that the import's memory does not
    count in the computation's peak.
    """
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from applications.grantfiles import import_grant

    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    data = build_grant(args.units, args.organisations, args.seed)
    built = time.perf_counter() - started
    started = time.perf_counter()
    grant = import_grant(data, actor_label="bench")
    imported = time.perf_counter() - started
    # Planner statistics as autovacuum would leave them a minute after an import.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "grant_pk": grant.pk,
        "build_seconds": built,
        "import_seconds": imported,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_setup_child(argv: list[str], env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *argv, "--setup-only"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


class Worker:
    """A `celery worker` of our own, on a private queue, against the benchmark database."""

    def __init__(self, env: dict, log_path: Path):
        self.queue = f"bench-{os.getpid()}"
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "stimulans",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--queues={self.queue}",
                f"--hostname={self.queue}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log_path

    def wait_ready(self, app) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench: the worker exited:\n{self.log_path.read_text()}")
            replies = app.control.ping(timeout=0.5) or []
            if any(self.queue in name for reply in replies for name in reply):
                return
        sys.exit("bench: the worker did not answer within 60 s")

    def peak_rss_mb(self) -> float | None:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if self.proc.returncode in (0, -15):
            self.log_path.unlink(missing_ok=True)


# ---------------------------------------------------------------- measurements


def clear_runs(grant_pk: int) -> None:
    """Delete the grant's runs and what refers to them, and vacuum, so runs start alike.

    Plain SQL over the foreign keys the database has, rather than the ORM's
    cascade, so that models added meanwhile (jobs, requisitions) cannot break it:
    the benchmark creates nothing that refers to a run besides the run's results.
    """
    from django.db import connection

    from allocations.models import AllocationRun

    runs = AllocationRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
            "WHERE c.contype = 'f' AND c.confrelid = %s::regclass AND c.conrelid <> c.confrelid",
            [runs],
        )
        for table, column in cursor.fetchall():
            cursor.execute(
                f'DELETE FROM {table} WHERE "{column}" IN '
                f"(SELECT id FROM {runs} WHERE grant_id = %s)",
                [grant_pk],
            )
        cursor.execute(f"DELETE FROM {runs} WHERE grant_id = %s", [grant_pk])
        for table in (ROW_TABLE, "allocations_potresult", "allocations_ineligibility"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def run_product(grant_pk: int, worker: Worker | None) -> tuple[float, dict]:
    """Compute as the pages do: a stored job, timed from the worker's claim to its finish."""
    from allocations import jobs
    from allocations.models import Grant, JobStatus
    from allocations.services import request_compute
    from stimulans.celery import app

    if worker is not None:
        app.conf.task_routes = {"allocations.run_job": {"queue": worker.queue}}
    job = request_compute(grant=Grant.objects.get(pk=grant_pk), actor_label="bench")
    job = jobs.wait(job, seconds=1800)
    if job.status != JobStatus.DONE:
        sys.exit(f"bench: the computation failed: {job.error}")
    elapsed = (job.finished_at - job.started_at).total_seconds()
    return elapsed, {"ok": True, "run_id": job.run_id, "number": job.run.number}


def read_rows(run_pk: int) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pot_id, organisation_id, unit_id, quantity, amount FROM {ROW_TABLE} "
            "WHERE run_id = %s ORDER BY id",
            [run_pk],
        )
        return cursor.fetchall()


def copy_buffer(run_pk: int, rows: list[tuple]) -> io.BytesIO:
    """The rows as COPY text, for a run of the floor's own; built before the clock starts."""
    null = "\\N"
    lines = [
        f"{run_pk}\t{pot}\t{org}\t{null if unit is None else unit}\t"
        f"{null if qty is None else qty}\t{amount}\n"
        for pot, org, unit, qty, amount in rows
    ]
    return io.BytesIO("".join(lines).encode())


def run_floor(grant_pk: int, rows: list[tuple]) -> float:
    """COPY the product's rows into the same table, in a transaction, timed to the commit."""
    from django.db import connection, transaction
    from django.utils import timezone

    from allocations.models import AllocationRun

    run = AllocationRun.objects.create(
        grant_id=grant_pk,
        number=1,
        result_digest="floor",
        grant_amount=PER_UNIT_AMOUNT + KEY_AMOUNT,
        computed_at=timezone.now(),
    )
    buffer = copy_buffer(run.pk, rows)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {ROW_TABLE} ({ROW_COLUMNS}) FROM STDIN", buffer)
    elapsed = time.perf_counter() - started
    copied = run.rows.count()
    if copied != len(rows):
        sys.exit(f"bench: the floor copied {copied} rows, expected {len(rows)}")
    return elapsed


def run_bare_copy(rows: list[tuple]) -> float:
    """For information: the same COPY into a TEMP copy of the table without its foreign keys."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS bench_rows (LIKE {ROW_TABLE} INCLUDING ALL)"
        )
        cursor.execute("TRUNCATE bench_rows")
    buffer = copy_buffer(0, rows)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY bench_rows ({ROW_COLUMNS}) FROM STDIN", buffer)
    return time.perf_counter() - started


def check_rows(run_pk: int, grant_pk: int) -> list[tuple[str, int, int, int]]:
    """(pot, rows, sum of rows, pot amount) for each pot of the run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.slug, count(r.id), coalesce(sum(r.amount), 0), p.amount "
            f"FROM allocations_pot p LEFT JOIN {ROW_TABLE} r "
            "ON r.pot_id = p.id AND r.run_id = %s WHERE p.grant_id = %s "
            "GROUP BY p.slug, p.amount, p.position ORDER BY p.position",
            [run_pk, grant_pk],
        )
        return [(slug, n, int(total), amount) for slug, n, total, amount in cursor.fetchall()]


def traced_peak_mb(grant_pk: int) -> float:
    """tracemalloc's peak over one more (untimed) computation, in MB."""
    clear_runs(grant_pk)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_product(grant_pk, None)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def profile(grant_pk: int, path: str) -> None:
    import cProfile
    import pstats

    clear_runs(grant_pk)
    profiler = cProfile.Profile()
    profiler.enable()
    run_product(grant_pk, None)
    profiler.disable()
    profiler.dump_stats(path)
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    print(f"\ncProfile of one more computation (also written to {path}):")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)


# ---------------------------------------------------------------- report


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_table(
    product: list[float],
    floor: list[float],
    bare: list[float],
    peak_rss: float | None,
    traced: float | None,
    mode: str,
) -> None:
    p, f = statistics.median(product), statistics.median(floor)
    ratio = p / f
    width = 78
    print()
    print("=" * width)
    print(f"{'':32}{'product':>10}{'floor':>10}{'ratio':>8}{'target':>10}{'result':>8}")
    print("-" * width)
    print(
        f"{f'time, median of {len(product)} (s)':32}{p:>10.3f}{f:>10.3f}"
        f"{ratio:>7.2f}x{'<= 3x':>10}{verdict(ratio <= RATIO_TARGET):>8}"
    )
    print(f"{'time, min (s)':32}{min(product):>10.3f}{min(floor):>10.3f}")
    print(f"{'time, max (s)':32}{max(product):>10.3f}{max(floor):>10.3f}")
    b = statistics.median(bare)
    print(
        f"{'  floor without foreign keys (s)':32}{p:>10.3f}{b:>10.3f}{p / b:>7.2f}x{'(info)':>10}"
    )
    if peak_rss is not None:
        print(
            f"{'peak RSS, ' + mode + ' (MB)':32}{peak_rss:>10.1f}{'':>18}"
            f"{'< 500 MB':>10}{verdict(peak_rss < MEMORY_TARGET_MB):>8}"
        )
    if traced is not None:
        print(
            f"{'tracemalloc peak, 1 run (MB)':32}{traced:>10.1f}{'':>18}"
            f"{'< 500 MB':>10}{verdict(traced < MEMORY_TARGET_MB):>8}"
        )
    print("=" * width)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100_000, help="care homes (100000)")
    parser.add_argument("--organisations", type=int, default=1_500, help="providers (1500)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (2024)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (5)")
    parser.add_argument("--database-name", default="stimulans_bench", help="database to (re)create")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="send the task to a real worker on CELERY_BROKER_URL instead of running it eagerly",
    )
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced run")
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile one more computation, write stats to FILE"
    )
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stimulans.settings")
    if args.setup_only:
        print(json.dumps(setup_database(args)))
        return 0

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench: set DATABASE_URL=postgres://… (or run `make bench`, which starts one)")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if args.worker and not broker:
        sys.exit("bench: --worker needs CELERY_BROKER_URL (redis://…)")
    if not args.worker:
        # Eager: the task runs in this process; nothing goes to a broker.
        if broker:
            print(f"bench: ignoring CELERY_BROKER_URL={broker} (eager; --worker uses it)")
        os.environ.pop("CELERY_BROKER_URL", None)
        os.environ.pop("CELERY_RESULT_BACKEND", None)
    bench_url = database_url(url, args.database_name)
    mode = "worker" if args.worker else "eager"

    print(
        f"bench: {args.units} units, {args.organisations} providers, seed {args.seed}, "
        f"{args.repeat} repetitions, Celery {mode}"
        + (" (in-process, CELERY_TASK_ALWAYS_EAGER)" if mode == "eager" else f" ({broker})")
    )
    print(
        f"bench: Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"(re)creating database '{args.database_name}'"
    )
    recreate_database(url, args.database_name)
    env = dict(os.environ, DATABASE_URL=bench_url)
    os.environ["DATABASE_URL"] = bench_url

    setup_argv = [
        f"--units={args.units}",
        f"--organisations={args.organisations}",
        f"--seed={args.seed}",
    ]
    setup = run_setup_child(setup_argv, env)
    grant_pk = setup["grant_pk"]
    print(
        f"bench: built the grant file in {setup['build_seconds']:.1f} s, "
        f"import_grant took {setup['import_seconds']:.1f} s "
        f"(peak RSS {setup['peak_rss_mb']:.0f} MB, separate process; not part of the figures)"
    )

    import django

    django.setup()
    from django.db import connection, connections

    if not args.worker:
        # Eager mode runs on the `memory://` transport, which warns once that it has no host.
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"bench: PostgreSQL {cursor.fetchone()[0]}")

    worker = None
    if args.worker:
        from stimulans.celery import app

        log = Path(tempfile.gettempdir()) / f"stimulans-bench-worker-{os.getpid()}.log"
        worker = Worker(env, log)
        worker.wait_ready(app)
        print(f"bench: worker up (pid {worker.proc.pid}, queue {worker.queue})")

    product_times: list[float] = []
    floor_times: list[float] = []
    bare_times: list[float] = []
    row_counts: set[int] = set()
    exact_sums = 0
    baseline_rss = rss_mb()
    try:
        for i in range(1, args.repeat + 1):
            clear_runs(grant_pk)
            elapsed, outcome = run_product(grant_pk, worker)
            product_times.append(elapsed)
            run_pk = outcome["run_id"]
            checks = check_rows(run_pk, grant_pk)
            rows = read_rows(run_pk)
            if i == 1:
                print(f"bench: run {run_pk} stored {len(rows)} rows")
                for slug, n, total, amount in checks:
                    status = "exact" if total == amount else f"OFF BY {amount - total} kr"
                    print(
                        f"bench:   pot {slug}: {n} rows, sum {total} kr of {amount} kr ({status})"
                    )
            row_counts.add(len(rows))
            per_unit = next(c for c in checks if c[0] == PER_UNIT_POT)
            if per_unit[2] == per_unit[3]:
                exact_sums += 1
            else:
                print(f"bench: FAIL: the per_unit pot sums to {per_unit[2]}, not {per_unit[3]}")
            clear_runs(grant_pk)
            floor_times.append(run_floor(grant_pk, rows))
            bare_times.append(run_bare_copy(rows))
            del rows
            print(
                f"bench: repetition {i}: product {product_times[-1]:.3f} s, "
                f"floor {floor_times[-1]:.3f} s (COPY without foreign keys {bare_times[-1]:.3f} s)"
            )
        if worker is None:
            peak_rss = rss_mb()
            rss_label = "this process"
        else:
            peak_rss = worker.peak_rss_mb()
            rss_label = "worker"
        traced = None
        if worker is None and not args.no_tracemalloc:
            traced = traced_peak_mb(grant_pk)
        if args.profile and worker is None:
            profile(grant_pk, args.profile)
    finally:
        if worker is not None:
            worker.stop()

    print_table(product_times, floor_times, bare_times, peak_rss, traced, rss_label)
    counts = ", ".join(str(n) for n in sorted(row_counts))
    print(
        f"rows stored per repetition: {counts} ({len(checks)} pots: "
        + ", ".join(f"{slug} {n}" for slug, n, _, _ in checks)
        + f"); per_unit pot sums exactly to its amount in {exact_sums}/{args.repeat} "
        f"repetitions: {verdict(exact_sums == args.repeat)}"
    )
    if worker is None:
        print("product = request_compute(grant), its job run eagerly in this process.")
    else:
        print("product = request_compute(grant), its job run by the worker (private queue).")
    print(
        f"floor = COPY of the same rows into {ROW_TABLE} (its indexes and deferred foreign "
        "keys), one transaction, timed to the commit; 'without foreign keys' = the same COPY "
        "into a TEMP table LIKE it INCLUDING ALL."
    )
    if worker is None:
        print(
            f"peak RSS = ru_maxrss of this process ({baseline_rss:.0f} MB before the first "
            "computation: Python + Django); the import ran in a child process. "
            "tracemalloc = Python allocations of one extra untimed computation."
        )
    else:
        print("peak RSS = VmHWM of the worker process (its whole life, all repetitions).")

    connections.close_all()
    if not args.keep:
        recreate_database(url, args.database_name, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
