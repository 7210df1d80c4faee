"""The one place money is formatted for people: `{{ amount|kronor }}` gives `8 209 071 kr`."""

from django import template

from allocations.wording import format_kronor, format_rate

register = template.Library()


@register.filter
def kronor(amount) -> str:
    if amount is None or amount == "":
        return ""
    return format_kronor(amount, nbsp=True)


@register.filter
def rate(value) -> str:
    return format_rate(value, nbsp=True)
