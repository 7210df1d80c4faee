"""The provider's unit register in the portal: list, register and change units.

A provider user sees and changes only the units of the organisations it acts
for; an official may open any unit but change none (administrators use the
Django admin). Units come through `permissions.get_unit_for` (404 for another
organisation's unit) and every change through `applications.units`, which
leaves an audit entry shown as the unit's history.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from allocations.models import GrantUnit, Organisation, Unit
from allocations.wording import NBSP, unit_type_label

from .. import permissions, units
from ..forms.units import UnitFilterForm, UnitForm
from ..permissions import organisation_ids
from .portal import _history, _page


def _count(value: int | None) -> str:
    """`1 200`: places and customers the Swedish way, whatever the page's language."""
    return "—" if value is None else f"{value:,}".replace(",", NBSP)


def _organisations(user) -> list[Organisation]:
    return list(Organisation.objects.filter(pk__in=organisation_ids(user)).order_by("name"))


def _changes(entry) -> list[dict]:
    """What an audit entry of a unit changed, field by field, in words."""
    before, after = entry.before or {}, entry.after or {}
    out = []
    for name in units.PROVIDER_FIELDS:
        if name not in after or entry.action != "unit.changed":
            continue
        old, new = before.get(name), after[name]
        if name == "type":
            old, new = unit_type_label(old or ""), unit_type_label(new or "")
        out.append({"label": Unit._meta.get_field(name).verbose_name, "before": old, "after": new})
    return out


@login_required
def unit_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    orgs = _organisations(user)
    form = UnitFilterForm(request.GET, organisations=orgs)
    # Only the user's own organisations' units, also to a user who is an official too.
    qs = permissions.units_for(user).filter(organisation_id__in=organisation_ids(user))
    if form.value("organisation"):
        qs = qs.filter(organisation_id=form.value("organisation"))
    if form.value("type"):
        qs = qs.filter(type=form.value("type"))
    q = form.value("q")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q))
    page = _page(request, qs.select_related("organisation").order_by("organisation__name", "name"))
    rows = [
        {
            "unit": unit,
            "type": unit_type_label(unit.type),
            "places": _count(unit.places),
            "customers": _count(unit.customers),
        }
        for unit in page
    ]
    context = {"form": form, "units": page, "rows": rows, "may_add": bool(orgs)}
    return render(request, "applications/portal/units.html", context)


@login_required
def unit_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    orgs = _organisations(user)
    if not orgs:
        messages.info(request, _("Units are registered by the providers that run them."))
        return redirect("portal:units")
    initial = {"organisation": orgs[0].pk} if len(orgs) == 1 else None
    form = UnitForm(request.POST or None, organisations=orgs, initial=initial)
    if request.method == "POST" and form.is_valid():
        unit = units.create_unit(
            organisation=form.chosen_organisation(), actor=user, **form.unit_fields()
        )
        messages.success(request, _("The unit is registered."))
        return redirect("portal:unit_edit", pk=unit.pk)
    return render(request, "applications/portal/unit_form.html", {"form": form, "unit": None})


@login_required
def unit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    unit = permissions.get_unit_for(user, pk)
    decision = permissions.can_edit_unit(user, unit)
    if request.method == "POST":
        if not decision:
            messages.error(request, decision.reason)
            return redirect("portal:unit_edit", pk=unit.pk)
        form = UnitForm(request.POST)
        if form.is_valid():
            units.update_unit(unit=unit, actor=user, **form.unit_fields())
            messages.success(request, _("The unit is saved."))
            return redirect("portal:unit_edit", pk=unit.pk)
    else:
        form = UnitForm(initial={name: getattr(unit, name) for name in units.PROVIDER_FIELDS})
    if not decision:
        for field in form.fields.values():
            field.disabled = True
    history = _history(request, unit)
    history.object_list = list(history.object_list)
    for entry in history.object_list:
        entry.changes = _changes(entry)
    grant_figures = [
        {
            "grant": gu.grant,
            "type": unit_type_label(gu.type),
            "places": _count(gu.places),
            "customers": _count(gu.customers),
        }
        for gu in GrantUnit.objects.filter(unit=unit)
        .select_related("grant")
        .order_by("-grant__created_at", "-id")
    ]
    context = {
        "unit": unit,
        "form": form,
        "may_edit": decision,
        "history": history,
        "grant_figures": grant_figures,
    }
    return render(request, "applications/portal/unit_form.html", context)
