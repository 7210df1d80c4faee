"""Forms of the provider portal: they validate and convert; the services change state.

Every choice a provider can post (units, permitted uses, organisations) is
built on the server from what the provider may choose, so a posted id of
someone else's object is a form error and never reaches a service.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from allocations import grantfile, identifiers
from allocations.formerrors import GroupedNumbers
from allocations.models import GrantUnit, PermittedUse, Unit
from allocations.wording import format_kronor, format_number, reason_text, unit_type_labels
from stimulans.uploads import UploadField

from ..models import (
    ApplicationStatus,
    ApplicationUnit,
    ApplicationUse,
    PaymentMethod,
    RequisitionStatus,
)
from ..services import DECLARATION, UnitChoice
from ..units import NewUnitChoice
from .filters import FilterControls

# Far above any real care home or home-care office, far below the database's integer.
MAX_COUNT = 100_000
TEXT_MAX = 10_000

_SPACES = re.compile(r"[\s\u00a0\u202f]+")


class KronorField(forms.IntegerField):
    """Whole kronor, typed the Swedish way if the user likes: `1 200 000 kr`."""

    widget = forms.TextInput(attrs={"inputmode": "numeric"})

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", grantfile.MAX_KRONOR)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = _SPACES.sub("", value)
            if value.lower().endswith("kr"):
                value = value[:-2]
        return super().to_python(value)

    def prepare_value(self, value):
        # A stored amount is shown the way it is read, `1 200 000`; what was typed stays as typed.
        if isinstance(value, int) and not isinstance(value, bool):
            return format_number(value)
        return value


def kronor_field(label, **kwargs) -> KronorField:
    return KronorField(label=label, **kwargs)


YES_NO = [("", "—"), ("yes", _("yes")), ("no", _("no"))]


def in_city_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=_("In the city"),
        choices=YES_NO,
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
    )


class PercentField(forms.DecimalField):
    """A percentage typed the Swedish way (`92,5`) or the English way (`92.5`)."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().removesuffix("%").strip().replace(",", ".")
        return super().to_python(value)


def percent_field() -> forms.DecimalField:
    # `92,5` as a Swedish provider types it, or `92.5`.
    return PercentField(
        label=_("Share placed by the city (per cent)"),
        required=False,
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
    )


def percent(share: Decimal | None) -> Decimal | None:
    """A share 0–1 as the percentage the form shows (90, 87.5)."""
    return None if share is None else (share * 100).normalize()


def count_field(label) -> forms.IntegerField:
    # The template draws these as text boxes, which keep whatever was typed beside the error.
    return forms.IntegerField(label=label, required=False, min_value=0, max_value=MAX_COUNT)


class PaymentFieldsMixin:
    """Bankgiro or plusgiro and a number whose check digit is right."""

    def add_payment_fields(self, *, required: bool) -> None:
        self.fields["payment_method"] = forms.ChoiceField(
            label=_("Payment method"),
            choices=[("", "—"), *PaymentMethod.choices],
            required=required,
        )
        self.fields["payment_account"] = forms.CharField(
            label=_("Account number"),
            max_length=30,
            required=required,
            help_text=_(
                "Bankgiro NNN-NNNN or NNNN-NNNN, plusgiro N-N up to NNNNNNN-N; spaces are fine."
            ),
        )

    def clean_payment(self, data: dict) -> None:
        method = data.get("payment_method") or ""
        account = (data.get("payment_account") or "").strip()
        data["payment_account"] = account
        if not account:
            return
        try:
            data["payment_account"] = identifiers.normal_account(method, account)
        except forms.ValidationError as exc:
            field = "payment_method" if not method else "payment_account"
            if field not in self.errors:
                self.add_error(field, exc.messages[0])


# ---------------------------------------------------------------- starting an application


class StartApplicationForm(GroupedNumbers, forms.Form):
    organisation = forms.TypedChoiceField(coerce=int, label=_("Organisation"))

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = [(o.pk, o.name) for o in organisations]


# ---------------------------------------------------------------- the application


class ApplicationForm(GroupedNumbers, PaymentFieldsMixin, forms.Form):
    """A draft application: units with confirmed figures, uses, contact, account, declaration.

    A draft may be incomplete; `services.submission_problems` says what is
    missing before it can be sent.
    """

    units = forms.MultipleChoiceField(
        label=_("Units"), required=False, widget=forms.CheckboxSelectMultiple
    )
    uses = forms.MultipleChoiceField(
        label=_("What the money will be used for"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    intended_use = forms.CharField(
        label=_("Describe the intended use"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    contact_name = forms.CharField(label=_("Contact person"), required=False, max_length=200)
    # The column's length: a form's EmailField takes up to 320 characters.
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False, max_length=254)
    contact_phone = forms.CharField(
        label=_("Contact telephone"),
        required=False,
        max_length=40,
        help_text=_("E.g. 08-508 000 00 or +46 70 123 45 67."),
    )
    will_report = forms.BooleanField(
        label=_("We will report back what the money was used for and what it achieved."),
        required=False,
    )
    declare_facts = forms.BooleanField(label=DECLARATION, required=False)

    def __init__(
        self,
        *args,
        app,
        links: list[ApplicationUnit],
        grant_units: list[GrantUnit],
        uses: list[PermittedUse],
        needs_amount: bool,
        new_units: list[Unit] = (),
        unconfirmed: set[int] = frozenset(),
        unavailable: list[tuple[str, str, str]] = (),
        **kwargs,
    ):
        # The grant units come with their unit's name, `unit_name` (`grant_units_offered_to`).
        # Units of the organisation that cannot take part, shown greyed: (name, type, why).
        self.unavailable = list(unavailable)
        self.app = app
        self.grant_units = {gu.pk: gu for gu in grant_units}
        # Registered units the grant does not know yet; saving adds the chosen ones to it.
        self.new_units = {f"new-{unit.pk}": unit for unit in new_units}
        # Units added to the grant that way whose figures the administration has not checked.
        self.unconfirmed = unconfirmed
        self.permitted_uses = {use.pk: use for use in uses}
        # The application's units (`ApplicationUnit`), by unit in the grant.
        links = {link.grant_unit_id: link for link in links}
        self.links = links
        kwargs.setdefault("initial", self._initial(app, links))
        super().__init__(*args, **kwargs)
        self.fields["units"].choices = [
            *((str(pk), gu.unit_name) for pk, gu in self.grant_units.items()),
            *((key, unit.name) for key, unit in self.new_units.items()),
        ]
        self.fields["uses"].choices = [
            (str(pk), use.label) for pk, use in self.permitted_uses.items()
        ]
        for pk, gu in self.grant_units.items():
            link = links.get(pk)
            for measure in ("places", "customers"):
                name = f"{measure}_{pk}"
                self.fields[name] = count_field(self._figure_label(measure, gu.unit_name))
                confirmed = getattr(link, measure) if link else None
                self.initial.setdefault(
                    name, confirmed if confirmed is not None else getattr(gu, measure)
                )
            self._add_fact_fields(pk, gu, link)
        for key, unit in self.new_units.items():
            for measure in ("places", "customers"):
                name = f"{measure}_{key}"
                self.fields[name] = count_field(self._figure_label(measure, unit.name))
                self.initial.setdefault(name, getattr(unit, measure))
            self._add_fact_fields(key, unit, None)
        self.add_payment_fields(required=False)
        if needs_amount:
            self.fields["requested_amount"] = kronor_field(_("Amount applied for"), min_value=1)
        # The order the page shows them in, which is also the error summary's.
        figures = [name for name in self.fields if name.startswith(("places_", "customers_"))]
        order = ["units", *figures, "uses", "intended_use", "requested_amount"]
        order += ["contact_name", "contact_email", "contact_phone"]
        order += ["payment_method", "payment_account", "will_report"]
        self.order_fields(order)

    def _add_fact_fields(self, key, figures, link) -> None:
        """Where the unit lies and the share the city placed, as stated (or as registered)."""
        self.fields[f"in_city_{key}"] = in_city_field()
        self.fields[f"share_{key}"] = percent_field()
        in_city = link.stated_in_city if link and link.stated_in_city is not None else None
        if in_city is None:
            in_city = figures.in_city
        share = link.stated_city_placed_share if link else None
        if share is None:
            share = figures.city_placed_share
        self.initial.setdefault(f"in_city_{key}", "yes" if in_city else "no")
        self.initial.setdefault(f"share_{key}", percent(share))

    def _facts(self, key) -> dict:
        share = self.cleaned_data.get(f"share_{key}")
        return {
            "in_city": self.cleaned_data.get(f"in_city_{key}"),
            "city_placed_share": None
            if share is None
            else (share / 100).quantize(Decimal("0.0001")),
        }

    def _verdict(self, pk) -> str:
        link = self.links.get(pk)
        if link is None or link.eligible is None:
            return ""
        if link.eligible:
            return str(_("takes part"))
        return reason_text(*link.reason) if link.reason else ""

    @staticmethod
    def _figure_label(measure: str, unit: str) -> str:
        # The label the error summary names the field by; the page draws the box itself.
        if measure == "places":
            return _("Places of %(unit)s") % {"unit": unit}
        return _("Customers of %(unit)s") % {"unit": unit}

    def error_anchor(self, name: str) -> str | None:
        """Where the error summary leads: the template draws the unit boxes with ids of its own."""
        if name == "units":
            first = next(iter([*self.grant_units, *self.new_units]), None)
            return f"unit-{first}" if first is not None else None
        return None

    @staticmethod
    def _initial(app, links) -> dict:
        return {
            "units": [str(pk) for pk in links],
            # From the link table alone, unordered: the uses' (and the links') own ordering
            # would join their agreement (or the application's grant) for nothing.
            "uses": [
                str(pk)
                for pk in ApplicationUse.objects.filter(application_id=app.pk)
                .order_by()
                .values_list("use_id", flat=True)
            ],
            "intended_use": app.intended_use,
            "contact_name": app.contact_name,
            "contact_email": app.contact_email,
            "contact_phone": app.contact_phone,
            "payment_method": app.payment_method,
            "payment_account": app.payment_account,
            "will_report": app.will_report,
            "requested_amount": app.requested_amount,
        }

    def unit_rows(self) -> list[dict]:
        """One row per unit of the organisation, for the table the template draws."""
        chosen = {str(v) for v in (self["units"].value() or [])}
        # Each type translated once, not once a unit.
        units = [*self.grant_units.values(), *self.new_units.values()]
        type_label = unit_type_labels(unit.type for unit in units)
        return [
            {
                "pk": pk,
                "name": gu.unit_name,
                "type": type_label[gu.type],
                "checked": str(pk) in chosen,
                "registered_places": gu.places,
                "registered_customers": gu.customers,
                "places": self[f"places_{pk}"],
                "customers": self[f"customers_{pk}"],
                "in_city": self[f"in_city_{pk}"],
                "share": self[f"share_{pk}"],
                "verdict": self._verdict(pk),
                "new": pk in self.unconfirmed,
            }
            for pk, gu in self.grant_units.items()
        ] + [
            {
                "pk": key,
                "name": unit.name,
                "type": type_label[unit.type],
                "checked": key in chosen,
                "registered_places": unit.places,
                "registered_customers": unit.customers,
                "places": self[f"places_{key}"],
                "customers": self[f"customers_{key}"],
                "in_city": self[f"in_city_{key}"],
                "share": self[f"share_{key}"],
                "verdict": "",
                "new": True,
            }
            for key, unit in self.new_units.items()
        ]

    def clean_contact_phone(self):
        phone = self.cleaned_data["contact_phone"].strip()
        return identifiers.normal_phone(phone) if phone else phone

    def clean(self):
        data = super().clean()
        chosen = set(data.get("units", []))
        # Figures of a unit that is not chosen are not saved, so they cannot be wrong.
        for pk in [*map(str, self.grant_units), *self.new_units]:
            if pk not in chosen:
                for measure in ("places", "customers", "in_city", "share"):
                    self.errors.pop(f"{measure}_{pk}", None)
        self.clean_payment(data)
        return data

    def unit_choices(self) -> list[UnitChoice]:
        out = []
        for value in self.cleaned_data["units"]:
            if value in self.new_units:
                continue
            gu = self.grant_units[int(value)]
            places = self.cleaned_data.get(f"places_{gu.pk}")
            customers = self.cleaned_data.get(f"customers_{gu.pk}")
            out.append(
                UnitChoice(
                    gu,
                    places=gu.places if places is None else places,
                    customers=gu.customers if customers is None else customers,
                    **self._facts(gu.pk),
                )
            )
        return out

    def new_unit_choices(self) -> list[NewUnitChoice]:
        """The chosen units that are new in the grant, with the figures given for them."""
        out = []
        for value in self.cleaned_data["units"]:
            unit = self.new_units.get(value)
            if unit is None:
                continue
            places = self.cleaned_data.get(f"places_{value}")
            customers = self.cleaned_data.get(f"customers_{value}")
            out.append(
                NewUnitChoice(
                    unit,
                    places=unit.places if places is None else places,
                    customers=unit.customers if customers is None else customers,
                    **self._facts(value),
                )
            )
        return out

    def chosen_uses(self) -> list[PermittedUse]:
        return [self.permitted_uses[int(v)] for v in self.cleaned_data["uses"]]

    def draft_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "units": self.unit_choices(),
            "uses": self.chosen_uses(),
            "intended_use": data["intended_use"].strip(),
            "contact_name": data["contact_name"].strip(),
            "contact_email": data["contact_email"].strip(),
            "contact_phone": data["contact_phone"].strip(),
            "payment_method": data.get("payment_method") or "",
            "payment_account": data.get("payment_account") or "",
            "will_report": data["will_report"],
            "declared": data["declare_facts"],
            "requested_amount": data.get("requested_amount"),
        }


class ConfirmForm(forms.Form):
    """A button that needs a POST (withdraw, submit): nothing to fill in."""


# ---------------------------------------------------------------- requisitions


def use_field_name(use: PermittedUse) -> str:
    return f"use_{use.pk}"


class RequisitionAcceptForm(GroupedNumbers, PaymentFieldsMixin, forms.Form):
    """Requisition the decided amount: account, and how much under each permitted use."""

    def __init__(self, *args, req, uses: list[PermittedUse], **kwargs):
        super().__init__(*args, **kwargs)
        self.req = req
        self.uses = uses
        self.add_payment_fields(required=True)
        for use in uses:
            self.fields[use_field_name(use)] = kronor_field(use.label, max_value=req.amount)

    def use_fields(self):
        return [self[use_field_name(u)] for u in self.uses]

    def clean(self):
        data = super().clean()
        self.clean_payment(data)
        if any(use_field_name(u) in self.errors for u in self.uses):
            return data
        total = sum(data.get(use_field_name(u)) or 0 for u in self.uses)
        if total != self.req.amount:
            raise forms.ValidationError(
                _("The amounts by heading add up to %(total)s; they must add up to %(amount)s.")
                % {
                    "total": format_kronor(total, nbsp=True),
                    "amount": format_kronor(self.req.amount, nbsp=True),
                },
                code="sum",
            )
        return data

    def lines(self) -> dict[PermittedUse, int]:
        return {u: self.cleaned_data.get(use_field_name(u)) or 0 for u in self.uses}


class RequisitionDeclineForm(GroupedNumbers, forms.Form):
    decline_reason = forms.CharField(
        label=_("Why do you decline?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_decline_reason(self):
        reason = self.cleaned_data["decline_reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why you decline the money."))
        return reason


# ---------------------------------------------------------------- usage reports


class UsageReportForm(GroupedNumbers, forms.Form):
    """What the money was used for by heading, what it achieved, and the benefit to the elderly."""

    achievements = forms.CharField(
        label=_("What the money achieved"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    benefit = forms.CharField(
        label=_("Benefit to the elderly"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, uses: list[PermittedUse], paid: int, submitting=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.uses = uses
        self.paid = paid
        self.submitting = submitting
        for use in uses:
            self.fields[use_field_name(use)] = kronor_field(use.label)
        self.order_fields([use_field_name(u) for u in uses])

    def use_fields(self):
        return [self[use_field_name(u)] for u in self.uses]

    def clean(self):
        data = super().clean()
        if self.submitting:
            for name in ("achievements", "benefit"):
                if name not in self.errors and not (data.get(name) or "").strip():
                    self.add_error(name, _("Fill this in before you submit the report."))
        if any(use_field_name(u) in self.errors for u in self.uses):
            return data
        used = sum(data.get(use_field_name(u)) or 0 for u in self.uses)
        if used > self.paid:
            raise forms.ValidationError(
                _("You report %(used)s used, but %(paid)s has been paid out.")
                % {
                    "used": format_kronor(used, nbsp=True),
                    "paid": format_kronor(self.paid, nbsp=True),
                },
                code="over",
            )
        return data

    def lines(self) -> dict[PermittedUse, int]:
        return {u: self.cleaned_data.get(use_field_name(u)) or 0 for u in self.uses}


# ---------------------------------------------------------------- list filters


class FilterForm(FilterControls, forms.Form):
    """A GET form over a list; a value that does not fit is simply not used as a filter."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        if "organisation" in self.fields:
            self.fields["organisation"].choices = [
                ("", _("All organisations")),
                *((str(o.pk), o.name) for o in organisations),
            ]

    def value(self, name: str):
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name) or None


class OrganisationFilterMixin(forms.Form):
    organisation = forms.TypedChoiceField(
        label=_("Organisation"), required=False, coerce=int, empty_value=None
    )


class ApplicationFilterForm(OrganisationFilterMixin, FilterForm):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *ApplicationStatus.choices],
    )


class DecisionFilterForm(OrganisationFilterMixin, FilterForm):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *RequisitionStatus.choices],
    )


class CallFilterForm(FilterForm):
    state = forms.ChoiceField(
        label=_("Calls"),
        required=False,
        choices=[
            ("open", _("open now")),
            ("upcoming", _("opening later")),
            ("closed", _("closed")),
            ("all", _("all")),
        ],
    )


TASK_KINDS = [
    ("application", _("applications to submit")),
    ("requisition", _("requisitions to answer")),
    ("report", _("usage reports to submit")),
    ("claim", _("money to repay")),
]


class TaskFilterForm(OrganisationFilterMixin, FilterForm):
    kind = forms.ChoiceField(
        label=_("What"), required=False, choices=[("", _("Everything")), *TASK_KINDS]
    )


class AttachmentForm(forms.Form):
    """A file to attach to a usage report; what it is, is read from its bytes by the service."""

    file = UploadField(
        label=_("Attachment"),
        help_text=_("A PDF, an image (PNG or JPEG) or an Excel workbook (xlsx)."),
    )
