"""Small pieces of the portal's pages written in Python rather than included templates.

An `{% include %}` inside a loop costs a template lookup, a context push and a render per row;
the provider's start page and lists show a status badge on every row.
"""

from __future__ import annotations

from html import escape

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

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
