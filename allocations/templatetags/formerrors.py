"""`{% error_summary form %}`: the list of a form's errors at its top, each a link to its field.

Forms drawn with crispy get it from templates/bootstrap5/errors.html; a form a template draws by
hand loads this library and calls the tag where the form begins.
"""

from django import template

from allocations.formerrors import error_summary as summary_items

register = template.Library()


@register.inclusion_tag("forms/error_summary.html")
def error_summary(form) -> dict:
    return {"items": summary_items(form) if form is not None else []}
