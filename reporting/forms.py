from django import forms
from django.utils.translation import gettext_lazy as _

from allocations.formerrors import GroupedNumbers
from allocations.models import Grant
from stimulans.uploads import UploadField

from .exporters import EXPORTERS
from .formulas import DEFAULT_DELIMITER
from .models import DecisionText, Need, StrategicArea
from .texts import TEXT_FIELDS

SELECT = {"class": "form-select"}
INPUT = {"class": "form-control"}


class ExportForm(GroupedNumbers, forms.Form):
    exporter = forms.ChoiceField(label=_("Export"), widget=forms.Select(SELECT))
    format = forms.ChoiceField(label=_("Format"), widget=forms.Select(SELECT))
    pot = forms.ChoiceField(
        label=_("Pot (for applications)"), required=False, widget=forms.Select(SELECT)
    )
    delimiter = forms.ChoiceField(
        label=_("CSV separator"),
        choices=[
            ("semicolon", _("semicolon, for Excel in Swedish")),
            ("comma", _("comma, for other programs")),
        ],
        initial=DEFAULT_DELIMITER,
        required=False,
        widget=forms.Select(SELECT),
    )

    def __init__(self, grant: Grant, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grant = grant
        self.fields["exporter"].choices = [(k, e.verbose_name) for k, e in EXPORTERS.items()]
        formats = sorted({f for e in EXPORTERS.values() for f in e.formats})
        self.fields["format"].choices = [(f, f) for f in formats]
        self.fields["pot"].choices = [("", "—")] + [
            (p.slug, p.name) for p in grant.pots.order_by("position", "id")
        ]

    def clean(self):
        data = super().clean()
        exporter = EXPORTERS.get(data.get("exporter"))
        if exporter and data.get("format") not in exporter.formats:
            self.add_error(
                "format",
                _("%(export)s comes as %(formats)s.")
                % {"export": exporter.verbose_name, "formats": ", ".join(exporter.formats)},
            )
        if exporter and "pot" in exporter.options and not data.get("pot"):
            self.add_error("pot", _("Choose the pot whose applications to export."))
        return data

    def params(self) -> dict:
        data = self.cleaned_data
        exporter = EXPORTERS[data["exporter"]]
        options = {"pot": data["pot"]} if "pot" in exporter.options else {}
        return {
            "exporter": data["exporter"],
            "format": data["format"],
            "options": options,
            "delimiter": data.get("delimiter") or DEFAULT_DELIMITER,
        }


def need_choices() -> list:
    """Needs grouped by strategic area, for a select with optgroups."""
    groups = []
    for area in StrategicArea.objects.select_related("roadmap").prefetch_related("needs"):
        groups.append(
            (f"{area.roadmap.title}: {area.title}", [(n.code, n.title) for n in area.needs.all()])
        )
    return groups


class NeedTagForm(GroupedNumbers, forms.Form):
    """The roadmap needs each pot and each permitted use of a grant works towards."""

    def __init__(self, grant: Grant, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = need_choices()
        self.pots = list(grant.pots.order_by("position", "id"))
        self.uses = list(grant.agreement.permitted_uses.all())
        for pot in self.pots:
            self.fields[f"pot_{pot.pk}"] = forms.MultipleChoiceField(
                label=pot.name,
                choices=choices,
                required=False,
                initial=list(pot.roadmap_needs or []),
                widget=forms.SelectMultiple(attrs={"size": 6, **SELECT}),
            )
        for use in self.uses:
            self.fields[f"use_{use.pk}"] = forms.MultipleChoiceField(
                label=use.label,
                choices=choices,
                required=False,
                initial=list(use.roadmap_needs.values_list("code", flat=True)),
                widget=forms.SelectMultiple(attrs={"size": 6, **SELECT}),
            )

    def pot_fields(self):
        return [(pot, self[f"pot_{pot.pk}"]) for pot in self.pots]

    def use_fields(self):
        return [(use, self[f"use_{use.pk}"]) for use in self.uses]

    def needs(self, codes: list[str]) -> list[Need]:
        return list(Need.objects.filter(code__in=codes))


class UnitImportForm(GroupedNumbers, forms.Form):
    file = UploadField(
        label=_("Spreadsheet (xlsx or CSV)"),
        help_text=_(
            "Columns: id, organisation, name, type; optionally places, customers, in_city, "
            "city_placed_share."
        ),
        widget=forms.ClearableFileInput(INPUT),
    )


class DatasetImportForm(GroupedNumbers, forms.Form):
    file = UploadField(
        label=_("Spreadsheet (xlsx or CSV)"),
        help_text=_("Columns: organisation (id, organisation number or name) and value."),
    )
    dataset = forms.SlugField(label=_("Dataset id"), max_length=100)
    label = forms.CharField(label=_("Label"), max_length=300)
    source = forms.CharField(label=_("Source"), max_length=500, initial="SCB")
    reference_date = forms.DateField(
        label=_("Reference date"), widget=forms.DateInput({"type": "date"})
    )
    replace = forms.BooleanField(
        label=_("Replace the dataset if it exists"),
        required=False,
        widget=forms.CheckboxInput({"class": "form-check-input"}),
    )


class DecisionTextForm(forms.ModelForm):
    """The grant's decision texts on the officials' page (`reporting.texts.save_texts`)."""

    class Meta:
        model = DecisionText
        fields = list(TEXT_FIELDS)
        widgets = {
            "meeting_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            **{
                name: forms.Textarea(attrs={"rows": 3})
                for name in (
                    "summary",
                    "background",
                    "matter",
                    "preparation",
                    "considerations",
                    "gender_analysis",
                    "attachments",
                    "letter_conditions",
                    "letter_requisition",
                    "appeal",
                    "postal_address",
                )
            },
        }

    # The groups the page shows, each with the fields in it.
    GROUPS = (
        (
            _("The decision"),
            (
                "subtitle",
                "meeting_date",
                "delegated_amount",
                "immediate_adjustment",
                "delegation_reference",
            ),
        ),
        (
            _("The decision report"),
            (
                "summary",
                "background",
                "matter",
                "preparation",
                "considerations",
                "gender_analysis",
                "attachments",
            ),
        ),
        (_("The letters"), ("letter_conditions", "letter_requisition", "appeal")),
        (
            _("The administration and its contact"),
            (
                "postal_address",
                "org_number",
                "contact_name",
                "contact_title",
                "contact_email",
                "contact_phone",
            ),
        ),
    )

    def groups(self):
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]


class PeriodForm(forms.Form):
    """A period, both days included: the delegation report's."""

    start = forms.DateField(
        label=_("From"), widget=forms.DateInput({"type": "date", **INPUT}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("To"), widget=forms.DateInput({"type": "date", **INPUT}, format="%Y-%m-%d")
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", _("The period ends before it begins."))
        return data
