"""E-mail notices: recorded with their step, sent by the task, retried, never lost or doubled.

Sending is read from Django's test outbox (the locmem backend); a mail server that is
down is Django's SMTP backend pointed at a local port where nothing listens, and one that
refuses a recipient is a small SMTP server of the test's own.
"""

import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from allocations.models import GrantUnit, PermittedUse
from applications import services, tasks
from applications.models import (
    Application,
    ApplicationStatus,
    ApplicationUnit,
    Notice,
    NoticeKind,
    NoticeStatus,
    Requisition,
)
from applications.reminders import send_report_reminders

from .conftest import ROOT, worker_database_url
from .factories import provider_user
from .factories import signed_in as browser
from .test_bulk import seed000, submitted_in  # noqa: F401
from .test_portal_units import application_post, decide, norr, seed, today  # noqa: F401

pytestmark = pytest.mark.django_db

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
SMTP = "django.core.mail.backends.smtp.EmailBackend"


def free_port() -> int:
    """A local port where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_down(settings):
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 5
    return settings


def post_elsewhere(user, url: str, **env: str) -> subprocess.CompletedProcess:
    """POST `url` as `user` from a server process of its own, configured by `env`."""
    code = (
        "from django.contrib.auth.models import User\n"
        "from django.test import Client\n"
        "client = Client()\n"
        f"client.force_login(User.objects.get(pk={user.pk}))\n"
        f"print(client.post({url!r}).status_code)\n"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity=0", "--command", code],
        cwd=ROOT,
        env=dict(os.environ, DATABASE_URL=worker_database_url(), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def draft(seed, norr):  # noqa: F811
    """A provider's application, filled in and ready to send on its review page."""
    grant, _pot, call = seed
    user = provider_user(norr, "norr")
    gu = GrantUnit.objects.get(grant=grant, unit__slug="vob-013")
    ApplicationUnit.objects.filter(grant_unit=gu).delete()  # free it from ans-010
    app = services.start_application(call=call, organisation=norr, actor=user, today=today())
    client = browser(user)
    client.post(
        reverse("portal:application_edit", args=[app.pk]),
        application_post(grant, [str(gu.pk)], **{f"places_{gu.pk}": "37"}),
    )
    return app, user, client


def send_application(client, app):
    response = client.post(reverse("portal:application_review", args=[app.pk]))
    assert response.status_code == 302
    assert response.url == reverse("portal:application", args=[app.pk])
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SUBMITTED


def fail_every_retry(notice: Notice) -> None:
    """The tries the worker makes after the first, up to the last, with SMTP still down."""
    last = tasks.send_notice.max_retries
    for retries in range(1, last):
        with pytest.raises(Retry):
            tasks.send_notice.apply(args=[notice.pk], retries=retries)
    tasks.send_notice.apply(args=[notice.pk], retries=last)  # the last: failed, not raised


def test_a_submitted_application_is_one_notice_sent_once_at_commit(
    draft, django_capture_on_commit_callbacks
):
    app, user, client = draft
    with django_capture_on_commit_callbacks(execute=True):
        send_application(client, app)
    notice = Notice.objects.get()
    assert (notice.kind, notice.status, notice.attempts) == (
        NoticeKind.SUBMITTED,
        NoticeStatus.SENT,
        1,
    )
    assert notice.concerns == app
    assert notice.recipients == sorted(["anna@example.invalid", user.email])
    assert notice.sent_at is not None
    # Rendered in Swedish when recorded, whatever language the sender reads.
    assert notice.subject == f"Er ansökan till {app.pot.name} har tagits emot"
    [sent] = mail.outbox
    assert (sent.subject, sent.body, sent.to) == (notice.subject, notice.body, notice.recipients)

    # Queued again (a redelivered task, the sweep, an official): still sent once.
    assert services.deliver_notice(notice_id=notice.pk) is None
    tasks.send_notice.delay(notice.pk)
    assert services.requeue_notices(notice_ids=[notice.pk]) == 0
    assert len(mail.outbox) == 1


def test_a_step_rolled_back_records_and_sends_nothing(draft, django_capture_on_commit_callbacks):
    app, user, _client = draft
    recorded = []

    def step_that_fails_after_the_notice():
        with transaction.atomic():
            services.submit_application(app=app, actor=user, today=today())
            recorded.append(Notice.objects.count())  # recorded in the step's transaction…
            raise RuntimeError("the step fails after the notice was recorded")

    with (
        django_capture_on_commit_callbacks(execute=True) as queued,
        pytest.raises(RuntimeError, match="after the notice"),
    ):
        step_that_fails_after_the_notice()
    assert recorded == [1]
    assert not Notice.objects.exists()  # …and gone with it
    assert queued == []
    assert mail.outbox == []
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DRAFT


@pytest.mark.parametrize("again", ["admin action", "command"])
def test_smtp_down_the_page_still_answers_and_the_notice_is_sent_later_exactly_once(
    transactional_db, draft, smtp_down, admin_client, again
):
    # A committing database: the notice is queued, and tried, inside the request.
    app, _user, client = draft
    send_application(client, app)
    notice = Notice.objects.get()
    assert (notice.status, notice.attempts) == (NoticeStatus.QUEUED, 1)
    assert "ConnectionRefusedError" in notice.last_error
    assert mail.outbox == []

    fail_every_retry(notice)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.FAILED
    assert notice.attempts == tasks.send_notice.max_retries + 1
    assert "ConnectionRefusedError" in notice.last_error
    assert notice.sent_at is None
    # The sweep leaves a failed notice to an official; the step itself stands.
    assert services.requeue_stale_notices(older_than=timedelta(0)) == 0
    assert Notice.objects.get().status == NoticeStatus.FAILED

    # An official finds it among the failed notices, with the reason.
    changelist = reverse("admin:applications_notice_changelist")
    page = admin_client.get(changelist, {"status__exact": "failed", "q": "anna@example.invalid"})
    assert notice.subject in page.content.decode()
    page = admin_client.get(reverse("admin:applications_notice_change", args=[notice.pk]))
    assert "ConnectionRefusedError" in page.content.decode()

    smtp_down.EMAIL_BACKEND = LOCMEM  # the mail server is back
    if again == "admin action":
        response = admin_client.post(
            changelist, {"action": "send_again", "_selected_action": [notice.pk]}
        )
        assert response.status_code == 302
    else:
        call_command("requeue_notices", "--failed")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert notice.attempts == tasks.send_notice.max_retries + 2
    [sent] = mail.outbox
    assert sent.body == notice.body

    call_command("requeue_notices", "--failed")
    tasks.send_notice.delay(notice.pk)
    assert len(mail.outbox) == 1
    assert Notice.objects.count() == 1


@pytest.mark.services
def test_with_the_broker_down_the_page_answers_and_the_sweep_sends_the_notice(
    transactional_db, draft
):
    app, user, _client = draft
    # The server's broker does not answer, as when Redis is down.
    dead = f"redis://127.0.0.1:{free_port()}/0"
    url = reverse("portal:application_review", args=[app.pk])
    result = post_elsewhere(user, url, CELERY_BROKER_URL=dead, CELERY_RESULT_BACKEND=dead)
    assert result.stdout.split() == ["302"], result.stderr
    assert "stays queued for the sweep" in result.stderr
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SUBMITTED
    notice = Notice.objects.get()
    assert (notice.status, notice.attempts) == (NoticeStatus.QUEUED, 0)  # never reached a worker
    assert mail.outbox == []

    # The periodic sweep leaves a notice queued a moment ago to its task…
    assert tasks.requeue_stale_notices.delay().get() == 0
    # …and queues one that has waited longer than the set minutes.
    Notice.objects.update(queued_at=timezone.now() - timedelta(minutes=16))
    assert tasks.requeue_stale_notices.delay().get() == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.SENT, 1)
    assert [m.body for m in mail.outbox] == [notice.body]
    Notice.objects.update(queued_at=timezone.now() - timedelta(minutes=16))
    assert tasks.requeue_stale_notices.delay().get() == 0
    assert len(mail.outbox) == 1


@pytest.fixture
def accepted(seed, norr, official):  # noqa: F811
    """A requisition accepted by a provider whose users are reminded of its usage report."""
    grant, pot, _call = seed
    user = provider_user(norr, "norr")
    run = decide(grant, official)
    req = run.requisitions.get(organisation=norr, pot=pot)
    use = PermittedUse.objects.filter(agreement=grant.agreement).first()
    services.accept_requisition(
        req=req,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={use: req.amount},
        actor=user,
    )
    return req, user


def reminders(req) -> list[Notice]:
    return list(
        Notice.objects.filter(
            kind=NoticeKind.REPORT_DUE,
            content_type=ContentType.objects.get_for_model(Requisition),
            object_id=req.pk,
        )
    )


def test_a_reminder_counts_only_once_delivered_and_is_never_sent_twice(
    accepted, smtp_down, django_capture_on_commit_callbacks
):
    req, user = accepted
    report_by = req.run.grant.agreement.report_by
    mail.outbox.clear()

    def run(days_before: int) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return send_report_reminders(today=report_by - timedelta(days=days_before))

    assert run(10) == 1
    [notice] = reminders(req)
    assert (notice.status, notice.attempts) == (NoticeStatus.QUEUED, 1)
    req.refresh_from_db()
    assert req.report_reminder_sent_on is None  # not sent, so not reminded
    assert run(9) == 0  # still queued for its retries: not a second one
    assert reminders(req) == [notice]

    fail_every_retry(notice)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.FAILED
    req.refresh_from_db()
    assert req.report_reminder_sent_on is None

    smtp_down.EMAIL_BACKEND = LOCMEM
    assert run(8) == 1  # the next run tries the failed reminder again, as of its own day
    [notice] = reminders(req)
    assert notice.status == NoticeStatus.SENT
    assert "(om 8 dagar)" in notice.body
    mine = [m for m in mail.outbox if user.email in m.to]
    assert [m.body for m in mine] == [notice.body]
    req.refresh_from_db()
    assert req.report_reminder_sent_on == timezone.localdate(notice.sent_at)

    assert run(7) == 0
    assert len([m for m in mail.outbox if user.email in m.to]) == 1


@pytest.fixture
def smtp_down_worker(monkeypatch, request):
    """A real worker whose mail server is down, trying three times a second or two apart."""
    monkeypatch.setenv("EMAIL_BACKEND", SMTP)
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(free_port()))
    monkeypatch.setenv("STIMULANS_NOTICE_RETRIES", "2")
    monkeypatch.setenv("STIMULANS_NOTICE_RETRY_BACKOFF", "1")
    return request.getfixturevalue("celery_worker_process")


@pytest.mark.services
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_with_backoff_and_then_marks_the_notice_failed(
    transactional_db, smtp_down_worker, draft
):
    app, _user, client = draft
    send_application(client, app)  # queued to the worker on commit; the page answers at once
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        notice = Notice.objects.get()
        if notice.status != NoticeStatus.QUEUED:
            break
        time.sleep(0.5)
    assert notice.status == NoticeStatus.FAILED
    assert notice.attempts == 3  # the first try and two retries
    assert "ConnectionRefusedError" in notice.last_error
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.SUBMITTED


# ---------------------------------------------------------------- every step tells the provider


def notices_of(kind: str) -> list[Notice]:
    return list(Notice.objects.filter(kind=kind).order_by("pk"))


def test_approval_and_rejection_are_told_once_per_change_with_the_reason(
    draft, official, settings, django_capture_on_commit_callbacks
):
    app, user, client = draft
    send_application(client, app)
    link = settings.STIMULANS_BASE_URL + reverse("portal:application", args=[app.pk])

    with django_capture_on_commit_callbacks(execute=True):
        services.review_application(app=app, approve=True, actor=official)
    [approved] = notices_of(NoticeKind.APPROVED)
    assert approved.concerns == app
    assert user.email in approved.recipients
    assert link in approved.body
    assert approved.status == NoticeStatus.SENT
    assert approved.subject == f"Er ansökan till {app.pot.name} har beviljats"
    # Approving again changes nothing the provider sees: nothing is sent again.
    services.review_application(app=app, approve=True, actor=official)
    assert len(notices_of(NoticeKind.APPROVED)) == 1

    services.review_application(
        app=app, approve=False, reason="Enheten saknar tillstånd.", actor=official
    )
    [rejected] = notices_of(NoticeKind.REJECTED)
    assert "Enheten saknar tillstånd." in rejected.body
    assert link in rejected.body
    services.review_application(
        app=app, approve=False, reason="Enheten saknar tillstånd.", actor=official
    )
    assert len(notices_of(NoticeKind.REJECTED)) == 1
    # A rejection without a reason is refused, and tells nobody anything.
    with pytest.raises(services.WorkflowError):
        services.review_application(app=app, approve=False, reason=" ", actor=official)
    assert Notice.objects.filter(kind__in=[NoticeKind.APPROVED, NoticeKind.REJECTED]).count() == 2


def test_requisition_received_and_payment_are_told_in_their_step(accepted, official, settings):
    req, user = accepted
    base = settings.STIMULANS_BASE_URL
    page = base + reverse("portal:requisition", args=[req.pk])
    [decision] = [n for n in notices_of(NoticeKind.DECISION) if n.concerns == req]
    assert page in decision.body
    [received] = notices_of(NoticeKind.REQUISITIONED)
    assert received.concerns == req
    assert page in received.body
    assert "5050-1055" in received.body

    # A payment refused records no notice; a payment recorded, one, about the payment.
    with pytest.raises(services.WorkflowError):
        services.record_payment(
            req=req, paid_on=today(), amount=req.amount + 1, reference="V-1", actor=official
        )
    assert notices_of(NoticeKind.PAID) == []
    payment = services.record_payment(
        req=req, paid_on=today(), amount=1000, reference="V-1", actor=official
    )
    [paid] = notices_of(NoticeKind.PAID)
    assert paid.concerns == payment
    assert user.email in paid.recipients
    assert page in paid.body
    assert "V-1" in paid.body
    assert paid.subject == f"Utbetalning gjord: {req.pot.name}"
    # Plain text: nothing escaped for HTML.
    assert "&" not in paid.body.replace(base, "")


# ---------------------------------------------------------------- many notices at once


class RefusingSMTP(socketserver.ThreadingTCPServer):
    """Just enough of a mail server for Django's SMTP backend: it takes every message, except
    that it refuses (550) any recipient whose address holds `refuse`."""

    daemon_threads = allow_reuse_address = True

    def __init__(self):
        self.refuse = "vagrar"
        self.received: list[tuple[list[str], str]] = []
        super().__init__(("127.0.0.1", 0), self.Session)

    class Session(socketserver.StreamRequestHandler):
        def handle(self):
            server, to = self.server, []

            def reply(line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            reply("220 test")
            while line := self.rfile.readline().decode():
                verb = line[:4].upper()
                if verb == "RCPT":
                    refused = server.refuse and server.refuse in line
                    if not refused:
                        to.append(line.split("<", 1)[1].split(">", 1)[0])
                    reply("550 no such user" if refused else "250 ok")
                elif verb == "DATA":
                    reply("354 go on")
                    data = []
                    while (part := self.rfile.readline().decode()) not in (".\r\n", ""):
                        data.append(part)
                    server.received.append((sorted(to), "".join(data)))
                    to = []
                    reply("250 taken")
                elif verb == "QUIT":
                    reply("221 bye")
                    return
                else:  # EHLO, MAIL, RSET, NOOP
                    to = [] if verb in ("MAIL", "RSET") else to
                    reply("250 ok")


@pytest.fixture
def refusing_smtp(settings):
    server = RefusingSMTP()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.shutdown()
    server.server_close()


def test_a_batch_sends_each_notice_once_and_retries_alone_the_one_the_server_refused(
    seed000,  # noqa: F811
    official,
    refusing_smtp,
    django_capture_on_commit_callbacks,
):
    _grant, pot = seed000
    apps = submitted_in(pot, 4)
    Application.objects.filter(pk=apps[1].pk).update(contact_email="vagrar@example.invalid")
    with django_capture_on_commit_callbacks(execute=True) as queued:
        services.bulk_review_applications(
            application_ids=[a.pk for a in apps], approve=True, actor=official
        )
    assert len(queued) == 1  # one task for the batch
    notices = {n.object_id: n for n in Notice.objects.filter(kind=NoticeKind.APPROVED)}
    assert set(notices) == {a.pk for a in apps}
    refused = notices.pop(apps[1].pk)
    # The others are sent once each, and say so.
    assert [to for to, _body in refusing_smtp.received] == [["kontakt@example.invalid"]] * 3
    for app in apps:
        carried = [body for _to, body in refusing_smtp.received if app.slug in body]
        assert len(carried) == (0 if app == apps[1] else 1)
    for notice in notices.values():
        assert (notice.status, notice.attempts, notice.last_error) == (NoticeStatus.SENT, 1, "")
    # The refused one went on alone as `send_notice`'s first retry (run at once, eagerly):
    # two tries, still queued for the retries to come.
    assert (refused.status, refused.attempts) == (NoticeStatus.QUEUED, 2)
    assert "SMTPRecipientsRefused" in refused.last_error
    last = tasks.send_notice.max_retries
    for retries in range(2, last):
        with pytest.raises(Retry):
            tasks.send_notice.apply(args=[refused.pk], retries=retries)
    tasks.send_notice.apply(args=[refused.pk], retries=last)
    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == (NoticeStatus.FAILED, last + 1)

    # The batch queued again (a redelivered task) sends nothing twice; once the server takes
    # the address, an official's "send again" sends the failed one, once.
    tasks.send_notices.apply(args=[[n.pk for n in [refused, *notices.values()]]])
    assert len(refusing_smtp.received) == 3
    refusing_smtp.refuse = ""
    with django_capture_on_commit_callbacks(execute=True):
        assert services.requeue_notices(notice_ids=[refused.pk, *notices]) == 1
    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == (NoticeStatus.SENT, last + 2)
    assert [to for to, _body in refusing_smtp.received[3:]] == [["vagrar@example.invalid"]]
    assert apps[1].slug in refusing_smtp.received[3][1]
