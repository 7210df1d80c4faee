"""Forms of the officials' pages: they validate and convert; the services decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext_lazy as _

from allocations.engine import APPLIED_FOR
from allocations.formerrors import GroupedNumbers
from allocations.forms import DecideForm
from allocations.grantfile import MAX_KRONOR
from allocations.models import AllocationRun, Grant, Organisation, Pot
from allocations.wording import format_kronor
from stimulans.uploads import UploadField

from ..models import (
    ApplicationStatus,
    Call,
    ClaimDisposition,
    ClaimPayee,
    PaymentMethod,
    ReportStatus,
    RequisitionStatus,
    call_date_problems,
)
from . import portal
from .filters import FilterControls, NamedModelChoiceField


def date_field(label, **kwargs) -> forms.DateField:
    """A date typed or picked as YYYY-MM-DD."""
    return forms.DateField(
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        **kwargs,
    )


class KronorField(portal.KronorField):
    """Whole kronor, as the portal reads and shows them: `8 209 071 kr` is read as 8209071
    and a stored amount is shown as `8 209 071`, in a text box with a numeric keyboard (a
    number box cannot show the grouping). Required unless said otherwise; never more than
    any grant could hold."""

    def __init__(self, *, min_value: int = 0, required: bool = True, **kwargs):
        super().__init__(min_value=min_value, max_value=MAX_KRONOR, required=required, **kwargs)


class Labelled(GroupedNumbers):
    """Labels are written like verbose names, lower case; on a page they start with a capital.

    Every office form has it, so their errors also write numbers the Swedish way.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.label = capfirst(field.label)


class GetForm(FilterControls, Labelled, forms.Form):
    """A list's filters: whatever does not validate is left out, never an error page."""

    def values(self) -> dict:
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


def _choices(blank_label, choices) -> list:
    return [("", blank_label), *choices]


# ---------------------------------------------------------------- calls


class GrantChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, grant: Grant) -> str:
        return Truncator(grant.title).chars(60)


class PotChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, pot: Pot) -> str:
        return f"{pot.name} ({Truncator(pot.grant.title).chars(40)})"


class CallForm(Labelled, forms.Form):
    pot = PotChoiceField(
        label=_("pot"),
        queryset=Pot.objects.filter(children__isnull=True, model__type__in=sorted(APPLIED_FOR))
        .select_related("grant")
        .order_by("grant__slug", "position", "id"),
        help_text=_("A pot whose allocation model divides the money among those who apply."),
    )
    title = forms.CharField(label=_("title"), max_length=300)
    opens_on = date_field(_("opens on"))
    closes_on = date_field(_("closes on"))
    instructions = forms.CharField(
        label=_("instructions"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean(self):
        data = super().clean()
        pot, opens_on, closes_on = data.get("pot"), data.get("opens_on"), data.get("closes_on")
        if pot and opens_on and closes_on:
            for field, message in call_date_problems(
                pot=pot, opens_on=opens_on, closes_on=closes_on
            ):
                self.add_error(field, message)
        return data


class CallFilterForm(GetForm):
    OPEN, UPCOMING, CLOSED = "open", "upcoming", "closed"
    grant = GrantChoiceField(
        label=_("grant"), queryset=Grant.objects.order_by("slug"), required=False
    )
    state = forms.ChoiceField(
        label=_("state"),
        required=False,
        choices=_choices(
            _("all"), [(OPEN, _("open")), (UPCOMING, _("not open yet")), (CLOSED, _("closed"))]
        ),
    )


# ---------------------------------------------------------------- applications


class ReviewFilterForm(GetForm):
    ELIGIBLE, INELIGIBLE = "eligible", "ineligible"
    status = forms.ChoiceField(
        label=_("status"), required=False, choices=_choices(_("all"), ApplicationStatus.choices)
    )
    organisation = NamedModelChoiceField(
        label=_("provider"), queryset=Organisation.objects.none(), required=False
    )
    eligibility = forms.ChoiceField(
        label=_("eligibility"),
        required=False,
        choices=_choices(
            _("all"),
            [(ELIGIBLE, _("every unit eligible")), (INELIGIBLE, _("has ineligible units"))],
        ),
    )

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations


PercentField = portal.PercentField


class LocationForm(Labelled, forms.Form):
    """Where a unit new to the grant lies, as the official confirms it: what the application
    stated, or the official's correction of it with a reason (`services.verify_facts`)."""

    in_city = forms.BooleanField(label=_("in the city"), required=False)
    city_placed_percent = PercentField(
        label=_("share of residents placed by the city (%)"),
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6}),
    )
    reason = forms.CharField(
        label=_("reason for a correction"),
        required=False,
        max_length=2000,
        help_text=_("Required when you change what the application states."),
    )

    def __init__(self, *args, stated=None, **kwargs):
        # Offered as the application stated it: confirming it as it stands needs no reason.
        if stated is not None:
            kwargs.setdefault(
                "initial",
                {
                    "in_city": stated.in_city,
                    "city_placed_percent": format(
                        (stated.city_placed_share * 100).normalize(), "f"
                    ),
                },
            )
        super().__init__(*args, **kwargs)

    def share(self) -> Decimal:
        return (self.cleaned_data["city_placed_percent"] / 100).quantize(Decimal("0.0001"))


class ReviewForm(Labelled, forms.Form):
    APPROVE, REJECT = "approve", "reject"
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[(APPROVE, _("recommend")), (REJECT, _("reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The provider sees this. Required when rejecting."),
    )
    # Recommended (tillstyrkt) in review; a decision grants it (beviljat belopp).
    granted_amount = KronorField(label=_("recommended amount (kr)"), required=False)

    def __init__(self, *args, pot: Pot, **kwargs):
        super().__init__(*args, **kwargs)
        self.needs_amount = pot.model_type == "approved_amounts"
        if not self.needs_amount:
            del self.fields["granted_amount"]

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision == self.REJECT and not data.get("reason", "").strip():
            self.add_error("reason", _("Give the provider the reason for rejecting."))
        if decision == self.APPROVE and self.needs_amount and data.get("granted_amount") is None:
            self.add_error("granted_amount", _("Set the recommended amount."))
        return data


# ---------------------------------------------------------------- decision


class DecisionForm(Labelled, DecideForm):
    """The decision on a run, and the date by which the recipients requisition their money."""

    requisition_by = date_field(
        _("requisition by"),
        required=False,
        help_text=_("The last day for the recipients to requisition or decline."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decided_on"].input_formats = ["%Y-%m-%d"]


class RoundDecisionForm(DecisionForm):
    """The decision on a redistribution round: the official confirms what it does with the money."""

    confirm = forms.BooleanField(
        label=_("I have checked who gets what: the amounts above become requisitions"),
        required=True,
    )


class RedistributionForm(Labelled, forms.Form):
    """Who takes part in a redistribution (omfördelning), and the amount the official saw."""

    organisations = forms.ModelMultipleChoiceField(
        label=_("recipients taking part"),
        queryset=Organisation.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one recipient.")},
    )
    amount = KronorField(widget=forms.HiddenInput)

    def __init__(self, *args, candidates: list[Organisation], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisations"].queryset = Organisation.objects.filter(
            pk__in=[o.pk for o in candidates]
        ).order_by("name", "slug")


class RunRowsFilterForm(GetForm):
    pot = forms.ModelChoiceField(label=_("pot"), queryset=Pot.objects.none(), required=False)
    organisation = forms.ModelChoiceField(
        label=_("organisation"), queryset=Organisation.objects.none(), required=False
    )

    def __init__(self, *args, run: AllocationRun, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pot"].queryset = Pot.objects.filter(results__run=run).order_by("position")
        self.fields["organisation"].queryset = Organisation.objects.filter(
            pk__in=run.rows.values("organisation_id")
        )


# ---------------------------------------------------------------- requisitions and payments


class RequisitionFilterForm(GetForm):
    UNPAID, CLAIMABLE = "unpaid", "claimable"
    run = forms.ModelChoiceField(
        label=_("decision"),
        queryset=AllocationRun.objects.decided().select_related("grant").order_by("-decided_on"),
        required=False,
    )
    pot = PotChoiceField(
        label=_("pot"),
        queryset=Pot.objects.filter(requisitions__isnull=False)
        .distinct()
        .select_related("grant")
        .order_by("grant__slug", "position", "id"),
        required=False,
    )
    organisation = forms.ModelChoiceField(
        label=_("organisation"),
        queryset=Organisation.objects.filter(requisitions__isnull=False).distinct(),
        required=False,
    )
    status = forms.ChoiceField(
        label=_("status"),
        required=False,
        choices=_choices(
            _("all"),
            [
                *RequisitionStatus.choices,
                (UNPAID, _("requisitioned, not fully paid")),
                (CLAIMABLE, _("something can be claimed back")),
            ],
        ),
    )


class CappedAmount:
    """A form whose amount may not exceed `most`: what is left to pay, claim back or repay.

    A form sets `too_much`, the message its service also gives, which names the cap as
    %(<cap_param>)s."""

    too_much: str
    cap_param = "most"

    def __init__(self, *args, most: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.most = most

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount > self.most:
            raise ValidationError(self.too_much, params={self.cap_param: format_kronor(self.most)})
        return amount


class PaymentForm(CappedAmount, Labelled, forms.Form):
    too_much = _("Only %(left)s of the requisition is unpaid.")
    cap_param = "left"

    paid_on = date_field(_("paid on"))
    amount = KronorField(label=_("amount (kr)"), min_value=1)
    reference = forms.CharField(
        label=_("reference"), max_length=100, help_text=_("E.g. the voucher number.")
    )


class ClaimForm(CappedAmount, Labelled, forms.Form):
    too_much = _("At most %(most)s can be claimed back.")

    amount = KronorField(label=_("amount (kr)"), min_value=1)
    due_on = date_field(
        _("due on"),
        required=False,
        help_text=_("When unspent money is to be repaid. Not used for money never paid out."),
    )
    disposition = forms.ChoiceField(
        label=_("the money goes"), choices=ClaimDisposition.choices, widget=forms.RadioSelect
    )


class RepaidForm(Labelled, forms.Form):
    paid_on = date_field(_("repaid on"))


class RepaymentForm(CappedAmount, Labelled, forms.Form):
    """Money repaid on a claim: all that is left (registered as repaid), or a part."""

    too_much = _("Only %(left)s of the claim is left to repay.")
    cap_param = "left"

    amount = KronorField(label=_("amount repaid (kr)"), min_value=1)
    paid_on = date_field(_("repaid on"))


class ClaimAccountForm(Labelled, forms.Form):
    """Where a grant's claimed-back money is paid; the service checks and normalises."""

    pays_to = forms.ChoiceField(
        label=_("repaid to"), choices=ClaimPayee.choices, widget=forms.RadioSelect
    )
    payee = forms.CharField(
        label=_("payee"),
        max_length=200,
        required=False,
        help_text=_(
            "Left empty: the administration holding the grant, or the payee the agreement names."
        ),
    )
    payment_method = forms.ChoiceField(label=_("payment method"), choices=PaymentMethod.choices)
    payment_account = forms.CharField(
        label=_("account number"),
        max_length=30,
        help_text=_(
            "Bankgiro NNN-NNNN or NNNN-NNNN, plusgiro N-N up to NNNNNNN-N; spaces are fine."
        ),
    )
    reference_prefix = forms.CharField(
        label=_("reference prefix"),
        max_length=40,
        required=False,
        help_text=_("Each claim's payment reference is this and the claim's number."),
    )
    days_to_pay = forms.IntegerField(label=_("days to pay"), min_value=1, max_value=365)


# ---------------------------------------------------------------- usage reports and claims


class ReportFilterForm(GetForm):
    status = forms.ChoiceField(
        label=_("status"), required=False, choices=_choices(_("all"), ReportStatus.choices)
    )
    grant = GrantChoiceField(
        label=_("grant"), queryset=Grant.objects.order_by("slug"), required=False
    )


class ReportReviewForm(Labelled, forms.Form):
    ACCEPT, RETURN = "accept", "return"
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[(ACCEPT, _("accept")), (RETURN, _("return for completion"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The provider sees this. Required when returning the report."),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == self.RETURN and not data.get("comment", "").strip():
            self.add_error("comment", _("Say what the provider must complete."))
        return data


class ClaimFilterForm(GetForm):
    OUTSTANDING, SETTLED, OVERDUE = "outstanding", "settled", "overdue"
    grant = GrantChoiceField(
        label=_("grant"), queryset=Grant.objects.order_by("slug"), required=False
    )
    state = forms.ChoiceField(
        label=_("state"),
        required=False,
        choices=_choices(
            _("all"),
            [
                (OUTSTANDING, _("outstanding")),
                (OVERDUE, _("overdue")),
                (SETTLED, _("settled")),
            ],
        ),
    )
    disposition = forms.ChoiceField(
        label=_("the money goes"),
        required=False,
        choices=_choices(_("all"), ClaimDisposition.choices),
    )


# ---------------------------------------------------------------- many at once


def _ids(values) -> list[int]:
    """Row ids ticked in a list; anything that is not a plausible id is left out."""
    ids = []
    for value in values:
        value = str(value).strip()
        if value.isdigit() and len(value) < 19:
            ids.append(int(value))
    return ids


class BulkReviewForm(Labelled, forms.Form):
    """Approve or reject the ticked applications of a list with one reason."""

    APPROVE, REJECT = ReviewForm.APPROVE, ReviewForm.REJECT
    decision = forms.ChoiceField(
        label=_("decision for the ticked applications"),
        choices=[(APPROVE, _("approve")), (REJECT, _("reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The providers see this. Required when rejecting."),
    )

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.ticked = _ids(data.getlist("applications")) if data is not None else []

    def clean(self):
        data = super().clean()
        if not self.ticked:
            raise ValidationError(_("Tick at least one application."))
        if data.get("decision") == self.REJECT and not data.get("reason", "").strip():
            self.add_error("reason", _("Give the provider the reason for rejecting."))
        return data


class ReminderForm(forms.Form):
    """The ticked requisitions of a list, whose recipients are reminded."""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.ticked = _ids(data.getlist("requisitions")) if data is not None else []

    def clean(self):
        data = super().clean()
        if not self.ticked:
            raise ValidationError(_("Tick at least one recipient to remind."))
        return data


# ---------------------------------------------------------------- answering for a recipient


class OnBehalfForm(Labelled, forms.Form):
    """On whose word an official answers a requisition for a recipient with no portal users."""

    on_behalf_name = forms.CharField(label=_("name of the person at the recipient"), max_length=120)
    on_behalf_role = forms.CharField(
        label=_("their role"),
        max_length=78,
        required=False,
        help_text=_("E.g. district director (stadsdelsdirektör)."),
    )
    on_behalf_given_on = date_field(
        _("the day they gave the answer"),
        help_text=_("By telephone, e-mail or letter; keep the letter or e-mail in the case."),
    )

    def clean_on_behalf_name(self):
        name = self.cleaned_data["on_behalf_name"].strip()
        if not name:
            raise ValidationError(_("Name the person at the recipient who gave the answer."))
        return name


# ---------------------------------------------------------------- verifying unit facts


class FactsFilterForm(GetForm):
    """Which application units the verification list shows (`views.office.facts`)."""

    UNVERIFIED, CHANGED, FAILING, VERIFIED = "unverified", "changed", "failing", "verified"
    call = forms.ModelChoiceField(label=_("call"), queryset=Call.objects.none(), required=False)
    show = forms.ChoiceField(
        label=_("show"),
        required=False,
        choices=_choices(
            _("all"),
            [
                (UNVERIFIED, _("not verified")),
                (CHANGED, _("differs from the register")),
                (FAILING, _("fails the rule")),
                (VERIFIED, _("verified")),
            ],
        ),
    )
    organisation = forms.ModelChoiceField(
        label=_("provider"), queryset=Organisation.objects.none(), required=False
    )

    def __init__(self, *args, calls, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["call"].queryset = calls
        self.fields["organisation"].queryset = organisations


YES_NO = [("", "—"), ("yes", _("yes")), ("no", _("no"))]


class FactsVerifyForm(forms.Form):
    """The units ticked on the verification list, each row's optional correction, a reason.

    Built from the rows on the page: a posted id of another row is an error, never a service
    call. A correction left blank verifies what was stated.
    """

    links = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(
        label=_("Reason for corrections"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when you correct a stated figure; kept in the history."),
    )

    def __init__(self, *args, link_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.link_ids = link_ids
        self.fields["links"].choices = [(str(pk), str(pk)) for pk in link_ids]
        # One field of each kind serves every row: a field keeps no state of the data it
        # cleans, and making 2 000 of them (500 rows) took a fifth of the page's time.
        in_city = forms.TypedChoiceField(
            choices=YES_NO, coerce=lambda v: v == "yes", empty_value=None, required=False
        )
        share = PercentField(
            required=False, min_value=0, max_value=100, max_digits=5, decimal_places=2
        )
        count = forms.IntegerField(required=False, min_value=0, max_value=100_000)
        for pk in link_ids:
            self.fields[f"in_city_{pk}"] = in_city
            self.fields[f"share_{pk}"] = share
            self.fields[f"places_{pk}"] = count
            self.fields[f"customers_{pk}"] = count

    def clean(self):
        data = super().clean()
        chosen = set(data.get("links") or [])
        # A correction of a unit that is not ticked is not made, so it cannot be wrong.
        for pk in self.link_ids:
            if str(pk) not in chosen:
                for name in ("in_city", "share", "places", "customers"):
                    self.errors.pop(f"{name}_{pk}", None)
        if not chosen and not self.errors:
            raise ValidationError(_("Tick at least one unit to verify."))
        return data

    def verifications(self):
        from ..services import Verification

        out = []
        for value in self.cleaned_data["links"]:
            pk = int(value)
            share = self.cleaned_data.get(f"share_{pk}")
            out.append(
                Verification(
                    pk,
                    in_city=self.cleaned_data.get(f"in_city_{pk}"),
                    city_placed_share=(
                        None if share is None else (share / 100).quantize(Decimal("0.0001"))
                    ),
                    places=self.cleaned_data.get(f"places_{pk}"),
                    customers=self.cleaned_data.get(f"customers_{pk}"),
                )
            )
        return out


class PlacementUploadForm(Labelled, forms.Form):
    file = UploadField(
        label=_("the city's placement register (xlsx or CSV)"),
        help_text=_("Columns: id (the unit's id), share (0–1 or per cent), date (YYYY-MM-DD)."),
    )
