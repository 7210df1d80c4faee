"""One's own account (ASVS 2.5, 3.x): password reset that tells nothing, links that expire,
a new e-mail address only with the password, and the admin for administrators only."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from allocations.models import AuditEntry, Organisation
from applications.models import Membership

from .conftest import SEED_000
from .factories import official_user, provider_user, signed_in

pytestmark = pytest.mark.django_db

PASSWORD = "Ett-långt-lösenord-42"


# ---------------------------------------------------------------- password reset


def test_password_reset_answers_alike_whether_or_not_the_address_exists():
    User.objects.create_user("anna", "anna@example.invalid", PASSWORD)
    answers = []
    for email in ("anna@example.invalid", "ingen@example.invalid"):
        client = Client()
        response = client.post(reverse("password_reset"), {"email": email}, follow=True)
        answers.append(
            (
                response.redirect_chain,
                response.status_code,
                [t.name for t in response.templates],
                # The CSRF token is masked afresh on every page.
                re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode()),
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][1] == 200
    assert "registration/password_reset_done.html" in answers[0][2]
    assert [m.to for m in mail.outbox] == [["anna@example.invalid"]]  # only the real one


class TokenMadeAgo(PasswordResetTokenGenerator):
    def __init__(self, ago: timedelta):
        super().__init__()
        self.ago = ago

    def _now(self):
        return datetime.now() - self.ago


def reset_url(user, ago: timedelta) -> str:
    token = TokenMadeAgo(ago).make_token(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def test_a_reset_link_holds_for_a_day_and_no_longer(settings):
    assert settings.PASSWORD_RESET_TIMEOUT <= 24 * 60 * 60
    user = User.objects.create_user("anna", "anna@example.invalid", PASSWORD)
    # Made 23 hours ago: it works (to the form where the new password is chosen).
    fresh = Client().get(reset_url(user, timedelta(hours=23)))
    assert fresh.status_code == 302
    assert fresh.url.endswith("/set-password/")
    # Made a day and a minute ago: refused, in words.
    stale = Client(HTTP_ACCEPT_LANGUAGE="en").get(reset_url(user, timedelta(days=1, minutes=1)))
    assert stale.status_code == 200
    assert stale.context["validlink"] is False


# ---------------------------------------------------------------- "Mitt konto"


@pytest.fixture
def anna():
    return User.objects.create_user("anna", "anna@example.invalid", PASSWORD)


def test_the_account_page_is_linked_from_the_header_and_links_the_password_change(anna):
    client = signed_in(anna, language="sv")
    page = client.get(reverse("account")).content.decode()
    assert "Mitt konto" in page
    assert f'href="{reverse("password_change")}"' in page
    start = client.get(reverse("portal:start")).content.decode()
    assert f'href="{reverse("account")}"' in start


def test_the_account_page_needs_a_sign_in():
    response = Client().get(reverse("account"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_new_e_mail_address_needs_the_password(anna):
    client = signed_in(anna, language="sv")
    wrong = client.post(reverse("account"), {"email": "ny@example.invalid", "password": "fel"})
    assert wrong.status_code == 200
    assert "Lösenordet är fel." in wrong.content.decode()
    anna.refresh_from_db()
    assert anna.email == "anna@example.invalid"
    assert not AuditEntry.objects.filter(action="account.email_changed").exists()

    right = client.post(reverse("account"), {"email": "ny@example.invalid", "password": PASSWORD})
    assert right.status_code == 302
    anna.refresh_from_db()
    assert anna.email == "ny@example.invalid"
    [entry] = AuditEntry.objects.filter(action="account.email_changed")
    assert entry.actor == anna
    assert entry.object_id == str(anna.pk)
    assert (entry.before, entry.after) == (
        {"email": "anna@example.invalid"},
        {"email": "ny@example.invalid"},
    )
    assert "Din e-postadress är ändrad." in client.get(right.url).content.decode()


def test_an_address_another_user_has_is_refused(anna):
    User.objects.create_user("berit", "berit@example.invalid", PASSWORD)
    client = signed_in(anna, language="sv")
    response = client.post(
        reverse("account"), {"email": "BERIT@example.invalid", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "En annan användare har den här e-postadressen." in response.content.decode()
    anna.refresh_from_db()
    assert anna.email == "anna@example.invalid"


def test_guessing_the_password_on_the_account_page_locks_like_signing_in(anna):
    client = signed_in(anna, language="sv")
    for n in range(5):
        response = client.post(
            reverse("account"), {"email": "ny@example.invalid", "password": f"fel-{n}"}
        )
    assert response.status_code == 302  # back to the page, with the reason
    assert "För många misslyckade inloggningar" in client.get(response.url).content.decode()
    right = client.post(reverse("account"), {"email": "ny@example.invalid", "password": PASSWORD})
    assert right.status_code == 302
    anna.refresh_from_db()
    assert anna.email == "anna@example.invalid"  # the right password no longer gets through
    assert AuditEntry.objects.filter(action="login.locked").count() == 1


# ---------------------------------------------------------------- the admin


ADMIN_PAGE = re.compile(r'id="site-name"|id="user-tools"|Stimulans – grant ledger')


@pytest.fixture
def people(import_seed):
    grant = import_seed(SEED_000)
    org = Organisation.objects.order_by("pk").first()
    staff_official = official_user("staff-official")
    staff_official.is_staff = True
    staff_official.save()
    staff_official.user_permissions.add(*Permission.objects.all())  # every permission there is
    staff = User.objects.create_user("staff", "staff@example.invalid", PASSWORD, is_staff=True)
    return grant, {
        "provider": provider_user(org, "provider"),
        "official": official_user("official"),
        "staff": staff,
        "staff official": staff_official,
        "administrator": User.objects.create_superuser("admin", "admin@example.invalid", "x"),
    }


def admin_urls(grant) -> list[str]:
    membership_model = Membership._meta.model_name
    return [
        reverse("admin:index"),
        reverse("admin:login"),
        reverse("admin:password_change"),
        reverse("admin:app_list", args=["allocations"]),
        reverse("admin:allocations_grant_changelist"),
        reverse("admin:allocations_grant_change", args=[grant.pk]),
        reverse("admin:allocations_grant_add"),
        reverse("admin:auth_user_changelist"),
        reverse(f"admin:applications_{membership_model}_changelist"),
        reverse("admin:jsi18n"),
        "/admin/no/such/page/",
    ]


def test_the_admin_is_for_administrators_only(people):
    grant, users = people
    urls = admin_urls(grant)
    for role, user in users.items():
        if role == "administrator":
            continue
        client = signed_in(user)
        for url in urls:
            response = client.get(url, follow=True)
            assert response.status_code == 403, (role, url)
            assert not ADMIN_PAGE.search(response.content.decode()), (role, url)
        # A POST is refused alike, and changes nothing.
        title = grant.title
        response = client.post(
            reverse("admin:allocations_grant_change", args=[grant.pk]), {"title": "x"}, follow=True
        )
        assert response.status_code == 403, role
        grant.refresh_from_db()
        assert grant.title == title


def test_anyone_not_signed_in_is_sent_to_our_sign_in_page(people):
    grant, _users = people
    client = Client()
    for url in admin_urls(grant):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert "registration/login.html" in [t.name for t in response.templates], url
        assert not ADMIN_PAGE.search(response.content.decode()), url


def test_an_administrator_uses_the_admin(people):
    grant, users = people
    client = signed_in(users["administrator"])
    for url in admin_urls(grant)[:-3]:
        if url == reverse("admin:password_change"):
            continue  # the admin shows the site's own password form there
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert ADMIN_PAGE.search(response.content.decode()), url
    assert client.get(reverse("admin:jsi18n")).status_code == 200


# ---------------------------------------------------------------- permissions


def test_a_users_permissions_are_djangos_own_and_groups_read_in_one_query(
    django_assert_num_queries,
):
    """`OneQueryModelBackend` answers as Django's `ModelBackend` does, in one query: one's
    own permissions and one's groups', each once; a superuser's every one; an inactive
    user's none."""
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import Group

    from stimulans.accounts.backends import OneQueryModelBackend

    own = Permission.objects.get(codename="handle_cases")
    both = Permission.objects.get(codename="decide_allocationrun")
    of_group = Permission.objects.get(codename="view_grant")
    unit = Group.objects.create(name="enhet")
    unit.permissions.add(of_group, both)
    Group.objects.create(name="tom").permissions.add(Permission.objects.get(codename="add_grant"))
    official = User.objects.create_user("med-grupp", "g@example.invalid", PASSWORD)
    official.user_permissions.add(own, both)
    official.groups.add(unit)
    inactive = User.objects.create_user("inaktiv", "i@example.invalid", PASSWORD, is_active=False)
    inactive.user_permissions.add(own)
    nobody = User.objects.create_user("ingen", "n@example.invalid", PASSWORD)
    admin = User.objects.create_superuser("admin", "admin@example.invalid", "x")

    expected = {
        "med-grupp": {
            "applications.handle_cases",
            "allocations.decide_allocationrun",
            "allocations.view_grant",
        },
        "inaktiv": set(),
        "ingen": set(),
        "admin": {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.all()},
    }
    for user in (official, inactive, nobody, admin):
        user = User.objects.get(pk=user.pk)  # no cached permissions
        with django_assert_num_queries(1 if user.is_active else 0):  # the second one kept
            found = OneQueryModelBackend().get_all_permissions(user)
            assert OneQueryModelBackend().get_all_permissions(user) == found
        assert found == expected[user.username]
        assert found == ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
