"""The grant ledger: agreements, grants, the budget tree, computed allocations, and jobs."""

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import grantfile
from .tree import Tree, pot_tree

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
        # Lists sorted by organisation name (the review list's 10 000 applications) read the
        # first page through this index instead of sorting every row.
        indexes = [models.Index(fields=["name", "id"], name="organisation_name")]
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

    def replace_refusal(self) -> str | None:
        """Why the grant may not be replaced by an import or a restore: a decision is public
        and stays. None when it has no decided run."""
        decided = self.runs.decided().order_by("number").first()
        if decided is None:
            return None
        return (
            f"grant '{self.slug}' has a decided allocation (run {decided.number}, decided "
            f"{decided.decided_on:%Y-%m-%d}); a decision cannot be replaced"
        )

    def latest_run(self):
        return self.runs.order_by("-number").first()

    def pot_tree(self) -> Tree["Pot"]:
        """The grant's budget tree (see `allocations.tree`), read in one query."""
        return pot_tree(self.pots.all())


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


def redistribution_title(round_number: int, pot_name: str) -> str:
    """`Omfördelning 1 av återbetalda medel från <pot>`: what a redistribution round is called."""
    return gettext("Redistribution %(round)s of money repaid from %(pot)s") % {
        "round": round_number,
        "pot": pot_name,
    }


def round_number_of(prefix: str = "") -> models.Subquery:
    """A redistribution round's number among its pot's rounds (1, 2, …), to annotate a query.

    `prefix` leads from the query's model to the run, e.g. `"run__"` for requisitions.
    """
    rounds = (
        AllocationRun.objects.filter(
            redistributes=models.OuterRef(f"{prefix}redistributes"),
            number__lte=models.OuterRef(f"{prefix}number"),
        )
        .order_by()
        .values("redistributes")
        .annotate(count=models.Count("pk"))
        .values("count")
    )
    return models.Subquery(rounds, output_field=models.IntegerField())


class RunQuerySet(models.QuerySet):
    def decided(self):
        return self.exclude(decided_on=None)

    def with_round_numbers(self):
        """Each redistribution round knows its `round_number` without a query of its own."""
        return self.annotate(round_number=round_number_of())


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
    # The organisations (their ids in the grant file) the official chose to take part
    # in a redistribution round; a recompute divides among the same ones.
    redistribution_recipients = models.JSONField(
        _("recipients taking part"), default=list, blank=True
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

    @property
    def is_redistribution(self) -> bool:
        return self.redistributes_id is not None

    @cached_property
    def round_number(self) -> int | None:
        """Which redistribution (omfördelning) of its pot's money this round is: 1, 2, …"""
        if self.redistributes_id is None:
            return None
        return AllocationRun.objects.filter(
            redistributes_id=self.redistributes_id, number__lte=self.number
        ).count()

    def title(self) -> str:
        """What the run is, in words: an allocation, or which redistribution of which pot."""
        if self.redistributes_id is None:
            return gettext("Allocation, run %(number)s") % {"number": self.number}
        return redistribution_title(self.round_number, self.redistributes.name)

    def title_with_amount(self) -> str:
        """`Omfördelning 1 av återbetalda medel från <pot>: 123 456 kr` for a round."""
        from .wording import format_kronor

        if self.redistributes_id is None:
            return self.title()
        return gettext("%(title)s: %(amount)s") % {
            "title": self.title(),
            "amount": format_kronor(self.redistributed_amount or 0, nbsp=True),
        }

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
    # The application (by its id in the grant) the unit was named in, for pots that count
    # applicants; a slug, not a key: the ledger does not point into the workflow.
    application_slug = models.CharField(_("application"), max_length=100, blank=True)
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
        # An object's entries are read by type and id (its history, the units an application
        # added, each run's computation): without it, a scan of the whole trail.
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.action} {self.object_repr}"


# ---------------------------------------------------------------- stored background jobs


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    # Done, but its file was kept as long as files are kept and is now deleted.
    EXPIRED = "expired", _("expired")


def job_file_path(job: "Job", filename: str) -> str:
    return f"jobs/{job.pk}/{filename}"


def part_file_path(part: "JobPart", filename: str) -> str:
    return f"jobs/{part.job_id}/parts/{filename}"


class Job(models.Model):
    """Work a worker does for someone (a computation, a document, an export) and what it gave.

    What a kind of job does is registered in `allocations.jobs` by the app that
    owns it; this record is the same for every kind: who asked, progress, the
    result (a run, a file) or the reason it failed, in words.
    """

    kind = models.CharField(_("kind"), max_length=32)
    title = models.CharField(_("title"), max_length=300)
    # Grants and runs may be replaced or deleted; the job and its file stay.
    grant = models.ForeignKey(
        Grant, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("grant")
    )
    run = models.ForeignKey(
        AllocationRun,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("allocation run"),
    )
    params = models.JSONField(_("options"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_by_label = models.CharField(_("requested by"), max_length=200)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("error"), blank=True)
    file = models.FileField(_("file"), upload_to=job_file_path, max_length=300, blank=True)
    parts_total = models.PositiveIntegerField(default=0)
    parts_done = models.PositiveIntegerField(default=0)
    # How many times a worker took the job up: more than once when a worker died doing it.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        # The table was made when only reporting had jobs; its rows stay where they are.
        db_table = "reporting_job"
        ordering = ["-requested_at", "-id"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")

    def __str__(self) -> str:
        return self.title

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.EXPIRED)

    def stalled(self) -> bool:
        """A job the worker has not touched for longer than a task may run: it died."""
        if self.finished:
            return False
        limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
        return timezone.now() - self.updated_at > limit


class JobPart(models.Model):
    """One file of a job made of several, e.g. one recipient's letter in a batch."""

    job = models.ForeignKey(Job, models.CASCADE, related_name="parts")
    position = models.PositiveIntegerField()
    organisation = models.ForeignKey(
        Organisation, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    label = models.CharField(_("label"), max_length=300)
    file = models.FileField(_("file"), upload_to=part_file_path, max_length=300, blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        db_table = "reporting_jobpart"
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="job_part_position_unique")
        ]

    def __str__(self) -> str:
        return self.label
