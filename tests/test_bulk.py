"""Officials at scale: one navigation, lists worked in bulk, confirmation before what is final,
and a requisition answered for a recipient with no portal users."""

import contextlib
import re
import threading
import time
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from allocations.bulk import BATCH
from allocations.models import AuditEntry, Organisation, PermittedUse, Pot
from allocations.services import compute_grant
from applications import services
from applications.models import (
    Application,
    ApplicationStatus,
    Membership,
    Notice,
    NoticeKind,
    RepaymentClaim,
    Requisition,
    RequisitionStatus,
    ReviewFigures,
)

from .conftest import SEED_000, SEED_003, fit_agreement
from .factories import decide, provider_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def seed000(import_seed):
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=date(2021, 1, 31))
    return grant, Pot.objects.get(grant=grant, slug="sarskilda-boenden")


@pytest.fixture
def office(official):
    return signed_in(official)


def text(response) -> str:
    return re.sub(r"[ \t\r\n]+", " ", response.content.decode())


def reviewed(app: Application) -> tuple:
    app.refresh_from_db()
    return app.status, app.status_reason, app.reviewed_by_id


class RolledBack(Exception):
    """Raised to roll back a savepoint once what it did is read."""


def told(kind: str) -> dict[int, tuple]:
    """The notices of `kind`: recipients, subject and body by the object they concern."""
    return {
        n.object_id: (n.recipients, n.subject, n.body) for n in Notice.objects.filter(kind=kind)
    }


def submitted_in(pot: Pot, count: int) -> list[Application]:
    """`count` of the pot's imported applications, handed in for review."""
    apps = list(Application.objects.filter(pot=pot).order_by("slug")[:count])
    assert len(apps) == count
    Application.objects.filter(pk__in=[a.pk for a in apps]).update(
        status=ApplicationStatus.SUBMITTED,
        status_reason="",
        contact_email="kontakt@example.invalid",
    )
    return apps


# ---------------------------------------------------------------- bulk review


def test_bulk_approval_reviews_every_ticked_application_through_the_one_door(
    office, official, seed000
):
    _grant, pot = seed000
    apps = submitted_in(pot, 5)
    provider_user(apps[0].organisation, "forsta")
    # What single reviews would tell each provider, in a savepoint rolled back.
    with contextlib.suppress(RolledBack), transaction.atomic():
        for app in apps:
            services.review_application(app=app, approve=True, actor=official)
        singly = told(NoticeKind.APPROVED)
        raise RolledBack
    assert len(singly) == 5
    audited = AuditEntry.objects.filter(action="application.reviewed").count()
    url = reverse("office:bulk_review", args=[pot.pk])
    back = reverse("office:pot_review", args=[pot.pk]) + "?status=submitted"
    response = office.post(
        url,
        {"applications": [a.pk for a in apps], "decision": "approve", "reason": "", "next": back},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == back  # back to the list as it was filtered
    assert "5 applications approved." in text(response)
    for app in apps:
        assert reviewed(app) == (ApplicationStatus.APPROVED, "", official.pk)
    # One audit entry per application, as a single review leaves.
    assert AuditEntry.objects.filter(action="application.reviewed").count() == audited + 5
    # And each provider is told, as after a single review: the same recipients, subject and
    # body (rendered in Swedish, whatever the official reads).
    assert told(NoticeKind.APPROVED) == singly
    assert singly[apps[0].pk][0] == ["forsta@example.invalid", "kontakt@example.invalid"]
    assert singly[apps[0].pk][1] == f"Er ansökan till {pot.name} har beviljats"
    assert apps[0].slug in singly[apps[0].pk][2]


def test_one_refused_application_is_reported_and_the_others_are_reviewed(office, official, seed000):
    _grant, pot = seed000
    apps = submitted_in(pot, 4)
    withdrawn = apps[1]
    services.withdraw_application(app=withdrawn, actor=official)
    response = office.post(
        reverse("office:bulk_review", args=[pot.pk]),
        {"applications": [a.pk for a in apps], "decision": "reject", "reason": "Ej behörig."},
        follow=True,
    )
    page = text(response)
    assert "3 applications rejected." in page
    assert "1 was refused and left as it was:" in page
    assert f"{withdrawn.slug}: Only a submitted application can be reviewed." in page
    assert reviewed(withdrawn)[0] == ApplicationStatus.WITHDRAWN
    for app in apps:
        if app != withdrawn:
            assert reviewed(app) == (ApplicationStatus.REJECTED, "Ej behörig.", official.pk)
    rejected = Notice.objects.filter(kind=NoticeKind.REJECTED)
    assert withdrawn.pk not in {int(pk) for pk in rejected.values_list("object_id", flat=True)}
    assert rejected.count() == 3
    assert all("Ej behörig." in body for _to, _subject, body in told(NoticeKind.REJECTED).values())


def test_the_bulk_service_keeps_each_row_apart_and_is_what_a_benchmark_calls(official, seed000):
    grant, pot = seed000
    apps = submitted_in(pot, 3)
    outcome = services.bulk_review_applications(
        application_ids=[a.pk for a in apps], approve=False, reason="  ", actor=official
    )
    # A rejection without a reason is refused row by row, and nothing changes.
    assert outcome.done == []
    assert [(a.pk, why) for a, why in outcome.refused] == [
        (a.pk, "Give the provider the reason for rejecting.") for a in apps
    ]
    assert all(reviewed(a)[0] == ApplicationStatus.SUBMITTED for a in apps)

    outcome = services.bulk_review_applications(
        application_ids=[a.pk for a in apps], approve=True, actor=official
    )
    assert [a.pk for a in outcome.done] == [a.pk for a in apps]
    # Once the grant is decided, every row is refused with the service's own reason.
    run = compute_grant(grant_id=grant.pk, actor=official)
    decide(run_id=run.pk, decided_on=date(2020, 4, 1), decided_by="Nämnden", actor=official)
    outcome = services.bulk_review_applications(
        application_ids=[a.pk for a in apps], approve=False, reason="x", actor=official
    )
    assert outcome.done == []
    assert {why for _a, why in outcome.refused} == {
        "The grant is decided; its applications are no longer reviewed."
    }


def test_bulk_review_is_for_officials_and_for_the_pots_own_applications(
    client, office, official, seed000, import_seed
):
    _grant, pot = seed000
    apps = submitted_in(pot, 2)
    import_seed(SEED_003)  # another grant, with applications of its own
    foreign = submitted_in(Application.objects.exclude(pot=pot).first().pot, 1)[0]
    url = reverse("office:bulk_review", args=[pot.pk])
    data = {"applications": [apps[0].pk, foreign.pk], "decision": "approve", "reason": ""}

    provider = provider_user(Organisation.objects.get(slug="omsorg-norr-ab"))
    assert signed_in(provider).post(url, data).status_code == 403
    assert client.post(url, data).status_code == 302  # to sign in
    assert reviewed(apps[0])[0] == ApplicationStatus.SUBMITTED

    nothing = office.post(url, {"decision": "approve"}, follow=True)
    assert "Tick at least one application." in text(nothing)
    office.post(url, data)
    assert reviewed(apps[0])[0] == ApplicationStatus.APPROVED
    assert reviewed(foreign)[0] == ApplicationStatus.SUBMITTED  # another pot's: left alone
    assert reviewed(apps[1])[0] == ApplicationStatus.SUBMITTED  # not ticked

    page = text(office.get(reverse("office:pot_review", args=[pot.pk])))
    assert 'id="bulk-review"' in page
    assert 'data-select-all="applications"' in page
    assert f'name="applications" value="{apps[1].pk}" form="bulk-review"' in page


# ---------------------------------------------------------------- confirmation pages


def test_closing_a_call_is_confirmed_first_and_a_get_changes_nothing(office, official, seed000):
    grant, pot = seed000
    today = timezone.localdate()
    fit_agreement(grant, report_by=today + timedelta(days=365))
    call = services.open_call(
        pot=pot, title="Våren", opens_on=today, closes_on=today + timedelta(days=9), actor=official
    )
    url = reverse("office:call_close", args=[call.pk])
    audited = AuditEntry.objects.count()
    page = text(office.get(url))
    assert f"closes at the end of today, {today.isoformat()}" in page
    assert f"instead of {(today + timedelta(days=9)).isoformat()}" in page
    assert 'name="confirmed" value="yes"' in page
    assert text(office.post(url)).count("closes at the end of today") >= 1  # not confirmed
    call.refresh_from_db()
    assert call.closes_on == today + timedelta(days=9)
    assert AuditEntry.objects.count() == audited
    assert office.post(url, {"confirmed": "yes"}).status_code == 302
    call.refresh_from_db()
    assert call.closes_on == today


def test_the_decision_is_confirmed_on_a_page_with_its_amounts(office, official, seed000):
    grant, _pot = seed000
    run = compute_grant(grant_id=grant.pk, actor=official)
    url = reverse("office:decide", args=[run.pk])
    recipients = run.rows.filter(amount__gt=0).values("organisation").distinct().count()
    page = text(office.get(url))
    assert not Requisition.objects.exists()
    decision = {
        "decided_on": "2020-04-01",
        "decided_by": "Förvaltningschef",
        "delegation": "",
        "reference": "ÄN 2020/55",
        "requisition_by": "2020-05-01",
    }
    assert "Fill in the form" in page  # a GET: the form first, nothing decided
    summary = text(office.post(url, decision))
    assert (
        f"The decision allocates 8\u00a0209\u00a0071\u00a0kr to {recipients} recipients" in summary
    )
    assert "cannot be changed once recorded" in summary
    run.refresh_from_db()
    assert not run.is_decided
    # In Swedish, as the officials read it.
    swedish = text(office.post(url, decision, HTTP_ACCEPT_LANGUAGE="sv"))
    assert f"Beslutet fördelar 8\u00a0209\u00a0071\u00a0kr till {recipients} mottagare" in swedish
    assert office.post(url, {**decision, "confirmed": "yes"}).status_code == 302
    run.refresh_from_db()
    assert run.is_decided
    assert sum(run.requisitions.values_list("amount", flat=True)) == 8_209_071
    # Decided: the confirmation page sends the official back to the run.
    assert office.get(url).url == reverse("office:run", args=[run.pk])


def test_a_claim_is_confirmed_with_its_amount_and_where_the_money_goes(office, official, seed000):
    grant, pot = seed000
    run = compute_grant(grant_id=grant.pk, actor=official)
    decide(run_id=run.pk, decided_on=date(2020, 4, 1), decided_by="Nämnden", actor=official)
    req = run.requisitions.filter(pot=pot).order_by("pk").first()
    services.decline_requisition(req=req, reason="Vi avstår", actor=official)
    url = reverse("office:claim", args=[req.pk])
    assert "Amount (kr)" in text(office.get(url))  # the claim form, nothing claimed
    data = {"amount": str(req.amount), "disposition": "redistribute"}
    summary = text(office.post(url, data))
    amount = f"{req.amount:,}".replace(",", "\u00a0") + "\u00a0kr"
    assert f"{amount} is claimed back from {req.organisation.name}" in summary
    assert "The money goes: redistributed." in summary
    assert "A claim cannot be withdrawn once made." in summary
    assert not RepaymentClaim.objects.exists()
    assert office.post(url, {**data, "confirmed": "yes"}).status_code == 302
    assert RepaymentClaim.objects.get().amount == req.amount


# ---------------------------------------------------------------- answering for a recipient


@pytest.fixture
def decided(official, seed000):
    grant, pot = seed000
    run = compute_grant(grant_id=grant.pk, actor=official)
    decide(run_id=run.pk, decided_on=date(2020, 4, 1), decided_by="Nämnden", actor=official)
    return run, pot


def test_an_official_answers_for_a_recipient_without_portal_users_on_its_word(
    office, official, decided
):
    run, pot = decided
    req = run.requisitions.filter(pot=pot).order_by("pk").first()
    assert not Membership.objects.filter(organisation=req.organisation).exists()
    page = text(office.get(reverse("office:requisition", args=[req.pk])))
    assert "Answer for the recipient" in page
    assert "Invite a portal user for" in page
    use = PermittedUse.objects.filter(agreement=run.grant.agreement).order_by("pk").first()
    url = reverse("office:answer_requisition", args=[req.pk])
    behalf = {
        "behalf-on_behalf_name": "Anna Berg",
        "behalf-on_behalf_role": "stadsdelsdirektör",
        "behalf-on_behalf_given_on": "2020-04-20",
    }
    accept = {
        "accept-payment_method": "bankgiro",
        "accept-payment_account": "5050-1055",
        f"accept-use_{use.pk}": str(req.amount),
    }
    # Without whose word it is, nothing is answered.
    nameless = office.post(url, {**accept, "action": "accept"})
    assert nameless.status_code == 200
    assert nameless.context["behalf_form"].errors["on_behalf_name"]
    future = {**behalf, "behalf-on_behalf_given_on": "2999-01-01"}
    refused = office.post(url, {**future, **accept, "action": "accept"})
    assert "cannot have been given after today" in text(refused)
    req.refresh_from_db()
    assert req.status == RequisitionStatus.PENDING

    response = office.post(url, {**behalf, **accept, "action": "accept"})
    assert response.url == reverse("office:requisition", args=[req.pk])
    req.refresh_from_db()
    assert req.status == RequisitionStatus.ACCEPTED
    assert (req.answered_by, req.answered_by_official) == (official, True)
    assert req.on_behalf_of == "Anna Berg, stadsdelsdirektör"
    assert req.on_behalf_given_on == date(2020, 4, 20)
    entry = AuditEntry.objects.filter(action="requisition.accepted").latest("pk")
    assert entry.actor == official
    assert entry.after["on_behalf_of"] == "Anna Berg, stadsdelsdirektör"
    assert entry.after["given_on"] == "2020-04-20"
    page = text(office.get(reverse("office:requisition", args=[req.pk])))
    assert "on the word of Anna Berg, stadsdelsdirektör given on 2020-04-20" in page
    # Answered once: a second answer is refused.
    again = office.post(url, {**behalf, "decline-decline_reason": "Nej", "action": "decline"})
    assert again.url == reverse("office:requisition", args=[req.pk])
    req.refresh_from_db()
    assert req.status == RequisitionStatus.ACCEPTED


def test_a_recipient_with_portal_users_answers_for_itself(office, official, decided):
    run, pot = decided
    req = run.requisitions.filter(pot=pot).order_by("pk").first()
    user = provider_user(req.organisation)
    signed_in(user).get(reverse("portal:start"))  # signed in once: a portal user
    user.refresh_from_db()
    assert user.last_login is not None
    page = office.get(reverse("office:requisition", args=[req.pk]))
    assert "accept_form" not in page.context
    response = office.post(
        reverse("office:answer_requisition", args=[req.pk]),
        {
            "behalf-on_behalf_name": "X",
            "behalf-on_behalf_given_on": "2020-04-20",
            "decline-decline_reason": "Nej",
            "action": "decline",
        },
        follow=True,
    )
    assert "they answer in the portal" in text(response)
    req.refresh_from_db()
    assert req.status == RequisitionStatus.PENDING
    provider = signed_in(user)
    url = reverse("office:answer_requisition", args=[req.pk])
    assert provider.post(url, {"action": "decline"}).status_code == 403


def test_an_official_declines_for_a_recipient_and_invites_its_user(
    office, official, decided, django_capture_on_commit_callbacks
):
    run, pot = decided
    req = run.requisitions.filter(pot=pot).order_by("pk").first()
    response = office.post(
        reverse("office:answer_requisition", args=[req.pk]),
        {
            "behalf-on_behalf_name": "Per Ek",
            "behalf-on_behalf_given_on": "2020-04-21",
            "decline-decline_reason": "Verksamheten läggs ned.",
            "action": "decline",
        },
    )
    assert response.status_code == 302
    req.refresh_from_db()
    assert (req.status, req.decline_reason, req.on_behalf_of) == (
        RequisitionStatus.DECLINED,
        "Verksamheten läggs ned.",
        "Per Ek",
    )
    invite = reverse("office:invite_recipient_user", args=[req.pk])
    other = Organisation.objects.exclude(pk=req.organisation_id).first()
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(
            invite,
            {"email": "Chef@Stadsdel.invalid", "first_name": "Eva", "organisation": other.pk},
        )
    assert response.url == reverse("office:requisition", args=[req.pk])
    membership = Membership.objects.get(user__email="chef@stadsdel.invalid")
    assert membership.organisation == req.organisation  # the recipient's, whatever was posted
    notice = Notice.objects.get(kind=NoticeKind.INVITATION)
    assert notice.recipients == ["chef@stadsdel.invalid"]
    assert AuditEntry.objects.filter(action="membership.invited", actor=official).exists()
    assert mail.outbox[-1].to == ["chef@stadsdel.invalid"]


# ---------------------------------------------------------------- reminders


def test_reminders_go_to_those_who_have_not_requisitioned_or_reported(
    office, official, decided, django_capture_on_commit_callbacks
):
    run, pot = decided
    reqs = list(run.requisitions.filter(pot=pot).order_by("pk")[:3])
    waiting, requisitioned, nobody = reqs
    provider_user(waiting.organisation, "vantar")
    provider_user(requisitioned.organisation, "rekvirerat")
    use = PermittedUse.objects.filter(agreement=run.grant.agreement).order_by("pk").first()
    services.accept_requisition(
        req=requisitioned,
        payment_method="bankgiro",
        payment_account="5050-1055",
        lines={use: requisitioned.amount},
        actor=official,
    )
    url = reverse("office:remind")
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(url, {"requisitions": [r.pk for r in reqs]}, follow=True)
    page = text(response)
    assert "2 reminders are queued for sending." in page
    assert f"{nobody.organisation.name} ({pot.name}): The recipient has no portal users" in page
    notices = {n.object_id: n for n in Notice.objects.filter(kind=NoticeKind.REMINDER)}
    assert set(notices) == {waiting.pk, requisitioned.pk}
    # In Swedish, as every notice is written.
    assert "har ännu inte rekvirerat" in notices[waiting.pk].body
    assert "har ännu inte lämnat sin återrapportering" in notices[requisitioned.pk].body
    assert AuditEntry.objects.filter(action="requisition.reminded").count() == 2
    sent = sorted(m.subject.split(":")[0] for m in mail.outbox if m.subject.startswith("Påm"))
    assert sent == ["Påminnelse", "Påminnelse"]

    # Pressed again the same day: nothing new is sent.
    again = text(office.post(url, {"requisitions": [waiting.pk]}, follow=True))
    assert "0 reminders are queued" in again
    assert "Reminded today already." in again
    assert Notice.objects.filter(kind=NoticeKind.REMINDER).count() == 2
    provider = provider_user(Organisation.objects.get(slug="omsorg-norr-ab"), "utomstaende")
    assert signed_in(provider).post(url, {"requisitions": [waiting.pk]}).status_code == 403


# ---------------------------------------------------------------- one navigation


def test_every_officials_page_has_the_one_navigation(office, official, decided):
    run, pot = decided
    grant = run.grant
    req = run.requisitions.order_by("pk").first()
    call = services.open_call(
        pot=pot, title="C", opens_on=date(2020, 3, 1), closes_on=date(2020, 3, 2), actor=official
    )
    pages = {
        reverse("office:start"): "office:start",
        reverse("office:grant", args=[grant.pk]): "office:start",
        reverse("office:run", args=[run.pk]): "office:start",
        reverse("office:calls"): "office:calls",
        reverse("office:call", args=[call.pk]): "office:calls",
        reverse("office:pot_review", args=[pot.pk]): "office:calls",
        reverse("office:requisitions"): "office:requisitions",
        reverse("office:requisition", args=[req.pk]): "office:requisitions",
        reverse("office:claim", args=[req.pk]): "office:requisitions",
        reverse("office:reports"): "office:reports",
        reverse("office:claims"): "office:claims",
        reverse("reporting:grants"): "reporting:grants",
        reverse("reporting:dashboard", args=[grant.slug]): "reporting:grants",
        reverse("reporting:documents", args=[grant.slug]): "reporting:grants",
        reverse("reporting:followup"): "reporting:followup",
    }
    links = [reverse(n) for n in ("office:start", "office:calls", "office:requisitions")]
    links += [reverse(n) for n in ("office:claims", "reporting:grants", "reporting:followup")]
    for url, section in pages.items():
        response = office.get(url, follow=True)
        assert response.status_code == 200, url
        html = response.content.decode()
        nav = re.search(r'<nav class="navbar[^"]*" aria-label="Main menu">(.*?)</nav>', html, re.S)
        assert nav, url
        for link in links:
            assert f'href="{link}"' in nav.group(1), (url, link)
        current = re.findall(r'href="([^"]+)" aria-current="(page|true)"', nav.group(1))
        assert current == [(reverse(section), "page" if url == reverse(section) else "true")], (
            url,
            current,
        )
        assert 'href="/admin/"' not in nav.group(1)  # administrators only
    # A grant's case page and its dashboard link to each other.
    grant_page = office.get(reverse("office:grant", args=[grant.pk])).content.decode()
    assert reverse("reporting:dashboard", args=[grant.slug]) in grant_page
    dashboard = office.get(reverse("reporting:dashboard", args=[grant.slug])).content.decode()
    assert reverse("office:grant", args=[grant.pk]) in dashboard


@pytest.mark.django_db(transaction=True)
def test_two_bulk_reviews_of_the_same_organisations_at_once_do_not_deadlock(official, seed000):
    # The review list's figures are kept per (pot, call, organisation, status, flagged) by
    # triggers on each statement that writes applications, each statement taking its figure
    # rows in key order. Two officials review at once applications of the same two
    # organisations, met in opposite orders and more than one batch of `update_rows` each:
    # the first bulk's Omsorg Norr AB applications come first and its Vårdhem Syd AB one
    # last, the second's the other way round. Written a batch at a time, each bulk would
    # hold one organisation's figures while waiting for the other's. The race is made
    # certain: this test holds one of Omsorg Norr AB's figure rows until both bulks wait.
    grant, pot = seed000
    norr = Organisation.objects.get(slug="omsorg-norr-ab")
    syd = Organisation.objects.get(slug="vardhem-syd-ab")
    starter = User.objects.create_user("startare")  # no provider's user: no notices to send
    layout = [*[(norr, 0)] * BATCH, *[(syd, 1)] * BATCH, (syd, 0), (norr, 1)]
    first = Application.objects.filter(grant=grant).count()
    sent = timezone.now()
    apps = Application.objects.bulk_create(
        Application(
            grant=grant,
            pot=pot,
            slug=f"samtidig-{i:05d}",
            organisation=org,
            status=ApplicationStatus.SUBMITTED,
            created_by=starter,
            submitted_at=sent,
            position=first + i,
        )
        for i, (org, _bulk) in enumerate(layout)
    )
    # What starting and submitting them records (the books check asks for it).
    AuditEntry.objects.bulk_create(
        AuditEntry(
            action=action,
            actor=starter,
            actor_label=starter.username,
            object_type="applications.application",
            object_id=str(app.pk),
            object_repr=str(app)[:300],
            grant=grant,
            after=after,
        )
        for app in apps
        for action, after in (
            ("application.started", {}),
            ("application.submitted", {"status": "submitted", "ineligible_units": []}),
        )
    )
    bulks = [[a.pk for a, (_o, b) in zip(apps, layout, strict=True) if b == n] for n in (0, 1)]
    bulks[1].reverse()  # as ticked: the order of the list is no help either
    errors, done = [], []

    def review(ids: list[int]) -> None:
        try:
            outcome = services.bulk_review_applications(
                application_ids=ids, approve=True, actor=official
            )
            done.append(len(outcome.done))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=review, args=(ids,)) for ids in bulks]
    with transaction.atomic():
        ReviewFigures.objects.select_for_update().get(
            pot_id=pot.pk,
            call_id=0,
            organisation_id=norr.pk,
            status=ApplicationStatus.SUBMITTED,
            flagged=False,
        )
        for t in threads:
            t.start()
        waiting, deadline = 0, time.monotonic() + 30
        while waiting < 2 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                waiting = cursor.fetchone()[0]
        assert waiting == 2, errors
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(done) == [BATCH + 1, BATCH + 1]
    reviewed = Application.objects.filter(slug__startswith="samtidig-")
    assert set(reviewed.values_list("status", flat=True)) == {ApplicationStatus.APPROVED}
