"""The grant ledger: agreements, grants, the budget tree, and computed allocations."""

from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import grantfile

slug_validator = RegexValidator(
    grantfile.SLUG, _("Use lower-case letters, digits and hyphens only.")
)


def validate_org_number(value: str) -> None:
    if not grantfile.luhn_ok(value):
        raise ValidationError(
            _(
                "%(value)s is not a valid organisation number "
                "(NNNNNN-NNNN with a correct check digit)."
            ),
            params={"value": value},
        )


class OrganisationKind(models.TextChoices):
    MUNICIPALITY = "municipality", _("municipality")
    DISTRICT = "district_administration", _("district administration")
    SPECIALIST = "specialist_administration", _("specialist administration")
    PRIVATE_PROVIDER = "private_provider", _("private provider")
    NON_PROFIT = "non_profit", _("non-profit organisation")
    OTHER = "other", _("other")


class Ownership(models.TextChoices):
    PUBLIC = "public", _("public")
    PRIVATE = "private", _("private")


class UnitType(models.TextChoices):
    CARE_HOME = "care_home", _("care home")
    SERVICE_HOUSE = "service_house", _("service house")
    HOME_CARE = "home_care", _("home care")
    LSS_HOME = "lss_home", _("LSS home")
    PSYCHIATRIC_HOME = "psychiatric_home", _("social psychiatric home")
    OTHER = "other", _("other")


class ModelType(models.TextChoices):
    FIXED = "fixed", _("fixed amounts")
    EQUAL = "equal", _("equal shares")
    REMAINDER = "remainder", _("the remainder")
    KEY = "key", _("key (population or weighted)")
    PER_UNIT = "per_unit", _("per place or customer")
    TIERED = "tiered", _("tiered amounts by volume")
    APPROVED_AMOUNTS = "approved_amounts", _("amounts open for application")


class Organisation(models.Model):
    """A municipality, an administration or a care provider (utförare)."""

    slug = models.SlugField(_("id"), max_length=100, unique=True, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=OrganisationKind.choices)
    ownership = models.CharField(_("ownership"), max_length=8, choices=Ownership.choices)
    org_number = models.CharField(
        _("organisation number"), max_length=11, blank=True, validators=[validate_org_number]
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Agreement(models.Model):
    """The national agreement (överenskommelse) the money comes from."""

    title = models.CharField(_("title"), max_length=300)
    year = models.PositiveSmallIntegerField(_("year"))
    parties = models.JSONField(_("parties"), default=list)
    national_amount = models.PositiveBigIntegerField(
        _("national amount (kr)"), null=True, blank=True
    )
    purpose = models.TextField(_("purpose"))
    spend_by = models.DateField(_("spend by"), null=True, blank=True)
    report_by = models.DateField(_("report by"), null=True, blank=True)
    repay_by = models.DateField(_("repay by"), null=True, blank=True)
    repay_to = models.CharField(_("repay to"), max_length=200, blank=True)

    class Meta:
        ordering = ["-year", "title"]
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")

    def __str__(self) -> str:
        return f"{self.title} ({self.year})"

    def clean(self) -> None:
        # The order is the grant file's rule (`grantfile.agreement_date_problems`), worded here.
        dates = {"spend_by": self.spend_by, "report_by": self.report_by, "repay_by": self.repay_by}
        problems = grantfile.agreement_date_problems(dates)
        if problems:
            raise ValidationError(
                {
                    later: AGREEMENT_DATE_ORDER_MESSAGES[later]
                    % {"date": dates[earlier].isoformat()}
                    for earlier, later in problems
                }
            )


AGREEMENT_DATE_ORDER_MESSAGES = {
    "report_by": _(
        "The report-by date cannot be before the spend-by date (%(date)s): the use of the "
        "money is reported after the time to spend it ends."
    ),
    "repay_by": _(
        "The repay-by date cannot be before the spend-by date (%(date)s): unspent money is "
        "repaid after the time to spend it ends."
    ),
}


class PermittedUse(models.Model):
    """A heading that applications and usage reports tick."""

    agreement = models.ForeignKey(
        Agreement, models.CASCADE, related_name="permitted_uses", verbose_name=_("agreement")
    )
    code = models.SlugField(_("code"), max_length=100, validators=[slug_validator])
    label = models.CharField(_("label"), max_length=500)
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        ordering = ["agreement", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "code"], name="permitted_use_code_unique")
        ]
        verbose_name = _("permitted use")
        verbose_name_plural = _("permitted uses")

    def __str__(self) -> str:
        return self.label


class Grant(models.Model):
    """Money this organisation received and administers (stimulansmedel)."""

    slug = models.SlugField(_("id"), max_length=100, unique=True, validators=[slug_validator])
    title = models.CharField(_("title"), max_length=300)
    reference = models.CharField(_("reference number (diarienummer)"), max_length=100, blank=True)
    agreement = models.ForeignKey(
        Agreement, models.PROTECT, related_name="grants", verbose_name=_("agreement")
    )
    received_from = models.CharField(_("received from"), max_length=200)
    recipient = models.CharField(_("recipient"), max_length=200)
    administered_by = models.ForeignKey(
        Organisation, models.PROTECT, related_name="+", verbose_name=_("administered by")
    )
    amount = models.PositiveBigIntegerField(
        _("amount received (kr)"), validators=[MaxValueValidator(grantfile.MAX_KRONOR)]
    )
    decision_body = models.CharField(_("decision body"), max_length=200)
    delegated_to = models.CharField(_("delegated to"), max_length=200, blank=True)
    source_grant = models.CharField(
        _("upstream grant id"), max_length=100, blank=True, validators=[slug_validator]
    )
    source_organisation = models.CharField(
        _("upstream recipient id"), max_length=100, blank=True, validators=[slug_validator]
    )
    published = models.JSONField(_("published amounts"), null=True, blank=True)
    illustrative = models.JSONField(_("illustrative parts"), default=dict, blank=True)
    organisations = models.ManyToManyField(
        Organisation, through="GrantOrganisation", related_name="grants"
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-agreement__year", "slug"]
        verbose_name = _("grant")
        verbose_name_plural = _("grants")

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.source_grant and self.source_grant == self.slug:
            raise ValidationError({"source_grant": _("A grant cannot be its own source.")})
        if bool(self.source_grant) != bool(self.source_organisation):
            raise ValidationError(
                _("Give both the upstream grant and the upstream recipient, or neither.")
            )

    def source_row_amount(self) -> int | None:
        """What the upstream grant's latest decision gave this money's recipient, if known."""
        if not self.source_grant:
            return None
        run = (
            AllocationRun.objects.filter(grant__slug=self.source_grant)
            .exclude(decided_on=None)
            .order_by("-number")
            .first()
        )
        if run is None:
            return None
        total = run.rows.filter(organisation__slug=self.source_organisation).aggregate(
            total=models.Sum("amount")
        )["total"]
        return total

    def latest_run(self):
        return self.runs.order_by("-number").first()


class GrantOrganisation(models.Model):
    """The organisations a grant names, in the order its file lists them."""

    grant = models.ForeignKey(Grant, models.CASCADE, verbose_name=_("grant"))
    organisation = models.ForeignKey(Organisation, models.PROTECT, verbose_name=_("organisation"))
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "organisation"], name="grant_org_unique")
        ]

    def __str__(self) -> str:
        return f"{self.grant_id}: {self.organisation_id}"


class UnitFields(models.Model):
    """A unit's type, operator and volumes."""

    type = models.CharField(_("type"), max_length=32, choices=UnitType.choices)
    organisation = models.ForeignKey(
        Organisation, models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    places = models.PositiveIntegerField(_("places"), null=True, blank=True)
    customers = models.PositiveIntegerField(_("customers"), null=True, blank=True)
    in_city = models.BooleanField(_("in the city"), default=True)
    city_placed_share = models.DecimalField(
        _("share placed by the city"),
        max_digits=5,
        decimal_places=4,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )

    class Meta:
        abstract = True


class Unit(UnitFields):
    """An operating unit: a care home, a home-care office, … — the current register."""

    slug = models.SlugField(_("id"), max_length=100, unique=True, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["name"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self) -> str:
        return self.name


class GrantUnit(UnitFields):
    """A unit's type, operator and volumes as they hold for one grant; they stay with it.

    Importing another grant that gives the unit other figures changes the
    register (`Unit`) but never this grant's results.
    """

    grant = models.ForeignKey(
        Grant, models.CASCADE, related_name="grant_units", verbose_name=_("grant")
    )
    unit = models.ForeignKey(
        Unit, models.PROTECT, related_name="grant_figures", verbose_name=_("unit")
    )
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        ordering = ["grant", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["grant", "unit"], name="grant_unit_unique")]
        verbose_name = _("unit in grant")
        verbose_name_plural = _("units in grant")

    def __str__(self) -> str:
        return str(self.unit)


class Dataset(models.Model):
    """Named values per organisation (e.g. population on a date), for keys."""

    grant = models.ForeignKey(
        Grant, models.CASCADE, related_name="datasets", verbose_name=_("grant")
    )
    slug = models.SlugField(_("id"), max_length=100, validators=[slug_validator])
    label = models.CharField(_("label"), max_length=300)
    source = models.CharField(_("source"), max_length=500)
    reference_date = models.DateField(_("reference date"))
    illustrative = models.BooleanField(_("illustrative"), null=True, blank=True)
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        ordering = ["grant", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "slug"], name="dataset_slug_unique")
        ]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")

    def __str__(self) -> str:
        return self.label


class DatasetValue(models.Model):
    dataset = models.ForeignKey(
        Dataset, models.CASCADE, related_name="values", verbose_name=_("dataset")
    )
    organisation = models.ForeignKey(Organisation, models.PROTECT, verbose_name=_("organisation"))
    value = models.PositiveBigIntegerField(_("value"))
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        ordering = ["dataset", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "organisation"], name="dataset_value_unique")
        ]
        verbose_name = _("value")
        verbose_name_plural = _("values")

    def __str__(self) -> str:
        return f"{self.organisation}: {self.value}"


class Pot(models.Model):
    """A node of the budget tree (del av stimulansmedlen): children, or a model."""

    grant = models.ForeignKey(Grant, models.CASCADE, related_name="pots", verbose_name=_("grant"))
    parent = models.ForeignKey(
        "self",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent pot"),
    )
    slug = models.SlugField(_("id"), max_length=100, validators=[slug_validator])
    name = models.CharField(_("name"), max_length=300)
    position = models.PositiveIntegerField(_("position"), default=0)
    amount = models.PositiveBigIntegerField(
        _("amount (kr)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(grantfile.MAX_KRONOR)],
        help_text=_("Leave empty when the pot takes what its parent has left."),
    )
    takes_rest = models.BooleanField(_("takes the rest"), default=False)
    model = models.JSONField(
        _("allocation model"),
        null=True,
        blank=True,
        help_text=_(
            'As in the grant file, e.g. {"type": "equal", "recipients": ["…"]}. '
            "Empty for a pot divided into other pots."
        ),
    )
    description = models.TextField(_("description"), blank=True)
    roadmap_needs = models.JSONField(_("roadmap needs"), default=list, blank=True)

    class Meta:
        ordering = ["grant", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "slug"], name="pot_slug_unique"),
            models.CheckConstraint(
                condition=models.Q(takes_rest=True, amount=None)
                | models.Q(takes_rest=False, amount__isnull=False),
                name="pot_amount_or_rest",
            ),
        ]
        verbose_name = _("pot")
        verbose_name_plural = _("pots")

    def __str__(self) -> str:
        return self.name

    @property
    def model_type(self) -> str | None:
        return self.model.get("type") if isinstance(self.model, dict) else None

    def model_label(self) -> str:
        kind = self.model_type
        return ModelType(kind).label if kind in ModelType.values else ""


class RunQuerySet(models.QuerySet):
    def decided(self):
        return self.exclude(decided_on=None)


class AllocationRun(models.Model):
    """One computation of a grant. Once decided (beslut) it is frozen for good."""

    grant = models.ForeignKey(Grant, models.PROTECT, related_name="runs", verbose_name=_("grant"))
    number = models.PositiveIntegerField(_("number"))
    result_digest = models.CharField(_("fingerprint of the result"), max_length=64)
    # A redistribution round (omfördelning) divides money claimed back from one pot
    # again by that pot's model; an ordinary run computes the whole grant.
    redistributes = models.ForeignKey(
        "Pot",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="redistributions",
        verbose_name=_("redistributes money of pot"),
    )
    redistributed_amount = models.PositiveBigIntegerField(
        _("amount redistributed (kr)"), null=True, blank=True
    )
    grant_amount = models.PositiveBigIntegerField(_("grant amount (kr)"))
    computed_at = models.DateTimeField(_("computed at"))
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("computed by"),
    )
    decided_on = models.DateField(_("decision date"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=200, blank=True)
    delegation = models.CharField(_("delegation"), max_length=300, blank=True)
    decision_reference = models.CharField(
        _("reference number (diarienummer)"), max_length=100, blank=True
    )
    decision_recorded_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("decision recorded at")
    )
    decision_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["grant", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "number"], name="run_number_unique")
        ]
        permissions = [("decide_allocationrun", _("Can record the decision on an allocation run"))]
        verbose_name = _("allocation run")
        verbose_name_plural = _("allocation runs")

    def __str__(self) -> str:
        return f"{self.grant.slug} #{self.number}"

    @property
    def is_decided(self) -> bool:
        return self.decided_on is not None

    def allocated(self) -> int:
        return self.rows.aggregate(total=models.Sum("amount"))["total"] or 0


class PotResult(models.Model):
    """A pot's amount, allocated and unallocated balance and rate, as one run computed them."""

    run = models.ForeignKey(
        AllocationRun, models.CASCADE, related_name="pot_results", verbose_name=_("run")
    )
    pot = models.ForeignKey(Pot, models.PROTECT, related_name="results", verbose_name=_("pot"))
    path = models.CharField(max_length=1000, verbose_name=_("path"))
    position = models.PositiveIntegerField(default=0, verbose_name=_("position"))
    amount = models.PositiveBigIntegerField(verbose_name=_("amount"))
    allocated = models.PositiveBigIntegerField(verbose_name=_("allocated"))
    rate_numerator = models.DecimalField(
        max_digits=40, decimal_places=0, null=True, blank=True, verbose_name=_("rate numerator")
    )
    rate_denominator = models.DecimalField(
        max_digits=40, decimal_places=0, null=True, blank=True, verbose_name=_("rate denominator")
    )

    class Meta:
        ordering = ["run", "position"]
        verbose_name = _("pot result")
        verbose_name_plural = _("pot results")

    def __str__(self) -> str:
        return self.path

    @property
    def unallocated(self) -> int:
        return self.amount - self.allocated

    @property
    def rate(self) -> Fraction | None:
        if self.rate_numerator is None:
            return None
        return Fraction(int(self.rate_numerator), int(self.rate_denominator))


class AllocationRow(models.Model):
    """What one run gave one organisation (and unit) from one pot, in whole kronor."""

    run = models.ForeignKey(
        AllocationRun, models.CASCADE, related_name="rows", verbose_name=_("run")
    )
    pot = models.ForeignKey(Pot, models.PROTECT, related_name="rows", verbose_name=_("pot"))
    organisation = models.ForeignKey(
        Organisation, models.PROTECT, related_name="allocation_rows", verbose_name=_("organisation")
    )
    unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="allocation_rows"
    )
    quantity = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("quantity"))
    amount = models.PositiveBigIntegerField(verbose_name=_("amount"))

    class Meta:
        ordering = ["run", "id"]
        verbose_name = _("allocation row")
        verbose_name_plural = _("allocation rows")

    def __str__(self) -> str:
        return f"{self.organisation_id}/{self.unit_id or '-'}: {self.amount} kr"


class Ineligibility(models.Model):
    """A unit that took no part in a pot, and why (see `wording.reason_text`)."""

    run = models.ForeignKey(
        AllocationRun, models.CASCADE, related_name="ineligible", verbose_name=_("run")
    )
    pot = models.ForeignKey(Pot, models.PROTECT, related_name="+", verbose_name=_("pot"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("unit"))
    organisation = models.ForeignKey(
        Organisation, models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    application = models.ForeignKey(
        "applications.Application", models.PROTECT, null=True, blank=True, related_name="ineligible"
    )
    code = models.CharField(max_length=32, verbose_name=_("code"))
    details = models.JSONField(default=dict, verbose_name=_("details"))

    class Meta:
        ordering = ["run", "id"]
        verbose_name = _("ineligible unit")
        verbose_name_plural = _("ineligible units")

    def __str__(self) -> str:
        return self.reason()

    def reason(self) -> str:
        from .wording import reason_text

        return reason_text(self.code, self.details)


class AuditEntry(models.Model):
    """Who changed a money-bearing record, when, and from what to what."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name=_("user")
    )
    actor_label = models.CharField(_("by"), max_length=200)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=100)
    object_repr = models.CharField(_("object"), max_length=300)
    grant = models.ForeignKey(
        Grant, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("grant")
    )
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.action} {self.object_repr}"
