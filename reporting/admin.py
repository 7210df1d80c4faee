"""Where officials write the texts of the decision documents and keep the roadmap."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from allocations.admin_widgets import ValidAutocomplete

from . import texts
from .models import (
    DecisionSection,
    DecisionText,
    Need,
    NeedItem,
    Roadmap,
    Signatory,
    StrategicArea,
)


class SignatoryInline(admin.TabularInline):
    model = Signatory
    extra = 1


class DecisionSectionInline(admin.StackedInline):
    model = DecisionSection
    extra = 0


@admin.register(DecisionText)
class DecisionTextAdmin(ValidAutocomplete, admin.ModelAdmin):
    list_display = ["grant", "meeting_date", "contact_name"]
    autocomplete_fields = ["grant"]
    inlines = [SignatoryInline, DecisionSectionInline]
    fieldsets = [
        (None, {"fields": ["grant", "subtitle", "meeting_date", "delegated_amount"]}),
        (_("Proposed decision"), {"fields": ["immediate_adjustment"]}),
        (
            _("Report"),
            {
                "fields": [
                    "summary",
                    "background",
                    "matter",
                    "preparation",
                    "considerations",
                    "gender_analysis",
                    "attachments",
                ]
            },
        ),
        (
            _("Letters"),
            {
                "fields": [
                    "letter_conditions",
                    "letter_requisition",
                    "appeal",
                    "delegation_reference",
                    "postal_address",
                    "org_number",
                    "contact_name",
                    "contact_title",
                    "contact_email",
                    "contact_phone",
                ]
            },
        ),
    ]

    # The officials' page saves through `texts.save_texts`; the admin saves its inlines itself,
    # so it keeps the decided runs' texts first and records the change as that door does.
    def save_model(self, request, obj, form, change):
        texts.keep_decided_texts(grant=obj.grant)
        before = (
            texts.text_values(DecisionText.objects.get(pk=obj.pk)) if change and obj.pk else None
        )
        super().save_model(request, obj, form, change)
        texts.log_change(obj, actor=request.user, before=before, after=texts.text_values(obj))

    def delete_model(self, request, obj):
        texts.keep_decided_texts(grant=obj.grant)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            texts.keep_decided_texts(grant=obj.grant)
        super().delete_queryset(request, queryset)


class NeedItemInline(admin.TabularInline):
    model = NeedItem
    extra = 0


@admin.register(Need)
class NeedAdmin(admin.ModelAdmin):
    list_display = ["title", "code", "area"]
    list_filter = ["area__roadmap", "area"]
    search_fields = ["title", "code"]
    filter_horizontal = ["permitted_uses"]
    inlines = [NeedItemInline]


class StrategicAreaInline(admin.TabularInline):
    model = StrategicArea
    extra = 0


@admin.register(Roadmap)
class RoadmapAdmin(admin.ModelAdmin):
    list_display = ["title", "organisation", "issued", "reference"]
    inlines = [StrategicAreaInline]
