"""Bankgiro, plusgiro, telephone and organisation numbers: read as people write them, stored
in one form, their check digits verified, wherever they are entered."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from allocations import identifiers
from allocations.models import Organisation, Pot
from applications import services
from applications.models import Application

from .conftest import SEED_000, fit_agreement
from .factories import provider_user, signed_in
from .test_portal import application_post, new_unit


@pytest.fixture(autouse=True)
def in_english(default_language):
    translation.activate("en")


@pytest.mark.parametrize(
    ("method", "typed", "stored"),
    [
        ("plusgiro", "4 77 88-5", "47788-5"),
        ("plusgiro", "477885", "47788-5"),
        ("plusgiro", "902001-7", "902001-7"),
        ("bankgiro", "5050-1055", "5050-1055"),
        ("bankgiro", "5050 1055", "5050-1055"),
        ("bankgiro", " 50501055 ", "5050-1055"),
        ("bankgiro", "297-3675", "297-3675"),
    ],
)
def test_an_account_is_read_as_people_write_it_and_stored_in_one_form(method, typed, stored):
    assert identifiers.normal_account(method, typed) == stored
    assert identifiers.payment_account_problem(method, typed) is None


@pytest.mark.parametrize(
    ("method", "typed", "says"),
    [
        ("bankgiro", "5050-1056", "check digit"),
        ("bankgiro", "505-10", "7 or 8 digits"),
        ("bankgiro", "5050-10555", "7 or 8 digits"),
        ("bankgiro", "abcd-efgh", "7 or 8 digits"),
        ("plusgiro", "4 77 88-6", "check digit"),
        ("plusgiro", "1", "2 to 8 digits"),
        ("plusgiro", "٤٧٧٨٨٥", "2 to 8 digits"),  # digits, but not the ones a giro has
        ("swish", "123", "bankgiro or plusgiro"),
    ],
)
def test_a_wrong_account_is_refused_saying_why(method, typed, says):
    with pytest.raises(ValidationError) as caught:
        identifiers.normal_account(method, typed)
    assert says in caught.value.messages[0]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("08-508 000 00", "+46850800000"),
        ("+46 70 123 45 67", "+46701234567"),
        ("070-123 45 67", "+46701234567"),
        ("0046 8 508 000 00", "+46850800000"),
        ("+46 (0)8 508 000 00", "+46850800000"),
        ("(08) 508 000 00", "+46850800000"),
    ],
)
def test_a_swedish_telephone_number_is_read_as_people_write_it(typed, stored):
    assert identifiers.normal_phone(typed) == stored


@pytest.mark.parametrize(
    "typed", ["abc", "12345", "+47 22 00 00 00", "08-5", "0850800000000", "+46 08 508 000 00"]
)
def test_what_is_no_swedish_telephone_number_is_refused(typed):
    with pytest.raises(ValidationError) as caught:
        identifiers.normal_phone(typed)
    assert "not a Swedish telephone number" in caught.value.messages[0]


def test_an_organisation_number_is_checked_by_python_stdnum():
    assert identifiers.normal_org_number("5560360793") == "556036-0793"
    assert identifiers.normal_org_number(" 556036 0793 ") == "556036-0793"
    for wrong in ("556036-0794", "55603607", "abc"):
        with pytest.raises(ValidationError):
            identifiers.normal_org_number(wrong)


@pytest.mark.django_db
def test_the_admin_stores_an_organisation_number_typed_without_its_hyphen(admin_client):
    client = admin_client
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    url = reverse("admin:allocations_organisation_add")
    data = {"slug": "ny-ab", "name": "Ny AB", "kind": "private_provider", "ownership": "private"}

    bad = client.post(url, {**data, "org_number": "556036 0794"})
    assert bad.status_code == 200
    assert "is not a valid organisation number" in bad.content.decode()
    assert not Organisation.objects.filter(slug="ny-ab").exists()

    assert client.post(url, {**data, "org_number": "5560360793"}).status_code == 302
    assert Organisation.objects.get(slug="ny-ab").org_number == "556036-0793"


@pytest.mark.django_db
def test_the_portal_stores_numbers_normalised_and_refuses_a_wrong_telephone(import_seed, official):
    today = timezone.localdate()
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=today + timedelta(days=365))
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    call = services.open_call(
        pot=pot,
        title="Utlysning",
        opens_on=today - timedelta(days=1),
        closes_on=today + timedelta(days=30),
        actor=official,
    )
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider_user(org, "trygg")
    unit = new_unit(grant, org, "vob-900")
    app = services.start_application(call=call, organisation=org, actor=user, today=today)
    url = reverse("portal:application_edit", args=[app.pk])
    client = signed_in(user)

    response = client.post(url, application_post(grant, [unit], contact_phone="abc"))
    assert response.status_code == 200
    assert "not a Swedish telephone number" in str(response.context["form"].errors)
    app.refresh_from_db()
    assert app.contact_phone == ""

    data = application_post(
        grant,
        [unit],
        contact_phone="+46 70 123 45 67",
        payment_method="plusgiro",
        payment_account="4 77 88-5",
    )
    assert client.post(url, data).status_code == 302
    app = Application.objects.get(pk=app.pk)
    assert (app.contact_phone, app.payment_account) == ("+46701234567", "47788-5")
