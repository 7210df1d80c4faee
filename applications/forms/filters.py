"""A list's filter form as plain controls, for a template to write out without widgets.

The filters sit on the busiest pages (the review list, the provider's start page); Django's
widget templates and crispy's field templates cost milliseconds per select there. A filter
form is a row of selects and search boxes, so the page writes them out itself from
`filter_controls(form)`: the same names, ids, labels and chosen values the widgets would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from django import forms
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst


def _escaped(text: str) -> str:
    """As `{{ text }}` writes it: escaped unless marked safe (Django's `conditional_escape`,
    without its lazy-string wrapper, which costs more than the escaping)."""
    return text.__html__() if hasattr(text, "__html__") else escape(text)


@dataclass
class Option:
    value: str
    label: str
    selected: bool


@dataclass
class Control:
    name: str
    id: str
    label: str
    kind: str  # "select" or an <input> type
    value: str = ""
    # A select's (value, label) pairs as the field gives them.
    choices: list[tuple] = field(default_factory=list)
    maxlength: int | None = None

    @property
    def options(self) -> list[Option]:
        return [Option(str(v), str(label), str(v) == self.value) for v, label in self.choices]

    @property
    def options_html(self) -> SafeString:
        """The `<option>`s, escaped as the template would: a select of 500 providers costs
        milliseconds when a template loop writes it out, a tenth of that joined here. The
        values and the labels are each escaped in one pass (joined by a character neither
        holds, split again): 500 options, a handful of calls."""
        if not self.choices:
            return mark_safe("")
        # Mapped, not a comprehension each: the calls stay in C, 500 options or not.
        values, labels = zip(*self.choices, strict=True)
        values, labels = list(map(str, values)), list(map(str, labels))
        plain = set(map(type, labels)) == {str}  # none marked safe
        if plain and _SEP not in "".join(values) + "".join(labels):
            values = escape(_SEP.join(values)).split(_SEP)
            labels = escape(_SEP.join(labels)).split(_SEP)
        else:
            values = [escape(v) for v in values]
            labels = [_escaped(text) for text in labels]
        chosen = escape(self.value)  # compared as escaped, as both sides are
        return mark_safe(
            "".join(
                [  # a list, not a generator resumed 500 times
                    f'<option value="{v}"{" selected" if v == chosen else ""}>{label}</option>'
                    for v, label in zip(values, labels, strict=True)
                ]
            )
        )

    @property
    def html(self) -> SafeString:
        """The control with its label, as `applications/_control.html` writes it: that
        template, included once per control, cost some 300 calls a control on every list."""
        attrs = f'name="{_escaped(self.name)}" id="{_escaped(self.id)}"'
        label = (
            f'<label for="{_escaped(self.id)}" class="form-label">{_escaped(self.label)}</label>\n'
        )
        if self.kind == "select":
            return mark_safe(  # escaped above and by options_html
                f'{label}<select {attrs} class="form-select">{self.options_html}</select>\n\n'
            )
        maxlength = f' maxlength="{self.maxlength}"' if self.maxlength else ""
        return mark_safe(  # escaped above
            f'{label}<input type="{_escaped(self.kind)}" {attrs} value="{_escaped(self.value)}"'
            f' class="form-control"{maxlength}>\n'
        )


_SEP = "\x00"  # in no value or label a select shows


class NamedChoiceIterator(forms.models.ModelChoiceIterator):
    """The choices as (id, name) read as plain values: a select of 500 providers builds no
    500 model instances. For models whose `__str__` is their `name`."""

    def __iter__(self):
        # Read as one list, not passed on row by row through a generator: 500 rows.
        choices = list(self.queryset.values_list("pk", "name"))
        if self.field.empty_label is not None:
            choices.insert(0, ("", self.field.empty_label))
        return iter(choices)


class NamedModelChoiceField(forms.ModelChoiceField):
    """A `ModelChoiceField` of a model shown by its `name` (organisations): it validates and
    cleans as one, and lists its choices without making an instance of each."""

    iterator = NamedChoiceIterator


class FilterControls:
    """Mixin for GET filter forms: `form.controls` lists the controls in the form's order."""

    @property
    def controls(self) -> list[Control]:
        return filter_controls(self)


def filter_controls(form: forms.Form) -> list[Control]:
    controls = []
    for bound in form:
        raw = bound.value() if form.is_bound else bound.initial
        value = "" if raw is None else str(raw)
        control = Control(
            name=bound.html_name,
            id=bound.auto_id,
            label=capfirst(str(bound.label)),
            kind=getattr(bound.field.widget, "input_type", "text") or "text",
            value=value,
            maxlength=getattr(bound.field, "max_length", None),
        )
        if isinstance(bound.field, forms.ChoiceField):
            control.kind = "select"
            # iter(): a model choice iterator asked for its len() would COUNT first
            control.choices = list(iter(bound.field.choices))
        controls.append(control)
    return controls
