"""Applications in the admin: who applied to which pot, with which units and uses."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from allocations import services
from allocations.admin import AuditedAdmin, stored

from .models import Application, ApplicationStatus, ApplicationUnit, ApplicationUse

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
