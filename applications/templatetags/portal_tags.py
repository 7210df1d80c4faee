"""Small pieces of the portal's pages written in Python rather than included templates.

An `{% include %}` inside a loop costs a template lookup, a context push and a render per row;
the provider's start page and lists show a status badge on every row.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from django import template
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime
from django.utils.translation import gettext, gettext_lazy

from allocations.templatetags.money import digits, kronor

from ..menus import menu_html
from ..models import RequisitionStatus, application_status_label

register = template.Library()

# The portal's menu: (label, URL name, the other URL names of its section).
PORTAL_MENU = [
    (gettext_lazy("Start"), "portal:start", set()),
    (gettext_lazy("To do"), "portal:tasks", set()),
    (gettext_lazy("Calls"), "portal:calls", {"portal:call", "portal:apply"}),
    (
        gettext_lazy("Applications"),
        "portal:applications",
        {
            "portal:application",
            "portal:application_edit",
            "portal:application_review",
            "portal:application_withdraw",
        },
    ),
    (
        gettext_lazy("Decisions"),
        "portal:decisions",
        {
            "portal:requisition",
            "portal:report",
            "portal:attachment_add",
            "portal:attachment_remove",
        },
    ),
    (gettext_lazy("Units"), "portal:units", {"portal:unit_new", "portal:unit_edit"}),
]


@register.simple_tag(takes_context=True)
def portal_nav(context) -> SafeString:
    """The portal's menu (see `applications.menus`)."""
    return menu_html(context.get("request"), PORTAL_MENU)


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


# ---------------------------------------------------------------- rows of the portal's lists
# The start page shows three lists of ten and the lists pages 25: written by the template
# engine, each row cost some 300-400 calls (lookups, `{% url %}`, `|date`, the badge tag).
# These write each row with the same markup and escaping; a link's pattern is reversed once
# per list. Dates as `|date:"Y-m-d"` writes them (a moment in the local time zone).

_PK = 987654321  # stands for the row's id in a link, replaced on each row


def _link(view: str) -> str:
    return conditional_escape(reverse(view, args=[_PK])).replace(str(_PK), "{pk}")


def _day(value) -> str:
    if not value:
        return ""
    if isinstance(value, datetime):
        value = localtime(value) if is_aware(value) else value
        value = value.date()
    return value.isoformat()


@register.simple_tag
def application_rows(applications) -> SafeString:
    """The rows of `_application_table.html`: applications as values
    (`applications.views.portal._application_table`)."""
    link = _link("portal:application")
    labels: dict[tuple[str, bool], str] = {}  # translated once per status
    rows = []
    for app in applications:
        applied_to = app["call__title"] if app["call__title"] is not None else app["pot__name"]
        status = (app["status"], app["granted"])
        if status not in labels:
            labels[status] = application_status_label(status[0], granted=status[1])
        rows.append(
            f'<tr><td><a href="{link.format(pk=app["pk"])}">{_escaped(app["slug"])}</a></td>'
            f"<td>{_escaped(applied_to)}"
            f'<div class="small text-body-secondary">{_escaped(app["grant__title"])}</div></td>'
            f"<td>{_escaped(app['organisation__name'])}</td>"
            f"<td>{status_badge(app['status'], labels[status])}</td>"
            f'<td class="text-nowrap">{_day(app["submitted_at"])}</td></tr>'
        )
    return mark_safe("".join(rows))


@register.simple_tag
def decision_rows(decisions) -> SafeString:
    """The rows of `_decision_table.html`: requisitions as values
    (`applications.views.portal._decision_page`)."""
    link = _link("portal:requisition")
    statuses = dict(RequisitionStatus.choices)  # as get_status_display() gives them
    rows = []
    for req in decisions:
        again = f" · {_escaped(req['round'])}" if req["round"] else ""
        rows.append(
            f'<tr><td class="text-nowrap">{_day(req["run__decided_on"])}</td>'
            f'<td><a href="{link.format(pk=req["pk"])}">{_escaped(req["pot__name"])}</a>'
            f'<div class="small text-body-secondary">{_escaped(req["run__grant__title"])}'
            f"{again}</div></td>"
            f"<td>{_escaped(req['organisation__name'])}</td>"
            f'<td class="text-end text-nowrap">{_escaped(kronor(req["amount"]))}</td>'
            f"<td>{status_badge(req['status'], statuses.get(req['status'], req['status']))}</td>"
            f'<td class="text-nowrap">{_day(req["due_on"])}</td></tr>'
        )
    return mark_safe("".join(rows))


@register.simple_tag
def task_rows(tasks) -> SafeString:
    """The rows of `_task_table.html` (`applications.views.portal.Task`s)."""
    links: dict[str, str] = {}
    overdue = f' <span class="badge text-bg-danger">{_escaped(gettext("overdue"))}</span>'
    rows = []
    for task in tasks:
        if task.view not in links:
            links[task.view] = _link(task.view)
        due = _day(task.due_on) if task.due_on else "—"
        rows.append(
            f'<tr><td class="text-nowrap">{due}{overdue if task.overdue else ""}</td>'
            f'<td><a href="{links[task.view].format(pk=task.pk)}">{_escaped(task.title)}</a></td>'
            f"<td>{_escaped(task.organisation_name)}</td>"
            f'<td class="text-end text-nowrap">{_escaped(kronor(task.amount))}</td></tr>'
        )
    return mark_safe("".join(rows))


def _v(value) -> str:
    """As `{{ value }}` writes it: localized (numbers), then escaped unless marked safe."""
    return conditional_escape(localize(value))


def _errors(bound, css: str = "invalid-feedback d-block") -> str:
    return "".join(f'<div class="{css}">{_v(error)}</div>' for error in bound.errors)


def _count_cell(bound, label: str, registered, registered_word: str) -> str:
    """A unit's places or customers: the box, its errors, the registered figure (after
    `registered_word`, translated once for the table)."""
    errors, auto_id = bound.errors, bound.auto_id
    value = bound.value()
    described = f"{auto_id}_error " if errors else ""
    invalid = ' aria-invalid="true"' if errors else ""
    error_block = (
        f'<div class="invalid-feedback d-block" id="{auto_id}_error">'
        + "".join(f"<div>{_v(e)}</div>" for e in errors)
        + "</div>"
        if errors
        else ""
    )
    shown = digits(registered) or "—"
    return (
        f'<td><input type="text" inputmode="numeric" class="form-control form-control-sm'
        f'{" is-invalid" if errors else ""}" name="{_v(bound.html_name)}" '
        f'id="{_v(bound.id_for_label)}" value="{_v("" if value is None else value)}" '
        f'aria-label="{label}" aria-describedby="{described}{auto_id}_registered"{invalid}>'
        f"{error_block}"
        f'<div class="form-text" id="{auto_id}_registered">{registered_word}: '
        f"{_v(shown)}</div></td>"
    )


@register.simple_tag
def unit_table_rows(form, rows) -> SafeString:
    """The units' rows of the application form (`ApplicationForm.unit_rows`): some 500
    template calls a row before, and a provider may have dozens of units."""
    units = form["units"]
    invalid = (
        f' aria-invalid="true" aria-describedby="{_v(units.auto_id)}_error"' if units.errors else ""
    )
    new = (
        '<div class="small text-body-secondary">'
        f"{_v(gettext('new in this grant — the administration checks its figures'))}</div>"
    )
    # Each text translated once for the table, not once a row.
    in_city_label = gettext("Whether %(unit)s lies in the city")
    share_label = gettext("Share of the residents of %(unit)s placed by the city, in per cent")
    places_label, customers_label = gettext("Places of %(unit)s"), gettext("Customers of %(unit)s")
    registered = _v(gettext("registered"))
    out = []
    for row in rows:
        pk, name = _v(row["pk"]), _v(row["name"])
        in_city, share = row["in_city"], row["share"]
        chosen = in_city.value()
        options = "".join(
            f'<option value="{_v(value)}"{" selected" if value == chosen else ""}>'
            f"{_v(label)}</option>"
            for value, label in in_city.field.choices
        )
        share_value = share.value()
        words = {"unit": name}
        out.append(
            f'<tr><td><div class="form-check"><input class="form-check-input" type="checkbox" '
            f'name="units" value="{pk}" id="unit-{pk}"{" checked" if row["checked"] else ""}'
            f'{invalid}><label class="form-check-label" for="unit-{pk}">{name}</label>'
            f"{new if row['new'] else ''}</div></td>"
            f"<td>{_v(row['type'])}</td>"
            f'<td><select class="form-select form-select-sm'
            f'{" is-invalid" if in_city.errors else ""}" name="{_v(in_city.html_name)}" '
            f'id="{_v(in_city.id_for_label)}" '
            f'aria-label="{in_city_label % words}">'
            f"{options}</select>{_errors(in_city)}</td>"
            f'<td><input type="text" inputmode="decimal" class="form-control form-control-sm'
            f'{" is-invalid" if share.errors else ""}" name="{_v(share.html_name)}" '
            f'id="{_v(share.id_for_label)}" '
            f'value="{_v("" if share_value is None else share_value)}" aria-label="'
            + share_label % words
            + f'">{_errors(share)}</td>'
            + _count_cell(row["places"], places_label % words, row["registered_places"], registered)
            + _count_cell(
                row["customers"], customers_label % words, row["registered_customers"], registered
            )
            + f'<td class="small">{_v(row["verdict"])}</td></tr>'
        )
    return mark_safe("".join(out))


@register.simple_tag
def unavailable_unit_rows(unavailable) -> SafeString:
    """The greyed rows of the units the form cannot offer: (name, type, why)."""
    out, cannot = [], gettext("Cannot be chosen: %(reason)s.")
    for name, kind, reason in unavailable:
        name = _v(name)
        why = cannot % {"reason": _v(reason)}
        out.append(
            '<tr class="text-body-secondary"><td><div class="form-check">'
            f'<input class="form-check-input" type="checkbox" disabled aria-label="{name}">'
            f"<span>{name}</span></div></td><td>{_v(kind)}</td>"
            f'<td colspan="5" class="small">{why}</td></tr>'
        )
    return mark_safe("".join(out))
