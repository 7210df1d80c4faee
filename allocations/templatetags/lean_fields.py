"""`{{ form.field|lean_field }}`: crispy's field markup, written in Python.

crispy-bootstrap5's `field.html` (as overridden in templates/bootstrap5/field.html: a required
field says "(obligatoriskt)" in words) renders each field through a dozen nested templates and
Django's widget templates: some 2 000 template calls a field. This filter writes the same
markup — the wrapper, the label or fieldset and legend, the widget with its classes and the
`aria-invalid` / `aria-describedby` Django adds, the error block and the help text — for the
widgets a form here uses: text-like inputs, text areas, single selects, check boxes and groups
of check boxes or radio buttons. Anything else (files, multi-widgets, hidden fields, a form
with a crispy helper, a widget with a template of its own) goes to crispy's `as_crispy_field`
as before. tests/test_accessible_forms.py compares both renderings field by field.
"""

from __future__ import annotations

from django import forms, template
from django.forms.boundfield import BoundField
from django.forms.widgets import Input
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

register = template.Library()

_INPUT = "django/forms/widgets/{}.html"
# Django's widgets whose templates only include input.html.
_INPUT_TEMPLATES = {
    _INPUT.format(name)
    for name in (
        "input",
        "text",
        "email",
        "number",
        "url",
        "password",
        "tel",
        "search",
        "date",
        "datetime",
        "time",
        "color",
    )
}
_TEXTAREA = _INPUT.format("textarea")
_SELECT = _INPUT.format("select")
_OPTION = _INPUT.format("select_option")
_CHECKBOX = _INPUT.format("checkbox")


def _e(value) -> str:
    """As `{{ value }}` writes a string: escaped unless marked safe."""
    return conditional_escape(value)


def _attrs(attrs: dict) -> str:
    """As django/forms/widgets/attrs.html writes them."""
    return "".join(
        f" {name}" if value is True else f' {name}="{_e(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


def _supported(bound: BoundField) -> bool:
    widget = bound.field.widget
    if bound.is_hidden or getattr(bound.form, "helper", None) is not None:
        return False
    if isinstance(widget, forms.RadioSelect):  # check-box groups are radio selects too
        return widget.option_template_name in (
            _INPUT.format("radio_option"),
            _INPUT.format("checkbox_option"),
        )
    if isinstance(widget, forms.CheckboxInput):
        return widget.template_name == _CHECKBOX
    if isinstance(widget, forms.Select):
        return (
            not widget.allow_multiple_selected
            and widget.template_name == _SELECT
            and widget.option_template_name == _OPTION
        )
    if isinstance(widget, forms.Textarea):
        return widget.template_name == _TEXTAREA
    if isinstance(widget, forms.FileInput | forms.MultiWidget):
        return False
    return isinstance(widget, Input) and widget.template_name in _INPUT_TEMPLATES


def _crispy_class(widget, extra: str) -> None:
    """As crispy's `{% crispy_field field 'class' extra %}` sets the widget's class (kept on it)."""
    name = widget.__class__.__name__.lower()
    css = widget.attrs.get("class", "")
    if css:
        if css.find(name) == -1:
            css += f" {name}"
    else:
        css = name
    for word in extra.split():
        if word not in css.split():
            css += f" {word}"
    widget.attrs["class"] = css


def _widget_html(bound: BoundField) -> str:
    """`str(bound)`, as Django's widget templates write it."""
    widget = bound.field.widget
    if bound.field.localize:
        widget.is_localized = True
    attrs = bound.build_widget_attrs({}, widget)
    if bound.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", bound.auto_id)
    w = widget.get_context(bound.html_name, bound.value(), attrs)["widget"]
    name = _e(w["name"])
    if isinstance(widget, forms.Textarea):
        text = _e(w["value"]) if w["value"] else ""
        return f'<textarea name="{name}"{_attrs(w["attrs"])}>\n{text}</textarea>'
    if isinstance(widget, forms.Select):
        parts = [f'<select name="{name}"{_attrs(w["attrs"])}>']
        for group, options, _index in w["optgroups"]:
            if group:
                parts.append(f'\n  <optgroup label="{_e(group)}">')
            parts.extend(
                f'\n  <option value="{_e(str(o["value"]))}"{_attrs(o["attrs"])}>'
                f"{_e(o['label'])}</option>"
                for o in options
            )
            if group:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return "".join(parts)
    value = "" if w["value"] is None else f' value="{_e(str(w["value"]))}"'
    return f'<input type="{_e(w["type"])}" name="{name}"{value}{_attrs(w["attrs"])}>'


def _label_text(bound: BoundField) -> str:
    text = _e(bound.label)
    if bound.field.required:
        text += f' <span class="required-note">({_e(gettext("required"))})</span>'
    return text


def _errors_block(bound: BoundField) -> str:
    errors = bound.errors
    if not errors:
        return ""
    items = "".join(
        f'<p id="error_{n}_{bound.auto_id}"><strong>{_e(error)}</strong></p>'
        for n, error in enumerate(errors, 1)
    )
    field_id = getattr(errors, "field_id", None)
    return f'<div id="{field_id}_error" class="invalid-feedback">{items}</div>'


def _help_text(bound: BoundField) -> str:
    if not bound.help_text:
        return ""
    where = f'id="{bound.auto_id}_helptext" ' if bound.auto_id else ""
    return f'<div {where}class="form-text">{bound.help_text}</div>'


def _choices_html(bound: BoundField) -> str:
    """crispy-bootstrap5's radio_checkbox_select.html."""
    widget = bound.field.widget
    id_ = widget.attrs.get("id") or bound.auto_id
    attrs = bound.build_widget_attrs({"id": id_} if id_ else {})
    groups = widget.optgroups(bound.html_name, widget.format_value(bound.value()), attrs)
    invalid = " is-invalid" if bound.errors else ""
    parts = ["<div>"]
    for g, (group, options, _index) in enumerate(groups, 1):
        if group:
            parts.append(f"<strong>{_e(group)}</strong>")
        for n, option in enumerate(options, 1):
            parts.append(
                f'<div class="form-check"><input type="{_e(option["type"])}" '
                f'class="form-check-input{invalid}" name="{_e(bound.html_name)}" '
                f'value="{_e(str(option["value"]))}"{_attrs(option["attrs"])}>'
                f'<label for="{_e(option["attrs"].get("id", ""))}" class="form-check-label">'
                f"{_e(str(option['label']))}</label>"
            )
            if bound.errors and n == len(options) and g == len(groups):
                parts.append(_errors_block(bound))
            parts.append("</div>")
    parts.append("</div>")
    parts.append(_help_text(bound))
    return "".join(parts)


@register.filter
def lean_field(bound: BoundField) -> SafeString:
    """The field as `{{ bound|as_crispy_field }}` writes it (apart from white space)."""
    if not _supported(bound):
        from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field

        return as_crispy_field(bound)
    widget = bound.field.widget
    css = bound.css_classes()
    css = f" {css}" if css else ""
    checkbox = isinstance(widget, forms.CheckboxInput)
    required = " requiredField" if bound.field.required else ""
    if checkbox:
        _crispy_class(widget, "form-check-input is-invalid" if bound.errors else "form-check-input")
        return mark_safe(
            f'<div class="mb-3"><div id="div_{bound.auto_id}" class="form-check{css}">'
            f"{_widget_html(bound)}"
            f'<label for="{bound.id_for_label}" class="form-check-label{required}">'
            f"{_label_text(bound)}</label>"
            f"{_errors_block(bound)}{_help_text(bound)}</div></div>"
        )
    parts = [f'<div id="div_{bound.auto_id}" class="mb-3{css}">']
    fieldset = bound.use_fieldset and bound.label
    if bound.label:
        tag = "legend" if bound.use_fieldset else "label"
        if fieldset:
            described = bound.aria_describedby
            parts.append(
                f'<fieldset aria-describedby="{_e(described)}">' if described else "<fieldset>"
            )
        target = f'for="{bound.id_for_label}" ' if bound.id_for_label else ""
        size = " fs-6" if bound.use_fieldset else ""
        parts.append(
            f'<{tag} {target}class="form-label{required}{size}">{_label_text(bound)}</{tag}>'
        )
    if isinstance(widget, forms.RadioSelect):
        parts.append(_choices_html(bound))
    else:
        if isinstance(widget, forms.Select):
            extra = "form-select"
        else:
            extra = "form-control"
        _crispy_class(widget, f"{extra} is-invalid" if bound.errors else extra)
        parts.append(_widget_html(bound) + _errors_block(bound) + _help_text(bound))
    if fieldset:
        parts.append("</fieldset>")
    parts.append("</div>")
    return mark_safe("".join(parts))
