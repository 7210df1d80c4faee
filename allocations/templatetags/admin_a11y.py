"""The admin's tabular inlines, accessible: Django shows their labels only as column heads."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def labelled(bound_field, label) -> SafeString:
    """The field's widget, named by `label` (its column's head) for assistive technology."""
    if bound_field.is_hidden:
        return format_html("{}", bound_field)
    html = bound_field.as_widget(attrs={"aria-label": label})
    if bound_field.field.show_hidden_initial:
        html += bound_field.as_hidden(only_initial=True)
    return html
