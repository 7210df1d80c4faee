"""Accessible to everyone: forms whose errors can be found and read, the accessibility statement,
and numbers the Swedish way in Django's own messages. The keyboard-only walk through the
workflow is in tests/test_browser_keyboard.py.
"""

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django import forms
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import translation

from allocations.formerrors import GroupedNumbers, error_summary
from allocations.models import Organisation, PermittedUse
from allocations.wording import format_number
from applications import services
from applications.forms.office import PaymentForm
from applications.forms.portal import KronorField
from applications.models import Requisition, RequisitionStatus

from .factories import provider_user, signed_in
from .test_portal import application_post, decided, new_unit, seed000, today  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


class Page(HTMLParser):
    """The elements of a page by id, the error summary's links, fieldsets and their legends."""

    def __init__(self, html: str):
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self.tags: list[tuple[str, dict]] = []
        self.summary_links: list[str] = []
        self.summary_text = ""
        self.legends: list[str] = []
        self._summary_depth = 0
        self._in_legend = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.by_id[attrs["id"]] = {"tag": tag, **attrs}
        if "data-error-summary" in attrs:
            self._summary_depth = 1
        elif self._summary_depth and tag not in ("input", "br"):
            self._summary_depth += 1
            if tag == "a":
                self.summary_links.append(attrs["href"])
        if tag == "legend":
            self._in_legend = True
            self.legends.append("")

    def handle_endtag(self, tag):
        if self._summary_depth:
            self._summary_depth -= 1
        if tag == "legend":
            self._in_legend = False

    def handle_data(self, data):
        if self._summary_depth:
            self.summary_text += data
        if self._in_legend:
            self.legends[-1] += data

    def count(self, tag: str) -> int:
        return sum(1 for t, _ in self.tags if t == tag)


# ---------------------------------------------------------------- the long application form


def test_the_application_form_sent_back_opens_at_a_summary_linking_every_error(seed000):  # noqa: F811
    grant, _pot, call = seed000
    org = Organisation.objects.get(slug="trygg-aldrevard-ab")
    user = provider_user(org, "trygg")
    unit = new_unit(grant, org, "vob-901")
    app = services.start_application(call=call, organisation=org, actor=user, today=today())
    url = reverse("portal:application_edit", args=[app.pk])
    data = application_post(
        grant,
        [unit],
        intended_use="x" * 23_599,
        contact_email="inte en adress",
        payment_account="5050-1056",
        **{f"places_{unit.pk}": "123456"},
    )
    response = signed_in(user, "sv").post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    page = Page(html)

    # One summary at the top, counting and naming every error, each a link to its field.
    assert html.count("data-error-summary") == 1
    assert html.index("data-error-summary") < html.index('name="units"')
    assert "Det finns 4 fel i formuläret" in page.summary_text
    places, use = f"id_places_{unit.pk}", "id_intended_use"
    assert page.summary_links == [
        f"#{places}",
        f"#{use}",
        "#id_contact_email",
        "#id_payment_account",
    ]
    for link in page.summary_links:
        assert link[1:] in page.by_id, f"the summary links to {link}, which is not on the page"
    assert f"Antal platser i {unit.unit.name}" in page.summary_text
    # Django's own messages write their numbers the Swedish way.
    assert f"(den har 23{NBSP}599)" in page.summary_text
    assert f"100{NBSP}000" in page.summary_text

    # Each invalid field says so and points at its error (and help text) for assistive tech.
    for field_id in (use, "id_contact_email", "id_payment_account", places):
        attrs = page.by_id[field_id]
        assert attrs.get("aria-invalid") == "true", field_id
        described = attrs["aria-describedby"].split()
        assert f"{field_id}_error" in described, field_id
        for target in described:
            assert target in page.by_id, f"{field_id} is described by {target}, not on the page"
    assert "id_payment_account_helptext" in page.by_id["id_payment_account"]["aria-describedby"]
    assert f"{places}_registered" in page.by_id[places]["aria-describedby"]
    assert "aria-invalid" not in page.by_id["id_contact_name"]

    # Related fields are grouped, each group named by its legend.
    assert page.count("fieldset") >= 6
    for legend in ("Verksamheter", "Utbetalning", "Kontakt", "Intygande"):
        assert any(legend in text for text in page.legends), (legend, page.legends)
    # The permitted uses (a group of checkboxes) are a fieldset of their own, named by its label.
    assert any("Vad medlen ska användas till" in text for text in page.legends), page.legends

    # A form without errors has no summary and no invalid fields.
    html = signed_in(user, "sv").get(url).content.decode()
    assert "data-error-summary" not in html
    assert 'aria-invalid="true"' not in html


def test_a_form_wide_error_is_in_the_summary_and_required_fields_say_so_in_words(decided):  # noqa: F811
    grant, _run, req, user = decided
    uses = list(PermittedUse.objects.filter(agreement=grant.agreement))
    url = reverse("portal:requisition", args=[req.pk])
    client = signed_in(user, "sv")
    page = Page(client.get(url).content.decode())
    # The decline form's reason is required, and its label says so in words.
    html = client.get(url).content.decode()
    label = html[
        html.index('for="id_decline_reason"') : html.index(
            "</label>", html.index('for="id_decline_reason"')
        )
    ]
    assert "(obligatoriskt)" in label
    assert "asteriskField" not in html
    assert "Konto att betala till" in " ".join(page.legends)
    assert "Belopp per rubrik" in " ".join(page.legends)

    data = {
        "action": "accept",
        "payment_method": "bankgiro",
        "payment_account": "5050-1056",
        f"use_{uses[0].pk}": "600 000",
        f"use_{uses[1].pk}": "1 999 999 999 999",
    }
    page = Page(client.post(url, data).content.decode())
    assert "Det finns 2 fel i formuläret" in page.summary_text
    assert page.summary_links == ["#id_payment_account", f"#id_use_{uses[1].pk}"]
    # The largest amount a heading takes (the requisition's), grouped by thousands.
    assert f"lika med {format_number(req.amount, nbsp=True)}." in page.summary_text
    assert Requisition.objects.get(pk=req.pk).status == RequisitionStatus.PENDING

    # Amounts that do not add up are an error of the whole form: first, with no link.
    data.update({"payment_account": "5050-1055", f"use_{uses[1].pk}": "1"})
    page = Page(client.post(url, data).content.decode())
    assert "Det finns 1 fel i formuläret" in page.summary_text
    assert page.summary_links == []
    assert f"sammanlagt 600{NBSP}001{NBSP}kr" in page.summary_text


# ---------------------------------------------------------------- numbers in Django's messages


class _Figures(GroupedNumbers, forms.Form):
    text = forms.CharField(max_length=20_000)
    count = forms.IntegerField(max_value=100_000, min_value=-5_000)
    share = forms.DecimalField(max_digits=7, decimal_places=2, max_value=Decimal("1000"))
    small = forms.IntegerField(max_value=10)


def test_the_numbers_of_djangos_own_messages_are_grouped_in_both_languages():
    data = {"text": "x" * 23_599, "count": "-12345", "share": "1500", "small": "999"}
    with translation.override("sv"):
        errors = _Figures(data).errors
        assert f"(den har 23{NBSP}599)" in errors["text"][0]
        assert f"20{NBSP}000" in errors["text"][0]
        assert f"−5{NBSP}000" in errors["count"][0]
        assert f"1{NBSP}000" in errors["share"][0]
        assert errors["small"][0].endswith(" 10.")  # below a thousand: as it was
    with translation.override("en"):
        errors = _Figures(data).errors
        assert f"(it has 23{NBSP}599)" in errors["text"][0]
    # The summary lists the same messages, each linked to its field.
    form = _Figures(data)
    items = error_summary(form)
    assert [i.anchor for i in items] == ["id_text", "id_count", "id_share", "id_small"]
    assert items[0].message == form.errors["text"][0]
    assert format_number(-1234567) == "−1 234 567"
    # A stored amount in a portal form's box reads the same way, and is read back.
    field = KronorField()
    assert field.prepare_value(1_200_000) == "1 200 000"
    assert field.clean(field.prepare_value(1_200_000)) == 1_200_000
    assert field.prepare_value("1200000x") == "1200000x"  # what was typed stays as typed
    assert error_summary(_Figures()) == []
    # Infinity is no number to group: it is refused as Django refuses it, never a crash.
    for typed in ("inf", "-Infinity", "NaN"):
        assert _Figures({**data, "share": typed}).errors["share"]


def test_the_officials_amount_boxes_show_and_read_swedish_grouping():
    # A number box cannot show `1 200 000`: the officials' amounts are text boxes with a
    # numeric keyboard, required, and validated as before.
    form = PaymentForm(initial={"amount": 1_200_000}, most=2_000_000)
    html = str(form["amount"])
    for attribute in ('type="text"', 'inputmode="numeric"', 'value="1 200 000"', "required"):
        assert attribute in html, html
    posted = {"paid_on": "2020-05-10", "amount": "1 200 000 kr", "reference": "VER-1"}
    form = PaymentForm(posted, most=2_000_000)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == 1_200_000
    for wrong in ("", "0", "12,5", "2 000 001"):
        form = PaymentForm({**posted, "amount": wrong}, most=2_000_000)
        assert "amount" in form.errors, wrong


# ---------------------------------------------------------------- the accessibility statement


def test_the_statement_is_public_linked_from_every_page_and_configurable(db, settings):
    settings.STIMULANS_ACCESSIBILITY_EMAIL = "tillganglighet@example.se"
    settings.STIMULANS_ACCESSIBILITY_PHONE = "08-508 000 00"
    settings.STIMULANS_ACCESSIBILITY_ISSUES = ["Diagrammen saknar textalternativ."]
    settings.STIMULANS_ACCESSIBILITY_ISSUES_EN = ["The charts have no text alternative."]
    url = reverse("accessibility")
    assert url == "/tillganglighetsredogorelse/"
    response = signed_in(None, "sv").get(url)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Tillgänglighetsredogörelse för stimulans",
        "Hur tillgänglig är tjänsten?",
        "delvis förenlig med lagen om tillgänglighet till digital offentlig service",
        "Innehåll som inte är tillgängligt",
        "Diagrammen saknar textalternativ.",
        'href="mailto:tillganglighet@example.se"',
        "08-508 000 00",
        "Myndigheten för digital förvaltning",
        "https://www.digg.se/tdosanmalan",
        "Hur vi testat tjänsten",
        "Redogörelsen uppdaterades senast den",
    ):
        assert text in html, text
    english = signed_in(None, "en").get(url).content.decode()
    assert "Accessibility statement for stimulans" in english
    assert "The charts have no text alternative." in english
    assert "Diagrammen" not in english
    # Without a list of its own, an installation shows the project's known shortcomings.
    settings.STIMULANS_ACCESSIBILITY_ISSUES = None
    settings.STIMULANS_ACCESSIBILITY_ISSUES_EN = None
    html = signed_in(None, "sv").get(url).content.decode()
    assert "taggade för skärmläsare och kontrolleras automatiskt (PDF/UA-1)" in html
    assert signed_in(None, "sv").post(url).status_code == 405

    # The footer of every page links to it: signed out, in the portal, in the admin.
    link = f'href="{url}"'
    assert link in signed_in(None, "sv").get(reverse("login")).content.decode()
    org = Organisation.objects.create(slug="omsorg-test", name="Omsorg Test AB")
    provider = provider_user(org, "omsorg")
    assert link in signed_in(provider, "sv").get(reverse("portal:start")).content.decode()
    admin = User.objects.create_superuser("admin", "admin@example.invalid", "x")
    assert link in signed_in(admin, "sv").get(reverse("admin:index")).content.decode()
    # And every page starts with a link past the menu to its content.
    html = signed_in(provider, "sv").get(reverse("portal:start")).content.decode()
    assert 'id="main"' in html
    assert html.index('href="#main"') < html.index("<nav")


class _EveryKindOfField(forms.Form):
    required_css_class = "needed"  # a field's css_classes() go on its wrapper
    name = forms.CharField(label="Name <&>", max_length=20, help_text="As <b>registered</b>.")
    email = forms.EmailField(label="E-mail", required=False)
    count = forms.IntegerField(label="Count", min_value=1, required=False)
    share = KronorField(label="Amount", required=False)
    day = forms.DateField(label="Day", required=False)
    text = forms.CharField(label="Text", widget=forms.Textarea(attrs={"rows": 3}), required=False)
    method = forms.ChoiceField(label="Method", choices=[("", "—"), ("a", "A & B"), ("b", "B")])
    grouped = forms.ChoiceField(
        label="Grouped", required=False, choices=[("x", "X"), ("Group", [("y", "Y"), ("z", "Z")])]
    )
    yes = forms.BooleanField(label="I agree", help_text="Say so.")
    maybe = forms.BooleanField(label="Perhaps", required=False)
    uses = forms.MultipleChoiceField(
        label="Uses",
        choices=[("1", "One"), ("2", "Two <i>")],
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick any.",
    )
    kind = forms.ChoiceField(
        label="Kind", choices=[("p", "P"), ("q", "Q")], widget=forms.RadioSelect, required=False
    )
    upload = forms.FileField(label="File", required=False)  # crispy's own, through the filter
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_lean_field_writes_what_crispy_writes_for_every_kind_of_field(language):
    """The filter the application form uses instead of crispy's field templates (for speed)
    writes the same markup: labels, "(required)", aria-invalid, aria-describedby, errors, help."""
    import re

    from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field

    from allocations.templatetags.lean_fields import lean_field

    def flat(html: str) -> str:
        html = re.sub(r"\s+>", ">", html)
        return re.sub(r"\s+", " ", re.sub(r">\s+", ">", re.sub(r"\s+<", "<", html))).strip()

    bad = {
        "name": "x" * 30,
        "email": "nope",
        "count": "0",
        "share": "1 2",
        "day": "day",
        "text": "a <b>",
        "method": "zz",
        "grouped": "q",
        "uses": ["1", "9"],
        "kind": "r",
    }
    good = {
        "name": "Ann",
        "email": "a@b.se",
        "count": "3",
        "share": "12 000",
        "text": "x",
        "method": "a",
        "grouped": "z",
        "yes": "on",
        "maybe": "on",
        "uses": ["2"],
        "kind": "q",
    }
    with translation.override(language):
        for data in (None, bad, good):
            crispy, lean = _EveryKindOfField(data), _EveryKindOfField(data)
            for name in crispy.fields:
                assert flat(lean_field(lean[name])) == flat(as_crispy_field(crispy[name])), name
        form = _EveryKindOfField(bad)
        assert form.errors.keys() >= {"name", "email", "count", "method", "yes", "uses", "kind"}
        written = Page(lean_field(form["email"]))
        assert written.by_id["id_email"]["aria-invalid"] == "true"
        assert written.by_id["id_email"]["aria-describedby"] == "id_email_error"
        assert "required-note" in lean_field(form["name"])
