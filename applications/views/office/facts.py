"""Verifying the units' stated facts (Verifiera uppgifter): a grant's list, in bulk.

Each unit a sent application names, with what the provider stated beside the grant's own
figures and last year's, every difference marked; the official ticks many and verifies them,
correcting a figure with a reason, or imports the city's placement register. Every change goes
through `services.verify_facts` (the import through `placements.import_placements`).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.db.models import F, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from allocations.models import Grant, Organisation
from allocations.tables import ImportRefused
from allocations.wording import reason_text

from ... import permissions, services
from ...forms.office import FactsFilterForm, FactsVerifyForm, PlacementUploadForm
from ...models import ApplicationUnit, Call
from ...placements import import_placements
from ...services.facts import FACT_FIELDS, SENT, Facts, grant_is_decided
from .common import official_required, paginate

PER_PAGE = 500  # the City of Stockholm's units of one call fit on one page, to tick at once

FACT_LABELS = {
    "in_city": gettext_lazy("In the city"),
    "city_placed_share": gettext_lazy("Share placed by the city"),
    "places": gettext_lazy("Places"),
    "customers": gettext_lazy("Customers"),
}

# The correction fields' names on the verification form.
PREFIX = {"city_placed_share": "share"}

# Stated figures that differ from the grant's own, in SQL, for the filter.
DIFFERS = (
    Q(stated_in_city__isnull=False) & ~Q(stated_in_city=F("grant_unit__in_city"))
    | Q(stated_city_placed_share__isnull=False)
    & ~Q(stated_city_placed_share=F("grant_unit__city_placed_share"))
    | Q(places__isnull=False) & ~Q(places=F("grant_unit__places"))
    | Q(customers__isnull=False) & ~Q(customers=F("grant_unit__customers"))
)


def _show(name: str, value) -> str:
    if value is None:
        return "—"
    if name == "in_city":
        return _("yes") if value else _("no")
    if name == "city_placed_share":
        return f"{number_format((Decimal(value) * 100).normalize())} %"
    return str(value)


def _links(grant: Grant, data: dict):
    links = ApplicationUnit.objects.filter(application__grant=grant, application__status__in=SENT)
    if data.get("call"):
        links = links.filter(application__call=data["call"])
    if data.get("organisation"):
        links = links.filter(application__organisation=data["organisation"])
    show = data.get("show")
    if show == FactsFilterForm.UNVERIFIED:
        links = links.filter(verified_at__isnull=True)
    elif show == FactsFilterForm.VERIFIED:
        links = links.filter(verified_at__isnull=False)
    elif show == FactsFilterForm.CHANGED:
        links = links.filter(DIFFERS)
    elif show == FactsFilterForm.FAILING:
        links = links.filter(eligible=False)
    # The names the list shows come as columns, not as an organisation, application, unit and
    # user object per row: fewer objects for the garbage collector to go through (see _rows).
    return (
        links.select_related("grant_unit")
        .annotate(
            organisation_name=F("application__organisation__name"),
            application_slug=F("application__slug"),
            unit_name=F("grant_unit__unit__name"),
            verifier=F("verified_by__username"),
        )
        .order_by("organisation_name", "unit_name", "pk")
    )


def _correction(form: FactsVerifyForm, name: str, link, label: str) -> dict:
    """A correction box of one row, as plain strings: the template of 500 rows × 4 boxes
    spent most of the page's time resolving bound fields and translating their labels.

    The bound field is made here, not taken from `form[...]`: the form keeps every field it
    hands out, and 2 000 of them referring back to the form are a cycle only the garbage
    collector frees, which made every other page a full collection (~90 ms) slower."""
    key = f"{PREFIX.get(name, name)}_{link.pk}"
    field = form.fields[key].get_bound_field(form, key)
    value = field.value()
    correction = {
        "name": field.html_name,
        "value": "" if value is None else value,
        "errors": field.errors,
        "aria": _("Correct %(label)s of %(unit)s") % {"label": label, "unit": link.unit_name},
    }
    if name == "in_city":
        correction["options"] = [(v, text, v == value) for v, text in field.field.choices]
    return correction


def _cell(fact: dict, words: dict, decided: bool) -> str:
    """One fact's cell of the list: what was stated, the grant's figure, last year's and the
    correction box. Made here rather than in the template: 500 rows × 4 cells of template
    nodes took most of the page's time (the list is one page, to tick every unit at once)."""
    parts = [format_html("<strong>{}</strong>", fact["stated"])]
    if fact["differs"]:
        parts.append(format_html(' <span class="badge text-bg-danger">{}</span>', words["differs"]))
    parts.append(
        format_html(
            '<div class="small text-body-secondary">{}: {}</div>', words["grant"], fact["register"]
        )
    )
    if fact["last"]:
        parts.append(
            format_html(
                '<div class="small {}">{}: {}</div>',
                "text-danger fw-semibold" if fact["differs_last"] else "text-body-secondary",
                words["last_year"],
                fact["last"],
            )
        )
    if not decided:
        box = fact["correction"]
        invalid = " is-invalid" if box["errors"] else ""
        if "options" in box:
            options = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((v, " selected" if chosen else "", text) for v, text, chosen in box["options"]),
            )
            parts.append(
                format_html(
                    '<select class="form-select form-select-sm mt-1{}" name="{}" '
                    'aria-label="{}">{}</select>',
                    invalid,
                    box["name"],
                    box["aria"],
                    options,
                )
            )
        else:
            parts.append(
                format_html(
                    '<input type="text" inputmode="decimal" class="form-control '
                    'form-control-sm mt-1{}" name="{}" value="{}" placeholder="{}" '
                    'aria-label="{}">',
                    invalid,
                    box["name"],
                    box["value"],
                    words["correct"],
                    box["aria"],
                )
            )
        parts.extend(
            format_html('<div class="invalid-feedback d-block">{}</div>', error)
            for error in box["errors"]
        )
    return format_html(
        '<td class="table-danger">{}</td>' if fact["differs"] else "<td>{}</td>",
        mark_safe("".join(parts)),  # each part was escaped by format_html
    )


def _rows(grant: Grant, links, form: FactsVerifyForm, decided: bool) -> list[dict]:
    last = services.previous_facts(grant, [link.grant_unit.unit_id for link in links])
    labels = {name: str(FACT_LABELS[name]) for name in FACT_FIELDS}
    ticked = set(form["links"].value() or [])
    words = {
        "differs": _("differs"),
        "grant": _("grant"),
        "last_year": _("last year"),
        "correct": _("correct"),
    }
    rows = []
    for link in links:
        stated = services.stated_facts(link)
        register = services.grant_facts(link.grant_unit)
        previous: Facts | None = last.get(link.grant_unit.unit_id)
        differs = stated.differences(register)
        differs_last = stated.differences(previous)
        facts = [
            {
                "stated": _show(name, getattr(stated, name)),
                "register": _show(name, getattr(register, name)),
                "last": _show(name, getattr(previous, name)) if previous else "",
                "differs": name in differs,
                "differs_last": name in differs_last,
                "correction": _correction(form, name, link, labels[name]),
            }
            for name in FACT_FIELDS
        ]
        # A row keeps only its cells' HTML, not the facts they were made of: what a row keeps
        # lives until the garbage collector frees the page's context (Django's template context
        # refers to itself), and 500 rows of dicts made a full collection every other request.
        rows.append(
            {
                "link": link,
                "checkbox_checked": str(link.pk) in ticked,
                "differs": bool(differs),
                "cells": mark_safe("".join(_cell(fact, words, decided) for fact in facts)),
                "verdict": (
                    ""
                    if link.eligible is None
                    else _("eligible")
                    if link.eligible
                    else reason_text(*link.reason)
                    if link.reason
                    else _("not eligible")
                ),
            }
        )
    return rows


def _listed(request, grant: Grant):
    """The filter form and the page of application units it selects."""
    calls = Call.objects.filter(pot__grant=grant).order_by("-opens_on", "pk")
    filters = FactsFilterForm(
        request.GET or {"show": FactsFilterForm.UNVERIFIED},
        calls=calls,
        organisations=Organisation.objects.filter(
            pk__in=grant.applications.values("organisation")
        ).order_by("name"),
    )
    return filters, paginate(request, _links(grant, filters.values()), per_page=PER_PAGE)


def _page(request, grant: Grant, *, form=None, upload=None, report=None):
    filters, page = _listed(request, grant)
    links = list(page)
    if form is None:
        form = FactsVerifyForm(link_ids=[link.pk for link in links])
    decided = grant_is_decided(grant)
    context = {
        "grant": grant,
        "filters": filters,
        "page": page,
        "rows": _rows(grant, links, form, decided),
        "labels": [FACT_LABELS[name] for name in FACT_FIELDS],
        "form": form,
        "upload": upload or PlacementUploadForm(),
        "report": report,
        "decided": decided,
        "previous": services.previous_grant(grant),
        "query": request.GET.urlencode(),
    }
    return render(request, "applications/office/facts.html", context)


@official_required
def facts(request, pk):
    grant = permissions.get_grant_for_official(request.user, pk)
    if request.method != "POST":
        return _page(request, grant)
    # Only the rows of the page the official saw can be ticked: the same filter and page.
    _filters, page = _listed(request, grant)
    form = FactsVerifyForm(request.POST, link_ids=[link.pk for link in page])
    if form.is_valid():
        try:
            count = services.verify_facts(
                grant=grant,
                verifications=form.verifications(),
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except services.WorkflowError as exc:
            for field, message in exc.problems:
                form.add_error(field, message)
            if not exc.problems:
                form.add_error(None, str(exc))
        else:
            messages.success(request, _("%(count)s units verified.") % {"count": count})
            url = reverse("office:facts", args=[grant.pk])
            query = request.GET.urlencode()
            return redirect(f"{url}?{query}" if query else url)
    return _page(request, grant, form=form)


@official_required
@require_POST
def facts_import(request, pk):
    grant = permissions.get_grant_for_official(request.user, pk)
    upload = PlacementUploadForm(request.POST, request.FILES)
    report = None
    if upload.is_valid():
        file = upload.cleaned_data["file"]
        try:
            report = import_placements(
                grant=grant, content=file.read(), name=file.name, actor=request.user
            )
        except ImportRefused as exc:
            upload.add_error("file", exc.summary())
            for problem in exc.problems:
                upload.add_error("file", str(problem))
        except services.WorkflowError as exc:
            upload.add_error("file", str(exc))
        else:
            messages.success(
                request,
                _("%(count)s units verified from the placement register.")
                % {"count": len(report.verified)},
            )
    return _page(request, grant, upload=upload, report=report)
