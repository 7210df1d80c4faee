#!/usr/bin/env python
"""Reporting benchmark: documents through real workers, and a 100 000-row xlsx export.

Three measurements, each printed beside its floor measured in the same run:

- the decision report of a decided grant with 2 000 recipients, asked for as a
  job and rendered by a real `celery -A stimulans worker`, against the floor:
  WeasyPrint rendering the same finished HTML with the same fonts in this
  process (target: ≤ 1.3× the floor);
- the decision letters of a decided grant with 500 recipients, as one batch
  job, with a worker of `--concurrency=1` and then one of `--concurrency=2`
  (target: 2 processes ≥ 1.7× faster than 1); the floor printed beside it is
  WeasyPrint rendering the same 500 finished letters one after the other here;
- `AllocationsExporter` writing a run of 101 500 rows (a sheet per pot) to
  xlsx, in a child process of its own, against the floor: openpyxl in
  write-only mode writing the same sheets, rows and cell formats from lists
  built before the clock starts, in another child (target: ≤ 1.5× the floor,
  peak memory < 300 MB).

It is a report, not a test: it exits 0 whether the targets are met or not.
Needs `DATABASE_URL=postgres://…` naming a role that may create databases and
`CELERY_BROKER_URL=redis://…`; `scripts/bench.sh` (`make bench`) starts both.
The benchmark drops and recreates its own database (`stimulans_bench_reporting`)
and uses Redis database 14 of the broker's server, so its workers share no
queue with anything else.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from allocation_bench import build_grant, database_url, recreate_database  # noqa: E402

REPORT_GRANT = "bench-beslut-2000"
LETTERS_GRANT = "bench-brev-500"
XLSX_GRANT = "bench-export-100000"
REPORT_TARGET = 1.3
LETTERS_TARGET = 1.7
XLSX_TARGET = 1.5
XLSX_MEMORY_MB = 300
BROKER_DB = 14


# ---------------------------------------------------------------- set-up (child process)


def grant_file(slug: str, units: int, organisations: int, seed: int) -> dict:
    data = build_grant(units, organisations, seed)
    data["grant"]["id"] = slug
    data["grant"]["title"] = f"Syntetiskt bidrag {slug}"
    return data


def setup_database(args) -> dict:
    """Migrate, import the three grants, compute them, decide two of them."""
    import django

    django.setup()
    from datetime import date

    from django.core.management import call_command
    from django.db import connection

    from allocations.services import compute_grant
    from applications.grantfiles import import_grant
    from applications.services import decide

    call_command("migrate", verbosity=0, interactive=False)
    out = {}
    for slug, units, orgs, decided in (
        (REPORT_GRANT, args.report_recipients, args.report_recipients, True),
        (LETTERS_GRANT, args.letters, args.letters, True),
        (XLSX_GRANT, args.rows, args.organisations, False),
    ):
        started = time.perf_counter()
        grant = import_grant(grant_file(slug, units, orgs, args.seed), actor_label="bench")
        run = compute_grant(grant_id=grant.pk, actor_label="bench")
        if decided:
            decide(  # as the officials' page: the letters go to the requisitions' recipients
                run=run,
                decided_on=date(2024, 3, 21),
                decided_by="Äldrenämnden",
                delegation="",
                reference="ÄN 2024/1",
                requisition_by=None,
                actor=None,
            )
        out[slug] = {
            "grant": grant.pk,
            "rows": run.rows.count(),
            "recipients": run.rows.values("organisation").distinct().count(),
            "seconds": time.perf_counter() - started,
        }
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return out


def child(argv: list[str], env: dict) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- xlsx (child processes)


def xlsx_product(slug: str) -> dict:
    import django

    django.setup()
    from allocations.models import Grant
    from reporting.exporters import AllocationsExporter

    grant = Grant.objects.get(slug=slug)
    exporter = AllocationsExporter(grant)
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        rows = exporter.write("xlsx", out)
        elapsed = time.perf_counter() - started
        size = out.tell()
    return {"seconds": elapsed, "rows": rows, "bytes": size, "rss_mb": rss_mb()}


def xlsx_floor(slug: str) -> dict:
    """The same sheets, rows and formats from lists: openpyxl write-only and nothing else."""
    import django

    django.setup()
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from allocations.models import Grant
    from reporting.exporters import AllocationsExporter, column_width, sheet_title

    grant = Grant.objects.get(slug=slug)
    # Off the clock: every sheet's columns and rows, as lists.
    sheets = []
    for sheet in AllocationsExporter(grant).sheets():
        sheets.append((sheet.title, sheet.columns, list(sheet.rows), sheet.totals, sheet.footer))
    formats = {"kronor": '#,##0 "kr"', "integer": "#,##0", "rate": '#,##0.00 "kr"'}
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        wb = Workbook(write_only=True)
        used: set[str] = set()
        n_rows = 0
        for title, columns, rows, totals, footer in sheets:
            ws = wb.create_sheet(sheet_title(title, used))
            ws.freeze_panes = "A2"
            for i, column in enumerate(columns, start=1):
                ws.column_dimensions[get_column_letter(i)].width = column_width(column)
            head = []
            for column in columns:
                cell = WriteOnlyCell(ws, str(column.header))
                cell.font = Font(bold=True)
                head.append(cell)
            ws.append(head)
            styles = {}
            for i, column in enumerate(columns):
                if column.kind in formats:
                    cell = WriteOnlyCell(ws, None)
                    cell.number_format = formats[column.kind]
                    styles[i] = cell._style
            sums = [0] * len(columns)
            for row in rows:
                values = list(row)
                for i, style in styles.items():
                    if values[i] is not None:
                        if columns[i].total:
                            sums[i] += values[i]
                        cell = WriteOnlyCell(ws, values[i])
                        cell._style = style
                        values[i] = cell
                ws.append(values)
            ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
            if totals:
                ws.append(["Summa"] + [s or None for s in sums[1:]])
            for extra in footer:
                ws.append(list(extra))
            n_rows += len(rows)
        wb.save(out)
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": n_rows, "rss_mb": rss_mb()}


# ---------------------------------------------------------------- workers


class Worker:
    """`celery -A stimulans worker --concurrency=N` against the bench database and broker."""

    def __init__(self, env: dict, concurrency: int, log_path: Path):
        self.name = f"bench-reporting-{os.getpid()}-{concurrency}"
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "stimulans",
                "worker",
                f"--concurrency={concurrency}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname={self.name}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log_path

    def wait_ready(self, app) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench: the worker exited:\n{self.log_path.read_text()}")
            replies = app.control.ping(timeout=0.5) or []
            if any(self.name in name for reply in replies for name in reply):
                return
        sys.exit("bench: the worker did not answer within 90 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run_job(kind: str, grant) -> tuple[float, object]:
    """Ask for a document as an official would, and wait until it is stored."""
    from allocations.models import JobStatus
    from reporting import services

    started = time.perf_counter()
    job = services.request_job(kind=kind, grant=grant, actor_label="bench")
    while True:
        job.refresh_from_db(fields=["status", "progress", "error", "file", "parts_done"])
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            break
        # Seldom enough to take no CPU from the workers: two of them may need both CPUs.
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    if job.status != JobStatus.DONE:
        sys.exit(f"bench: the {kind} job failed: {job.error}")
    return elapsed, job


def weasyprint_floor(html_documents: list[str], created) -> tuple[float, list[bytes]]:
    """WeasyPrint alone: the finished HTML to PDF with the same fonts, one after the other."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from reporting import pdf

    with pdf._source_date(created):  # as the product does, so the bytes can be compared
        started = time.perf_counter()
        fonts = FontConfiguration()
        sheets = [CSS(string=pdf.font_css(), font_config=fonts)]
        out = [
            HTML(string=html, base_url=str(ROOT)).write_pdf(stylesheets=sheets, font_config=fonts)
            for html in html_documents
        ]
        return time.perf_counter() - started, out


def pages(data: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


# ---------------------------------------------------------------- report


def load() -> str:
    """The machine's load: two worker processes can only be twice as fast on two idle CPUs."""
    one, five, _fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def rss_mb() -> float:
    """This process's peak resident set since it started (exec'd).

    `VmHWM`, not `ru_maxrss`: Linux carries `ru_maxrss` over from the forking
    parent through `exec`, so a child of a big bench process would report the
    parent's peak.
    """
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmHWM:"):
            return int(text.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def line(label: str, product: float, floor: float | None, ratio: str, target: str, ok) -> str:
    floor_text = f"{floor:>10.2f}" if floor is not None else f"{'':>10}"
    result = verdict(ok) if ok is not None else "(info)"
    return f"{label:34}{product:>10.2f}{floor_text}{ratio:>9}{target:>10}{result:>8}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report-recipients", type=int, default=2_000)
    parser.add_argument("--letters", type=int, default=500, help="recipients of the letters")
    parser.add_argument("--rows", type=int, default=100_000, help="units of the xlsx grant")
    parser.add_argument("--organisations", type=int, default=1_500, help="of the xlsx grant")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (3)")
    parser.add_argument(
        "--only", choices=("report", "letters", "xlsx"), action="append", help="run only these"
    )
    parser.add_argument("--database-name", default="stimulans_bench_reporting")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--xlsx-product", metavar="GRANT", help=argparse.SUPPRESS)
    parser.add_argument("--xlsx-floor", metavar="GRANT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stimulans.settings")
    if args.setup_only:
        print(json.dumps(setup_database(args)))
        return 0
    if args.xlsx_product:
        print(json.dumps(xlsx_product(args.xlsx_product)))
        return 0
    if args.xlsx_floor:
        print(json.dumps(xlsx_floor(args.xlsx_floor)))
        return 0

    url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or not broker.startswith("redis"):
        sys.exit("bench: set DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://… "
                 "(or run `make bench`, which starts both)")  # fmt: skip
    only = set(args.only or ("report", "letters", "xlsx"))
    private_broker = urlunsplit(urlsplit(broker)._replace(path=f"/{BROKER_DB}"))
    media = Path(tempfile.mkdtemp(prefix="stimulans-bench-media-"))
    bench_url = database_url(url, args.database_name)
    env = dict(
        os.environ,
        DATABASE_URL=bench_url,
        CELERY_BROKER_URL=private_broker,
        CELERY_RESULT_BACKEND=private_broker,
        MEDIA_ROOT=str(media),
    )
    os.environ.update(env)
    print(
        f"bench: Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"(re)creating database '{args.database_name}'; broker {private_broker}"
    )
    recreate_database(url, args.database_name)
    setup_argv = [
        f"--report-recipients={args.report_recipients}",
        f"--letters={args.letters}",
        f"--rows={args.rows}",
        f"--organisations={args.organisations}",
        f"--seed={args.seed}",
        "--setup-only",
    ]
    grants = child(setup_argv, env)
    for slug, info in grants.items():
        print(
            f"bench: {slug}: {info['rows']} rows, {info['recipients']} recipients "
            f"(imported and computed in {info['seconds']:.1f} s, separate process)"
        )

    import django

    django.setup()
    from django.db import connections

    from allocations.models import Grant
    from reporting import pdf
    from stimulans.celery import app

    results: list[str] = []
    try:
        if "report" in only:
            log = Path(tempfile.gettempdir()) / f"stimulans-bench-reporting-{os.getpid()}-1.log"
            worker = Worker(env, 1, log)
            worker.wait_ready(app)
            print(f"bench: worker up (--concurrency=1, pid {worker.proc.pid})")
            try:
                results += measure_report(args, Grant.objects.get(slug=REPORT_GRANT), pdf)
            finally:
                worker.stop()
        if "letters" in only:
            results += measure_letters(args, env, app, Grant.objects.get(slug=LETTERS_GRANT), pdf)
        if "xlsx" in only:
            results += measure_xlsx(args, env)
    finally:
        connections.close_all()
        if not args.keep:
            recreate_database(url, args.database_name, drop_only=True)
        subprocess.run(["rm", "-rf", str(media)], check=False)

    width = 86
    print()
    print("=" * width)
    print(f"{'':34}{'product':>10}{'floor':>10}{'ratio':>9}{'target':>10}{'result':>8}")
    print("-" * width)
    for text in results:
        print(text)
    print("=" * width)
    print(
        "report = Job asked for → `celery -A stimulans worker --concurrency=1` renders and stores "
        "it; floor = WeasyPrint on the same HTML here.\nletters = one batch job, fanned out to "
        "the worker's processes, ZIP stored; ratio on the 2-process line = 1 process ÷ 2.\n"
        "xlsx = AllocationsExporter.write (a child process); floor = openpyxl write-only, "
        "same sheets, rows and formats from lists (another child). Medians of "
        f"{args.repeat}; memory = VmHWM of the child (Python + Django included)."
    )
    return 0


def measure_report(args, grant, pdf) -> list[str]:
    from reporting.documents import latest_run
    from reporting.models import JobKind

    run = latest_run(grant)
    html = pdf.decision_html(run)
    weasyprint_floor([html], run.decided_on)  # warm-up: fonts, imports
    run_job(JobKind.DECISION_REPORT, grant)  # warm-up of the worker
    product, floor = [], []
    for i in range(1, args.repeat + 1):
        elapsed, job = run_job(JobKind.DECISION_REPORT, grant)
        product.append(elapsed)
        seconds, (data,) = weasyprint_floor([html], run.decided_on)
        floor.append(seconds)
        with job.file.open("rb") as fh:
            stored = fh.read()
        same = "same bytes" if stored == data else f"{pages(stored)}/{pages(data)} pages"
        print(
            f"bench: report repetition {i}: product {elapsed:.2f} s, floor {seconds:.2f} s "
            f"({pages(data)} pages, {same}; {load()})"
        )
    p, f = statistics.median(product), statistics.median(floor)
    return [
        line(
            f"report, {args.report_recipients} recipients (s)",
            p,
            f,
            f"{p / f:.2f}x",
            "<= 1.3x",
            p / f <= REPORT_TARGET,
        )
    ]


def measure_letters(args, env, app, grant, pdf) -> list[str]:
    """1 and 2 worker processes in turn, a fresh worker each time, so load drifts hit both."""
    from reporting.documents import latest_run, recipients
    from reporting.models import JobKind

    times: dict[int, list[float]] = {1: [], 2: []}
    for i in range(1, args.repeat + 1):
        for concurrency in (1, 2):
            name = f"stimulans-bench-reporting-{os.getpid()}-{concurrency}.log"
            log = Path(tempfile.gettempdir()) / name
            worker = Worker(env, concurrency, log)
            worker.wait_ready(app)
            try:
                run_job(JobKind.LETTERS, grant)  # warm-up: every process loads its fonts
                elapsed, job = run_job(JobKind.LETTERS, grant)
            finally:
                worker.stop()
            times[concurrency].append(elapsed)
            print(
                f"bench: letters repetition {i}, --concurrency={concurrency}: {elapsed:.2f} s "
                f"({job.parts_done} PDFs in a ZIP; {load()})"
            )
    run = latest_run(grant, decided=True)
    ids = [o.pk for o in recipients(run)]
    html = pdf.letters_html(run, ids)
    weasyprint_floor(html[:5], run.decided_on)  # warm-up
    floor = statistics.median(weasyprint_floor(html, run.decided_on)[0] for _ in range(args.repeat))
    p1, p2 = statistics.median(times[1]), statistics.median(times[2])
    one = line(f"letters, {len(ids)}: 1 process (s)", p1, floor, f"{p1 / floor:.2f}x", "", None)
    two = line(
        "letters: 2 processes (s)",
        p2,
        floor,
        f"{p1 / p2:.2f}x",
        ">= 1.7x",
        p1 / p2 >= LETTERS_TARGET,
    )
    best = line(
        "letters: best of each (s)",
        min(times[2]),
        None,
        f"{min(times[1]) / min(times[2]):.2f}x",
        "",
        None,
    )
    return [one, two, best]


def measure_xlsx(args, env) -> list[str]:
    product, floor, memory, floor_memory = [], [], [], []
    for i in range(1, args.repeat + 1):
        p = child([f"--xlsx-product={XLSX_GRANT}"], env)
        f = child([f"--xlsx-floor={XLSX_GRANT}"], env)
        if p["rows"] != f["rows"]:
            print(f"bench: FAIL: the product wrote {p['rows']} rows, the floor {f['rows']}")
        product.append(p["seconds"])
        floor.append(f["seconds"])
        memory.append(p["rss_mb"])
        floor_memory.append(f["rss_mb"])
        print(
            f"bench: xlsx repetition {i}: product {p['seconds']:.2f} s "
            f"({p['rows']} rows, {p['bytes'] / 2**20:.1f} MB file, {p['rss_mb']:.0f} MB peak), "
            f"floor {f['seconds']:.2f} s ({f['rss_mb']:.0f} MB peak; {load()})"
        )
    p, f = statistics.median(product), statistics.median(floor)
    peak = max(memory)
    return [
        line(f"xlsx, {args.rows} rows (s)", p, f, f"{p / f:.2f}x", "<= 1.5x", p / f <= XLSX_TARGET),
        f"{'xlsx peak RSS (MB)':34}{peak:>10.0f}{max(floor_memory):>10.0f}{'':>9}"
        f"{'< 300 MB':>10}{verdict(peak < XLSX_MEMORY_MB):>8}",
    ]


if __name__ == "__main__":
    sys.exit(main())
