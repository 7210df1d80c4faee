"""Where officials write the texts of the decision documents and keep the roadmap."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from allocations.admin_widgets import ValidAutocomplete

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
                    "contact_name",
                    "contact_title",
                    "contact_email",
                    "contact_phone",
                ]
            },
        ),
    ]


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
