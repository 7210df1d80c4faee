"""Small pieces of the portal's pages written in Python rather than included templates.

An `{% include %}` inside a loop costs a template lookup, a context push and a render per row;
the provider's start page and lists show a status badge on every row.
"""

from __future__ import annotations

from html import escape

from django import template
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()

# The badge's colour by stored status (applications and requisitions share the names).
BADGE = {
    "approved": "text-bg-success",
    "accepted": "text-bg-success",
    "rejected": "text-bg-danger",
    "declined": "text-bg-danger",
    "returned": "text-bg-danger",
    "withdrawn": "text-bg-secondary",
    "submitted": "text-bg-primary",
    "pending": "text-bg-warning",
    "draft": "text-bg-warning",
}


def _escaped(text) -> str:
    """As `{{ text }}` writes it: escaped unless marked safe."""
    return text.__html__() if hasattr(text, "__html__") else escape(str(text))


@register.simple_tag
def status_badge(status, label) -> SafeString:
    """`status` (the stored value) as a badge reading `label` (its display)."""
    css = BADGE.get(str(status), "text-bg-light")
    return mark_safe(f'<span class="badge {css}">{conditional_escape(label)}</span>')


def _figure_cell(figure: dict, registered) -> str:
    invalid = " is-invalid" if figure["errors"] else ""
    errors = "".join(
        f'<div class="invalid-feedback d-block">{_escaped(error)}</div>'
        for error in figure["errors"]
    )
    registered = "—" if registered is None else localize(registered)
    return (
        f'<td><input type="text" inputmode="numeric" class="form-control form-control-sm'
        f'{invalid}" name="{_escaped(figure["name"])}" id="{_escaped(figure["id"])}" '
        f'value="{_escaped(localize(figure["value"]))}" aria-label="{_escaped(figure["label"])}">'
        f'{errors}<div class="form-text">{_escaped(gettext("registered"))}: {registered}</div></td>'
    )


@register.simple_tag
def unit_row(row: dict) -> SafeString:
    """One unit's row of the application form (`ApplicationForm.unit_rows`): the check box,
    the type and the places and customers it applies for. Twenty units drawn by the template
    cost over a thousand calls each; written here, a tenth."""
    pk = _escaped(str(row["pk"]))
    new = (
        '<div class="small text-body-secondary">'
        f"{_escaped(gettext('new in this grant — the administration checks its figures'))}</div>"
        if row["new"]
        else ""
    )
    return mark_safe(  # every value escaped
        f'<tr><td><div class="form-check"><input class="form-check-input" type="checkbox" '
        f'name="units" value="{pk}" id="unit-{pk}"{" checked" if row["checked"] else ""}>'
        f'<label class="form-check-label" for="unit-{pk}">{_escaped(row["name"])}</label>'
        f"{new}</div></td><td>{_escaped(str(row['type']))}</td>"
        + _figure_cell(row["places"], row["registered_places"])
        + _figure_cell(row["customers"], row["registered_customers"])
        + "</tr>"
    )
