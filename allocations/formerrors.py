"""Form errors people can find and read: numbers the Swedish way, and the summary above a form.

Django's validators print their numbers bare ("(den har 23599)"). `GroupedNumbers` rewrites
each error after cleaning, in the language of the request, so every number of a thousand or
more reads `23 599`. `error_summary` lists a form's errors in the order of its fields, each with
the id of the control it is about, for the summary every form shows at its top
(templates/forms/error_summary.html, drawn by crispy's errors template and `{% error_summary %}`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from .wording import format_number


def _grouped(number) -> str | None:
    if isinstance(number, bool) or not isinstance(number, int | Decimal):
        return None
    if isinstance(number, Decimal) and (
        not number.is_finite() or number != number.to_integral_value()
    ):
        return None  # a fraction, or "Infinity" typed into a number box
    if abs(number) < 1000:
        return None
    return format_number(int(number), nbsp=True)


def group_numbers(error: ValidationError) -> ValidationError:
    """The error with each number of its parameters written with a space between thousands."""
    if not isinstance(error, ValidationError) or not getattr(error, "params", None):
        return error
    params = error.params if isinstance(error.params, dict) else {}
    grouped = {str(v): g for v in params.values() if (g := _grouped(v)) is not None}
    if not grouped:
        return error
    text = next(iter(error))  # the message in the active language, its params filled in
    for plain, nice in sorted(grouped.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![\d.,]){re.escape(plain)}(?![\d])", nice, text)
    return ValidationError(text, code=error.code)


class GroupedNumbers:
    """A form mixin: the numbers in its errors read `23 599`, not `23599`."""

    def full_clean(self):
        super().full_clean()
        for errors in (self._errors or {}).values():
            errors.data[:] = [group_numbers(e) for e in errors.data]


@dataclass(frozen=True)
class SummaryItem:
    label: str
    message: str
    anchor: str  # the id of the control to go to; "" when there is none (a form-wide error)


def field_anchor(bound: forms.BoundField) -> str:
    """The id a link should go to: the control itself, or a group's first choice."""
    if bound.is_hidden:
        return ""
    if bound.id_for_label:
        return bound.id_for_label
    subwidgets = bound.subwidgets
    if subwidgets and subwidgets[0].id_for_label:
        return subwidgets[0].id_for_label
    return bound.auto_id or ""


def error_summary(form: forms.BaseForm) -> list[SummaryItem]:
    """Every error of a bound form: form-wide ones first, then each field's in the page's order.

    A form whose template draws some controls itself may say where an error should lead with
    `error_anchor(name)` (return None to fall back to the field's own id).
    """
    if not form.is_bound or not form.errors:
        return []
    items = [SummaryItem("", message, "") for message in form.non_field_errors()]
    custom = getattr(form, "error_anchor", None)
    for name in form.fields:  # the order the form lists its fields in, not the order of checks
        if name not in form.errors:
            continue
        bound = form[name]
        anchor = (custom(name) if custom else None) or field_anchor(bound)
        label = str(bound.label or "")
        items.extend(SummaryItem(label, message, anchor) for message in form.errors[name])
    return items
