"""Provider applications (ansökan / intresseanmälan) to a pot."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from allocations.models import slug_validator


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Application(models.Model):
    """An organisation's application to one pot, naming its units and intended uses."""

    grant = models.ForeignKey("allocations.Grant", models.CASCADE, related_name="applications")
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
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["grant", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "slug"], name="application_slug_unique")
        ]
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def __str__(self) -> str:
        return f"{self.slug} ({self.organisation})"


class ApplicationUnit(models.Model):
    """A unit an application names, in the order it names them."""

    application = models.ForeignKey(Application, models.CASCADE)
    grant_unit = models.ForeignKey("allocations.GrantUnit", models.PROTECT)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["application", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "grant_unit"], name="application_unit_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.grant_unit_id}"


class ApplicationUse(models.Model):
    """A permitted use an application ticks, in the order it ticks them."""

    application = models.ForeignKey(Application, models.CASCADE)
    use = models.ForeignKey("allocations.PermittedUse", models.PROTECT)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["application", "position"]
        constraints = [
            models.UniqueConstraint(fields=["application", "use"], name="application_use_unique")
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.use_id}"
