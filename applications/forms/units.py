"""Forms of the provider's unit register: they validate and convert; `applications.units` writes.

The organisation of a new unit is chosen among the user's own, built on the
server, so a posted id of another organisation is a form error and never a write.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from allocations.formerrors import GroupedNumbers
from allocations.models import Organisation, UnitType

from .portal import FilterForm, OrganisationFilterMixin, count_field


class UnitForm(GroupedNumbers, forms.Form):
    """What a provider keeps of a unit: name, type, places and customers."""

    organisation = forms.TypedChoiceField(coerce=int, label=_("Organisation"))
    name = forms.CharField(label=_("Name"), max_length=200)
    type = forms.ChoiceField(label=_("Type"), choices=UnitType.choices)

    def __init__(self, *args, organisations: list[Organisation] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["places"] = count_field(_("Places"))
        self.fields["customers"] = count_field(_("Customers"))
        self.fields["places"].help_text = _("For a care home or other housing: its places.")
        self.fields["customers"].help_text = _("For home care: the customers it serves.")
        if organisations is None:
            # Changing a unit: it stays with its organisation.
            del self.fields["organisation"]
            self.organisations = {}
        else:
            self.organisations = {o.pk: o for o in organisations}
            self.fields["organisation"].choices = [(o.pk, o.name) for o in organisations]

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Give the unit a name."))
        return name

    def chosen_organisation(self) -> Organisation:
        return self.organisations[self.cleaned_data["organisation"]]

    def unit_fields(self) -> dict:
        data = self.cleaned_data
        return {name: data.get(name) for name in ("name", "type", "places", "customers")}


class UnitFilterForm(OrganisationFilterMixin, FilterForm):
    type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Any type")), *UnitType.choices]
    )
