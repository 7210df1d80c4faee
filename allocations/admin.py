"""The admin, where administrators configure grants and decide allocations.

Every change to a money-bearing record leaves an audit entry (`AuditedAdmin`); allocation runs
and the audit trail are read-only; computing goes through `services.request_compute` (a stored
job, followed on its page) and deciding through `services`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Sum
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from stimulans.roles import may_decide

from . import audit, engine, identifiers, jobs, services
from .admin_widgets import ValidAutocomplete
from .forms import (
    DatasetForm,
    DatasetValueFormSet,
    GrantForm,
    GrantOrganisationForm,
    GrantUnitForm,
    PotChildForm,
    PotChildFormSet,
    PotForm,
    model_context,
    new_problems,
)
from .models import (
    Agreement,
    AllocationRow,
    AllocationRun,
    AuditEntry,
    Dataset,
    DatasetValue,
    Grant,
    GrantOrganisation,
    GrantUnit,
    Ineligibility,
    Job,
    Organisation,
    PermittedUse,
    Pot,
    PotResult,
    Unit,
)
from .wording import format_kronor, format_rate

admin.site.site_header = _("Stimulans – grant ledger")
admin.site.site_title = _("Stimulans")


def kr(amount: int | None) -> str:
    return format_kronor(amount, nbsp=True) if amount is not None else "—"


# ---------------------------------------------------------------- audit


def _plain(value):
    """A field value as the audit trail stores it (JSON): related records by their id."""
    if isinstance(value, models.Model):
        return getattr(value, "slug", None) or str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # a call's dates: the admin refused to save a call at all
        return value.isoformat()
    return value


def snapshot(obj: models.Model, fields: tuple[str, ...]) -> dict:
    return {name: _plain(getattr(obj, name)) for name in fields}


def stored(obj: models.Model) -> models.Model:
    """The record as the database has it: the form has already written onto `obj`."""
    return type(obj)._default_manager.get(pk=obj.pk)


def log_change(request, action: str, obj, grant, before, after) -> None:
    audit.log(action, obj, grant=grant, actor=request.user, before=before, after=after)


def save_audited_formset(request, formset, fields: tuple[str, ...], grant) -> None:
    """Save an inline formset, logging what it adds, changes and deletes in `fields`."""
    name = formset.model._meta.model_name
    before = {
        form.instance.pk: snapshot(stored(form.instance), fields)
        for form in formset.initial_forms
        if form.instance.pk
    }
    # A deleted record has no id any more afterwards, so its entry is written first
    # (inside the admin's transaction: if saving fails, the entry goes too).
    for form in formset.deleted_forms:
        if form.instance.pk:
            log_change(
                request, f"{name}.deleted", form.instance, grant, before[form.instance.pk], None
            )
    formset.save()
    for obj in formset.new_objects:
        log_change(request, f"{name}.created", obj, grant, None, snapshot(obj, fields))
    for obj, _changed in formset.changed_objects:
        after = snapshot(obj, fields)
        if after != before.get(obj.pk):
            log_change(request, f"{name}.changed", obj, grant, before.get(obj.pk), after)


class AuditedAdmin(admin.ModelAdmin):
    """Logs who changed the money-bearing fields (`audited_fields`), and from what to what."""

    audited_fields: tuple[str, ...] = ()
    audit_name = ""  # how actions are named in the trail; the model's name by default
    # Inline model -> its money-bearing fields.
    audited_inlines: dict[type[models.Model], tuple[str, ...]] = {}

    def audit_grant(self, obj) -> Grant | None:
        return obj.grant

    def audit_action(self, obj, verb: str) -> str:
        return f"{self.audit_name or obj._meta.model_name}.{verb}"

    def save_model(self, request, obj, form, change):
        before = snapshot(stored(obj), self.audited_fields) if change else None
        super().save_model(request, obj, form, change)
        after = snapshot(obj, self.audited_fields)
        if after != before:
            action = self.audit_action(obj, "changed" if change else "created")
            log_change(request, action, obj, self.audit_grant(obj), before, after)

    def save_formset(self, request, form, formset, change):
        fields = self.audited_inlines.get(formset.model)
        if fields is None:
            return super().save_formset(request, form, formset, change)
        save_audited_formset(request, formset, fields, self.audit_grant(form.instance))

    def log_deletion_of(self, request, obj) -> None:
        before = snapshot(obj, self.audited_fields)
        action = self.audit_action(obj, "deleted")
        log_change(request, action, obj, self.audit_grant(obj), before, None)

    def delete_model(self, request, obj):
        self.log_deletion_of(request, obj)  # while it still has its id
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.log_deletion_of(request, obj)
        super().delete_queryset(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Computed or logged records: looked at, never written through the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Whoever may see the run may see its parts.
        opts = self.parent_model._meta
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or (
            request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
        )


# ---------------------------------------------------------------- register and agreements


class OrganisationForm(forms.ModelForm):
    """The organisation number typed as people write it (5565475489, 556547 5489), stored
    NNNNNN-NNNN once its check digit is right."""

    org_number = forms.CharField(
        label=_("organisation number"),
        required=False,
        max_length=20,
        help_text=_("NNNNNN-NNNN; spaces are fine."),
    )

    class Meta:
        model = Organisation
        fields = ["slug", "name", "kind", "ownership", "org_number"]

    def clean_org_number(self):
        number = self.cleaned_data["org_number"].strip()
        return identifiers.normal_org_number(number) if number else number


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    form = OrganisationForm
    list_display = ["name", "slug", "kind", "ownership", "org_number"]
    list_filter = ["kind", "ownership"]
    search_fields = ["name", "slug", "org_number"]


class PermittedUseInline(admin.TabularInline):
    model = PermittedUse
    fields = ["code", "label", "position"]
    extra = 0


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "national_amount_display"]
    list_filter = ["year"]
    search_fields = ["title", "purpose"]
    inlines = [PermittedUseInline]

    @admin.display(description=_("national amount"), ordering="national_amount")
    def national_amount_display(self, obj):
        return kr(obj.national_amount)


@admin.register(Unit)
class UnitAdmin(ValidAutocomplete, admin.ModelAdmin):
    list_display = ["name", "slug", "type", "organisation", "places", "customers", "in_city"]
    list_filter = ["type", "in_city"]
    search_fields = ["name", "slug", "organisation__name"]
    autocomplete_fields = ["organisation"]
    list_select_related = ["organisation"]


# ---------------------------------------------------------------- grants and the budget tree


def budget_context(grant: Grant) -> dict:
    """The budget tree with amounts, and the grant's runs, for the grant's page."""
    run = grant.latest_run()
    results = {r.pot_id: r for r in run.pot_results.all()} if run else {}
    tree = grant.pot_tree()

    def engine_pot(pot: Pot, children: list[engine.Pot]) -> engine.Pot:
        amount = engine.REST if pot.takes_rest else pot.amount
        return engine.Pot(id=pot.slug, name=pot.name, amount=amount, children=tuple(children))

    problem = ""
    try:
        amounts = engine.resolve_amounts(grant.amount, tree.fold(engine_pot))
    except engine.AllocationError as exc:
        problem = exc.message
        amounts = {p.slug: p.amount for p in tree.items if not p.takes_rest}

    allocated = run.allocated() if run else None
    rows = [
        {
            "name": grant.title,
            "depth": 0,
            "amount": kr(grant.amount),
            "allocated": kr(allocated) if run else "",
            "unallocated": kr(grant.amount - allocated) if run else "",
            "is_grant": True,
        }
    ]

    for pot, depth in tree.walk():
        rows.append(_tree_row(pot, depth + 1, amounts.get(pot.slug), results.get(pot.pk), run))
    runs = grant.runs.annotate(total=Sum("rows__amount")).select_related("computed_by")
    return {
        "budget_rows": rows,
        "budget_problem": problem,
        "latest_run": run,
        "runs": [
            {"run": r, "allocated": kr(r.total or 0), "can_decide": r == run and not r.is_decided}
            for r in runs.order_by("-number")
        ],
    }


def _tree_row(pot: Pot, depth: int, amount: int | None, result: PotResult | None, run) -> dict:
    rate = ""
    if result is not None and pot.model_type == "per_unit":
        rate = format_rate(result.rate, nbsp=True)
    return {
        "name": pot.name,
        "slug": pot.slug,
        "url": reverse("admin:allocations_pot_change", args=[pot.pk]),
        "depth": depth,
        "amount": kr(amount),
        "takes_rest": pot.takes_rest,
        "allocated": kr(result.allocated) if result else "",
        "unallocated": kr(result.unallocated) if result else "",
        "model": pot.model_label(),
        "rate": rate,
        # The tree may have changed since the run: say so rather than mix the two.
        "stale": run is not None and (result is None or result.amount != amount),
    }


def start_compute(request, grant: Grant) -> Job | None:
    """Ask for the computation through the one service; a grant it refuses says why."""
    try:
        return services.request_compute(grant=grant, actor=request.user)
    except jobs.JobRefused as exc:  # a grant not ready, or no queue for background work
        messages.error(request, str(exc))
        return None


class GrantOrganisationInline(ValidAutocomplete, admin.TabularInline):
    model = GrantOrganisation
    form = GrantOrganisationForm
    autocomplete_fields = ["organisation"]
    extra = 0
    # Pot models, units and data refer to a grant's organisations: they are added, never removed.
    can_delete = False
    verbose_name = _("organisation in the grant")
    verbose_name_plural = _("organisations in the grant")


@admin.register(Grant)
class GrantAdmin(AuditedAdmin):
    form = GrantForm
    change_form_template = "admin/allocations/grant/change_form.html"
    list_display = ["title", "slug", "year", "amount_display", "latest_run_display"]
    list_filter = ["agreement__year", "decision_body"]
    search_fields = ["title", "slug", "reference"]
    list_select_related = ["agreement"]
    inlines = [GrantOrganisationInline]
    actions = ["compute_allocations"]
    audited_fields = ("amount", "source_grant", "source_organisation")

    def audit_grant(self, obj):
        return obj

    def get_readonly_fields(self, request, obj=None):
        # The id names the grant across files and upstream links: it is set once.
        return ["slug", "datasets_list", "created_at"] if obj else []

    @admin.display(description=_("year"), ordering="agreement__year")
    def year(self, obj):
        return obj.agreement.year

    @admin.display(description=_("amount received"), ordering="amount")
    def amount_display(self, obj):
        return kr(obj.amount)

    @admin.display(description=_("latest run"))
    def latest_run_display(self, obj):
        run = obj.latest_run()
        if run is None:
            return _("not computed")
        if run.is_decided:
            return _("run %(number)s, decided %(date)s") % {
                "number": run.number,
                "date": run.decided_on,
            }
        return _("run %(number)s, not decided") % {"number": run.number}

    @admin.display(description=_("datasets"))
    def datasets_list(self, obj):
        datasets = list(obj.datasets.all())
        if not datasets:
            return _("none")
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> ({}, {})</li>',
            (
                (
                    reverse("admin:allocations_dataset_change", args=[ds.pk]),
                    ds.label,
                    ds.slug,
                    ds.reference_date,
                )
                for ds in datasets
            ),
        )
        return format_html("<ul>{}</ul>", items)

    @admin.action(description=_("Compute allocations"))
    def compute_allocations(self, request, queryset):
        started = [job for job in (start_compute(request, g) for g in queryset) if job]
        if len(started) == 1 and len(queryset) == 1:
            return redirect("allocations:job", pk=started[0].pk)
        for job in started:
            messages.info(
                request,
                format_html(
                    '{} <a href="{}">{}</a>',
                    job.title,
                    reverse("allocations:job", args=[job.pk]),
                    _("Follow it here."),
                ),
            )
        return None

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/compute/",
                self.admin_site.admin_view(self.compute_view),
                name="allocations_grant_compute",
            )
        ]
        return urls + super().get_urls()

    def compute_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        grant = self.get_object(request, unquote(object_id))
        if grant is None:
            raise Http404
        if not self.has_change_permission(request, grant):
            raise PermissionDenied
        job = start_compute(request, grant)
        if job is None:
            return redirect("admin:allocations_grant_change", grant.pk)
        return redirect("allocations:job", pk=job.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        grant = self.get_object(request, unquote(object_id))
        if grant is not None:
            extra_context = {**(extra_context or {}), **budget_context(grant)}
        return super().change_view(request, object_id, form_url, extra_context)


# ---------------------------------------------------------------- a grant's inputs


@admin.register(GrantUnit)
class GrantUnitAdmin(ValidAutocomplete, AuditedAdmin):
    form = GrantUnitForm
    list_display = ["unit", "grant", "organisation", "type", "places", "customers", "in_city"]
    list_filter = ["grant", "type", "in_city"]
    search_fields = ["unit__name", "unit__slug", "organisation__name"]
    autocomplete_fields = ["unit", "organisation"]
    list_select_related = ["unit", "grant", "organisation"]
    audited_fields = ("organisation", "type", "places", "customers", "in_city", "city_placed_share")

    def get_readonly_fields(self, request, obj=None):
        return ["grant", "unit"] if obj else []


class DatasetValueInline(ValidAutocomplete, admin.TabularInline):
    model = DatasetValue
    formset = DatasetValueFormSet
    fields = ["organisation", "value", "position"]
    autocomplete_fields = ["organisation"]
    extra = 0


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    list_display = ["label", "slug", "grant", "reference_date", "illustrative"]
    list_filter = ["grant"]
    search_fields = ["label", "slug", "source"]
    inlines = [DatasetValueInline]

    def get_readonly_fields(self, request, obj=None):
        return ["grant"] if obj else []

    def save_formset(self, request, form, formset, change):
        if formset.model is DatasetValue:
            save_audited_formset(request, formset, ("organisation", "value"), form.instance.grant)
        else:
            super().save_formset(request, form, formset, change)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Key pots divide money by a dataset: it stays while one names it.
        for dataset in objs:
            context = model_context(dataset.grant)
            context.datasets.pop(dataset.slug, None)
            if new_problems(dataset.grant, context):
                protected = [
                    *protected,
                    _("“%s”: an allocation model of the grant uses it") % dataset,
                ]
        return deleted, counts, perms_needed, protected


# ---------------------------------------------------------------- pots


POT_FIELDS = ("parent", "amount", "takes_rest", "model")


class PotChildInline(admin.TabularInline):
    model = Pot
    fk_name = "parent"
    form = PotChildForm
    formset = PotChildFormSet
    extra = 0
    show_change_link = True
    verbose_name = _("pot below this one")
    verbose_name_plural = _("pots below this one")


@admin.register(Pot)
class PotAdmin(AuditedAdmin):
    form = PotForm
    inlines = [PotChildInline]
    list_display = ["name", "slug", "grant", "parent", "amount_display", "model_label"]
    list_filter = ["grant"]
    search_fields = ["slug", "name"]
    list_select_related = ["grant", "parent"]
    ordering = ["grant", "parent_id", "position", "id"]
    audited_fields = POT_FIELDS
    audited_inlines = {Pot: POT_FIELDS}

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return _("the rest") if obj.takes_rest else kr(obj.amount)

    @admin.display(description=_("allocation model"))
    def model_label(self, obj):
        return obj.model_label()

    def get_readonly_fields(self, request, obj=None):
        return ["grant"] if obj else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        parent = form.base_fields.get("parent")
        if parent is not None:
            # Offer the pots of this grant only (`?grant=` on the add page, from the tree).
            grant_id = obj.grant_id if obj else request.GET.get("grant")
            pots = Pot.objects.select_related("grant")
            if grant_id and str(grant_id).isdigit():
                pots = pots.filter(grant_id=grant_id)
            if obj is not None:
                pots = pots.exclude(pk=obj.pk)
            parent.queryset = pots.order_by("grant", "position", "id")
            parent.label_from_instance = lambda pot: f"{pot.grant.slug} / {pot.name}"
        return form

    def log_deletion_of(self, request, obj) -> None:
        # The pots below go with it.
        for pot in [obj, *self._descendants(obj)]:
            super().log_deletion_of(request, pot)

    @staticmethod
    def _descendants(pot: Pot) -> list[Pot]:
        found, todo = [], [pot]
        while todo:
            kids = list(Pot.objects.filter(parent=todo.pop()))
            found.extend(kids)
            todo.extend(kids)
        return found

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A divided pot whose last pots below go would have neither pots nor a model.
        going = {pot.pk for pot in objs}
        for pot in objs:
            parent = pot.parent
            if parent is None or parent.model or parent.pk in going:
                continue
            if not parent.children.exclude(pk__in=going).exists():
                protected = [
                    *protected,
                    _("“%(parent)s” would be left with neither pots below it nor a model")
                    % {"parent": parent},
                ]
        return deleted, counts, perms_needed, protected


# ---------------------------------------------------------------- runs: computed, then decided


class PotResultInline(ReadOnlyInline):
    model = PotResult
    fields = ["path", "amount_display", "allocated_display", "unallocated_display", "rate_display"]
    readonly_fields = fields
    verbose_name = _("pot")
    verbose_name_plural = _("pots")

    @admin.display(description=_("amount"))
    def amount_display(self, obj):
        return kr(obj.amount)

    @admin.display(description=_("allocated"))
    def allocated_display(self, obj):
        return kr(obj.allocated)

    @admin.display(description=_("unallocated"))
    def unallocated_display(self, obj):
        return kr(obj.unallocated)

    @admin.display(description=_("rate"))
    def rate_display(self, obj):
        return format_rate(obj.rate, nbsp=True)


@admin.register(AllocationRun)
class AllocationRunAdmin(AuditedAdmin):
    """Runs are written by `services.compute_grant` only, and frozen once decided.

    The decision is the workflow's (it opens the requisitions): `applications.admin`
    registers this admin again with its decide page.
    """

    change_form_template = "admin/allocations/allocationrun/change_form.html"
    list_display = [
        "__str__",
        "grant",
        "number",
        "computed_at",
        "decided_on",
        "decided_by",
        "allocated_display",
    ]
    list_filter = ["grant", ("decided_on", admin.EmptyFieldListFilter)]
    list_select_related = ["grant"]
    inlines = [PotResultInline]
    fields = [
        "grant",
        "number",
        "grant_amount_display",
        "allocated_display",
        "rows_link",
        "ineligible_link",
        "computed_at",
        "computed_by",
        "result_digest",
        "decided_on",
        "decided_by",
        "delegation",
        "decision_reference",
        "decision_recorded_at",
        "decision_recorded_by",
    ]
    readonly_fields = fields
    audit_name = "run"  # as `services` names it
    audited_fields = ("number", "result_digest")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(total=Sum("rows__amount"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_decided:
            return False
        return super().has_delete_permission(request, obj)

    def has_decide_permission(self, request) -> bool:
        return may_decide(request.user)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A run's rows, pot results and ineligibilities are parts of it and go with it, though
        # no one may delete them on their own.
        parts = {str(m._meta.verbose_name) for m in (AllocationRow, PotResult, Ineligibility)}
        perms_needed = {name for name in perms_needed if str(name) not in parts}
        decided = [
            _("%(run)s was decided on %(date)s and stays") % {"run": r, "date": r.decided_on}
            for r in objs
            if r.is_decided
        ]
        if decided:
            # Say why, rather than that a decided run's delete permission is lacking.
            perms_needed = set()
        return deleted, counts, perms_needed, [*protected, *decided]

    def log_deletion_of(self, request, obj) -> None:
        if obj.is_decided:  # refused before this point already; never let one through
            raise PermissionDenied
        super().log_deletion_of(request, obj)

    @admin.display(description=_("grant amount"))
    def grant_amount_display(self, obj):
        return kr(obj.grant_amount)

    @admin.display(description=_("allocated"), ordering="total")
    def allocated_display(self, obj):
        total = getattr(obj, "total", None)
        return kr(total if total is not None else obj.allocated())

    @admin.display(description=_("rows"))
    def rows_link(self, obj):
        url = reverse("admin:allocations_allocationrow_changelist")
        count = obj.rows.count()
        return format_html('<a href="{}?run__id__exact={}">{}</a>', url, obj.pk, count)

    @admin.display(description=_("ineligible units"))
    def ineligible_link(self, obj):
        url = reverse("admin:allocations_ineligibility_changelist")
        count = obj.ineligible.count()
        return format_html('<a href="{}?run__id__exact={}">{}</a>', url, obj.pk, count)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_decide": self.has_decide_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(AllocationRow)
class AllocationRowAdmin(ReadOnlyAdmin):
    list_display = ["run", "pot", "organisation", "unit", "quantity", "amount_display"]
    list_filter = ["run__grant"]
    search_fields = ["organisation__name", "organisation__slug", "unit__name", "pot__slug"]
    list_select_related = ["run__grant", "pot", "organisation", "unit"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return kr(obj.amount)


@admin.register(Ineligibility)
class IneligibilityAdmin(ReadOnlyAdmin):
    list_display = ["run", "pot", "unit", "organisation", "reason"]
    list_filter = ["run__grant"]
    search_fields = ["unit__name", "unit__slug", "organisation__name"]
    list_select_related = ["run__grant", "pot", "unit", "organisation"]

    @admin.display(description=_("why"))
    def reason(self, obj):
        return obj.reason()


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_label", "action", "object_type", "object_repr", "grant"]
    list_filter = ["action", "object_type", "grant"]
    search_fields = ["object_repr", "object_id", "actor_label", "action"]
    date_hierarchy = "at"
    list_select_related = ["grant"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs are made by asking for a computation or a file; here they can only be looked at."""

    list_display = ["title", "kind", "status", "progress", "requested_by_label", "requested_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
