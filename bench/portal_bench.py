#!/usr/bin/env python
"""Portal benchmark: the official's review list and the provider's start page under gunicorn.

Builds a database of its own on PostgreSQL — seed 000 with an open call on "särskilda
boenden" and `--applications` (1 000) more applications to it from `--providers` (50)
provider organisations, one care home each — with an official and a provider user who acts
for all those organisations. Starts `gunicorn stimulans.wsgi` on 127.0.0.1 with the
product's settings plus one extra URL (`bench/portal_settings.py`, `bench/portal_urls.py`):
the floor, a Django view that returns "ok" and does nothing else. Signs in through the
sign-in form as each user and measures requests per second, all through the same server:

- the official's review list of the call (`office:call`, 1 000 applications);
- the provider's start page (`portal:start`, over the same 1 000 applications);
- the floor.

Prints each page beside the floor, with the target from the issue: at least 40 % of the
floor. It is a report, not a test: it exits 0 whether the target is met or not.

Needs `DATABASE_URL=postgres://…` naming a role that may create databases; the benchmark
drops and recreates its own database (`stimulans_bench_portal`) and never touches the one
named in the URL. `scripts/bench.sh portal` starts a throwaway PostgreSQL and runs this.
Every request goes to 127.0.0.1 only, and each measurement stops after `--requests`
requests or `--seconds` seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for path in (ROOT, BENCH):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from allocation_bench import database_url, recreate_database  # noqa: E402

SEED_000 = ROOT / "fixtures" / "aldrenamnden-2020-vardens-medarbetare.json"
HOST = "127.0.0.1"
TARGET = 0.40
PASSWORD = "bench-lösenord-2024"
OFFICIAL, PROVIDER = "bench-handlaggare", "bench-utforare"


# ---------------------------------------------------------------- the data both benchmarks build

# What every benchmark application says besides its organisation, call and status.
APPLICATION_TEXT = {
    "intended_use": "Kompetensutveckling för undersköterskor.",
    "contact_name": "Kontakt",
    "contact_email": "kontakt@example.invalid",
    "payment_method": "bankgiro",
    "payment_account": "5050-1055",
    "will_report": True,
}


def seed_grant(today):
    """Seed 000 imported, with its agreement dated for this year; returns it and its pot
    "särskilda boenden". Seed 000 carries its 2019-2020 dates: a call open today and a decision
    this year need an agreement after them, as an official would give it (and as the tests do)."""
    from allocations import grantfile
    from allocations.models import Pot
    from applications.grantfiles import import_grant

    grant = import_grant(grantfile.parse(SEED_000.read_bytes()), actor_label="bench")
    agreement = grant.agreement
    agreement.spend_by = today + timedelta(days=365)
    agreement.report_by = today + timedelta(days=400)
    agreement.repay_by = today + timedelta(days=460)
    agreement.full_clean()
    agreement.save(update_fields=["spend_by", "report_by", "repay_by"])
    return grant, Pot.objects.get(grant=grant, slug="sarskilda-boenden")


def provider_organisations(grant, count: int) -> list:
    """`count` private providers, bench-utforare-000…, taking part in `grant`."""
    from allocations.models import GrantOrganisation, Organisation

    orgs = Organisation.objects.bulk_create(
        Organisation(
            slug=f"bench-utforare-{i:03d}",
            name=f"Benchmark Omsorg {i:03d} AB",
            kind="private_provider",
            ownership="private",
        )
        for i in range(count)
    )
    start = GrantOrganisation.objects.filter(grant=grant).count()
    GrantOrganisation.objects.bulk_create(
        GrantOrganisation(grant=grant, organisation=org, position=start + i)
        for i, org in enumerate(orgs)
    )
    return orgs


def care_homes(grant, owners: list, rng: random.Random) -> list:
    """One care home in the register and in `grant` for each of `owners` (an organisation
    may come more than once); returns the grant's units, in that order."""
    from allocations.models import GrantUnit
    from allocations.models import Unit as RegisterUnit

    units = RegisterUnit.objects.bulk_create(
        RegisterUnit(
            slug=f"bench-vob-{i:05d}",
            name=f"Benchmarkboendet {i:05d}",
            type="care_home",
            organisation=org,
            places=rng.randint(10, 120),
        )
        for i, org in enumerate(owners)
    )
    # One home in ten outside the city and mostly placed by others: screened out.
    return GrantUnit.objects.bulk_create(
        GrantUnit(
            grant=grant,
            unit=unit,
            type="care_home",
            organisation=unit.organisation,
            places=unit.places,
            in_city=i % 10 != 0,
            city_placed_share=Decimal("0.5") if i % 10 == 0 else Decimal("1"),
            position=1000 + i,
        )
        for i, unit in enumerate(units)
    )


def add_units_and_uses(grant, apps: list, grant_units: list) -> None:
    """Each application applies for its home and for one of the agreement's uses, in turn."""
    from allocations.models import PermittedUse
    from applications.models import ApplicationUnit, ApplicationUse

    ApplicationUnit.objects.bulk_create(
        ApplicationUnit(application=app, grant_unit=gu)
        for app, gu in zip(apps, grant_units, strict=True)
    )
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement))
    ApplicationUse.objects.bulk_create(
        ApplicationUse(application=app, use=uses[i % len(uses)]) for i, app in enumerate(apps)
    )


def server_env(bench_url: str, *, cache_url: str, conn_max_age: int) -> dict:
    """The environment of the benchmark's server as in production — DEBUG off, a secret key,
    the cache and sessions on a Redis shared by its processes (when `cache_url`), the floor's
    URLs — also set in this process, which builds the data (its notices go nowhere)."""
    env = dict(os.environ)
    if cache_url:
        env["CACHE_URL"] = cache_url
    env.update(
        DATABASE_URL=bench_url,
        DATABASE_CONN_MAX_AGE=str(conn_max_age),
        DEBUG="0",
        ALLOWED_HOSTS=HOST,
        SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        DJANGO_SETTINGS_MODULE="portal_settings",  # the product's, with the floor
    )
    os.environ.update(env)
    # This process runs what the build queues (the decision's notices) eagerly.
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("CELERY_RESULT_BACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(BENCH)])
    return env


def database_version() -> str:
    """PostgreSQL's version, with this process's connections closed (the server opens its own)."""
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    connections.close_all()
    return version


# ---------------------------------------------------------------- the data


def build(applications: int, providers: int, seed: int) -> dict:
    """Seed 000, an open call, and `applications` more applications to it; returns the call."""
    import django

    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from applications import services
    from applications.models import Application, ApplicationStatus, Membership

    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(seed)
    today = timezone.localdate()
    with transaction.atomic():
        grant, pot = seed_grant(today)
        official = User.objects.create_user(OFFICIAL, "h@example.invalid", PASSWORD)
        official.user_permissions.add(Permission.objects.get(codename="handle_cases"))
        provider = User.objects.create_user(PROVIDER, "u@example.invalid", PASSWORD)
        call = services.open_call(
            pot=pot,
            title="Intresseanmälan särskilda boenden (benchmark)",
            opens_on=today - timedelta(days=7),
            closes_on=today + timedelta(days=30),
            actor=official,
        )
        orgs = provider_organisations(grant, providers)
        Membership.objects.bulk_create(Membership(user=provider, organisation=o) for o in orgs)
        grant_units = care_homes(grant, [orgs[i % providers] for i in range(applications)], rng)
        statuses = [ApplicationStatus.SUBMITTED] * 7 + [ApplicationStatus.APPROVED] * 2
        statuses += [ApplicationStatus.DRAFT]
        first = Application.objects.filter(grant=grant).count()
        apps = Application.objects.bulk_create(
            Application(
                **APPLICATION_TEXT,
                grant=grant,
                pot=pot,
                call=call,
                slug=f"bench-{i:05d}",
                organisation=gu.organisation,
                status=statuses[i % len(statuses)],
                created_by=provider,
                position=first + i,
            )
            for i, gu in enumerate(grant_units)
        )
        add_units_and_uses(grant, apps, grant_units)
    services.refresh_screening(pot)  # as an import does: the pages only read the verdicts
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"call": call.pk, "pot": pot.pk, "applications": Application.objects.count()}


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """`gunicorn stimulans.wsgi` with the benchmark's settings, on 127.0.0.1."""

    def __init__(self, env: dict, workers: int, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "stimulans.wsgi:application",
                f"--bind={HOST}:{self.port}",
                f"--workers={workers}",
                "--worker-class=sync",
                "--timeout=120",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench: gunicorn exited:\n{self.log_path.read_text()}")
            try:
                if request(self.port, "GET", "/accounts/login/").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f"bench: gunicorn did not answer within 60 s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- the client


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]]
    body: bytes


def raw_request(path: str, method: str = "GET", cookies: str = "", body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
    if cookies:
        lines.append(f"Cookie: {cookies}")
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def exchange(port: int, data: bytes) -> bytes:
    """Send one request and read the whole answer (gunicorn's sync workers close after each)."""
    with socket.create_connection((HOST, port), timeout=120) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    if "chunked" in ",".join(headers.get("transfer-encoding", [])):
        body = dechunk(body)
    return Response(int(lines[0].split()[1]), headers, body)


def dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def request(port: int, method: str, path: str, cookies: str = "", body: bytes = b"") -> Response:
    return parse(exchange(port, raw_request(path, method, cookies, body)))


def cookies_of(response: Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get("set-cookie", []):
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";")[0]
    return found


def sign_in(port: int, username: str) -> str:
    """Sign in through the sign-in form, as a browser does; returns the Cookie header."""
    page = request(port, "GET", "/accounts/login/")
    jar = cookies_of(page)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1)
    body = (
        f"csrfmiddlewaretoken={token.decode()}&username={quote(username)}"
        f"&password={quote(PASSWORD)}&next=/"
    ).encode()
    header = "; ".join(f"{k}={v}" for k, v in jar.items())
    answer = request(port, "POST", "/accounts/login/", header, body)
    if answer.status != 302:
        sys.exit(f"bench: signing in as {username} answered {answer.status}")
    jar.update(cookies_of(answer))
    if "sessionid" not in jar:
        sys.exit(f"bench: signing in as {username} set no session cookie")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


@dataclass
class Page:
    label: str
    path: str
    cookies: str = ""
    expect: bytes = b""
    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def measure(port: int, page: Page, *, requests: int, seconds: float, concurrency: int) -> float:
    """Requests per second for `page` from `concurrency` threads; every answer must be a 200."""
    data = raw_request(page.path, cookies=page.cookies)
    lock = threading.Lock()
    sent = 0
    failures: list[str] = []
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal sent
        while True:
            with lock:
                if sent >= requests or time.perf_counter() > deadline or failures:
                    return
                sent += 1
            started = time.perf_counter()
            raw = exchange(port, data)
            elapsed = time.perf_counter() - started
            status = raw[9:12]
            with lock:
                latencies.append(elapsed)
                if status != b"200":
                    failures.append(raw[:200].decode("latin-1"))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        sys.exit(f"bench: {page.label} answered:\n{failures[0]}")
    page.latencies += latencies
    return len(latencies) / elapsed


def check_page(port: int, page: Page) -> int:
    """The page answers 200 with what it should show; returns its size in bytes."""
    answer = request(port, "GET", page.path, page.cookies)
    if answer.status != 200 or page.expect not in answer.body:
        sys.exit(f"bench: {page.label} ({page.path}) answered {answer.status} without the data")
    return len(answer.body)


# ---------------------------------------------------------------- report


def print_table(pages: list[Page], floor: Page, signed: Page, layout: Page) -> None:
    """Each page against the issue's floor (the target) and, for information, the others."""
    f = statistics.median(floor.rates)
    s = statistics.median(signed.rates)
    width = 100
    print()
    print("=" * width)
    print(
        f"{'page':40}{'req/s':>9}{'% of floor':>12}{'target':>10}{'result':>8}"
        f"{'% of signed-in floor':>21}"
    )
    print("-" * width)
    for page in pages:
        p = statistics.median(page.rates)
        share = p / f
        print(
            f"{page.label:40}{p:>9.1f}{share * 100:>11.1f}%"
            f"{'>= 40 %':>10}{'PASS' if share >= TARGET else 'FAIL':>8}{p / s * 100:>20.1f}%"
        )
    for page in (signed, layout):
        p = statistics.median(page.rates)
        print(
            f"{page.label:40}{p:>9.1f}{p / f * 100:>11.1f}%{'(info)':>10}"
            f"{'':8}{p / s * 100:>20.1f}%"
        )
    print(f"{floor.label:40}{f:>9.1f}{100:>11.1f}%")
    print("-" * width)
    for page in [*pages, floor, signed, layout]:
        lat = sorted(page.latencies)
        p50 = lat[len(lat) // 2] * 1000
        p95 = lat[int(len(lat) * 0.95)] * 1000
        runs = ", ".join(f"{r:.1f}" for r in page.rates)
        print(f"  {page.label:38} p50 {p50:6.1f} ms, p95 {p95:6.1f} ms; req/s by round {runs}")
    print("=" * width)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=1_000, help="applications (1000)")
    parser.add_argument("--providers", type=int, default=50, help="their organisations (50)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (4)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument(
        "--requests", type=int, default=2_000, help="most requests per page and round (2000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="longest time per page and round (10)"
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="DATABASE_CONN_MAX_AGE of the server (60: persistent connections; 0: one per request)",
    )
    parser.add_argument("--database-name", default="stimulans_bench_portal")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench: set DATABASE_URL=postgres://… (or run `scripts/bench.sh portal`)")
    bench_url = database_url(url, args.database_name)
    print(
        f"bench: {args.applications} applications from {args.providers} providers; "
        f"gunicorn {args.workers} sync workers, {args.concurrency} client threads, "
        f"{args.rounds} rounds of at most {args.requests} requests or {args.seconds:g} s per page"
    )
    print(f"bench: Python {platform.python_version()}, {os.cpu_count()} CPUs")
    recreate_database(url, args.database_name)

    # Served as in production: a Redis shared by the server's processes holds the cache and
    # the sessions (CACHE_URL). `scripts/bench.sh` starts one; its database 1, not the broker's.
    broker = os.environ.get("CELERY_BROKER_URL", "")
    cache_url = os.environ.get("CACHE_URL") or (broker.rsplit("/", 1)[0] + "/1" if broker else "")
    env = server_env(bench_url, cache_url=cache_url, conn_max_age=args.conn_max_age)
    env.pop("CELERY_BROKER_URL", None)  # nothing here is queued; no broker needed
    env.pop("CELERY_RESULT_BACKEND", None)
    started = time.perf_counter()
    built = build(args.applications, args.providers, args.seed)
    print(
        f"bench: PostgreSQL {database_version()}; migrated and built "
        f"{built['applications']} applications in {time.perf_counter() - started:.1f} s"
    )

    log = Path(tempfile.gettempdir()) / f"stimulans-bench-gunicorn-{os.getpid()}.log"
    server = Server(env, args.workers, log)
    try:
        server.wait_ready()
        port = server.port
        print(f"bench: gunicorn (pid {server.proc.pid}) on {HOST}:{port}, DEBUG off")
        official, provider = sign_in(port, OFFICIAL), sign_in(port, PROVIDER)
        review = Page(
            "official: review list of the call",
            f"/handlaggning/utlysningar/{built['call']}/",
            official,
            b"bench-00000",
        )
        start = Page("provider: start page", "/portal/", provider, b"Benchmark Omsorg 000 AB")
        floor = Page("floor: minimal Django view", "/bench/floor/", provider, b"ok")
        signed = Page("floor, signed in: minimal view", "/bench/floor/user/", provider, b"ok")
        layout = Page("info: signed-in empty page", "/bench/floor/page/", provider, b"</main>")
        pages = [review, start]
        for page in [*pages, floor, signed, layout]:
            size = check_page(port, page)
            measure(port, page, requests=20, seconds=5, concurrency=args.concurrency)  # warm up
            page.latencies.clear()
            print(f"bench: {page.label}: {page.path} answers 200, {size} bytes")
        for round_ in range(1, args.rounds + 1):
            for page in [floor, *pages, signed, layout]:
                rate = measure(
                    port,
                    page,
                    requests=args.requests,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                )
                page.rates.append(rate)
            print(
                f"bench: round {round_}: "
                + ", ".join(
                    f"{p.label.split(':')[0]} {p.rates[-1]:.1f}/s"
                    for p in [floor, *pages, signed, layout]
                )
            )
    finally:
        server.stop()
        if server.proc.returncode not in (0, -15):
            print(f"bench: gunicorn log ({log}):\n{log.read_text()}")
        else:
            log.unlink(missing_ok=True)

    print_table(pages, floor, signed, layout)
    print(
        f"req/s = median of {args.rounds} interleaved rounds; each round sends at most "
        f"{args.requests} requests or runs {args.seconds:g} s per page, from {args.concurrency} "
        f"threads, one connection per request (gunicorn's sync workers close it)."
    )
    print(
        "floor = /bench/floor/, a view that returns 'ok' through the same middleware "
        "(sessions, auth, CSRF, locale), on the same gunicorn; the pages carry a signed-in "
        f"session. Server: DATABASE_CONN_MAX_AGE={args.conn_max_age}, "
        f"sessions {'read from Redis (CACHE_URL)' if cache_url else 'in the database'}."
    )
    print(
        "signed-in floor = /bench/floor/user/: @login_required and returns 'ok' — the least a "
        "page for a signed-in user costs (its session and user read); for information."
    )
    print(
        "info = /bench/floor/page/: @login_required, renders the site's layout (base.html) "
        "for the signed-in user — what any page costs before its own queries and rows."
    )
    if not args.keep:
        recreate_database(url, args.database_name, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
