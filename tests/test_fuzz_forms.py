"""Every form of the portal and the officials' pages, posted random data by Hypothesis.

Random text (NUL bytes, 20 000 characters, markup), numbers far past any integer column,
negative and fractional amounts, malformed dates, lists where one value is expected, JSON
and url-encoded bodies, tampered hidden fields (status, organisation, amount …) and the ids
of another organisation's units, uses, requisitions and applications.

Whatever is posted: never a 500; a post the view shows again with errors (200) or refuses
outright (403, 404, 405) writes nothing at all; one it refuses with a message and a
redirect leaves what it named as it was (checked form by form); and after any post the
books balance (`books_balance`: payments never above the requisition, amounts by heading
adding up, usage never above what was paid, units and headings of the applicant's own
grant, …). Each example runs in a savepoint rolled back afterwards, so every example
starts from the same state; explicit examples make sure that every form's accepting path
and a refusal are taken in every run (`Fuzz.saw_both`).

`STIMULANS_FUZZ_EXAMPLES` (default 20) sets the examples per form, for a longer run.
"""

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F, Q, Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from allocations.grantfile import MAX_KRONOR
from allocations.models import (
    Agreement,
    AllocationRow,
    AllocationRun,
    AuditEntry,
    GrantUnit,
    Organisation,
    PermittedUse,
    Pot,
    Unit,
)
from allocations.services import compute_grant
from applications import services
from applications.forms.portal import MAX_COUNT
from applications.invitations import invitation_tokens
from applications.models import (
    SCREENING_FIELDS,
    Application,
    ApplicationStatus,
    ApplicationUnit,
    ApplicationUse,
    Call,
    ClaimDisposition,
    Membership,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionLine,
    RequisitionStatus,
    UsageLine,
    UsageReport,
    payment_account_problem,
)
from applications.services import UnitChoice
from applications.services.facts import SENT

from .conftest import SEED_000, SEED_003, fit_agreement
from .factories import official_user

pytestmark = pytest.mark.django_db

FUZZ = hypothesis_settings(
    max_examples=int(os.environ.get("STIMULANS_FUZZ_EXAMPLES", "20")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ---------------------------------------------------------------- what is posted

# A well-formed address longer than an e-mail column (254) but within what a form accepts.
LONG_EMAIL = "a" * 300 + "@example.invalid"
JUNK_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("\x00\t\n -–0123456789kr,.eE+\u00a0"), max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "x" * 301,
            "å" * 20_001,
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "💶",
            "\u202e",
            LONG_EMAIL,
        ]
    ),
)
NUMBER = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(
        [
            "-1",
            "0",
            "1e9",
            "NaN",
            "inf",
            "-0",
            "1.5",
            "1,5",
            "12 000 kr",
            "12\u00a0000\u00a0kr",
            "１２",
            "0x10",
            str(2**63),
            str(2**64),
            str(-(2**63) - 1),
            str(MAX_KRONOR + 1),
        ]
    ),
    st.floats().map(str),
)
DATE = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(
        ["0000-00-00", "2020-02-30", "9999-12-31", "0001-01-01", "2020-1-1", "01/02/2020", "-1"]
    ),
)
JUNK = st.one_of(JUNK_TEXT, NUMBER, DATE)
TAMPERED = (
    "status",
    "organisation",
    "organisation_id",
    "slug",
    "granted_amount",
    "amount",
    "paid",
    "unspent",
    "call",
    "pot",
    "grant",
    "requisition",
    "created_by",
    "reviewed_by",
    "is_superuser",
    "pk",
    "id",
    "decided_on",
    "disposition",
    "reason",
)


def posted(*valid: dict, ids: tuple = ()) -> st.SearchStrategy:
    """One of the `valid` posts, with some fields spoiled and some hidden fields added.

    A spoiled field is dropped, given junk, posted several times, or given the id of
    something the user must not reach (`ids`: another organisation's unit, use, …). Often
    nothing is spoiled, so the accepting path is fuzzed too (with tampered extras).
    """
    foreign = st.sampled_from([str(i) for i in ids] or ["0"])
    hostile = st.one_of(JUNK, foreign)

    @st.composite
    def build(draw) -> dict:
        data = dict(draw(st.sampled_from(valid)))
        for key in draw(st.lists(st.sampled_from(sorted(data) or ["-"]), unique=True, max_size=4)):
            how = draw(st.sampled_from(["drop", "junk", "many", "foreign"]))
            if how == "drop":
                data.pop(key, None)
            elif how == "junk":
                data[key] = draw(JUNK)
            elif how == "many":
                data[key] = draw(st.lists(hostile, max_size=4))
            elif isinstance(data.get(key), list):
                data[key] = [*data[key], draw(foreign)]
            else:
                data[key] = draw(foreign)
        extra = draw(st.dictionaries(st.sampled_from(TAMPERED), hostile, max_size=3))
        data.update({k: v for k, v in extra.items() if k not in data})
        return data

    return build()


ENCODINGS = st.sampled_from(["multipart", "multipart", "urlencoded", "json"])


def post(client: Client, url: str, data: dict, encoding: str):
    if encoding == "urlencoded":
        body = urlencode(data, doseq=True)
        return client.post(url, body, content_type="application/x-www-form-urlencoded")
    if encoding == "json":
        return client.post(url, json.dumps(data), content_type="application/json")
    return client.post(url, data)


# ---------------------------------------------------------------- what must hold


# An application unit's own fields; its stored verdict is left out (see `snapshot`).
UNIT_KEPT = [
    f.attname for f in ApplicationUnit._meta.concrete_fields if f.name not in SCREENING_FIELDS
]


def snapshot() -> dict:
    """Everything a refused post must leave as it was."""
    models = (
        Application,
        ApplicationUnit,
        ApplicationUse,
        Call,
        AllocationRun,
        Requisition,
        RequisitionLine,
        Payment,
        UsageReport,
        UsageLine,
        RepaymentClaim,
        GrantUnit,
        Unit,
    )
    state = {m.__name__: list(m.objects.order_by("pk").values_list()) for m in models}
    # A unit's stored verdict is derived data a page may fill in when stale; what it is
    # derived from (the unit's figures) is compared above it.
    state["ApplicationUnit"] = list(ApplicationUnit.objects.order_by("pk").values_list(*UNIT_KEPT))
    state["rows"] = AllocationRow.objects.count()
    state["audit"] = AuditEntry.objects.count()
    state["passwords"] = list(User.objects.order_by("pk").values_list("password", flat=True))
    return state


def sums(model, key: str) -> dict[int, int]:
    return dict(model.objects.values_list(key).annotate(t=Sum("amount")).order_by())


def books_balance() -> None:
    """What holds after any post, accepted or not (in a fixed number of queries)."""
    paid, claimed = sums(Payment, "requisition"), sums(RepaymentClaim, "requisition")
    planned, used = sums(RequisitionLine, "requisition"), sums(UsageLine, "report")
    for req in Requisition.objects.all():
        assert 0 <= paid.get(req.pk, 0) <= req.amount, req
        assert claimed.get(req.pk, 0) <= req.amount, req
        if req.status == RequisitionStatus.ACCEPTED:
            assert planned.get(req.pk, 0) == req.amount, req
            assert payment_account_problem(req.payment_method, req.payment_account) is None
        else:
            assert req.pk not in paid, req
            assert req.pk not in planned, req
        if req.status == RequisitionStatus.DECLINED and req.answered_by_id:
            assert req.decline_reason.strip(), req
    for report in UsageReport.objects.all():
        assert used.get(report.pk, 0) <= paid.get(report.requisition_id, 0), report
        if report.status in (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED):
            assert report.achievements.strip(), report
            assert report.benefit.strip(), report
    for model in (Payment, RequisitionLine, RepaymentClaim, UsageLine):
        assert not model.objects.filter(amount__lte=0).exists(), model
    assert set(RepaymentClaim.objects.values_list("disposition", flat=True)) <= set(
        ClaimDisposition.values
    )
    # Headings of the grant's own agreement only; units of the applicant in the same grant.
    agreement = "requisition__run__grant__agreement"
    assert not RequisitionLine.objects.exclude(use__agreement=F(agreement)).exists()
    assert not UsageLine.objects.exclude(use__agreement=F(f"report__{agreement}")).exists()
    assert not ApplicationUse.objects.exclude(
        use__agreement=F("application__grant__agreement")
    ).exists()
    assert not ApplicationUnit.objects.filter(
        ~Q(grant_unit__grant=F("application__grant"))
        | ~Q(grant_unit__organisation=F("application__organisation"))
        | Q(places__gt=MAX_COUNT)
        | Q(customers__gt=MAX_COUNT)
    ).exists()
    for app in Application.objects.filter(status=ApplicationStatus.REJECTED):
        assert app.status_reason.strip(), app
    for run in AllocationRun.objects.filter(decided_on__isnull=False):
        reqs = run.requisitions.aggregate(t=Sum("amount"))["t"]
        assert reqs is None or reqs == run.allocated(), run
    assert not Call.objects.filter(closes_on__lt=F("opens_on")).exists()


def redirected(response) -> bool:
    """A post is accepted by a redirect, unless the form says otherwise (`Fuzz.attempt`)."""
    return response.status_code == 302


def check(response, before: dict, accepted=redirected) -> None:
    """No 500; a post shown again with errors, or refused outright, wrote nothing."""
    assert response.status_code in (200, 302, 403, 404, 405), response.status_code
    if not accepted(response):
        assert snapshot() == before, f"a {response.status_code} wrote"
    books_balance()


@dataclass
class Attempt:
    response: object
    before: dict


class Fuzz:
    """Posts as one user, each in a savepoint rolled back afterwards; remembers what came of it."""

    def __init__(self, user: User | None):
        self.client = Client(HTTP_ACCEPT_LANGUAGE="en")
        if user is not None:
            self.client.force_login(user)
        self.outcomes: set[tuple[int, bool]] = set()

    @contextmanager
    def attempt(self, url: str, data: dict, encoding: str, accepted=redirected):
        """`accepted` tells an accepted post from a refused one, for a form that answers an
        accepted post with a page of its own (an import's report) rather than a redirect."""
        with transaction.atomic():
            before = snapshot()
            try:
                response = post(self.client, url, data, encoding)
                check(response, before, accepted)
                status = 302 if accepted(response) else response.status_code
                self.outcomes.add((status, snapshot() != before))
                yield Attempt(response, before)
            finally:
                transaction.set_rollback(True)

    def saw_both(self) -> None:
        """The accepting path was taken and checked, and so was a refusal."""
        assert (302, True) in self.outcomes, self.outcomes
        assert any(not wrote for _status, wrote in self.outcomes), self.outcomes


def _row(obj):
    return type(obj).objects.filter(pk=obj.pk).values_list().first()


def _row_in(before: dict, obj):
    return next((r for r in before[type(obj).__name__] if r[0] == obj.pk), None)


# ---------------------------------------------------------------- the world


def new_unit(grant, org, slug: str, places: int) -> GrantUnit:
    unit = Unit.objects.create(
        slug=slug, name=f"Hemmet {slug}", type="care_home", organisation=org, places=places
    )
    return GrantUnit.objects.create(
        grant=grant,
        unit=unit,
        type="care_home",
        organisation=org,
        places=places,
        in_city=True,
        city_placed_share=Decimal("1"),
    )


class World:
    """Seed 000 with an open call; owner acts for Omsorg Norr AB (A) and Trygg Äldrevård AB (C),
    other for Vårdhem Syd AB (B)."""

    def __init__(self, import_seed):
        self.grant = import_seed(SEED_000)
        self.pot = Pot.objects.get(grant=self.grant, slug="sarskilda-boenden")
        org = Organisation.objects.get
        self.a, self.b = org(slug="omsorg-norr-ab"), org(slug="vardhem-syd-ab")
        self.c = org(slug="trygg-aldrevard-ab")
        self.official = official_user()
        self.owner = User.objects.create_user("norr", "norr@example.invalid", "x")
        Membership.objects.create(user=self.owner, organisation=self.a)
        Membership.objects.create(user=self.owner, organisation=self.c)
        self.other = User.objects.create_user("syd", "syd@example.invalid", "x")
        Membership.objects.create(user=self.other, organisation=self.b)
        self.today = timezone.localdate()
        # The call is open today; the agreement's dates lie after it.
        fit_agreement(self.grant, report_by=self.today + timedelta(days=365))
        self.call = services.open_call(
            pot=self.pot,
            title="Intresseanmälan",
            opens_on=self.today - timedelta(days=1),
            closes_on=self.today + timedelta(days=30),
            actor=self.official,
        )
        self.uses = list(PermittedUse.objects.filter(agreement=self.grant.agreement))
        elsewhere = Agreement.objects.create(title="En annan överenskommelse", year=2021)
        self.foreign_use = PermittedUse.objects.create(agreement=elsewhere, code="annat", label="x")
        self.unit_a = new_unit(self.grant, self.a, "vob-900", 50)
        self.unit_b = new_unit(self.grant, self.b, "vob-901", 40)
        self.taken_a = GrantUnit.objects.get(grant=self.grant, unit__slug="vob-013")  # ans-010
        self.draft_a = self.draft(self.a, self.owner, self.unit_a)
        self.draft_b = self.draft(self.b, self.other, self.unit_b)
        apps = Application.objects.filter(grant=self.grant)
        self.approved_a = apps.get(slug="ans-010")
        self.submitted_a = apps.get(slug="ans-011")
        self.submitted_b = apps.get(slug="ans-021")

    def draft(self, org, user, unit) -> Application:
        app = services.start_application(
            call=self.call, organisation=org, actor=user, today=self.today
        )
        return services.save_draft(
            app=app,
            units=[UnitChoice(unit, places=unit.places)],
            uses=self.uses[:2],
            intended_use="Kompetensutveckling.",
            contact_name="Kontakt",
            contact_email="kontakt@example.invalid",
            contact_phone="",
            payment_method="bankgiro",
            payment_account="5050-1055",
            will_report=True,
            actor=user,
        )

    def decide(self) -> None:
        """Decide the grant and bring requisitions into every state a form starts from.

        A (Omsorg Norr) and B (Vårdhem Syd): awaiting an answer. C (Trygg): requisitioned and
        paid, its report a draft. D (Ljusgården): paid, report accepted, 50 000 kr unused of
        which 10 000 kr is claimed back, repaid and waits to be redistributed. E (Hemtjänst
        Direkt): paid, report accepted, 20 000 kr claimed back and not yet repaid. F (Nära
        Omsorg): its report submitted. G (Socialförvaltningen): 400 000 of 1 000 000 kr paid.
        """
        self.run = compute_grant(grant_id=self.grant.pk, actor=self.official)
        services.decide(
            run=self.run,
            decided_on=self.today - timedelta(days=2),  # the round before the open call
            decided_by="Förvaltningschef",
            delegation="",
            reference="ÄN 2020/55",
            requisition_by=self.today + timedelta(days=14),
            actor=self.official,
        )
        reqs = self.run.requisitions
        self.req_a = reqs.get(organisation=self.a, pot=self.pot)
        self.req_b = reqs.get(organisation=self.b, pot=self.pot)
        self.req_c = self.paid(reqs.get(organisation=self.c, pot=self.pot))
        self.report_c = services.report_for(self.req_c)
        services.save_report(
            report=self.report_c,
            lines={self.uses[0]: 1_000},
            achievements="",
            benefit="",
            actor=self.owner,
        )
        self.req_d = self.paid(reqs.get(organisation__slug="stiftelsen-ljusgarden"))
        self.reported(self.req_d, unused=50_000, accept=True)
        waiting = self.claim(self.req_d, 10_000, ClaimDisposition.REDISTRIBUTE)
        services.mark_claim_repaid(claim=waiting, paid_on=self.today, actor=self.official)
        self.settled = waiting
        self.req_e = self.paid(reqs.get(organisation__slug="hemtjanst-direkt-ab"))
        self.reported(self.req_e, unused=20_000, accept=True)
        self.outstanding = self.claim(self.req_e, 20_000, ClaimDisposition.RETURN_TO_STATE)
        self.req_f = self.paid(reqs.get(organisation__slug="nara-omsorg-ab"))
        self.report_f = self.reported(self.req_f, unused=0, accept=False)
        self.req_g = self.paid(reqs.get(organisation__slug="socialforvaltningen"), 400_000)

    def paid(self, req: Requisition, amount: int | None = None) -> Requisition:
        services.accept_requisition(
            req=req,
            payment_method="plusgiro",
            payment_account="902001-7",
            lines={self.uses[0]: req.amount},
            actor=self.official,
        )
        services.record_payment(
            req=req,
            paid_on=self.today,
            amount=amount or req.amount,
            reference="VER-1",
            actor=self.official,
        )
        req.refresh_from_db()
        return req

    def reported(self, req: Requisition, *, unused: int, accept: bool) -> UsageReport:
        report = services.report_for(req)
        services.save_report(
            report=report,
            lines={self.uses[1]: req.amount - unused},
            achievements="Utbildning.",
            benefit="Trygghet.",
            actor=self.official,
        )
        services.submit_report(report=report, actor=self.official)
        if accept:
            services.review_report(report=report, accept=True, comment="", actor=self.official)
        return report

    def claim(self, req: Requisition, amount: int, disposition: str) -> RepaymentClaim:
        return services.claim_repayment(
            req=req,
            amount=amount,
            due_on=self.today + timedelta(days=30),
            disposition=disposition,
            today=self.today,
            actor=self.official,
        )


@pytest.fixture
def world(import_seed) -> World:
    return World(import_seed)


@pytest.fixture
def decided(world) -> World:
    world.decide()
    return world


def ids(*objects) -> tuple[int, ...]:
    return tuple(o.pk for o in objects)


def pk_of(*objects) -> st.SearchStrategy:
    """Mostly one of these objects' ids, sometimes a made-up one."""
    known = st.sampled_from([o.pk for o in objects])
    return st.one_of(known, known, known, st.integers(min_value=0, max_value=10**30))


def new_rows(model, before: dict):
    return model.objects.exclude(pk__in=[r[0] for r in before[model.__name__]])


# ---------------------------------------------------------------- the portal


def test_apply(world):
    fuzz = Fuzz(world.owner)
    url = reverse("portal:apply", args=[world.call.pk])
    valid = {"organisation": str(world.c.pk)}  # the user's organisation without a draft yet

    @FUZZ
    @given(posted(valid, ids=ids(world.a, world.b)), ENCODINGS)
    @example(valid, "multipart")
    @example({"organisation": str(world.b.pk)}, "multipart")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            new = new_rows(Application, a.before)
            assert new.count() <= 1
            for app in new:
                assert (app.organisation, app.call, app.status) == (
                    world.c,
                    world.call,
                    ApplicationStatus.DRAFT,
                )

    run()
    fuzz.saw_both()


def test_confirm_location(world):
    """The official confirms where a unit of an application lies (one unit's verification):
    only that unit, within 0–100 %, a change of what was stated only with a reason."""
    fuzz = Fuzz(world.official)
    app = world.submitted_a
    gu = app.units.first()
    url = reverse("office:confirm_location", args=[app.pk, gu.pk])
    prefix = f"unit-{gu.pk}-"
    stated = services.stated_facts(ApplicationUnit.objects.get(application=app, grant_unit=gu))
    as_stated = {
        f"{prefix}in_city": "on" if stated.in_city else "",
        f"{prefix}city_placed_percent": format((stated.city_placed_share * 100).normalize(), "f"),
    }
    valid = [
        as_stated,
        {f"{prefix}in_city": "on", f"{prefix}city_placed_percent": "92,5", f"{prefix}reason": "x"},
        {f"{prefix}city_placed_percent": "40", f"{prefix}reason": "Placeringsregistret."},
    ]

    @FUZZ
    @given(posted(*valid, ids=ids(world.unit_b, world.unit_a)), ENCODINGS)
    @example(as_stated, "multipart")
    @example({**valid[1], f"{prefix}reason": " "}, "multipart")
    @example({**valid[1], f"{prefix}city_placed_percent": "100.01"}, "multipart")
    @example({**valid[1], "grant_unit": str(world.unit_b.pk)}, "urlencoded")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            for other in (world.unit_a, world.unit_b):
                assert _row(other) == _row_in(a.before, other)
            now = GrantUnit.objects.get(pk=gu.pk)
            assert 0 <= now.city_placed_share <= 1
            link = ApplicationUnit.objects.get(application=app, grant_unit=gu)
            if a.response.status_code == 302:
                assert link.verified_by == world.official
                if (now.in_city, now.city_placed_share) != (
                    stated.in_city,
                    stated.city_placed_share,
                ):
                    assert link.verification_note.strip()

    run()
    fuzz.saw_both()


def test_unit_new(world):
    """A provider registers a unit only for its own organisations; nothing half-written."""
    fuzz = Fuzz(world.owner)
    url = reverse("portal:unit_new")
    valid = [
        {
            "organisation": str(world.a.pk),
            "name": "Solgläntan",
            "type": "care_home",
            "places": "40",
            "customers": "",
        },
        {
            "organisation": str(world.c.pk),
            "name": "Hemtjänsten Norr",
            "type": "home_care",
            "places": "",
            "customers": "120",
        },
    ]

    @FUZZ
    @given(posted(*valid, ids=ids(world.b, world.unit_b.unit)), ENCODINGS)
    @example({**valid[0], "organisation": str(world.b.pk)}, "multipart")
    @example({**valid[0], "places": str(MAX_COUNT + 1)}, "urlencoded")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            new = Unit.objects.exclude(pk__in=[r[0] for r in a.before["Unit"]])
            assert new.count() <= 1
            for unit in new:
                assert unit.organisation_id in (world.a.pk, world.c.pk)
                assert unit.name.strip()
                assert (unit.places or 0) <= MAX_COUNT
                assert (unit.customers or 0) <= MAX_COUNT
                assert not unit.grant_figures.exists()  # the register only; no grant changes

    run()
    fuzz.saw_both()


def test_unit_edit(world):
    """A provider changes its own unit's figures; never its organisation, never a grant's."""
    fuzz = Fuzz(world.owner)
    unit = world.unit_a.unit
    url = reverse("portal:unit_edit", args=[unit.pk])
    valid = {"name": "Hemmet i norr", "type": "care_home", "places": "55", "customers": ""}

    @FUZZ
    @given(posted(valid, ids=ids(world.b, world.unit_b.unit)), ENCODINGS)
    @example({**valid, "organisation": str(world.b.pk)}, "multipart")
    @example({**valid, "pk": str(world.unit_b.unit.pk)}, "urlencoded")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            now = Unit.objects.get(pk=unit.pk)
            assert now.organisation_id == world.a.pk
            assert now.slug == unit.slug
            assert _row(world.unit_b.unit) == _row_in(a.before, world.unit_b.unit)
            assert list(GrantUnit.objects.order_by("pk").values_list()) == a.before["GrantUnit"]

    run()
    fuzz.saw_both()


def test_application_edit(world):
    fuzz = Fuzz(world.owner)
    url = reverse("portal:application_edit", args=[world.draft_a.pk])
    unit = world.unit_a
    valid = {
        "units": [str(unit.pk)],
        f"places_{unit.pk}": "52",
        f"customers_{unit.pk}": "",
        "uses": [str(world.uses[0].pk), str(world.uses[2].pk)],
        "intended_use": "Kompetensutveckling för undersköterskor.",
        "contact_name": "Anna Andersson",
        "contact_email": "anna@example.invalid",
        "contact_phone": "08-123 456",
        "payment_method": "plusgiro",
        "payment_account": "902001-7",
        "will_report": "on",
        "declare_facts": "on",
        "review": "1",
    }
    foreign = ids(world.unit_b, world.taken_a, world.foreign_use, world.b, world.draft_b)

    @FUZZ
    @given(posted(valid, ids=foreign), ENCODINGS)
    @example({**valid, "status": "approved", "organisation": str(world.b.pk)}, "multipart")
    @example({**valid, "units": [str(unit.pk), str(world.unit_b.pk)]}, "multipart")
    @example({**valid, "uses": [str(world.foreign_use.pk)]}, "urlencoded")
    @example({**valid, "contact_email": LONG_EMAIL}, "multipart")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            app = Application.objects.get(pk=world.draft_a.pk)
            assert (app.status, app.organisation, app.call, app.slug) == (
                ApplicationStatus.DRAFT,
                world.a,
                world.call,
                world.draft_a.slug,
            )
            assert app.granted_amount is None  # nothing of the official's can be posted
            assert app.requested_amount is None  # a per-unit pot asks for no amount
            assert set(app.units.all()) <= {unit}
            others = ApplicationUnit.objects.exclude(application=app).order_by("pk")
            assert list(others.values_list(*UNIT_KEPT)) == [
                r for r in a.before["ApplicationUnit"] if r[1] != app.pk
            ]

    run()
    fuzz.saw_both()


def test_application_review_submits_only_the_users_complete_draft(world):
    fuzz = Fuzz(world.owner)
    theirs = (world.draft_b, world.approved_a)

    @FUZZ
    @given(pk_of(world.draft_a, *theirs), posted({}, ids=ids(world.b)), ENCODINGS)
    @example(world.draft_a.pk, {"status": "approved"}, "multipart")
    @example(world.draft_b.pk, {}, "multipart")
    def run(pk, data, encoding):
        url = reverse("portal:application_review", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            app = Application.objects.get(pk=world.draft_a.pk)
            if app.status != ApplicationStatus.DRAFT:
                assert pk == app.pk
                assert (app.status, app.organisation) == (ApplicationStatus.SUBMITTED, world.a)
                assert app.unit_reasons == {}
            for other in theirs:
                assert _row(other) == _row_in(a.before, other)

    run()
    fuzz.saw_both()


def test_application_withdraw_only_the_users_draft_or_submitted(world):
    fuzz = Fuzz(world.owner)
    mine = (world.draft_a, world.submitted_a)
    theirs = (world.draft_b, world.submitted_b, world.approved_a)  # B's, or approved already

    @FUZZ
    @given(pk_of(*mine, *theirs), posted({"confirm": "1"}, ids=ids(*theirs)), ENCODINGS)
    @example(world.submitted_a.pk, {}, "multipart")
    @example(world.approved_a.pk, {}, "multipart")
    def run(pk, data, encoding):
        url = reverse("portal:application_withdraw", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            for app in theirs:
                assert _row(app) == _row_in(a.before, app)
            for app in mine:
                status = Application.objects.get(pk=app.pk).status
                assert status == (ApplicationStatus.WITHDRAWN if pk == app.pk else app.status)

    run()
    fuzz.saw_both()


def test_requisition_accept_and_decline(decided):
    w = decided
    fuzz = Fuzz(w.owner)
    amount = w.req_a.amount
    accept = {
        "action": "accept",
        "payment_method": "bankgiro",
        "payment_account": "5050-1055",
        f"use_{w.uses[0].pk}": f"{amount // 3:,} kr".replace(",", " "),
        f"use_{w.uses[1].pk}": str(amount - amount // 3),
    }
    decline = {"action": "decline", "decline_reason": "Vi avstår i år."}
    foreign = ids(w.b, w.req_b, w.foreign_use)

    @FUZZ
    @given(pk_of(w.req_a, w.req_b), posted(accept, decline, ids=foreign), ENCODINGS)
    @example(w.req_a.pk, {**accept, "amount": "1", "status": "declined"}, "multipart")
    @example(w.req_a.pk, {**accept, f"use_{w.foreign_use.pk}": "1"}, "multipart")
    @example(w.req_a.pk, {**accept, f"use_{w.uses[1].pk}": "-1"}, "multipart")
    @example(w.req_b.pk, decline, "multipart")
    def run(pk, data, encoding):
        url = reverse("portal:requisition", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            assert _row(w.req_b) == _row_in(a.before, w.req_b)
            req = Requisition.objects.get(pk=w.req_a.pk)
            assert (req.amount, req.organisation, req.pot) == (amount, w.a, w.pot)
            if req.status == RequisitionStatus.PENDING:
                assert not req.lines.exists()
                assert req.answered_at is None
            else:
                assert req.answered_by == w.owner

    run()
    fuzz.saw_both()


def test_usage_report(decided):
    w = decided
    fuzz = Fuzz(w.owner)
    paid = w.req_c.amount
    save = {f"use_{w.uses[0].pk}": "1 000", f"use_{w.uses[1].pk}": "", "save": "1"}
    submit = {
        f"use_{w.uses[0].pk}": str(paid - 5_000),
        f"use_{w.uses[2].pk}": "5 000 kr",
        "achievements": "Vi utbildade tolv undersköterskor.",
        "benefit": "Tryggare vård.",
        "submit": "1",
    }
    foreign = ids(w.req_b, w.foreign_use)

    @FUZZ
    @given(pk_of(w.req_c, w.req_b, w.req_a), posted(save, submit, ids=foreign), ENCODINGS)
    @example(w.req_c.pk, {**submit, "unspent": "0", "status": "accepted"}, "multipart")
    @example(w.req_c.pk, {**submit, f"use_{w.uses[1].pk}": "1"}, "multipart")  # over paid
    @example(w.req_c.pk, {**submit, "benefit": "\x00"}, "multipart")
    def run(pk, data, encoding):
        url = reverse("portal:report", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            report = UsageReport.objects.get(pk=w.report_c.pk)
            assert report.status in (ReportStatus.DRAFT, ReportStatus.SUBMITTED)
            assert report.requisition_id == w.req_c.pk
            # Only C's report can be written: B's is not the user's, A's is not requisitioned.
            assert UsageReport.objects.count() == len(a.before["UsageReport"])

    run()
    fuzz.saw_both()


# ---------------------------------------------------------------- the officials' pages


def test_call_form(world):
    fuzz = Fuzz(world.official)
    url = reverse("office:call_new")
    valid = {
        "pot": str(world.pot.pk),
        "title": "Ny utlysning",
        "opens_on": world.today.isoformat(),
        "closes_on": (world.today + timedelta(days=9)).isoformat(),
        "instructions": "Sök senast sista dagen.",
    }
    fixed = Pot.objects.filter(grant=world.grant).exclude(pk=world.pot.pk)  # no call for these

    @FUZZ
    @given(posted(valid, ids=ids(*fixed)), ENCODINGS)
    @example({**valid, "created_by": "1"}, "multipart")
    @example({**valid, "closes_on": "2000-01-01"}, "multipart")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            new = new_rows(Call, a.before)
            assert new.count() <= 1
            for call in new:
                assert call.pot == world.pot
                assert call.title.strip()
                assert call.created_by == world.official

    run()
    fuzz.saw_both()


def test_review_application(world):
    fuzz = Fuzz(world.official)
    reviewable = (world.submitted_a, world.submitted_b, world.approved_a)
    approve = {"decision": "approve", "reason": ""}
    reject = {"decision": "reject", "reason": "Under 80 % placerade av staden."}

    @FUZZ
    @given(pk_of(*reviewable, world.draft_a), posted(approve, reject), ENCODINGS)
    @example(world.submitted_a.pk, {**approve, "granted_amount": "999"}, "multipart")
    @example(world.submitted_b.pk, {**reject, "reason": " \x00 "}, "multipart")
    @example(world.draft_a.pk, approve, "multipart")
    def run(pk, data, encoding):
        url = reverse("office:review_application", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            assert _row(world.draft_a) == _row_in(a.before, world.draft_a)
            for app in reviewable:
                now = Application.objects.get(pk=app.pk)
                if now.status == app.status:
                    continue
                assert now.pk == pk
                assert now.status in (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)
                assert now.reviewed_by == world.official
                assert now.granted_amount is None  # a per-unit pot: the rule decides the amount

    run()
    fuzz.saw_both()


def test_decide(world):
    fuzz = Fuzz(world.official)
    run_ = compute_grant(grant_id=world.grant.pk, actor=world.official)
    url = reverse("office:decide", args=[run_.pk])
    valid = {
        "decided_on": (world.today - timedelta(days=2)).isoformat(),  # before the call opened
        "decided_by": "Förvaltningschef",
        "delegation": "Äldrenämndens delegationsordning",
        "reference": "ÄN 2020/55",
        "requisition_by": (world.today + timedelta(days=30)).isoformat(),
        "confirmed": "yes",
    }

    @FUZZ
    @given(posted(valid, {**valid, "confirmed": "no"}), ENCODINGS)
    @example({**valid, "requisition_by": "0001-01-01"}, "multipart")
    @example({**valid, "requisition_by": "9999-12-31", "decided_on": "9999-12-31"}, "multipart")
    @example({**valid, "decided_by": "\x00"}, "urlencoded")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding):
            decided = AllocationRun.objects.get(pk=run_.pk)
            reqs = Requisition.objects.filter(run=decided)
            if last(data.get("confirmed")) != "yes" or decided.decided_on is None:
                assert decided.decided_on is None
                assert not reqs.exists()
            else:
                assert decided.decided_by.strip()
                assert sum(r.amount for r in reqs) == decided.allocated() == 8_209_071
                for req in reqs:
                    assert req.due_on is None or req.due_on >= decided.decided_on

    run()
    fuzz.saw_both()


def test_record_payment(decided):
    w = decided
    fuzz = Fuzz(w.official)
    left = w.req_g.amount - 400_000
    valid = {
        "paid_on": w.today.isoformat(),
        "amount": f"{left:,} kr".replace(",", " "),
        "reference": "VER-2",
    }

    @FUZZ
    @given(pk_of(w.req_g, w.req_a, w.req_c), posted(valid, ids=ids(w.req_a)), ENCODINGS)
    @example(w.req_g.pk, {**valid, "requisition": str(w.req_a.pk)}, "multipart")
    @example(w.req_g.pk, {**valid, "amount": str(left + 1)}, "multipart")
    @example(w.req_a.pk, valid, "multipart")  # not requisitioned: nothing to pay
    def run(pk, data, encoding):
        url = reverse("office:record_payment", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            new = new_rows(Payment, a.before)
            assert new.count() <= 1
            for payment in new:
                assert payment.requisition_id == w.req_g.pk == pk
                assert payment.reference.strip()
                assert payment.recorded_by == w.official

    run()
    fuzz.saw_both()


def test_claim(decided):
    w = decided
    fuzz = Fuzz(w.official)
    valid = {
        "amount": "40 000",
        "due_on": w.today.isoformat(),
        "disposition": "redistribute",
        "confirmed": "yes",
    }
    targets = pk_of(w.req_d, w.req_a, w.req_c, w.req_g)

    @FUZZ
    @given(targets, posted(valid, {**valid, "confirmed": ""}, ids=ids(w.req_a)), ENCODINGS)
    @example(w.req_d.pk, {**valid, "reason": "declined", "requisition": str(w.req_a.pk)}, "json")
    @example(w.req_d.pk, {**valid, "reason": "declined"}, "multipart")
    @example(w.req_d.pk, {**valid, "amount": "40001"}, "multipart")
    def run(pk, data, encoding):
        url = reverse("office:claim", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            new = new_rows(RepaymentClaim, a.before)
            assert new.count() <= 1
            if last(data.get("confirmed")) != "yes":
                assert not new.exists()  # the summary first: nothing claimed
            for claim in new:
                # Only D has anything to claim back: 50 000 kr unused, 10 000 kr claimed.
                assert claim.requisition_id == w.req_d.pk
                assert claim.reason == "unspent"
                assert 0 < claim.amount <= 40_000

    run()
    fuzz.saw_both()


def test_claim_repaid(decided):
    w = decided
    fuzz = Fuzz(w.official)
    valid = {"paid_on": w.today.isoformat()}

    @FUZZ
    @given(pk_of(w.outstanding, w.settled), posted(valid, ids=ids(w.settled)), ENCODINGS)
    @example(w.outstanding.pk, {**valid, "amount": "1", "disposition": "redistribute"}, "multipart")
    @example(w.settled.pk, valid, "multipart")
    def run(pk, data, encoding):
        url = reverse("office:claim_repaid", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            assert _row(w.settled) == _row_in(a.before, w.settled)
            claim = RepaymentClaim.objects.get(pk=w.outstanding.pk)
            assert claim.amount == 20_000
            assert claim.disposition == ClaimDisposition.RETURN_TO_STATE

    run()
    fuzz.saw_both()


def test_report_review(decided):
    w = decided
    fuzz = Fuzz(w.official)
    accept = {"decision": "accept", "comment": ""}
    give_back = {"decision": "return", "comment": "Beskriv nyttan närmare."}

    @FUZZ
    @given(pk_of(w.report_f, w.report_c), posted(accept, give_back), ENCODINGS)
    @example(w.report_f.pk, {**give_back, "comment": "\u00a0"}, "multipart")
    @example(w.report_f.pk, {**accept, "status": "draft"}, "multipart")
    @example(w.report_c.pk, accept, "multipart")  # a draft: not reviewable
    def run(pk, data, encoding):
        url = reverse("office:review_report", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            assert _row(w.report_c) == _row_in(a.before, w.report_c)
            report = UsageReport.objects.get(pk=w.report_f.pk)
            if report.status == ReportStatus.RETURNED:
                assert report.review_comment.strip()
            if report.status != ReportStatus.SUBMITTED:
                assert report.reviewed_by == w.official

    run()
    fuzz.saw_both()


def test_redistribute(decided):
    w = decided
    fuzz = Fuzz(w.official)
    pots = Pot.objects.filter(grant=w.grant)
    candidates = services.redistribution_candidates(w.pot)
    chosen = [str(o.pk) for o in candidates if o.slug != "stiftelsen-ljusgarden"]
    outsiders = Organisation.objects.exclude(pk__in=[o.pk for o in candidates])
    create = {"create": "1", "amount": "10000", "organisations": chosen, "confirmed": "yes"}
    preview = {"preview": "1", "amount": "10000", "organisations": chosen}

    @FUZZ
    @given(pk_of(*pots), posted(create, preview, ids=ids(*pots, *outsiders)), ENCODINGS)
    @example(w.pot.pk, create, "multipart")
    @example(w.pot.pk, {**create, "amount": "999999999"}, "multipart")
    @example(w.pot.pk, {**create, "organisations": [str(outsiders.first().pk)]}, "multipart")
    @example(pots.exclude(pk=w.pot.pk).first().pk, create, "multipart")
    def run(pk, data, encoding):
        # Creating is confirmed on its own page; a preview is the choosing page's.
        name = "office:redistribute_confirm" if "create" in data else "office:redistribute"
        url = reverse(name, args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            new = new_rows(AllocationRun, a.before)
            assert new.count() <= 1
            for round_ in new:
                # Only särskilda boenden has money waiting: D's 10 000 kr, repaid.
                assert (round_.redistributes, round_.redistributed_amount) == (w.pot, 10_000)
                assert round_.allocated() == 10_000
                assert round_.decided_on is None
                # Among the recipients the official chose, and no one else.
                asked = data.get("organisations", [])
                asked = asked if isinstance(asked, list) else [asked]
                got = {str(pk) for pk in round_.rows.values_list("organisation_id", flat=True)}
                assert got <= {str(pk) for pk in asked}
            if "create" not in data or last(data.get("confirmed")) != "yes":
                assert not new.exists()  # a preview, or a summary not confirmed, stores nothing

    run()
    fuzz.saw_both()


def last(value) -> str | None:
    """The value a form reads from a field posted once or several times."""
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def test_invitation(world, settings):
    # What is fuzzed is the form, not the hash: a fast one keeps hundreds of tries quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    invited = User.objects.create(username="ny@example.invalid", email="ny@example.invalid")
    invited.set_unusable_password()
    invited.save()
    uid = urlsafe_base64_encode(force_bytes(invited.pk))
    token = invitation_tokens.make_token(invited)
    fuzz = Fuzz(None)
    form_url = fuzz.client.get(reverse("office:invitation", args=[uid, token])).url
    assert form_url == reverse("office:invitation", args=[uid, "valj-losenord"])
    good = "Ett långt lösenord 42"
    valid = {"new_password1": good, "new_password2": good}
    made_up = st.builds(
        lambda u, t: f"/handlaggning/inbjudan/{quote(u, safe='')}/{quote(t, safe='')}/",
        st.one_of(st.just(uid), JUNK.filter(bool)),
        st.one_of(st.just(token), JUNK.filter(bool)),
    )

    @FUZZ
    @given(st.one_of(st.just(form_url), st.just(form_url), made_up), posted(valid), ENCODINGS)
    @example(form_url, valid, "multipart")
    @example(form_url, {**valid, "new_password2": good + "!"}, "multipart")
    def run(url, data, encoding):
        with fuzz.attempt(url, data, encoding):
            user = User.objects.get(pk=invited.pk)
            if user.has_usable_password():
                assert url == form_url
                password = last(data["new_password1"])
                assert password == last(data["new_password2"])
                assert user.check_password(password)

    run()
    fuzz.saw_both()


# ---------------------------------------------------------------- bulk work, answering for others


def _on_site(response) -> None:
    """A bulk action goes back to the list it came from, never off the site."""
    if response.status_code == 302:
        assert response.url.startswith("/"), response.url
        assert not response.url.startswith("//"), response.url


def test_bulk_review(world):
    fuzz = Fuzz(world.official)
    url = reverse("office:bulk_review", args=[world.pot.pk])
    ticked = [str(world.submitted_a.pk), str(world.submitted_b.pk)]
    elsewhere = Application.objects.exclude(pot=world.pot)
    approve = {"decision": "approve", "reason": "", "applications": ticked, "next": ""}
    reject = {"decision": "reject", "reason": "Under 80 % placerade.", "applications": ticked}
    foreign = ids(world.draft_a, *elsewhere)

    @FUZZ
    @given(posted(approve, reject, ids=foreign), ENCODINGS)
    @example(approve, "multipart")
    @example({**reject, "reason": " \x00 "}, "multipart")
    @example({**approve, "applications": [str(world.draft_a.pk)]}, "multipart")
    @example({**approve, "next": "https://elsewhere.invalid/"}, "urlencoded")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            _on_site(a.response)
            assert _row(world.draft_a) == _row_in(a.before, world.draft_a)
            for app in elsewhere:
                assert _row(app) == _row_in(a.before, app)
            posted_ids = data.get("applications", [])
            posted_ids = {
                str(p) for p in (posted_ids if isinstance(posted_ids, list) else [posted_ids])
            }
            for app in (world.submitted_a, world.submitted_b, world.approved_a):
                now = Application.objects.get(pk=app.pk)
                if now.status == app.status:
                    continue
                assert str(app.pk) in posted_ids
                assert now.status in (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)
                assert now.reviewed_by == world.official

    run()
    fuzz.saw_both()


def test_remind(decided):
    w = decided
    fuzz = Fuzz(w.official)
    url = reverse("office:remind")
    valid = {"requisitions": [str(w.req_a.pk), str(w.req_c.pk)], "next": ""}
    answered = (w.req_d, w.req_e)

    @FUZZ
    @given(posted(valid, ids=ids(*answered)), ENCODINGS)
    @example(valid, "multipart")
    @example({"requisitions": [str(w.req_d.pk)]}, "multipart")  # nothing to remind of
    @example({"requisitions": "x" * 40}, "urlencoded")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            _on_site(a.response)
            for req in Requisition.objects.all():
                assert _row(req) == _row_in(a.before, req)  # a reminder changes no money
            reminded = AuditEntry.objects.filter(action="requisition.reminded")
            assert reminded.count() <= 2
            assert not reminded.filter(object_id__in=[str(r.pk) for r in answered]).exists()

    run()
    fuzz.saw_both()


def test_answer_requisition_for_a_recipient(decided):
    w = decided
    fuzz = Fuzz(w.official)
    with_users = Membership.objects.values("organisation")
    req = (
        w.run.requisitions.filter(status=RequisitionStatus.PENDING)
        .exclude(organisation__in=with_users)
        .order_by("pk")
        .first()
    )
    behalf = {
        "behalf-on_behalf_name": "Anna Berg",
        "behalf-on_behalf_role": "stadsdelsdirektör",
        "behalf-on_behalf_given_on": w.today.isoformat(),
    }
    accept = {
        **behalf,
        "action": "accept",
        "accept-payment_method": "bankgiro",
        "accept-payment_account": "5050-1055",
        f"accept-use_{w.uses[0].pk}": str(req.amount),
    }
    decline = {**behalf, "action": "decline", "decline-decline_reason": "Verksamheten upphör."}
    # Omsorg Norr's user has signed in: it answers for itself.
    Client().force_login(w.owner)

    @FUZZ
    @given(pk_of(req, w.req_a, w.req_c), posted(accept, decline, ids=ids(w.foreign_use)), ENCODINGS)
    @example(req.pk, accept, "multipart")
    @example(req.pk, {**decline, "decline-decline_reason": " "}, "multipart")
    @example(req.pk, {**accept, "behalf-on_behalf_given_on": "9999-12-31"}, "multipart")
    @example(w.req_a.pk, decline, "multipart")
    def run(pk, data, encoding):
        url = reverse("office:answer_requisition", args=[pk])
        with fuzz.attempt(url, data, encoding) as a:
            for other in (w.req_a, w.req_c):
                assert _row(other) == _row_in(a.before, other)
            now = Requisition.objects.get(pk=req.pk)
            if now.status != RequisitionStatus.PENDING:
                assert now.answered_by == w.official
                assert now.answered_by_official
                assert now.on_behalf_of.strip()
                assert now.on_behalf_given_on <= w.today

    run()
    fuzz.saw_both()


# ---------------------------------------------------------------- stated facts (issue 11)


def test_application_edit_states_facts(world):
    """What a provider states of its units (in the city, share placed) and its declaration:
    only of its own units, never the grant's own figures, a declaration only when ticked."""
    fuzz = Fuzz(world.owner)
    url = reverse("portal:application_edit", args=[world.draft_a.pk])
    unit = world.unit_a
    home = Unit.objects.create(
        slug="vob-950", name="Solgläntan", type="care_home", organisation=world.a, places=30
    )
    new = f"new-{home.pk}"
    valid = {
        "units": [str(unit.pk), new],
        f"places_{unit.pk}": "52",
        f"in_city_{unit.pk}": "yes",
        f"share_{unit.pk}": "90",
        f"places_{new}": "30",
        f"in_city_{new}": "no",
        f"share_{new}": "85,5",
        "uses": [str(world.uses[0].pk)],
        "intended_use": "Kompetensutveckling.",
        "contact_name": "Anna Andersson",
        "contact_email": "anna@example.invalid",
        "payment_method": "plusgiro",
        "payment_account": "902001-7",
        "will_report": "on",
        "declare_facts": "on",
    }
    undeclared = {k: v for k, v in valid.items() if k != "declare_facts"}
    foreign = ids(world.unit_b, world.taken_a, world.unit_b.unit)

    @FUZZ
    @given(posted(valid, undeclared, ids=foreign), ENCODINGS)
    @example(valid, "multipart")
    @example({**valid, f"share_{unit.pk}": "100,01"}, "multipart")
    @example({**valid, f"in_city_{new}": "maybe", f"share_{new}": "NaN"}, "urlencoded")
    @example({**valid, "units": [str(unit.pk), f"new-{world.unit_b.unit.pk}"]}, "multipart")
    @example({**valid, f"in_city_{world.unit_b.pk}": "yes"}, "multipart")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            app = Application.objects.get(pk=world.draft_a.pk)
            assert (app.status, app.organisation) == (ApplicationStatus.DRAFT, world.a)
            # The grant's own figures of every unit it knew stay; a unit the application
            # adds joins with the least favourable ones, for an official to verify.
            for row in a.before["GrantUnit"]:
                assert GrantUnit.objects.filter(pk=row[0]).values_list().get() == row
            for added in new_rows(GrantUnit, a.before):
                assert (added.unit, added.organisation) == (home, world.a)
                assert (added.in_city, added.city_placed_share) == (False, Decimal(0))
            for link in ApplicationUnit.objects.filter(application=app):
                assert link.grant_unit.organisation == world.a
                share = link.stated_city_placed_share
                assert share is None or 0 <= share <= 1
                assert link.verified_at is None
            was_declared = _row_in(a.before, app)[
                [f.attname for f in Application._meta.concrete_fields].index("facts_declared_at")
            ]
            if app.facts_declared_at is not None and app.facts_declared_at != was_declared:
                assert data.get("declare_facts")
                assert app.facts_declared_by == world.owner

    run()
    fuzz.saw_both()


def _unit_row(link):
    """An application unit as `snapshot` keeps it (its stored verdict left out)."""
    return ApplicationUnit.objects.filter(pk=link.pk).values_list(*UNIT_KEPT).first()


def _links(data: dict) -> set[str]:
    value = data.get("links", [])
    return {str(v) for v in (value if isinstance(value, list) else [value])}


def test_verify_facts(world, import_seed):
    """The official verifies stated facts in bulk: only ticked units of this grant's sent
    applications, a correction only with a reason, every figure within its bounds."""
    elsewhere = import_seed(SEED_003)
    fuzz = Fuzz(world.official)
    url = reverse("office:facts", args=[world.grant.pk])
    one = ApplicationUnit.objects.filter(application=world.submitted_a).first()
    two = ApplicationUnit.objects.filter(application=world.submitted_b).first()
    draft = ApplicationUnit.objects.get(application=world.draft_a)
    theirs = list(ApplicationUnit.objects.filter(application__grant=elsewhere)[:3])
    as_stated = {"links": [str(one.pk), str(two.pk)]}
    corrected = {
        "links": [str(one.pk)],
        f"places_{one.pk}": "41",
        f"in_city_{one.pk}": "no",
        "reason": "Avtalet säger 41 platser.",
    }
    shares = {
        "links": [str(one.pk), str(two.pk)],
        f"share_{two.pk}": "85,5",
        f"customers_{two.pk}": "12",
        "reason": "Placeringsregistret 2020-03-01.",
    }
    ours = {one.pk: one, two.pk: two}

    @FUZZ
    @given(posted(as_stated, corrected, shares, ids=ids(draft, *theirs)), ENCODINGS)
    @example(as_stated, "multipart")
    @example({**corrected, "reason": " \x00 "}, "multipart")
    @example({**corrected, f"places_{one.pk}": str(2**63)}, "urlencoded")
    @example({"links": [str(theirs[0].pk)]}, "multipart")
    @example({"links": [str(one.pk), str(draft.pk)]}, "multipart")
    @example({**shares, f"share_{two.pk}": "NaN"}, "json")
    def run(data, encoding):
        with fuzz.attempt(url, data, encoding) as a:
            ticked = _links(data)
            for link in ApplicationUnit.objects.exclude(pk__in=ours):
                assert _unit_row(link) == _row_in(a.before, link), link
            for pk, link in ours.items():
                now = ApplicationUnit.objects.get(pk=pk)
                gu = GrantUnit.objects.get(pk=link.grant_unit_id)
                assert 0 <= gu.city_placed_share <= 1
                assert (gu.places or 0) <= 100_000
                assert (gu.customers or 0) <= 100_000
                if now.verified_at is None:
                    assert _row(gu) == _row_in(a.before, gu)
                    continue
                assert str(pk) in ticked
                assert now.verified_by == world.official
                if services.stated_facts(now) != services.grant_facts(gu):
                    assert now.verification_note.strip()
            # Another grant's units, and the units of a draft, are not this list's.
            for other in GrantUnit.objects.exclude(pk__in=[one.grant_unit_id, two.grant_unit_id]):
                assert _row(other) == _row_in(a.before, other)

    run()
    fuzz.saw_both()


def _csv(*rows: str) -> bytes:
    return ("id;share;date\n" + "".join(f"{r}\n" for r in rows)).encode()


def _xlsx(rows) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


UPLOAD_LIMIT = 64 * 1024


def test_placement_import(world, settings):
    """The placement register: junk files, wrong types, files past the limit, CSVs with bad
    rows change nothing; a good file verifies only what it confirms, of this grant's sent
    applications."""
    settings.STIMULANS_UPLOAD_MAX_BYTES = UPLOAD_LIMIT
    fuzz = Fuzz(world.official)
    url = reverse("office:facts_import", args=[world.grant.pk])
    sent = list(
        ApplicationUnit.objects.filter(
            application__in=(world.submitted_a, world.submitted_b, world.approved_a)
        ).select_related("grant_unit__unit")[:4]
    )
    good = [
        f"{link.grant_unit.unit.slug};{link.grant_unit.city_placed_share};2020-03-01"
        for link in sent
    ]
    draft_unit = world.unit_b.unit.slug  # named only by a draft: never verified
    confirmed = {link.grant_unit.unit.slug for link in sent}  # what the good files confirm
    files = st.one_of(
        st.sampled_from(
            [
                ("reg.csv", _csv(*good), "text/csv"),
                (
                    "reg.csv",
                    _csv(good[0], f"{draft_unit};1;2020-03-01", "okand;0,5;2020-03-01"),
                    "text/csv",
                ),
                (
                    "reg.xlsx",
                    _xlsx([["enhet", "andel", "datum"], *[g.split(";") for g in good]]),
                    "application/octet-stream",
                ),
                ("reg.csv", _csv(good[0], "vob-001;1,5;2020-03-01"), "text/csv"),
                ("reg.csv", _csv(good[0], "vob-001;NaN;2020-03-01"), "text/csv"),
                ("reg.csv", _csv(good[0], good[0]), "text/csv"),
                ("reg.csv", _csv(good[0], "vob-001;1;1 mars"), "text/csv"),
                ("reg.csv", _csv(good[0], ";1;2020-03-01"), "text/csv"),
                ("reg.csv", b"id;share\nvob-001;1\n", "text/csv"),
                ("reg.csv", b"", "text/csv"),
                ("reg.pdf", b"%PDF-1.4 not a register", "application/pdf"),
                ("reg.xlsx", b"PK\x03\x04 not really a zip", "application/zip"),
                ("reg.exe", b"MZ\x90\x00", "application/octet-stream"),
                ("reg.csv", _csv(*good)[:-1] + b"\x00\xff\xfe", "text/csv"),
                ("reg.csv", "id;share;date\nå;1;2020-03-01\n".encode("utf-16"), "text/csv"),
                ("huge.csv", _csv(*good) + b"x" * UPLOAD_LIMIT, "text/csv"),
                ("many.csv", _csv(*[f"okand-{i};1;2020-03-01" for i in range(2000)]), "text/csv"),
                ("x" * 300 + ".csv", _csv(*good), "text/csv"),
            ]
        ),
        st.tuples(
            st.sampled_from(["reg.csv", "reg.xlsx", "reg"]),
            st.binary(max_size=300),
            st.just("text/csv"),
        ),
    )
    how = st.sampled_from(["file", "file", "file", "two", "text", "none"])
    extras = st.dictionaries(st.sampled_from(TAMPERED), JUNK, max_size=2)

    def accepted(response) -> bool:
        upload = response.context["upload"] if response.status_code == 200 else None
        return upload is not None and upload.is_bound and not upload.errors

    @FUZZ
    @given(files, how, extras, ENCODINGS)
    @example(("reg.csv", _csv(*good), "text/csv"), "file", {}, "multipart")
    @example(("huge.csv", _csv(*good) + b"x" * UPLOAD_LIMIT, "text/csv"), "file", {}, "multipart")
    def run(file, how, extra, encoding):
        name, content, ctype = file
        data = dict(extra)
        if how in ("file", "two"):
            encoding = "multipart"
            data["file"] = SimpleUploadedFile(name, content, content_type=ctype)
            if how == "two":
                data["file"] = [data["file"], SimpleUploadedFile("b.csv", b"id;share;date\n")]
        elif how == "text":
            data["file"] = content.decode("latin-1")[:200]
        with fuzz.attempt(url, data, encoding, accepted=accepted) as a:
            for link in ApplicationUnit.objects.all():
                if _unit_row(link) == _row_in(a.before, link):
                    continue
                # Verified: a sent application of this grant, its unit and share in the file.
                assert accepted(a.response)
                assert link.application.grant_id == world.grant.pk
                assert link.application.status in SENT
                assert link.grant_unit.unit.slug in confirmed
                assert link.verification_note.strip()
            assert not ApplicationUnit.objects.filter(
                grant_unit__unit__slug=draft_unit, verified_at__isnull=False
            ).exists()

    run()
    fuzz.saw_both()


def test_verifying_a_decided_grant_writes_nothing(decided):
    """Once the grant is decided, neither the list nor the register changes a unit's figures."""
    w = decided
    fuzz = Fuzz(w.official)
    link = (
        ApplicationUnit.objects.filter(application=w.submitted_a)
        .select_related("grant_unit__unit")
        .first()
    )
    verify = reverse("office:facts", args=[w.grant.pk])
    valid = [
        {"links": [str(link.pk)]},
        {"links": [str(link.pk)], f"places_{link.pk}": "41", "reason": "x"},
    ]
    register = _csv(f"{link.grant_unit.unit.slug};{link.grant_unit.city_placed_share};2020-03-01")

    @FUZZ
    @given(posted(*valid), ENCODINGS)
    @example(valid[0], "multipart")
    @example(valid[1], "urlencoded")
    def run(data, encoding):
        with fuzz.attempt(verify, data, encoding) as a:
            assert a.response.status_code != 302

    run()
    upload = SimpleUploadedFile("reg.csv", register, content_type="text/csv")
    with fuzz.attempt(
        reverse("office:facts_import", args=[w.grant.pk]), {"file": upload}, "multipart"
    ) as a:
        assert "decided" in a.response.content.decode()
    assert fuzz.outcomes
    assert not any(wrote for _status, wrote in fuzz.outcomes), fuzz.outcomes
