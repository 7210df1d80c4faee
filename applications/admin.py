"""The workflow in the admin: applications, calls, members, requisitions, payments, reports.

Money-bearing workflow records (requisitions, payments, usage reports, repayment claims) are
read-only here: they change through `applications.services`, from the officials' pages or the
admin actions below. Provider users are invited through "Invite provider user".
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from allocations.admin import (
    AllocationRunAdmin,
    GrantUnitAdmin,
    PotAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    kr,
)
from allocations.admin_widgets import ValidAutocomplete
from allocations.models import AllocationRun, GrantUnit, Pot

from . import invitations
from . import services as workflow
from .forms.office import DecisionForm
from .models import (
    Application,
    ApplicationUnit,
    ApplicationUse,
    Call,
    ClaimAccount,
    ClaimRepayment,
    Membership,
    Notice,
    NoticeStatus,
    Payment,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionLine,
    UsageLine,
    UsageReport,
)
from .permissions import can_handle_cases


class ApplicationUnitInline(ReadOnlyInline):
    model = ApplicationUnit
    fields = ["grant_unit", "places", "customers", "position"]
    verbose_name = _("unit")
    verbose_name_plural = _("units")


class ApplicationUseInline(ReadOnlyInline):
    model = ApplicationUse
    fields = ["use", "position"]
    verbose_name = _("intended permitted use")
    verbose_name_plural = _("intended permitted uses")


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Told to the provider with each rejected application."),
    )


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    """Applications are shown here; they change through the workflow's services only.

    Providers apply and withdraw in the portal; officials review on their pages or with
    the actions below, which call the same `services.review_application`.
    """

    inlines = [ApplicationUnitInline, ApplicationUseInline]
    list_display = ["slug", "organisation", "grant", "pot", "status", "granted_amount"]
    list_filter = ["status", "grant"]
    search_fields = ["slug", "organisation__name", "organisation__slug", "pot__slug"]
    list_select_related = ["organisation", "grant", "pot"]
    actions = ["approve_applications", "reject_applications"]

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or workflow_allowed(request)

    def _review(self, request, queryset, *, approve: bool, reason: str = "") -> None:
        text = _("%d applications approved.") if approve else _("%d applications rejected.")
        each(
            request,
            queryset.order_by("pk"),
            lambda app: workflow.review_application(
                app=app, approve=approve, reason=reason, actor=request.user
            ),
            text,
        )

    @admin.action(description=_("Approve the selected applications"))
    def approve_applications(self, request, queryset):
        self._review(request, queryset, approve=True)

    @admin.action(description=_("Reject the selected applications, giving the reason"))
    def reject_applications(self, request, queryset):
        if not workflow_allowed(request):
            raise PermissionDenied
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            self._review(request, queryset, approve=False, reason=form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Reject applications"),
            "form": form,
            "queryset": queryset,
            "action": "reject_applications",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/applications/application/reject.html", context)


# ---------------------------------------------------------------- members and invitations


@admin.register(Membership)
class MembershipAdmin(ValidAutocomplete, admin.ModelAdmin):
    change_list_template = "applications/invite/membership_change_list.html"
    list_display = ["user", "user_email", "organisation", "created_at"]
    list_filter = ["organisation__kind"]
    search_fields = ["user__username", "user__email", "organisation__name", "organisation__slug"]
    autocomplete_fields = ["user", "organisation"]
    list_select_related = ["user", "organisation"]

    @admin.display(description=_("e-mail address"), ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    def get_urls(self):
        urls = [
            path(
                "invite/",
                self.admin_site.admin_view(self.invite_view),
                name="applications_membership_invite",
            )
        ]
        return urls + super().get_urls()

    def invite_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = invitations.InviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            membership = invitations.invite(request=request, **form.cleaned_data)
            messages.success(
                request,
                _("%(email)s is invited to act for %(organisation)s.")
                % {"email": membership.user.email, "organisation": membership.organisation},
            )
            return redirect("admin:applications_membership_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Invite a provider user"),
            "form": form,
        }
        return TemplateResponse(request, "applications/invite/admin_invite.html", context)


# ---------------------------------------------------------------- calls


class CallForm(forms.ModelForm):
    """A new call, opened through `services.open_call`; later only its texts change here."""

    class Meta:
        model = Call
        fields = ["pot", "title", "instructions", "opens_on", "closes_on"]

    def clean_pot(self):
        pot = self.cleaned_data["pot"]
        if pot.children.exists() or not pot.model:
            raise ValidationError(_("A call is made for a pot with an allocation model."))
        return pot


@admin.register(Call)
class CallAdmin(ValidAutocomplete, admin.ModelAdmin):
    form = CallForm
    list_display = ["title", "pot", "grant", "opens_on", "closes_on"]
    list_filter = ["pot__grant"]
    search_fields = ["title", "pot__name", "pot__slug"]
    autocomplete_fields = ["pot"]
    list_select_related = ["pot__grant"]
    date_hierarchy = "opens_on"
    actions = ["close_calls"]

    def get_readonly_fields(self, request, obj=None):
        # A call's pot and dates change through the services: it is opened, then closed.
        return ["pot", "opens_on", "closes_on"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("grant"), ordering="pot__grant")
    def grant(self, obj):
        return obj.pot.grant

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        if not workflow_allowed(request):
            raise PermissionDenied
        call = workflow.open_call(
            actor=request.user, **{f: form.cleaned_data[f] for f in CallForm.Meta.fields}
        )
        obj.pk = call.pk
        obj.created_by = call.created_by

    @admin.action(description=_("Close the selected calls today"))
    def close_calls(self, request, queryset):
        today = timezone.localdate()
        each(
            request,
            queryset.filter(closes_on__gte=today).select_related("pot__grant"),
            lambda call: workflow.close_call(call=call, today=today, actor=request.user),
            _("%d calls closed."),
        )


# ---------------------------------------------------------------- what a verdict depends on

admin.site.unregister(GrantUnit)
admin.site.unregister(Pot)


@admin.register(GrantUnit)
class ScreenedGrantUnitAdmin(GrantUnitAdmin):
    """A unit's figures for a grant: the applications naming it are screened again at once."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        workflow.rescreen_grant_units([obj.pk])


@admin.register(Pot)
class ScreenedPotAdmin(PotAdmin):
    """A pot's model (and its children's): the applications to them are screened again."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for pot in form.instance.grant.pots.order_by("pk"):
            workflow.refresh_screening(pot)


# ---------------------------------------------------------------- runs: the decision


admin.site.unregister(AllocationRun)


@admin.register(AllocationRun)
class RunAdmin(AllocationRunAdmin):
    """The ledger's run admin, with the decision taken through the workflow's door."""

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="allocations_allocationrun_decide",
            )
        ]
        return urls + super().get_urls()

    def decide_view(self, request, object_id):
        run = self.get_object(request, unquote(object_id))
        if run is None:
            raise Http404
        if not self.has_decide_permission(request) or not workflow_allowed(request):
            raise PermissionDenied
        if request.method == "POST":
            form = DecisionForm(request.POST)
            if form.is_valid():
                try:
                    workflow.decide(run=run, actor=request.user, **form.cleaned_data)
                except workflow.WorkflowError as exc:
                    for field, message in exc.problems or [(None, str(exc))]:
                        form.add_error(field if field in form.fields else None, message)
                else:
                    messages.success(request, _("The decision on %s is recorded.") % run)
                    return redirect("admin:allocations_allocationrun_change", run.pk)
        else:
            form = DecisionForm(initial=DecisionForm.defaults(run.grant))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Decide %s") % run,
            "run": run,
            "allocated": kr(run.allocated()),
            "form": form,
        }
        return TemplateResponse(request, "admin/allocations/allocationrun/decide.html", context)


# ---------------------------------------------------------------- money after the decision


class RequisitionLineInline(ReadOnlyInline):
    model = RequisitionLine
    fields = ["use", "amount"]
    verbose_name = _("intended use")
    verbose_name_plural = _("intended uses by heading")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["paid_on", "amount", "reference", "recorded_by"]


class ClaimInline(ReadOnlyInline):
    model = RepaymentClaim
    fields = ["reason", "amount", "due_on", "paid_on", "disposition", "redistribution"]


@admin.register(Requisition)
class RequisitionAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "pot", "run", "amount_display", "status", "due_on"]
    list_filter = ["status", "run__grant"]
    search_fields = ["organisation__name", "organisation__slug", "pot__slug"]
    list_select_related = ["organisation", "pot", "run__grant"]
    inlines = [RequisitionLineInline, PaymentInline, ClaimInline]

    @admin.display(description=_("decided amount"), ordering="amount")
    def amount_display(self, obj):
        return kr(obj.amount)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["paid_on", "recipient", "amount_display", "reference", "recorded_by"]
    list_filter = ["requisition__run__grant"]
    search_fields = ["reference", "requisition__organisation__name"]
    list_select_related = ["requisition__organisation", "recorded_by"]
    date_hierarchy = "paid_on"

    @admin.display(description=_("recipient"), ordering="requisition__organisation__name")
    def recipient(self, obj):
        return obj.requisition.organisation

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return kr(obj.amount)


class UsageLineInline(ReadOnlyInline):
    model = UsageLine
    fields = ["use", "amount"]


@admin.register(UsageReport)
class UsageReportAdmin(ReadOnlyAdmin):
    list_display = ["requisition", "status", "submitted_at", "reviewed_at"]
    list_filter = ["status", "requisition__run__grant"]
    search_fields = ["requisition__organisation__name"]
    list_select_related = ["requisition__organisation", "requisition__pot", "requisition__run"]
    inlines = [UsageLineInline]
    actions = ["accept_reports"]

    @admin.action(description=_("Accept the selected submitted usage reports"))
    def accept_reports(self, request, queryset):
        each(
            request,
            queryset.filter(status=ReportStatus.SUBMITTED),
            lambda report: workflow.review_report(
                report=report, accept=True, comment="", actor=request.user
            ),
            _("%d usage reports accepted."),
        )


class ClaimRepaymentInline(ReadOnlyInline):
    model = ClaimRepayment
    fields = ["paid_on", "amount", "recorded_by", "recorded_at"]
    readonly_fields = fields  # recorded_at is not editable: a form cannot name it


@admin.register(RepaymentClaim)
class RepaymentClaimAdmin(ReadOnlyAdmin):
    """Claims are made, and repayments recorded, on the officials' pages; here they are read."""

    list_display = ["requisition", "reason", "amount_display", "disposition", "due_on", "paid_on"]
    inlines = [ClaimRepaymentInline]
    list_filter = ["reason", "disposition", ("paid_on", admin.EmptyFieldListFilter)]
    search_fields = ["requisition__organisation__name"]
    list_select_related = ["requisition__organisation", "requisition__pot", "requisition__run"]
    actions = ["mark_repaid_today"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return kr(obj.amount)

    @admin.action(description=_("Mark the selected claims as repaid today"))
    def mark_repaid_today(self, request, queryset):
        today = timezone.localdate()
        each(
            request,
            queryset.filter(paid_on__isnull=True),
            lambda claim: workflow.mark_claim_repaid(
                claim=claim, paid_on=today, actor=request.user
            ),
            _("%d claims marked as repaid."),
        )


@admin.register(ClaimAccount)
class ClaimAccountAdmin(ReadOnlyAdmin):
    """Set on the officials' claims page (`services.set_claim_account`), which audits it."""

    list_display = ["grant", "pays_to", "payee", "payment_method", "payment_account", "days_to_pay"]


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    """Every e-mail the workflow sent or means to send; failed ones can be sent again."""

    list_display = ["created_at", "kind", "subject", "recipient_list", "status", "attempts"]
    list_filter = ["status", "kind"]
    search_fields = ["subject", "recipients"]
    date_hierarchy = "created_at"
    fields = [
        "kind",
        "subject",
        "recipient_list",
        "body",
        "concerns_display",
        "step",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "queued_at",
        "sent_at",
    ]
    readonly_fields = fields
    actions = ["send_again"]

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or workflow_allowed(request)

    @admin.display(description=_("recipients"))
    def recipient_list(self, obj):
        return ", ".join(obj.recipients)

    @admin.display(description=_("concerns"))
    def concerns_display(self, obj):
        return f"{obj.content_type.name}: {obj.concerns or obj.object_id}"

    @admin.action(description=_("Send the selected unsent e-mails again"))
    def send_again(self, request, queryset):
        if not workflow_allowed(request):
            raise PermissionDenied
        ids = queryset.exclude(status=NoticeStatus.SENT).values_list("pk", flat=True)
        queued = workflow.requeue_notices(notice_ids=ids)
        messages.success(request, _("%d e-mails queued to be sent again.") % queued)


def workflow_allowed(request) -> bool:
    return bool(can_handle_cases(request.user))


def each(request, objects, act, done: str) -> None:
    """An admin action: the one service for each object; how many it did, and why any it
    refused (two officials at once, a state that moved on) — never a 500."""
    if not workflow_allowed(request):
        raise PermissionDenied
    count, refused = 0, []
    for obj in objects:
        try:
            act(obj)
        except workflow.WorkflowError as exc:
            refused.append(f"{obj}: {exc}")
        else:
            count += 1
    messages.success(request, done % count)
    for problem in refused:
        messages.error(request, problem)
