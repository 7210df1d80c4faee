"""The workflow in the admin: applications, calls, members, requisitions, payments, reports.

Money-bearing workflow records (requisitions, payments, usage reports, repayment claims) are
read-only here: they change through `applications.services`, from the officials' pages or the
admin actions below. Provider users are invited through "Invite provider user".
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from allocations import services
from allocations.admin import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline, kr, stored

from . import invitations
from . import services as workflow
from .models import (
    Application,
    ApplicationStatus,
    ApplicationUnit,
    ApplicationUse,
    Call,
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

# What decides money: the pot, the recipient, the granted amount (the status goes through
# `services.set_application_status`, which writes its own entry).
APPLICATION_FIELDS = ("pot", "organisation", "granted_amount")


class ApplicationForm(forms.ModelForm):
    class Meta:
        model = Application
        fields = [
            "grant",
            "pot",
            "slug",
            "organisation",
            "intended_use",
            "requested_amount",
            "granted_amount",
            "status",
            "status_reason",
            "position",
        ]

    def clean(self):
        data = super().clean()
        grant = data.get("grant") if "grant" in self.fields else self.instance.grant
        pot, organisation = data.get("pot"), data.get("organisation")
        if grant is None:
            return data
        if pot is not None:
            if pot.grant_id != grant.pk:
                self.add_error("pot", _("“%s” is a pot of another grant.") % pot)
            elif pot.children.exists():
                self.add_error(
                    "pot",
                    _("“%s” is divided into other pots: apply to one of them.") % pot,
                )
        if organisation and not grant.organisations.filter(pk=organisation.pk).exists():
            self.add_error(
                "organisation", _("“%s” is not one of the grant's organisations.") % organisation
            )
        needs_amount = pot is not None and pot.model_type == "approved_amounts"
        if (
            needs_amount
            and data.get("status") == ApplicationStatus.APPROVED
            and data.get("granted_amount") is None
        ):
            self.add_error(
                "granted_amount",
                _("An approved application to a pot open for application needs a granted amount."),
            )
        return data


class ApplicationUnitFormSet(forms.BaseInlineFormSet):
    """The units an application names: the grant's, run by the applicant, in one approval."""

    def clean(self):
        super().clean()
        app = self.instance
        if app.grant_id is None or any(form.errors for form in self.forms):
            return
        problems = []
        for form in self.forms:
            unit = form.cleaned_data.get("grant_unit")
            if unit is None or self._should_delete_form(form):
                continue
            if unit.grant_id != app.grant_id:
                problems.append(_("“%s” is a unit of another grant.") % unit)
            elif app.organisation_id and unit.organisation_id != app.organisation_id:
                problems.append(
                    _("“%(unit)s” is run by %(operator)s, not by the applicant.")
                    % {"unit": unit, "operator": unit.organisation}
                )
            elif app.status == ApplicationStatus.APPROVED and app.pot_id:
                other = (
                    Application.objects.filter(
                        pot_id=app.pot_id, status=ApplicationStatus.APPROVED, units=unit
                    )
                    .exclude(pk=app.pk)
                    .first()
                )
                if other is not None:
                    problems.append(
                        _("“%(unit)s” is already in approved application %(other)s to this pot.")
                        % {"unit": unit, "other": other.slug}
                    )
        if problems:
            raise ValidationError(problems)


class ApplicationUseFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        app = self.instance
        if app.grant_id is None:
            return
        agreement_id = app.grant.agreement_id
        for form in self.forms:
            use = form.cleaned_data.get("use")
            if use is not None and use.agreement_id != agreement_id:
                form.add_error("use", _("“%s” is a heading of another agreement.") % use)


class ApplicationUnitInline(admin.TabularInline):
    model = ApplicationUnit
    formset = ApplicationUnitFormSet
    fields = ["grant_unit", "position"]
    autocomplete_fields = ["grant_unit"]
    extra = 0
    verbose_name = _("unit")
    verbose_name_plural = _("units")


class ApplicationUseInline(admin.TabularInline):
    model = ApplicationUse
    formset = ApplicationUseFormSet
    fields = ["use", "position"]
    extra = 0
    verbose_name = _("intended permitted use")
    verbose_name_plural = _("intended permitted uses")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            # The headings of this grant's agreement only.
            field = formset.form.base_fields["use"]
            field.queryset = field.queryset.filter(agreement_id=obj.grant.agreement_id)
        return formset


@admin.register(Application)
class ApplicationAdmin(AuditedAdmin):
    form = ApplicationForm
    inlines = [ApplicationUnitInline, ApplicationUseInline]
    list_display = ["slug", "organisation", "grant", "pot", "status", "granted_amount"]
    list_filter = ["status", "grant"]
    search_fields = ["slug", "organisation__name", "organisation__slug", "pot__slug"]
    autocomplete_fields = ["organisation"]
    list_select_related = ["organisation", "grant", "pot"]
    audited_fields = APPLICATION_FIELDS
    audited_inlines = {ApplicationUnit: ("grant_unit",)}

    def get_readonly_fields(self, request, obj=None):
        return ["grant", "unit_reasons"] if obj else ["unit_reasons"]

    def save_model(self, request, obj, form, change):
        status = obj.status
        if change:
            # The status changes through the service below, which writes its own entry.
            obj.status = stored(obj).status
        super().save_model(request, obj, form, change)
        if change and status != obj.status:
            services.set_application_status(
                application=obj, status=status, reason=obj.status_reason, actor=request.user
            )


# ---------------------------------------------------------------- members and invitations


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
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
    class Meta:
        model = Call
        fields = ["pot", "title", "instructions", "opens_on", "closes_on"]

    def clean_pot(self):
        pot = self.cleaned_data["pot"]
        if pot.children.exists() or not pot.model:
            raise ValidationError(_("A call is made for a pot with an allocation model."))
        return pot


@admin.register(Call)
class CallAdmin(AuditedAdmin):
    form = CallForm
    list_display = ["title", "pot", "grant", "opens_on", "closes_on"]
    list_filter = ["pot__grant"]
    search_fields = ["title", "pot__name", "pot__slug"]
    autocomplete_fields = ["pot"]
    list_select_related = ["pot__grant"]
    date_hierarchy = "opens_on"
    audited_fields = ("pot", "opens_on", "closes_on")

    @admin.display(description=_("grant"), ordering="pot__grant")
    def grant(self, obj):
        return obj.pot.grant

    def audit_grant(self, obj):
        return obj.pot.grant

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


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
        if not workflow_allowed(request):
            raise PermissionDenied
        accepted = 0
        for report in queryset.filter(status=ReportStatus.SUBMITTED):
            workflow.review_report(report=report, accept=True, comment="", actor=request.user)
            accepted += 1
        messages.success(request, _("%d usage reports accepted.") % accepted)


@admin.register(RepaymentClaim)
class RepaymentClaimAdmin(ReadOnlyAdmin):
    list_display = ["requisition", "reason", "amount_display", "disposition", "due_on", "paid_on"]
    list_filter = ["reason", "disposition", ("paid_on", admin.EmptyFieldListFilter)]
    search_fields = ["requisition__organisation__name"]
    list_select_related = ["requisition__organisation", "requisition__pot", "requisition__run"]
    actions = ["mark_repaid_today"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return kr(obj.amount)

    @admin.action(description=_("Mark the selected claims as repaid today"))
    def mark_repaid_today(self, request, queryset):
        if not workflow_allowed(request):
            raise PermissionDenied
        today = timezone.localdate()
        settled = 0
        for claim in queryset.filter(paid_on__isnull=True):
            workflow.mark_claim_repaid(claim=claim, paid_on=today, actor=request.user)
            settled += 1
        messages.success(request, _("%d claims marked as repaid.") % settled)


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
