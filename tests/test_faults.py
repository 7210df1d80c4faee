"""Faults, on the real services `make test` starts: workers killed, Redis and PostgreSQL stopped
while the web serves, a mail server down, and many presses at once.

A test that stops a server starts it again in its teardown (`restored_services`), whatever
happened, so the rest of the suite keeps its PostgreSQL and Redis.
"""

import html
import http.cookiejar
import io
import os
import re
import shlex
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Sum
from django.urls import reverse

from allocations import engine, grantfile
from allocations.models import (
    AllocationRow,
    AllocationRun,
    AuditEntry,
    Grant,
    Job,
    JobStatus,
)
from applications.models import ApplicationStatus, Notice, NoticeStatus, Requisition
from reporting import services as reporting
from reporting.models import JobKind

from .conftest import (
    FIXTURES,
    ROOT,
    SEED_000,
    SEED_003,
    seed_data,
    start_celery_worker,
    stop_celery_worker,
    worker_database_url,
)
from .factories import decide, official_user
from .factories import signed_in as browser
from .test_notices import SMTP, draft, free_port  # noqa: F401
from .test_portal_units import norr, seed  # noqa: F401

pytestmark = [pytest.mark.services, pytest.mark.faults]

UNAVAILABLE = "Bakgrundsarbetet är inte tillgängligt just nu"
SEED_003_ALLOCATED = 51_650_636


# ---------------------------------------------------------------- the services


def pg_ctl(*args: str) -> None:
    """Run the test cluster's pg_ctl as services.sh does (as `nobody` when we are root)."""
    data = os.environ["STIMULANS_TEST_PG_DATA"]
    cmd = [os.environ["STIMULANS_TEST_PG_CTL"], "-D", data, *args]
    user = os.environ.get("STIMULANS_TEST_PG_USER")
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    subprocess.run(cmd, cwd=Path(data).parent, check=True, capture_output=True, timeout=60)


def postgres_running() -> bool:
    return (Path(os.environ["STIMULANS_TEST_PG_DATA"]) / "postmaster.pid").exists()


def start_postgres() -> None:
    pg_ctl("-l", os.environ["STIMULANS_TEST_PG_LOG"], "-w", "-t", "60", "start")


def stop_postgres() -> None:
    pg_ctl("-m", "fast", "-w", "-t", "60", "stop")


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", redis_port()), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_port() -> int:
    return int(os.environ["STIMULANS_TEST_REDIS_PORT"])


def stop_redis() -> None:
    with socket.create_connection(("127.0.0.1", redis_port()), timeout=5) as sock:
        sock.sendall(b"SHUTDOWN NOSAVE\r\n")
        sock.recv(16)  # the server closes the connection as it goes
    wait_until(lambda: not redis_answers(), "Redis to stop")


def start_redis() -> None:
    subprocess.run(
        shlex.split(os.environ["STIMULANS_TEST_REDIS_START"]), check=True, capture_output=True
    )
    wait_until(redis_answers, "Redis to answer")
    # This process's own connections to the old server are dead: drop them.
    from kombu import pools

    from stimulans.celery import app

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def wait_until(condition, what: str, seconds: float = 60, every: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"waited {seconds} s for {what}")


@pytest.fixture
def restored_services():
    """Whatever the test stops, PostgreSQL and Redis run again after it."""
    yield
    if not postgres_running():
        start_postgres()
    if not redis_answers():
        start_redis()
    # This process's connections died with the server: the next query opens a new one.
    connections.close_all()


@pytest.fixture
def shared_media(tmp_path, monkeypatch, settings):
    """One MEDIA_ROOT for this process and the workers and web servers it starts."""
    media = tmp_path / "media"
    monkeypatch.setenv("MEDIA_ROOT", str(media))
    settings.MEDIA_ROOT = media
    return media


def wait_for_job(job: Job, seconds: float = 120) -> Job:
    def finished():
        job.refresh_from_db()
        return job.finished

    wait_until(finished, f"job {job.pk} to finish", seconds, every=0.2)
    return job


# ---------------------------------------------------------------- the web, on gunicorn


class Gunicorn:
    """`gunicorn stimulans.wsgi` on 127.0.0.1 with the test database, in production shape:
    DEBUG off, sessions in the database with Redis as their cache."""

    def __init__(self, log_path: Path, **env: str):
        self.port = free_port()
        self.log_path = log_path
        environ = dict(
            os.environ,
            DATABASE_URL=worker_database_url(),
            CACHE_URL=f"redis://127.0.0.1:{redis_port()}/1",
            SECRET_KEY="faults-test-secret-key-" + "x" * 40,
            DEBUG="0",
            **env,
        )
        with open(log_path, "w") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "stimulans.wsgi:application",
                    f"--bind=127.0.0.1:{self.port}",
                    "--workers=1",
                    "--timeout=60",
                ],
                cwd=ROOT,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"

        def ready():
            assert self.proc.poll() is None, log_path.read_text()
            try:
                return Browser(self).get("/accounts/login/")[0] == 200
            except OSError:
                return False

        wait_until(ready, "gunicorn to answer", every=0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def web(tmp_path, transactional_db):
    server = Gunicorn(tmp_path / "gunicorn.log")
    try:
        yield server
    finally:
        server.stop()


class Browser:
    """A user's browser, in Swedish: cookies, the CSRF token of the last form, redirects."""

    def __init__(self, server: Gunicorn):
        self.server = server
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.csrf = ""

    def _open(self, request) -> tuple[int, str, str]:
        request.add_header("Accept-Language", "sv")
        try:
            with self.opener.open(request, timeout=60) as response:
                status, url, body = response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, url, body = exc.code, exc.url, exc.read().decode()
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if found:
            self.csrf = found.group(1)
        return status, url, body

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.server.url + path))

    def post(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        form = {"csrfmiddlewaretoken": self.csrf, **(data or {})}
        body = urllib.parse.urlencode(form).encode()
        return self._open(urllib.request.Request(self.server.url + path, data=body))

    def sign_in(self, username: str, password: str) -> None:
        self.get("/accounts/login/")
        status, url, body = self.post(
            "/accounts/login/", {"username": username, "password": password}
        )
        assert (status, "/accounts/login/" in url) == (200, False), body[:500]


def text(body: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", body))


def assert_clean_page(status: int, body: str) -> None:
    """An answer, never a traceback or Django's debug page."""
    assert status < 500 or "Något gick fel" in body, body[:2000]
    for leak in ("Traceback", 'File "/', "OperationalError", "ConnectionError", "psycopg2"):
        assert leak not in body, body[:2000]


# ---------------------------------------------------------------- 1. a worker killed mid-task


@pytest.fixture
def workers(tmp_path, transactional_db):
    """Start real workers; every one is stopped at the end, killed or not. A task a killed
    worker took is handed to the next worker after a second (`CELERY_VISIBILITY_TIMEOUT`)."""
    started = []

    def start(name: str) -> subprocess.Popen:
        proc = start_celery_worker(tmp_path / f"{name}.log", CELERY_VISIBILITY_TIMEOUT="1")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            stop_celery_worker(proc)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # A new worker hands out, as it starts, the tasks taken longer ago than the visibility
    # timeout (1 s here); one taken just now would wait for the next sweep, 100 s later.
    time.sleep(1.5)


@pytest.mark.worker
def test_a_worker_killed_while_computing_leaves_no_rows_and_a_new_worker_computes(workers):
    from allocations.services import request_compute

    call_command("import_grant", str(FIXTURES / f"{SEED_003}.json"))
    grant = Grant.objects.get(slug=SEED_003)
    first = workers("first")

    # Hold the audit trail's table: the worker computes, writes the run and all its rows in
    # its transaction, and waits at the last step, the audit entry. There it is killed.
    lock = psycopg2.connect(worker_database_url())
    try:
        with lock.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{AuditEntry._meta.db_table}" IN SHARE MODE')
        job = request_compute(grant=grant, actor_label="test")

        def waiting_on_the_trail():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE %s",
                    [f'INSERT INTO "{AuditEntry._meta.db_table}"%'],
                )
                return cursor.fetchone()[0] == 1

        wait_until(waiting_on_the_trail, "the worker to reach the audit entry")
        kill(first)
    finally:
        lock.rollback()
        lock.close()

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    # Its transaction died with it: no run, no rows, no trail.
    wait_until(lambda: not AllocationRun.objects.exists(), "the killed transaction to end", 10)
    assert not AllocationRow.objects.exists()
    assert not AuditEntry.objects.filter(action="run.computed").exists()

    workers("second")
    job = wait_for_job(job)
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 2  # the new worker took it up again
    run = AllocationRun.objects.get()
    assert job.run == run
    assert run.allocated() == SEED_003_ALLOCATED
    expected = engine.compute(grantfile.grant_input(seed_data(SEED_003)))
    stored = Counter(
        {
            row["pot__slug"]: row["total"]
            for row in run.rows.values("pot__slug").annotate(total=Sum("amount")).order_by()
        }
    )
    computed = Counter()
    for row in expected.rows:
        computed[row.pot] += row.amount
    assert stored == computed
    assert run.rows.count() == len(expected.rows)
    assert AuditEntry.objects.filter(action="run.computed").count() == 1


@pytest.mark.worker
def test_a_worker_killed_in_a_batch_of_letters_leaves_no_half_file_and_a_new_one_ends_it(
    workers, shared_media, tmp_path
):
    call_command("import_grant", str(FIXTURES / f"{SEED_000}.json"), "--review")
    grant = Grant.objects.get(slug=SEED_000)
    from allocations.services import compute_grant

    run = compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2020, 2, 20), decided_by="Äldrenämnden")
    first = workers("first")

    job = reporting.request_job(kind=JobKind.LETTERS, grant=grant, actor_label="test")

    def rendering_the_second_batch():
        # Killed as it renders the second batch: that batch's message is then among the
        # worker's unacknowledged ones, which a new worker takes up. (Killed in the instant
        # between Redis handing a message out and the worker recording it as taken, a
        # message would be lost with the worker, as Redis's BRPOP has no acknowledgement:
        # the job is then failed by the beat's sweep, saying why — tests/test_reporting_jobs.)
        log = (tmp_path / "first.log").read_text()
        received = len(re.findall(r"render_letter_parts\[[^]]+\] received", log))
        succeeded = len(re.findall(r"render_letter_parts\[[^]]+\] succeeded", log))
        return received >= 2 and succeeded == received - 1  # a later batch in hand

    wait_until(rendering_the_second_batch, "the second batch of letters", every=0.02)
    kill(first)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.parts_total > 2 * reporting.LETTERS_PER_TASK
    assert job.parts_done < job.parts_total  # killed in the middle of the batch
    assert not job.file

    workers("second")
    job = wait_for_job(job)
    assert job.status == JobStatus.DONE, job.error
    assert job.attempts == 1  # the batch was not started again: its letters were finished
    parts = list(job.parts.order_by("position"))
    assert job.parts_done == job.parts_total == len(parts)
    assert all(p.done and p.file for p in parts)
    with job.file.open("rb") as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as archive:
        names = archive.namelist()
        assert names == [Path(p.file.name).name for p in parts]
        for name in names:
            data = archive.read(name)
            assert data.startswith(b"%PDF-"), name
            assert data.rstrip().endswith(b"%%EOF"), name
    # Nothing half-written or doubled beside them: exactly the batch's files are stored.
    stored = {p.relative_to(shared_media).as_posix() for p in shared_media.rglob("*.*")}
    assert stored == {job.file.name} | {p.file.name for p in parts}


# ---------------------------------------------------------------- 2. Redis stopped


@pytest.mark.worker
def test_with_redis_stopped_pages_answer_background_work_says_so_and_comes_back(
    transactional_db, restored_services, shared_media, celery_worker_process, web
):
    call_command("import_grant", str(FIXTURES / f"{SEED_003}.json"))
    grant = Grant.objects.get(slug=SEED_003)
    official_user(password="lösenord-1")
    official = Browser(web)
    official.sign_in("handlaggare", "lösenord-1")
    pages = [
        "/",
        reverse("office:start"),
        reverse("office:grant", args=[grant.pk]),
        reverse("reporting:dashboard", args=[grant.slug]),
        reverse("reporting:documents", args=[grant.slug]),
    ]
    for page in pages:
        assert official.get(page)[0] == 200, page

    stop_redis()
    for page in pages:
        status, url, body = official.get(page)
        assert (status, "/accounts/login/" in url) == (200, False), page  # still signed in
        assert_clean_page(status, body)
    # Signing in and out needs no Redis either: sessions are in the database.
    other = Browser(web)
    other.sign_in("handlaggare", "lösenord-1")
    assert other.post("/accounts/logout/")[0] == 200
    assert "/accounts/login/" in other.get(reverse("office:start"))[1]

    # Computing and exporting: refused in plain Swedish, and nothing left waiting.
    status, url, body = official.post(reverse("office:compute", args=[grant.pk]))
    assert status == 200
    assert url.endswith(reverse("office:grant", args=[grant.pk]))
    assert UNAVAILABLE in text(body)
    official.get(reverse("reporting:documents", args=[grant.slug]))
    status, url, body = official.post(
        reverse("reporting:documents", args=[grant.slug]),
        {"action": "export", "exporter": "allocations", "format": "csv"},
    )
    assert status == 200
    assert UNAVAILABLE in text(body)
    failed = list(Job.objects.order_by("pk"))
    assert [(j.kind, j.status) for j in failed] == [
        ("compute", JobStatus.FAILED),
        (JobKind.EXPORT, JobStatus.FAILED),
    ]
    assert all(j.error.startswith(UNAVAILABLE) and not j.file for j in failed)
    assert not AllocationRun.objects.exists()
    assert "Traceback" not in (web.log_path.read_text())

    # Redis is back: the same web server and worker, nothing restarted, work again.
    start_redis()
    status, url, body = official.post(reverse("office:compute", args=[grant.pk]))
    assert status == 200, body[:2000]
    job = Job.objects.get(status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DONE])
    assert url.endswith(reverse("allocations:job", args=[job.pk]))
    job = wait_for_job(job)
    assert job.status == JobStatus.DONE, job.error
    assert AllocationRun.objects.get().allocated() == SEED_003_ALLOCATED
    for page in pages:
        assert official.get(page)[0] == 200, page
    assert web.proc.poll() is None
    assert celery_worker_process.poll() is None


# ---------------------------------------------------------------- 3. PostgreSQL restarted


def test_with_postgresql_restarted_pages_fail_cleanly_then_answer_without_a_restart(
    transactional_db, restored_services, tmp_path
):
    call_command("import_grant", str(FIXTURES / f"{SEED_003}.json"))
    grant = Grant.objects.get(slug=SEED_003)
    official_user(password="lösenord-1")
    # Connections kept between requests: the health check must find the dead one.
    server = Gunicorn(tmp_path / "gunicorn.log", DATABASE_CONN_MAX_AGE="600")
    try:
        official = Browser(server)
        official.sign_in("handlaggare", "lösenord-1")
        pages = [reverse("office:start"), reverse("office:grant", args=[grant.pk])]
        for page in pages:
            assert official.get(page)[0] == 200, page

        stop_postgres()
        try:
            for page in [*pages, "/accounts/login/"]:
                status, _url, body = official.get(page)
                assert status == 500, page
                assert_clean_page(status, body)
        finally:
            start_postgres()

        for page in pages:  # the same server, the same session
            status, url, body = official.get(page)
            assert (status, "/accounts/login/" in url) == (200, False), body[:2000]
        assert server.proc.poll() is None
    finally:
        server.stop()
    connections.close_all()


# ---------------------------------------------------------------- 4. SMTP down, then back


class Mailbox(socketserver.ThreadingTCPServer):
    """The least SMTP server that takes mail: every message it is given, kept in `messages`."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port: int):
        self.messages: list[str] = []

        class Session(socketserver.StreamRequestHandler):
            def handle(session):
                def say(line: str) -> None:
                    session.wfile.write(line.encode() + b"\r\n")

                say("220 test mailbox")
                while line := session.rfile.readline():
                    command = line.decode(errors="replace").strip().upper()
                    if command.startswith("DATA"):
                        say("354 go on")
                        data = []
                        while (row := session.rfile.readline()) not in (b".\r\n", b""):
                            data.append(row.decode(errors="replace"))
                        self.messages.append("".join(data))
                        say("250 kept")
                    elif command.startswith("QUIT"):
                        say("221 bye")
                        return
                    else:
                        say("250 ok")

        super().__init__(("127.0.0.1", port), Session)


@pytest.mark.worker
def test_smtp_down_the_worker_retries_and_sends_the_notice_once_when_it_is_back(
    transactional_db,
    draft,  # noqa: F811
    monkeypatch,
    request,
):
    from .test_notices import send_application

    port = free_port()
    monkeypatch.setenv("EMAIL_BACKEND", SMTP)
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(port))
    monkeypatch.setenv("STIMULANS_NOTICE_RETRIES", "5")
    monkeypatch.setenv("STIMULANS_NOTICE_RETRY_BACKOFF", "1")
    request.getfixturevalue("celery_worker_process")
    app, _user, client = draft

    send_application(client, app)  # the page answers; the worker tries, and fails
    notice = Notice.objects.get()
    wait_until(lambda: Notice.objects.get().attempts >= 1, "the first try")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.QUEUED
    assert "ConnectionRefusedError" in notice.last_error

    mailbox = Mailbox(port)  # the mail server is back
    threading.Thread(target=mailbox.serve_forever, daemon=True).start()
    try:
        wait_until(lambda: Notice.objects.get().status == NoticeStatus.SENT, "the notice sent")
        time.sleep(3)  # a retry too many would arrive within the backoff
        notice.refresh_from_db()
        assert notice.attempts >= 2
        assert len(mailbox.messages) == 1
        assert all(address in mailbox.messages[0] for address in notice.recipients)
        assert Notice.objects.count() == 1
    finally:
        mailbox.shutdown()
        mailbox.server_close()


# ---------------------------------------------------------------- 5. many presses at once


def at_once(count: int, press) -> list:
    """`press(i)` in `count` threads released together; what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = press(i)
        except Exception as exc:  # reported by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_fifty_submissions_of_one_application_at_once_submit_it_once(draft):  # noqa: F811
    from django.core import mail

    app, user, _client = draft
    mail.outbox.clear()
    url = reverse("portal:application_review", args=[app.pk])
    clients = [browser(user) for _ in range(50)]
    statuses = at_once(50, lambda i: clients[i].post(url).status_code)
    assert all(s in (200, 302) for s in statuses), statuses
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SUBMITTED
    assert AuditEntry.objects.filter(action="application.submitted").count() == 1
    assert Notice.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_presses_of_compute_and_of_decide_at_once_make_one_run_and_one_decision(
    import_seed, official
):
    grant = import_seed(SEED_000)
    from .conftest import dates_after

    dates_after(grant, date(2020, 2, 20))
    clients = [browser(official) for _ in range(20)]

    compute = reverse("office:compute", args=[grant.pk])
    statuses = at_once(20, lambda i: clients[i].post(compute).status_code)
    assert statuses == [302] * 20
    run = AllocationRun.objects.get(grant=grant)
    assert AuditEntry.objects.filter(action="run.computed").count() == 1
    assert not AuditEntry.objects.filter(action="run.recomputed").exists()
    assert {j.run_id for j in Job.objects.all()} == {run.pk}
    assert run.allocated() == 8_209_071

    decision = {
        "decided_on": "2020-02-20",
        "decided_by": "Äldrenämnden",
        "delegation": "Förvaltningschef",
        "reference": "ÄN 2020/42",
        "requisition_by": (date(2020, 2, 20) + timedelta(days=40)).isoformat(),
    }
    url = reverse("office:decide", args=[run.pk])
    decision["confirmed"] = "yes"
    statuses = at_once(20, lambda i: clients[i].post(url, decision).status_code)
    assert all(s in (200, 302) for s in statuses), statuses
    assert statuses.count(302) == 1  # one decision; the others see it is decided
    assert AllocationRun.objects.get(grant=grant).is_decided
    assert AuditEntry.objects.filter(action="run.decided").count() == 1
    totals = run.rows.values("organisation", "pot").annotate(t=Sum("amount")).filter(t__gt=0)
    assert Requisition.objects.filter(run=run).count() == totals.count() > 0
    assert sum(Requisition.objects.filter(run=run).values_list("amount", flat=True)) == (
        run.allocated()
    )
