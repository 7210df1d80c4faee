"""Every URL of every app × every role: the status each gets, no leaks.

The URLs are read from the project's resolver — the portal, the officials' pages, reporting,
the jobs, the home page, sign-in and language (everything but Django's own admin) — so a new
URL without a row in `EXPECTED` fails here. Each row says what a GET answers and, for a view
that takes a POST, what an empty POST answers, for

- `anon`: not signed in;
- `owner`: a provider user of Omsorg Norr AB, the organisation whose objects the URLs name;
- `other`: a provider user of Vårdhem Syd AB;
- `official`: holds `applications.handle_cases`, acts for no organisation;
- `admin`: a superuser, who acts for no organisation.

As the views are built: the portal answers 404 for an object of another organisation and
the officials' pages answer 403 to anyone who is not an official, whatever the id. An
official (and an administrator) may read a provider's application and requisition in the
portal too, but every change there is refused with a message and a redirect.

Besides the status, a refused request must write nothing, and nothing that another
provider is shown may carry Omsorg Norr AB's data.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from allocations import urls as allocations_urls
from allocations.models import (
    AllocationRun,
    AuditEntry,
    Organisation,
    Pot,
    Unit,
)
from applications import office_urls, portal_urls, services
from applications.models import (
    Application,
    ApplicationUnit,
    Call,
    ClaimRepayment,
    Membership,
    Payment,
    RepaymentClaim,
    ReportAttachment,
    Requisition,
    UsageLine,
    UsageReport,
)
from reporting import urls as reporting_urls

from .conftest import SEED_000, fit_agreement
from .factories import OFFICIAL_CODENAMES, owner_draft, played_on

pytestmark = pytest.mark.django_db

ROLES = ("anon", "owner", "other", "official", "admin")
LOGIN = "login"  # a 302 to /accounts/login/?next=<the URL>
MISSING = 2**40

# Data of Omsorg Norr AB that no one else may be shown.
OWNER_ORG = "Omsorg Norr AB"
SECRET = "Omsorg Norr internt: budget 4711"
SECRET_MAIL = "ekonomi@omsorg-norr.invalid"
REPORT_SECRET = "Omsorg Norr återrapport 0815"


def row(anon, owner, other, official, admin) -> dict[str, object]:
    return dict(zip(ROLES, (anon, owner, other, official, admin), strict=True))


SIGNED_IN_200 = row(LOGIN, 200, 200, 200, 200)
OFFICE_GET = row(LOGIN, 403, 403, 200, 200)
OFFICE_POST_ONLY_GET = row(LOGIN, 403, 403, 405, 405)

# URL name -> {"GET": row, "POST": row}. The object each URL names is in `url_objects`.
EXPECTED: dict[str, dict[str, dict[str, object]]] = {
    # ------------------------------------------------------------ the portal
    "portal:start": {"GET": SIGNED_IN_200},
    "portal:tasks": {"GET": SIGNED_IN_200},
    "portal:calls": {"GET": SIGNED_IN_200},
    "portal:call": {"GET": SIGNED_IN_200},
    # An empty POST names no organisation of the user's: back to the call with a message.
    "portal:apply": {"GET": row(LOGIN, 405, 405, 405, 405), "POST": row(LOGIN, 302, 302, 302, 302)},
    "portal:applications": {"GET": SIGNED_IN_200},
    # Omsorg Norr AB's draft.
    "portal:application": {"GET": row(LOGIN, 200, 404, 200, 200)},
    # An official may not change it: sent to the application with a message. To the owner an
    # empty POST is no form at all (`request.POST or None`): the form again, nothing saved.
    "portal:application_edit": {
        "GET": row(LOGIN, 200, 404, 302, 302),
        "POST": row(LOGIN, 200, 404, 302, 302),
    },
    "portal:application_review": {
        "GET": row(LOGIN, 200, 404, 200, 200),
        "POST": row(LOGIN, 302, 404, 302, 302),
    },
    "portal:application_withdraw": {
        "GET": row(LOGIN, 200, 404, 302, 302),
        "POST": row(LOGIN, 302, 404, 302, 302),
    },
    "portal:decisions": {"GET": SIGNED_IN_200},
    # Omsorg Norr AB's requisition: requisitioned, paid, reported and accepted.
    "portal:requisition": {
        "GET": row(LOGIN, 200, 404, 200, 200),
        "POST": row(LOGIN, 302, 404, 302, 302),
    },
    "portal:report": {
        "GET": row(LOGIN, 200, 404, 200, 200),
        "POST": row(LOGIN, 302, 404, 302, 302),
    },
    # The report is submitted: nothing is attached or removed any more (a message and a
    # redirect); an official acts for no organisation and changes nothing there either.
    "portal:attachment_add": {
        "GET": row(LOGIN, 405, 405, 405, 405),
        "POST": row(LOGIN, 302, 404, 302, 302),
    },
    "portal:attachment": {"GET": row(LOGIN, 200, 404, 200, 200)},
    "portal:attachment_remove": {
        "GET": row(LOGIN, 405, 405, 405, 405),
        "POST": row(LOGIN, 302, 404, 302, 302),
    },
    # The unit register: each provider its own units; one who acts for no organisation
    # is sent back to the (empty) list. An empty POST is no form at all: the form again.
    "portal:units": {"GET": SIGNED_IN_200},
    "portal:unit_new": {
        "GET": row(LOGIN, 200, 200, 302, 302),
        "POST": row(LOGIN, 200, 200, 302, 302),
    },
    # One of Omsorg Norr AB's units: an official reads it but changes nothing (a message and
    # a redirect); to the owner an empty POST is a form with errors.
    "portal:unit_edit": {
        "GET": row(LOGIN, 200, 404, 200, 200),
        "POST": row(LOGIN, 200, 404, 302, 302),
    },
    # ------------------------------------------------------------ the officials' pages
    "office:start": {"GET": OFFICE_GET},
    "office:grant": {"GET": OFFICE_GET},
    # An empty verification is shown again with its error; so is an import without a file.
    "office:facts": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "office:facts_import": {"GET": OFFICE_POST_ONLY_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "office:compute": {"GET": OFFICE_POST_ONLY_GET, "POST": row(LOGIN, 403, 403, 302, 302)},
    "office:calls": {"GET": OFFICE_GET},
    # An empty call form is shown again with its errors.
    "office:call_new": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "office:call": {"GET": OFFICE_GET},
    # The call is open: a GET, and a POST not confirmed, show what closing it means.
    "office:call_close": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "office:pot_review": {"GET": OFFICE_GET},
    # No application ticked: back to the list with a message.
    "office:bulk_review": {"GET": OFFICE_POST_ONLY_GET, "POST": row(LOGIN, 403, 403, 302, 302)},
    # Nothing waits to be redistributed (the claim is not repaid): the page says so.
    "office:redistribute": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "office:redistribute_confirm": {
        "GET": row(LOGIN, 403, 403, 302, 302),
        "POST": row(LOGIN, 403, 403, 302, 302),
    },
    # The imported ans-011, submitted; the grant is decided, so review is refused.
    "office:application": {"GET": OFFICE_GET},
    "office:review_application": {
        "GET": OFFICE_POST_ONLY_GET,
        "POST": row(LOGIN, 403, 403, 302, 302),
    },
    # The grant is decided: the unit's location is no longer confirmed here (a message).
    "office:confirm_location": {
        "GET": OFFICE_POST_ONLY_GET,
        "POST": row(LOGIN, 403, 403, 302, 302),
    },
    # The decided run: an empty decision form is shown again with its errors.
    "office:run": {"GET": OFFICE_GET},
    "office:run_units": {"GET": OFFICE_GET},
    # The run is decided: a GET is sent back to it; a POST is refused with the form again.
    "office:decide": {
        "GET": row(LOGIN, 403, 403, 302, 302),
        "POST": row(LOGIN, 403, 403, 200, 200),
    },
    "office:requisitions": {"GET": OFFICE_GET},
    # No requisition ticked: back to the list with a message.
    "office:remind": {"GET": OFFICE_POST_ONLY_GET, "POST": row(LOGIN, 403, 403, 302, 302)},
    "office:requisition": {"GET": OFFICE_GET},
    # Omsorg Norr AB's requisition is answered already: refused with a message.
    "office:answer_requisition": {
        "GET": OFFICE_POST_ONLY_GET,
        "POST": row(LOGIN, 403, 403, 302, 302),
    },
    # An empty invitation is the requisition's page again with the form's errors.
    "office:invite_recipient_user": {
        "GET": OFFICE_POST_ONLY_GET,
        "POST": row(LOGIN, 403, 403, 200, 200),
    },
    "office:record_payment": {
        "GET": OFFICE_POST_ONLY_GET,
        "POST": row(LOGIN, 403, 403, 200, 200),
    },
    # Part of the unspent money is still claimable: an empty claim form has errors.
    # A GET shows the claim form to confirm; an empty POST is that form with errors.
    "office:claim": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "office:claims": {"GET": OFFICE_GET},
    "office:claim_repaid": {"GET": OFFICE_POST_ONLY_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    # An empty repayment is refused with a message, back to the claims list.
    "office:claim_repayment": {
        "GET": OFFICE_POST_ONLY_GET,
        "POST": row(LOGIN, 403, 403, 302, 302),
    },
    # An empty claim account form is shown again with its errors.
    "office:claim_account": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "office:reports": {"GET": OFFICE_GET},
    "office:report": {"GET": OFFICE_GET},
    # The report is accepted already: reviewing it again is refused.
    "office:review_report": {
        "GET": OFFICE_POST_ONLY_GET,
        "POST": row(LOGIN, 403, 403, 302, 302),
    },
    # An invited user's valid link: the token moves into the session, for anyone.
    "office:invitation": {
        "GET": row(302, 302, 302, 302, 302),
        "POST": row(302, 302, 302, 302, 302),
    },
    # ------------------------------------------------------------ reporting: officials only,
    # but a provider's own letter and figures
    "reporting:grants": {"GET": OFFICE_GET},
    "reporting:dashboard": {"GET": OFFICE_GET},
    # An empty POST names no document: the page again with a message.
    "reporting:documents": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "reporting:needs": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    # Every decision text is optional: an empty POST saves (and the decided run keeps its own).
    "reporting:texts": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 302, 302)},
    "reporting:import-dataset": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "reporting:import-units": {"GET": OFFICE_GET, "POST": row(LOGIN, 403, 403, 200, 200)},
    "reporting:followup": {"GET": OFFICE_GET},
    "reporting:delegation": {"GET": OFFICE_GET},
    "reporting:registry": {"GET": OFFICE_GET},
    "reporting:provider-letter": {"GET": row(LOGIN, 200, 404, 200, 200)},
    "reporting:claim_letter": {"GET": row(LOGIN, 200, 404, 200, 200)},
    "reporting:provider-usage": {"GET": row(LOGIN, 200, 404, 200, 200)},
    # ------------------------------------------------------------ the ledger: home and jobs
    # Everyone signed in is sent where their work is.
    "allocations:home": {"GET": row(LOGIN, 302, 302, 302, 302)},
    # An export job of the decided grant, done, with a letter as its part.
    "allocations:job": {"GET": OFFICE_GET},
    "allocations:job-status": {"GET": OFFICE_GET},
    "allocations:download": {"GET": OFFICE_GET},
    "allocations:download-part": {"GET": OFFICE_GET},
    # The file has not expired: back to the job's page. Only a POST is looked at.
    "allocations:job-again": {
        "GET": row(LOGIN, 405, 405, 405, 405),
        "POST": row(LOGIN, 403, 403, 302, 302),
    },
    # ------------------------------------------------------------ signing in, language
    "login": {"GET": row(200, 200, 200, 200, 200), "POST": row(200, 200, 200, 200, 200)},
    "logout": {"GET": row(405, 405, 405, 405, 405), "POST": row(302, 302, 302, 302, 302)},
    "password_change": {"GET": SIGNED_IN_200, "POST": SIGNED_IN_200},
    "password_change_done": {"GET": SIGNED_IN_200},
    "password_reset": {"GET": row(200, 200, 200, 200, 200), "POST": row(200, 200, 200, 200, 200)},
    "password_reset_done": {"GET": row(200, 200, 200, 200, 200)},
    # A valid link: the token moves into the session and on to the form.
    "password_reset_confirm": {"GET": row(302, 302, 302, 302, 302)},
    "password_reset_complete": {"GET": row(200, 200, 200, 200, 200)},
    "set_language": {"GET": row(302, 302, 302, 302, 302), "POST": row(302, 302, 302, 302, 302)},
    # "Mitt konto": one's own account; an empty POST is no form at all, the page again.
    "account": {"GET": SIGNED_IN_200, "POST": SIGNED_IN_200},
    # The accessibility statement (tillgänglighetsredogörelse): public, like the law asks.
    "accessibility": {"GET": row(200, 200, 200, 200, 200)},
}

# Whoever these are refused must find the database as it was.
ALLOWED_TO_WRITE = {
    ("portal", "owner"),
    *((area, role) for area in ("office", "reporting", "allocations") for role in ROLES[3:]),
}


def application_patterns() -> dict[str, URLPattern]:
    """Every named URL the resolver knows, but Django's own admin's."""
    found: dict[str, URLPattern] = {}

    def walk(patterns, namespaces: tuple[str, ...]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                extra = (pattern.namespace,) if pattern.namespace else ()
                walk(pattern.url_patterns, namespaces + extra)
            else:
                assert pattern.name, f"an unnamed URL: {pattern.pattern}"
                found[":".join((*namespaces, pattern.name))] = pattern

    walk(get_resolver().url_patterns, ())
    return found


def test_every_url_of_every_app_has_a_row():
    patterns = application_patterns()
    declared = {f"portal:{p.name}" for p in portal_urls.urlpatterns}
    declared |= {f"office:{p.name}" for p in office_urls.urlpatterns}
    declared |= {f"reporting:{p.name}" for p in reporting_urls.urlpatterns}
    declared |= {f"allocations:{p.name}" for p in allocations_urls.urlpatterns}
    assert declared <= set(patterns), "a URL module is not mounted under its namespace"
    assert set(patterns) == set(EXPECTED), {
        "without a row": sorted(set(patterns) - set(EXPECTED)),
        "row without a URL": sorted(set(EXPECTED) - set(patterns)),
    }
    for name, methods in EXPECTED.items():
        assert "GET" in methods, name
        assert set(methods) <= {"GET", "POST"}, name
        for expected in methods.values():
            assert set(expected) == set(ROLES), name
        # A view that takes only a POST must say what a POST gets.
        if 405 in methods["GET"].values():
            assert "POST" in methods, name


# ---------------------------------------------------------------- the world


def make_user(name: str, *, org: Organisation | None = None, official=False, admin=False) -> User:
    user = User.objects.create_user(name, f"{name}@example.invalid", "x", is_superuser=admin)
    if official:
        user.user_permissions.add(*Permission.objects.filter(codename__in=OFFICIAL_CODENAMES))
    if org is not None:
        Membership.objects.create(user=user, organisation=org)
    return user


@pytest.fixture
def world(import_seed, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    grant = import_seed(SEED_000)
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    owner_org = Organisation.objects.get(slug="omsorg-norr-ab")
    other_org = Organisation.objects.get(slug="vardhem-syd-ab")
    users = {
        "owner": make_user("norr", org=owner_org),
        "other": make_user("syd", org=other_org),
        "official": make_user("handlaggare", official=True),
        "admin": make_user("admin", admin=True),
    }
    official, owner = users["official"], users["owner"]
    today = timezone.localdate()
    fit_agreement(grant, report_by=today + timedelta(days=365))  # the call is open today
    call = services.open_call(
        pot=pot,
        title="Intresseanmälan särskilda boenden",
        opens_on=today - timedelta(days=1),
        closes_on=today + timedelta(days=30),
        actor=official,
    )
    draft = owner_draft(
        call=call,
        organisation=owner_org,
        actor=owner,
        intended_use=SECRET,
        contact_name="Nils Norr",
        contact_email=SECRET_MAIL,
        contact_phone="",
    )
    # Vårdhem Syd AB has a draft too, so that its own lists are not simply empty.
    services.start_application(call=call, organisation=other_org, actor=users["other"], today=today)
    submitted = Application.objects.get(grant=grant, slug="ans-011")
    played = played_on(
        grant=grant,
        pot=pot,
        call=call,
        owner_org=owner_org,
        owner=owner,
        official=official,
        draft=draft,
        submitted=submitted,
        achievements=REPORT_SECRET,
    )
    objects, invitation = played["objects"], played["invitation"]
    markers = [OWNER_ORG, SECRET, SECRET_MAIL, REPORT_SECRET, draft.slug, "ans-010", "ans-011"]
    return users, objects, invitation, markers


def url_kwargs(name: str, pattern: URLPattern, objects: dict, invitation: dict, pk=None) -> dict:
    converters = set(pattern.pattern.converters)
    if not converters:
        return {}
    if converters == {"uidb64", "token"}:
        return objects.get(name, invitation)
    short = name.split(":")[-1]
    if "pk" not in converters:  # reporting names its objects by slug
        kwargs = {key: objects[key] for key in converters}
        if pk is not None:
            kwargs[next(iter(sorted(converters & {"slug", "run_id"})))] = (
                "no-such-grant" if "slug" in converters else pk
            )
        return kwargs
    kwargs = {"pk": pk if pk is not None else objects.get(name, objects.get(short))}
    if converters == {"pk", "unit_pk"}:  # a unit of the application the URL names
        kwargs["unit_pk"] = objects[f"{short}:unit_pk"]
    elif converters == {"pk", "position"}:  # a letter of a batch
        kwargs["position"] = 1
    else:
        assert converters == {"pk"}, (name, converters)
    return kwargs


def snapshot() -> tuple:
    """What any refused request must leave as it was."""
    return (
        AuditEntry.objects.count(),
        list(Application.objects.order_by("pk").values_list("status", "intended_use")),
        ApplicationUnit.objects.count(),
        list(Call.objects.order_by("pk").values_list("opens_on", "closes_on")),
        list(AllocationRun.objects.order_by("pk").values_list("decided_on", flat=True)),
        list(Requisition.objects.order_by("pk").values_list("status", "amount")),
        list(Payment.objects.order_by("pk").values_list("amount", flat=True)),
        list(RepaymentClaim.objects.order_by("pk").values_list("amount", "paid_on")),
        list(UsageReport.objects.order_by("pk").values_list("status", flat=True)),
        list(UsageLine.objects.order_by("pk").values_list("amount", flat=True)),
        list(ReportAttachment.objects.order_by("pk").values_list("name", flat=True)),
        list(ClaimRepayment.objects.order_by("pk").values_list("amount", flat=True)),
        list(User.objects.order_by("pk").values_list("password", flat=True)),
        list(Unit.objects.order_by("pk").values_list("organisation_id", "name", "places")),
    )


def client_for(role: str, users: dict) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if role != "anon":
        client.force_login(users[role])
    return client


def outcome(response, url: str):
    """The status, with a redirect to the sign-in page told apart from any other."""
    if response.status_code == 302 and response.url.startswith(f"{reverse('login')}?next="):
        assert response.url == f"{reverse('login')}?next={url}", response.url
        return LOGIN
    return response.status_code


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_the_matrix_says(world, role):
    users, objects, invitation, markers = world
    client = client_for(role, users)
    patterns = application_patterns()
    wrong, leaks, seen = [], [], set()
    for name, pattern in sorted(patterns.items()):
        url = reverse(name, kwargs=url_kwargs(name, pattern, objects, invitation))
        for method, expected in EXPECTED[name].items():
            # Each request starts from the same state, whatever the one before it did.
            with transaction.atomic():
                before = snapshot()
                response = getattr(client, method.lower())(url)
                got = outcome(response, url)
                if (name.split(":")[0], role) not in ALLOWED_TO_WRITE:
                    assert snapshot() == before, f"{role} {method} {url} wrote"
                transaction.set_rollback(True)
            if name == "logout" and role != "anon":
                client.force_login(users[role])  # signed out: sign in again for the next URL
            if got != expected[role]:
                wrong.append(f"{method} {name} ({url}): expected {expected[role]}, got {got}")
            content = (
                b"".join(response.streaming_content) if response.streaming else response.content
            )
            body = content.decode(errors="replace")
            seen |= {m for m in markers if m in body}
            if role in ("anon", "other"):
                leaks += [f"{method} {name}: {m!r}" for m in markers if m in body]
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)
    if role == "owner":
        assert seen == set(markers)  # the owner is shown every one: they are real data


@pytest.mark.parametrize("role", ["anon", "other"])
def test_an_id_that_does_not_exist_is_refused_like_one_not_theirs(world, role):
    """No one learns from the status which ids exist in another organisation."""
    users, objects, invitation, _markers = world
    client = client_for(role, users)
    checked = 0
    for name, pattern in sorted(application_patterns().items()):
        if set(pattern.pattern.converters) != {"pk"}:
            continue
        missing = reverse(name, kwargs=url_kwargs(name, pattern, objects, invitation, MISSING))
        for method, expected in EXPECTED[name].items():
            if expected[role] not in (LOGIN, 403, 404):
                continue  # not one of Omsorg Norr AB's objects, to this role
            with transaction.atomic():
                got = outcome(getattr(client, method.lower())(missing), missing)
                transaction.set_rollback(True)
            assert got == expected[role], (method, name, missing)
            checked += 1
    assert checked >= 30


def test_being_staff_alone_makes_nobody_an_official(world):
    _users, objects, invitation, _markers = world
    staff = User.objects.create_user("personal", "personal@example.invalid", "x", is_staff=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    checked = 0
    for name, pattern in sorted(application_patterns().items()):
        if EXPECTED[name]["GET"] != OFFICE_GET:
            continue  # not a page for officials only
        url = reverse(name, kwargs=url_kwargs(name, pattern, objects, invitation))
        assert client.get(url).status_code == 403, name
        checked += 1
    assert checked >= 25
