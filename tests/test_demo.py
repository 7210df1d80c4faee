"""`load_demo`: a development install with one user per role and an open call."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from allocations.models import Grant, OrganisationKind
from applications import permissions
from applications.models import Call, Membership

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
        assert client.login(username=username, password="demo")
        assert client.get("/").url == reverse(target)
    client = Client()
    client.login(username="handlaggare", password="demo")
    assert client.get(reverse("office:start"), HTTP_ACCEPT_LANGUAGE="en").status_code == 200
