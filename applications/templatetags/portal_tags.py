"""Small pieces of the portal's pages written in Python rather than included templates.

An `{% include %}` inside a loop costs a template lookup, a context push and a render per row;
the provider's start page and lists show a status badge on every row.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime
from django.utils.translation import gettext

from allocations.templatetags.money import kronor

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
    """The rows of `_application_table.html`."""
    link = _link("portal:application")
    rows = []
    for app in applications:
        applied_to = app.call.title if app.call else app.pot.name
        rows.append(
            f'<tr><td><a href="{link.format(pk=app.pk)}">{_escaped(app.slug)}</a></td>'
            f"<td>{_escaped(applied_to)}"
            f'<div class="small text-body-secondary">{_escaped(app.grant.title)}</div></td>'
            f"<td>{_escaped(app.organisation.name)}</td>"
            f"<td>{status_badge(app.status, app.status_label)}</td>"
            f'<td class="text-nowrap">{_day(app.submitted_at)}</td></tr>'
        )
    return mark_safe("".join(rows))


@register.simple_tag
def decision_rows(decisions) -> SafeString:
    """The rows of `_decision_table.html`."""
    link = _link("portal:requisition")
    rows = []
    for req in decisions:
        run = req.run
        again = f" · {_escaped(run.title)}" if run.redistributes_id else ""
        rows.append(
            f'<tr><td class="text-nowrap">{_day(run.decided_on)}</td>'
            f'<td><a href="{link.format(pk=req.pk)}">{_escaped(req.pot.name)}</a>'
            f'<div class="small text-body-secondary">{_escaped(run.grant.title)}{again}</div></td>'
            f"<td>{_escaped(req.organisation.name)}</td>"
            f'<td class="text-end text-nowrap">{_escaped(kronor(req.amount))}</td>'
            f"<td>{status_badge(req.status, req.get_status_display())}</td>"
            f'<td class="text-nowrap">{_day(req.due_on)}</td></tr>'
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
