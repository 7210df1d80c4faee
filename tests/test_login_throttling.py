"""Sign-in throttling (django-axes, ASVS 2.2.1): a user name and an address are locked after
repeated failures, told so in Swedish on our own sign-in page, and the lock is audited."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F
from django.test import Client, RequestFactory
from django.urls import reverse

from allocations.models import AuditEntry
from stimulans.accounts.lockout import client_address

pytestmark = pytest.mark.django_db

PASSWORD = "Ett-långt-lösenord-42"
LOCKED = "För många misslyckade inloggningar"


@pytest.fixture
def anna():
    return User.objects.create_user("anna", "anna@example.invalid", PASSWORD)


def sign_in(client: Client, password: str, username: str = "anna"):
    return client.post(reverse("login"), {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, times: int, username: str = "anna") -> list:
    return [sign_in(client, f"fel-{n}", username) for n in range(times)]


def test_five_failures_lock_the_account_from_that_address(anna):
    client = Client()  # Swedish, as the product starts
    first_four = fail(client, 4)
    assert [r.status_code for r in first_four] == [200] * 4
    assert all(LOCKED not in r.content.decode() for r in first_four)

    fifth = fail(client, 1)[0]
    assert fifth.status_code == 429
    assert LOCKED in fifth.content.decode()
    assert "registration/login.html" in [t.name for t in fifth.templates]

    # The sixth, with the right password, is refused all the same: the same page, in Swedish.
    sixth = sign_in(client, PASSWORD)
    assert sixth.status_code == 429
    page = sixth.content.decode()
    assert LOCKED in page
    assert "15 minuter" in page
    assert 'name="username"' in page  # our own form, its user name filled in
    assert 'value="anna"' in page
    assert not signed_in(client)

    [entry] = AuditEntry.objects.filter(action="login.locked")
    assert entry.object_type == "auth.user"
    assert entry.object_id == str(anna.pk)
    assert entry.actor_label == "127.0.0.1"
    assert entry.after == {
        "username": "anna",
        "ip_address": "127.0.0.1",
        "failures": 5,
        "locked_minutes": 15,
    }


def test_the_lock_ends_after_the_cool_off(anna):
    client = Client()
    fail(client, 5)
    assert sign_in(client, PASSWORD).status_code == 429
    # Fourteen minutes on, it still holds.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=14))
    assert sign_in(client, PASSWORD).status_code == 429
    # A refused attempt counts as a failure and starts the cool-off again: a quarter past it.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    response = sign_in(client, PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)
    # A success clears the failures: the count starts again from nothing.
    assert not AccessAttempt.objects.exists()


def test_the_limit_and_the_cool_off_come_from_the_settings(anna, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    client = Client()
    assert fail(client, 2)[-1].status_code == 429
    assert "30 minuter" in sign_in(client, PASSWORD).content.decode()


def test_the_lock_is_for_the_pair_not_the_account_everywhere(anna):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    fail(attacker, 5)
    assert sign_in(attacker, PASSWORD).status_code == 429
    # Anna, from her own address, signs in; the attacker may still try another name.
    anna_client = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_in(anna_client, PASSWORD).status_code == 302
    User.objects.create_user("berit", "berit@example.invalid", PASSWORD)
    assert sign_in(attacker, PASSWORD, username="berit").status_code == 302


def test_an_unknown_user_name_is_locked_and_audited_alike():
    client = Client()
    responses = fail(client, 5, username="finns-inte")
    assert responses[-1].status_code == 429
    [entry] = AuditEntry.objects.filter(action="login.locked")
    assert entry.object_type == "axes.accessattempt"
    assert entry.after["username"] == "finns-inte"


def test_english_readers_are_told_in_english(anna):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many failed sign-ins" in fail(client, 5)[-1].content.decode()


def test_the_address_behind_a_proxy_is_the_one_the_proxy_saw(settings):
    factory = RequestFactory()
    forged = "10.9.9.9, 203.0.113.9"  # the client forged the first; our proxy appended its own
    request = factory.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forged)
    settings.STIMULANS_PROXY_COUNT = 0
    assert client_address(request) == "127.0.0.1"
    settings.STIMULANS_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.9"
    settings.STIMULANS_PROXY_COUNT = 2
    assert client_address(request) == "10.9.9.9"
    settings.STIMULANS_PROXY_COUNT = 3  # fewer hops than proxies: the connection's address
    assert client_address(request) == "127.0.0.1"


def test_the_throttle_is_wired_as_axes_requires():
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
