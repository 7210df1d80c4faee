"""Decision documents, exports, the texts officials write for them, and the roadmap."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from allocations.models import AllocationRun, Grant, slug_validator, validate_org_number

# ---------------------------------------------------------------- jobs


class JobKind(models.TextChoices):
    """Reporting's kinds of stored job (`allocations.models.Job`), registered in `apps.py`."""

    DECISION_REPORT = "decision_report", _("decision report")
    LETTERS = "letters", _("decision letters")
    EXPORT = "export", _("export")


# Where job files went while the jobs were reporting's; migration 0001 names these.
def job_file_path(job, filename: str) -> str:
    return f"reporting/jobs/{job.pk}/{filename}"


def part_file_path(part, filename: str) -> str:
    return f"reporting/jobs/{part.job_id}/parts/{filename}"


# ---------------------------------------------------------------- the books' last check


class BooksCheck(models.Model):
    """The latest run of the books' check (`applications.books.check_grant`) for a grant.

    The dashboard shows it instead of checking on every view: a check reads every
    application and audit entry of the grant. It is made again when an audit entry
    newer than `audit_mark` exists (every change through the services leaves one), when
    one of the changes `in_flight` has committed since, when it is older than the beat's
    interval allows, and when an official asks for it.
    """

    grant = models.OneToOneField(Grant, models.CASCADE, related_name="books_check")
    checked_at = models.DateTimeField(_("checked at"))
    # The newest audit entry (any grant's) when the check began; 0 when there was none.
    audit_mark = models.PositiveBigIntegerField(_("newest audit entry"), default=0)
    # On PostgreSQL, the transactions that had written audit entries but not committed when the
    # check began (their full transaction ids, xid8): the check did not see them, and their
    # entries may be older than `audit_mark`, so their commit does not move it. [] on SQLite.
    in_flight = models.JSONField(_("uncommitted changes"), default=list, blank=True)
    # The breaches' texts by language code ({} when the books balance), each as the check
    # wrote them in that language.
    breaches = models.JSONField(_("breaches"), default=dict, blank=True)
    milliseconds = models.PositiveIntegerField(_("time taken (ms)"), default=0)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked for by"),
    )

    class Meta:
        verbose_name = _("books check")
        verbose_name_plural = _("books checks")

    def __str__(self) -> str:
        return f"{self.grant}: {self.checked_at:%Y-%m-%d %H:%M}"

    @property
    def balanced(self) -> bool:
        return not any(self.breaches.values())

    def texts(self, language: str | None = None) -> list[str]:
        """The breaches in `language` (the active one by default), else in the default one."""
        language = language or get_language() or settings.LANGUAGE_CODE
        found = self.breaches.get(language.split("-")[0])
        if found is None:
            found = self.breaches.get(settings.LANGUAGE_CODE, [])
        return list(found)


# ---------------------------------------------------------------- texts the official writes


class DecisionText(models.Model):
    """What the official writes for a grant's decision report (tjänsteutlåtande) and letters.

    The tables, totals and model descriptions come from the computed run; these
    are the words around them.
    """

    grant = models.OneToOneField(Grant, models.CASCADE, related_name="decision_text")
    subtitle = models.CharField(_("subtitle"), max_length=300, blank=True)
    meeting_date = models.DateField(
        _("meeting date"),
        null=True,
        blank=True,
        help_text=_("The board's meeting; a decided run shows its decision date instead."),
    )
    delegated_amount = models.PositiveBigIntegerField(
        _("amount delegated (kr)"),
        null=True,
        blank=True,
        help_text=_("What the decision delegates to allocate; empty for the whole grant."),
    )
    immediate_adjustment = models.BooleanField(
        _("immediate adjustment (omedelbar justering)"), default=False
    )
    summary = models.TextField(_("summary (sammanfattning)"), blank=True)
    background = models.TextField(_("background (bakgrund)"), blank=True)
    matter = models.TextField(_("the matter (ärendet)"), blank=True)
    preparation = models.TextField(_("preparation (ärendets beredning)"), blank=True)
    considerations = models.TextField(
        _("the administration's views and proposal (förvaltningens synpunkter och förslag)"),
        blank=True,
    )
    gender_analysis = models.TextField(
        _("gender equality analysis (jämställdhetsanalys)"), blank=True
    )
    attachments = models.TextField(
        _("attachments (bilagor)"), blank=True, help_text=_("One attachment per line.")
    )
    letter_conditions = models.TextField(_("conditions in the letters"), blank=True)
    letter_requisition = models.TextField(
        _("how to requisition (letters)"),
        blank=True,
        help_text=_("Empty: the letters describe the requisition page of the providers' portal."),
    )
    appeal = models.TextField(
        _("how to appeal (överklagande)"),
        blank=True,
        help_text=_(
            "Empty: the letters describe an appeal by judicial review (laglighetsprövning) "
            "under the Local Government Act (2017:725), chapter 13."
        ),
    )
    delegation_reference = models.CharField(
        _("delegation's reference"),
        max_length=200,
        blank=True,
        help_text=_(
            "Where the delegation is written, for a decision made by delegation: "
            "e.g. delegationsordning punkt 3.2."
        ),
    )
    postal_address = models.TextField(
        _("the administration's postal address"), blank=True, help_text=_("One line per line.")
    )
    org_number = models.CharField(
        _("the administration's organisation number"),
        max_length=11,
        blank=True,
        validators=[validate_org_number],
        help_text=_("Empty: the administering organisation's own number, if it has one."),
    )
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_title = models.CharField(_("contact person's title"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact telephone"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("decision text")
        verbose_name_plural = _("decision texts")

    def __str__(self) -> str:
        return str(self.grant)

    def attachment_lines(self) -> list[str]:
        return [line.strip() for line in self.attachments.splitlines() if line.strip()]

    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.postal_address.splitlines() if line.strip()]


class DecidedTexts(models.Model):
    """The decision texts as they stood when a run was decided, kept for its documents.

    The official may change the grant's texts after a decision (a new contact, a later
    redistribution round's wording), but a decided run's report and letters keep saying what
    was decided: before the first change after a decision, the texts are copied here
    (`reporting.texts.keep_decided_texts`), and the documents of that run read this copy.
    """

    run = models.OneToOneField(
        AllocationRun, models.CASCADE, related_name="decided_texts", verbose_name=_("run")
    )
    texts = models.JSONField(_("texts"))
    kept_at = models.DateTimeField(_("kept at"))

    class Meta:
        verbose_name = _("decided texts")
        verbose_name_plural = _("decided texts")

    def __str__(self) -> str:
        return str(self.run)


class DecisionSection(models.Model):
    """A further free-text section, after the administration's views and proposal."""

    text = models.ForeignKey(DecisionText, models.CASCADE, related_name="sections")
    heading = models.CharField(_("heading"), max_length=200)
    body = models.TextField(_("text"))
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["text", "position", "id"]
        verbose_name = _("further section")
        verbose_name_plural = _("further sections")

    def __str__(self) -> str:
        return self.heading


class Signatory(models.Model):
    """Who signs the decision report (name and title, e.g. förvaltningschef)."""

    text = models.ForeignKey(DecisionText, models.CASCADE, related_name="signatories")
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["text", "position", "id"]
        verbose_name = _("signatory")
        verbose_name_plural = _("signatories")

    def __str__(self) -> str:
        return f"{self.name}, {self.title}"


# ---------------------------------------------------------------- the roadmap (färdplan)


class RoadmapManager(models.Manager):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class Roadmap(models.Model):
    """A roadmap (färdplan) that grants and their follow-up are tied to, e.g. seed 004."""

    slug = models.SlugField(_("id"), max_length=100, unique=True, validators=[slug_validator])
    title = models.CharField(_("title"), max_length=300)
    organisation = models.CharField(_("organisation"), max_length=200)
    issued = models.CharField(
        _("issued"), max_length=100, help_text=_('As printed: "November 2021"')
    )
    reference = models.CharField(_("reference number (diarienummer)"), max_length=100, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    note = models.TextField(_("note on the transcription"), blank=True)

    objects = RoadmapManager()

    class Meta:
        ordering = ["slug"]
        verbose_name = _("roadmap")
        verbose_name_plural = _("roadmaps")

    def __str__(self) -> str:
        return self.title

    def natural_key(self):
        return (self.slug,)


class StrategicAreaManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class StrategicArea(models.Model):
    """One of a roadmap's strategic areas (strategiska utvecklingsområden)."""

    roadmap = models.ForeignKey(Roadmap, models.CASCADE, related_name="areas")
    code = models.SlugField(_("code"), max_length=100, unique=True, validators=[slug_validator])
    title = models.CharField(_("title"), max_length=300)
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = StrategicAreaManager()

    class Meta:
        ordering = ["roadmap", "position", "id"]
        verbose_name = _("strategic area")
        verbose_name_plural = _("strategic areas")

    def __str__(self) -> str:
        return self.title

    def natural_key(self):
        return (self.code,)


class NeedManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class Need(models.Model):
    """A need (behov) of the roadmap. Pots name it by its code (`roadmap_needs`)."""

    area = models.ForeignKey(
        StrategicArea, models.CASCADE, related_name="needs", verbose_name=_("strategic area")
    )
    code = models.SlugField(
        _("code"),
        max_length=100,
        unique=True,
        validators=[slug_validator],
        help_text=_("Stable: grant files and pots refer to the need by it."),
    )
    title = models.CharField(_("title"), max_length=300)
    position = models.PositiveIntegerField(_("position"), default=0)
    note = models.TextField(_("note on the transcription"), blank=True)
    permitted_uses = models.ManyToManyField(
        "allocations.PermittedUse",
        blank=True,
        related_name="roadmap_needs",
        verbose_name=_("permitted uses"),
    )

    objects = NeedManager()

    class Meta:
        ordering = ["area__roadmap", "area__position", "position", "id"]
        verbose_name = _("need")
        verbose_name_plural = _("needs")

    def __str__(self) -> str:
        return self.title

    def natural_key(self):
        return (self.code,)

    natural_key.dependencies = ["reporting.strategicarea"]


class NeedItemKind(models.TextChoices):
    NATIONAL = "national", _("national initiative")
    CITY = "city", _("what the city does")
    FURTHER = "further", _("what more is needed")


class Horizon(models.TextChoices):
    """The roadmap's time horizons (tidshorisont), normalised for sorting and summing."""

    SHORT = "short", _("short term")
    MEDIUM = "medium", _("medium term")
    LONG = "long", _("long term")
    ONGOING = "ongoing", _("ongoing")


def horizon_terms(text: str) -> list[str]:
    """The horizons a roadmap cell names, e.g. "Medellång sikt, löpande" → medium, ongoing."""
    lowered = text.lower()
    terms = []
    if "kort" in lowered:
        terms.append(Horizon.SHORT)
    if "medellång" in lowered:
        terms.append(Horizon.MEDIUM)
    if "lång" in lowered.replace("medellång", ""):
        terms.append(Horizon.LONG)
    if "löpande" in lowered:
        terms.append(Horizon.ONGOING)
    return terms


class NeedItemManager(models.Manager):
    def get_by_natural_key(self, need_code, kind, position):
        return self.get(need__code=need_code, kind=kind, position=position)


class NeedItem(models.Model):
    """A line of a need's row: a national initiative, a city action or what more is needed."""

    need = models.ForeignKey(Need, models.CASCADE, related_name="items")
    kind = models.CharField(_("kind"), max_length=16, choices=NeedItemKind.choices)
    text = models.TextField(_("text"))
    horizon = models.CharField(
        _("time horizon"),
        max_length=100,
        blank=True,
        help_text=_("As printed, for what more is needed: e.g. Kort sikt, Löpande."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    objects = NeedItemManager()

    class Meta:
        ordering = ["need", "kind", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["need", "kind", "position"], name="need_item_position_unique"
            )
        ]
        verbose_name = _("roadmap line")
        verbose_name_plural = _("roadmap lines")

    def __str__(self) -> str:
        return self.text[:80]

    def natural_key(self):
        return (self.need.code, self.kind, self.position)

    natural_key.dependencies = ["reporting.need"]
