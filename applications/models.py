"""The grant workflow: calls, applications, requisitions, payments, usage reports, repayments."""

import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from allocations import identifiers
from allocations.models import slug_validator


class Membership(models.Model):
    """A provider user belongs to one or more organisations and acts for them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    organisation = models.ForeignKey(
        "allocations.Organisation",
        models.CASCADE,
        related_name="memberships",
        verbose_name=_("organisation"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="membership_unique")
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} – {self.organisation}"


class Call(models.Model):
    """A call for applications (utlysning) to one pot, open between two dates."""

    pot = models.ForeignKey(
        "allocations.Pot", models.PROTECT, related_name="calls", verbose_name=_("pot")
    )
    title = models.CharField(_("title"), max_length=300)
    instructions = models.TextField(_("instructions"), blank=True)
    opens_on = models.DateField(_("opens on"))
    closes_on = models.DateField(_("closes on"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-opens_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_on__gte=models.F("opens_on")), name="call_dates_ordered"
            )
        ]
        verbose_name = _("call for applications")
        verbose_name_plural = _("calls for applications")
        permissions = [("handle_cases", _("Can handle grant cases as an official"))]

    def __str__(self) -> str:
        return self.title

    def is_open(self, today: date) -> bool:
        return self.opens_on <= today <= self.closes_on

    def clean(self) -> None:
        if not (self.pot_id and self.opens_on and self.closes_on):
            return  # a missing field is reported on its own
        problems = call_date_problems(
            pot=self.pot, opens_on=self.opens_on, closes_on=self.closes_on
        )
        if problems:
            errors: dict[str, list[str]] = {}
            for field, message in problems:
                errors.setdefault(field, []).append(message)
            raise ValidationError(errors)


# The agreement's dates a call must close before, in the order an official reads them.
AGREEMENT_DEADLINES = (
    ("spend_by", _("spend-by date")),
    ("report_by", _("report-by date")),
    ("repay_by", _("repay-by date")),
)


def call_date_problems(*, pot, opens_on: date, closes_on: date) -> list[tuple[str, str]]:
    """Why a call on `pot` cannot run between these dates, as (field, message) pairs.

    A call closes after it opens, and before the first of its agreement's dates: the money
    is decided once the call has closed, and then spent, reported and repaid.
    """
    problems = []
    if closes_on < opens_on:
        problems.append(("closes_on", str(_("A call cannot close before it opens."))))
    agreement = pot.grant.agreement
    deadlines = [
        (getattr(agreement, field), label)
        for field, label in AGREEMENT_DEADLINES
        if getattr(agreement, field)
    ]
    if deadlines:
        first, label = min(deadlines, key=lambda d: d[0])
        if closes_on >= first:
            problems.append(
                (
                    "closes_on",
                    str(
                        _(
                            "The call must close before the agreement's %(deadline)s "
                            "(%(date)s): the money is decided after the call closes, and "
                            "then spent."
                        )
                        % {"deadline": label, "date": first.isoformat()}
                    ),
                )
            )
    return problems


class PaymentMethod(models.TextChoices):
    BANKGIRO = "bankgiro", _("Bankgiro")
    PLUSGIRO = "plusgiro", _("Plusgiro")


# The checks of bankgiro and plusgiro numbers, here for the code that reads them from the models.
mod10_ok = identifiers.mod10_ok
payment_account_problem = identifiers.payment_account_problem


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    # Approved in review: recommended for the decision (tillstyrkt), not yet granted (beviljad),
    # which only a decided run makes it (`Application.status_label`).
    APPROVED = "approved", _("recommended")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


_APPLICATION_STATUS_LABELS = dict(ApplicationStatus.choices)


def application_status_label(status: str, *, granted: bool) -> str:
    """`Application.status_label`, for an application read as values."""
    if status == ApplicationStatus.APPROVED and granted:
        return str(_("granted"))
    # As get_status_display() gives it, without building the choices' dict on every call.
    return str(_APPLICATION_STATUS_LABELS.get(status, status))


def with_granted(applications):
    """The applications, each with `granted`: whether a decided run gives its organisation
    money from its pot (then its status reads "granted")."""
    return applications.annotate(
        granted=models.Exists(
            Requisition.objects.filter(
                run__decided_on__isnull=False,
                organisation=models.OuterRef("organisation"),
                pot=models.OuterRef("pot"),
            )
        )
    )


class Application(models.Model):
    """An organisation's application to one pot, naming its units and intended uses."""

    grant = models.ForeignKey(
        "allocations.Grant", models.CASCADE, related_name="applications", verbose_name=_("grant")
    )
    pot = models.ForeignKey(
        "allocations.Pot", models.PROTECT, related_name="applications", verbose_name=_("pot")
    )
    slug = models.SlugField(_("id"), max_length=100, validators=[slug_validator])
    organisation = models.ForeignKey(
        "allocations.Organisation",
        models.PROTECT,
        related_name="applications",
        verbose_name=_("organisation"),
    )
    units = models.ManyToManyField(
        "allocations.GrantUnit",
        through="ApplicationUnit",
        blank=True,
        related_name="applications",
        verbose_name=_("units"),
    )
    uses = models.ManyToManyField(
        "allocations.PermittedUse",
        through="ApplicationUse",
        blank=True,
        related_name="applications",
        verbose_name=_("intended permitted uses"),
    )
    intended_use = models.TextField(_("intended use"), blank=True)
    requested_amount = models.PositiveBigIntegerField(
        _("requested amount (kr)"), null=True, blank=True
    )
    granted_amount = models.PositiveBigIntegerField(_("granted amount (kr)"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.DRAFT,
    )
    status_reason = models.TextField(_("reason"), blank=True)
    # Units that fail the pot's rule: unit id -> {"code", "details"} (see allocations.wording).
    unit_reasons = models.JSONField(_("ineligible units"), default=dict, blank=True)
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    # Filled in through the portal; empty for applications imported from a grant file.
    call = models.ForeignKey(
        Call,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("call"),
    )
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact telephone"), max_length=40, blank=True)
    payment_method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethod.choices, blank=True
    )
    payment_account = models.CharField(_("account number"), max_length=20, blank=True)
    will_report = models.BooleanField(
        _("we will report back what the money was used for"), default=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(
        null=True, blank=True, auto_now_add=True, verbose_name=_("created at")
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The provider's declaration (intygande) that the units' stated facts are true: the text
    # it ticked, who and when. Cleared when the stated facts change, so it covers what is sent.
    facts_declaration = models.TextField(_("declaration"), blank=True)
    facts_declared_at = models.DateTimeField(_("declared at"), null=True, blank=True)
    facts_declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["grant", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "slug"], name="application_slug_unique")
        ]
        # The provider's start page shows its newest applications first.
        indexes = [models.Index(fields=["-created_at", "-id"], name="application_newest")]
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def __str__(self) -> str:
        return f"{self.slug} ({self.organisation})"

    @property
    def status_label(self) -> str:
        """The status in words: a recommended application reads "granted" once a decided run
        gives the money (`with_granted`, or `granted` set by the view), never before."""
        return application_status_label(self.status, granted=getattr(self, "granted", False))

    def is_granted(self) -> bool:
        return (
            self.status == ApplicationStatus.APPROVED
            and Requisition.objects.filter(
                run__decided_on__isnull=False,
                organisation_id=self.organisation_id,
                pot_id=self.pot_id,
            ).exists()
        )


class ApplicationUnit(models.Model):
    """A unit an application names, in the order it names them."""

    application = models.ForeignKey(Application, models.CASCADE, verbose_name=_("application"))
    grant_unit = models.ForeignKey(
        "allocations.GrantUnit", models.PROTECT, verbose_name=_("grant unit")
    )
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))
    # The figures the provider confirmed or corrected; empty: as registered for the grant.
    places = models.PositiveIntegerField(_("places"), null=True, blank=True)
    customers = models.PositiveIntegerField(_("customers"), null=True, blank=True)
    # The eligibility facts the provider states (uppgifter); empty: as registered for the grant.
    # Until an official verifies them they count only in this application's verdict, never in
    # the grant's own figures (`services.facts`).
    stated_in_city = models.BooleanField(_("stated: in the city"), null=True, blank=True)
    stated_city_placed_share = models.DecimalField(
        _("stated: share placed by the city"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )
    # Set by `services.verify_facts` alone: the grant's figures then hold what was verified.
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    verification_note = models.TextField(_("verification note"), blank=True, editable=False)
    # The pot's verdict on the unit with those figures, kept so that a list of a thousand
    # applications is summed in SQL instead of screened again on every request.
    # `screened_with` is the digest of the pot's model it was made with; empty: to be made.
    # The services that change a pot's model or a unit's figures screen again at once
    # (`services.screening`), so a page only reads them.
    measure = models.PositiveIntegerField(_("measure counted"), default=0, editable=False)
    eligible = models.BooleanField(_("eligible"), null=True, editable=False)
    reason = models.JSONField(_("why not eligible"), null=True, blank=True, editable=False)
    screened_with = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["application", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "grant_unit"], name="application_unit_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.grant_unit_id}"


SCREENING_FIELDS = {"measure", "eligible", "reason", "screened_with"}


class ReviewFigures(models.Model):
    """The review list's summary, kept by PostgreSQL's triggers (migration 0009): per pot, call
    (0: none), organisation, status and `flagged` (some unit ineligible), the number of
    applications and their sums. Read it through `applications.review_figures`; nothing
    writes it but the triggers, and the books check compares it with the applications."""

    pot_id = models.BigIntegerField()
    call_id = models.BigIntegerField()
    organisation_id = models.BigIntegerField()
    status = models.CharField(max_length=16)
    flagged = models.BooleanField()
    count = models.BigIntegerField()
    requested = models.BigIntegerField()
    granted = models.BigIntegerField()
    measure = models.BigIntegerField()
    eligible = models.BigIntegerField()

    class Meta:
        managed = False  # derived data, made by the database: no backup, no admin
        db_table = "applications_reviewfigures"

    def __str__(self) -> str:
        return f"{self.pot_id}/{self.call_id}/{self.organisation_id}/{self.status}: {self.count}"


class ApplicationUse(models.Model):
    """A permitted use an application ticks, in the order it ticks them."""

    application = models.ForeignKey(Application, models.CASCADE, verbose_name=_("application"))
    use = models.ForeignKey("allocations.PermittedUse", models.PROTECT, verbose_name=_("use"))
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        ordering = ["application", "position"]
        constraints = [
            models.UniqueConstraint(fields=["application", "use"], name="application_use_unique")
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.use_id}"


class RequisitionStatus(models.TextChoices):
    PENDING = "pending", _("awaiting answer")
    ACCEPTED = "accepted", _("requisitioned")
    DECLINED = "declined", _("declined")


class Requisition(models.Model):
    """What a decided run gave one organisation from one pot, and its answer (rekvisition).

    One per pot, so that every krona can be followed per pot from decision to
    payment, use and repayment.

    The recipient accepts — confirming the amount, the payment details and how
    it means to use the money by heading — or declines.
    """

    run = models.ForeignKey(
        "allocations.AllocationRun", models.PROTECT, related_name="requisitions"
    )
    organisation = models.ForeignKey(
        "allocations.Organisation",
        models.PROTECT,
        related_name="requisitions",
        verbose_name=_("organisation"),
    )
    pot = models.ForeignKey(
        "allocations.Pot", models.PROTECT, related_name="requisitions", verbose_name=_("pot")
    )
    amount = models.PositiveBigIntegerField(_("decided amount (kr)"))
    due_on = models.DateField(_("requisition by"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=RequisitionStatus.choices,
        default=RequisitionStatus.PENDING,
    )
    payment_method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethod.choices, blank=True
    )
    payment_account = models.CharField(_("account number"), max_length=20, blank=True)
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    report_reminder_sent_on = models.DateField(
        null=True, blank=True, verbose_name=_("report reminder sent on")
    )
    # A recipient with no portal users answers through an official (svar för mottagarens
    # räkning): the official is `answered_by`; on whose word, and the day it was given.
    answered_by_official = models.BooleanField(_("answered by an official"), default=False)
    on_behalf_of = models.CharField(
        _("answered on the word of"),
        max_length=200,
        blank=True,
        help_text=_("Name and role of the person at the recipient who gave the answer."),
    )
    on_behalf_given_on = models.DateField(_("answer given on"), null=True, blank=True)

    class Meta:
        ordering = ["run", "organisation__name", "pot__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "organisation", "pot"], name="requisition_unique"
            )
        ]
        verbose_name = _("requisition")
        verbose_name_plural = _("requisitions")

    def __str__(self) -> str:
        return f"{self.organisation} – {self.pot} ({self.run})"


class RequisitionLine(models.Model):
    """How much of a requisition the recipient means to use under one heading."""

    requisition = models.ForeignKey(
        Requisition, models.CASCADE, related_name="lines", verbose_name=_("requisition")
    )
    use = models.ForeignKey("allocations.PermittedUse", models.PROTECT, verbose_name=_("use"))
    amount = models.PositiveBigIntegerField(_("amount (kr)"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["requisition", "use"], name="requisition_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.use}: {self.amount}"


class Payment(models.Model):
    """A payout to a recipient (utbetalning)."""

    requisition = models.ForeignKey(
        Requisition, models.PROTECT, related_name="payments", verbose_name=_("requisition")
    )
    paid_on = models.DateField(_("paid on"))
    amount = models.PositiveBigIntegerField(_("amount (kr)"))
    reference = models.CharField(_("reference"), max_length=100)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("recorded at"))

    class Meta:
        ordering = ["paid_on", "id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"{self.paid_on} {self.amount} kr ({self.reference})"


class ReportStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    ACCEPTED = "accepted", _("accepted")
    RETURNED = "returned", _("returned for completion")


class UsageReport(models.Model):
    """What the recipient used the money for (återrapportering)."""

    requisition = models.OneToOneField(
        Requisition, models.PROTECT, related_name="report", verbose_name=_("requisition")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    achievements = models.TextField(_("what the money achieved"), blank=True)
    benefit = models.TextField(_("benefit to the elderly"), blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("submitted at"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("usage report")
        verbose_name_plural = _("usage reports")

    def __str__(self) -> str:
        return f"{self.requisition}"


class UsageLine(models.Model):
    report = models.ForeignKey(
        UsageReport, models.CASCADE, related_name="lines", verbose_name=_("report")
    )
    use = models.ForeignKey("allocations.PermittedUse", models.PROTECT, verbose_name=_("use"))
    amount = models.PositiveBigIntegerField(_("amount used (kr)"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "use"], name="usage_line_unique")]

    def __str__(self) -> str:
        return f"{self.use}: {self.amount}"


def attachment_path(attachment: "ReportAttachment", filename: str) -> str:
    """Where an attachment is stored: in the private file storage (MEDIA_ROOT, which no URL
    serves), under a random name; only `portal:attachment` hands it out, to those who may."""
    ending = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return f"attachments/{uuid.uuid4().hex}.{ending}"


class ReportAttachment(models.Model):
    """A file sent with a usage report (bilaga): a receipt, a photo, a spreadsheet."""

    report = models.ForeignKey(
        UsageReport, models.CASCADE, related_name="attachments", verbose_name=_("report")
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    name = models.CharField(_("file name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("uploaded at"))

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class ClaimReason(models.TextChoices):
    UNSPENT = "unspent", _("not used")
    DECLINED = "declined", _("declined")
    UNREQUISITIONED = "unrequisitioned", _("not requisitioned in time")


class ClaimDisposition(models.TextChoices):
    RETURN_TO_STATE = "return", _("returned to the state")
    REDISTRIBUTE = "redistribute", _("redistributed")


class RepaymentClaim(models.Model):
    """Money claimed back (återkrav) or taken back from a requisition, and where it goes."""

    requisition = models.ForeignKey(
        Requisition, models.PROTECT, related_name="claims", verbose_name=_("requisition")
    )
    reason = models.CharField(_("reason"), max_length=20, choices=ClaimReason.choices)
    amount = models.PositiveBigIntegerField(_("amount (kr)"))
    due_on = models.DateField(_("due on"), null=True, blank=True)
    paid_on = models.DateField(_("repaid on"), null=True, blank=True)
    disposition = models.CharField(
        _("goes to"),
        max_length=16,
        choices=ClaimDisposition.choices,
        default=ClaimDisposition.RETURN_TO_STATE,
    )
    redistribution = models.ForeignKey(
        "allocations.AllocationRun",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="source_claims",
        verbose_name=_("redistributed in"),
    )
    # Where and how to pay, as the grant's claim account said when the claim was made: a letter
    # sent stays true when the account is changed later. Blank for money never paid out.
    payee = models.CharField(_("pay to"), max_length=200, blank=True)
    payment_method = models.CharField(
        _("payment method"), max_length=10, choices=PaymentMethod.choices, blank=True
    )
    payment_account = models.CharField(_("account number"), max_length=20, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=60, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("repayment claim")
        verbose_name_plural = _("repayment claims")

    def __str__(self) -> str:
        return f"{self.requisition.organisation}: {self.amount} kr ({self.get_reason_display()})"

    def is_overdue(self, today: date) -> bool:
        """Due and not fully repaid (a claim with no due date is never overdue)."""
        return self.paid_on is None and self.due_on is not None and self.due_on < today


class ClaimRepayment(models.Model):
    """Money repaid on a claim (återbetalning): the whole claim at once, or in parts."""

    claim = models.ForeignKey(
        RepaymentClaim, models.PROTECT, related_name="repayments", verbose_name=_("claim")
    )
    amount = models.PositiveBigIntegerField(_("amount (kr)"))
    paid_on = models.DateField(_("repaid on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("recorded at"))

    class Meta:
        ordering = ["paid_on", "id"]
        verbose_name = _("repayment")
        verbose_name_plural = _("repayments")

    def __str__(self) -> str:
        return f"{self.claim}: {self.amount} kr {self.paid_on}"


class ClaimPayee(models.TextChoices):
    ADMINISTRATION = "administration", _("the administration")
    STATE = "state", _("the state, as the agreement names")


class ClaimAccount(models.Model):
    """Where a grant's claimed-back money is paid (konto för återbetalning vid återkrav).

    To the administration that holds the grant, or, for a grant whose unused money goes
    straight back to the state, to the payee the agreement names (`Agreement.repay_to`).
    A claim copies the account, a reference and its due date from here when it is made.
    """

    grant = models.OneToOneField(
        "allocations.Grant",
        models.CASCADE,
        related_name="claim_account",
        verbose_name=_("grant"),
    )
    pays_to = models.CharField(
        _("repaid to"),
        max_length=16,
        choices=ClaimPayee.choices,
        default=ClaimPayee.ADMINISTRATION,
    )
    payee = models.CharField(_("payee"), max_length=200)
    payment_method = models.CharField(
        _("payment method"), max_length=10, choices=PaymentMethod.choices
    )
    payment_account = models.CharField(_("account number"), max_length=20)
    reference_prefix = models.CharField(
        _("reference prefix"),
        max_length=40,
        blank=True,
        help_text=_("Each claim's payment reference is this and the claim's number."),
    )
    days_to_pay = models.PositiveSmallIntegerField(
        _("days to pay"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("claim account")
        verbose_name_plural = _("claim accounts")

    def __str__(self) -> str:
        return f"{self.payee}: {self.get_payment_method_display()} {self.payment_account}"


class NoticeKind(models.TextChoices):
    """What a notice says; each kind is the e-mail template of the same name."""

    SUBMITTED = "submitted", _("application received")
    APPROVED = "approved", _("application approved")
    REJECTED = "rejected", _("application rejected")
    DECISION = "decision", _("decision made")
    REQUISITIONED = "requisitioned", _("requisition received")
    PAID = "paid", _("payment made")
    CLAIM = "claim", _("repayment claimed")
    REPORT_DUE = "report_due", _("usage report due")
    INVITATION = "invitation", _("invitation to the portal")
    REMINDER = "reminder", _("reminder from an official")


class NoticeStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class Notice(models.Model):
    """An e-mail the workflow sends (avisering), rendered when recorded and sent by the worker.

    Recorded in the transaction of the step it tells about, so a step rolled back sends
    nothing; queued for `applications.send_notice` (or, with others of its step,
    `applications.send_notices`) once that transaction commits.
    """

    kind = models.CharField(_("kind"), max_length=20, choices=NoticeKind.choices)
    recipients = models.JSONField(_("recipients"), default=list)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    # What the notice is about: an application, a requisition, a payment, a repayment claim.
    content_type = models.ForeignKey(
        "contenttypes.ContentType", models.PROTECT, related_name="+", verbose_name=_("concerns")
    )
    object_id = models.PositiveBigIntegerField(_("object id"))
    concerns = GenericForeignKey("content_type", "object_id")
    # For a reminder: which reminder of the object it is. At most one notice per step.
    step = models.CharField(_("reminder step"), max_length=40, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # When it was last queued or tried: the sweep re-queues a queued notice left alone long.
    queued_at = models.DateTimeField(_("last queued or tried at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="notice_concerns"),
            models.Index(fields=["status", "queued_at"], name="notice_status_queued"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "kind", "step"],
                condition=~models.Q(step=""),
                name="notice_step_unique",
            )
        ]
        verbose_name = _("e-mail notice")
        verbose_name_plural = _("e-mail notices")

    def __str__(self) -> str:
        return self.subject
