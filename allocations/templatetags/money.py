"""The one place money is formatted for people: `{{ amount|kronor }}` gives `8 209 071 kr`;
`{{ places|digits }}` writes a count the same way, `23 599`."""

from django import template

from allocations.wording import format_kronor, format_number, format_rate, format_share

register = template.Library()


@register.filter
def kronor(amount) -> str:
    if amount is None or amount == "":
        return ""
    return format_kronor(amount, nbsp=True)


@register.filter
def rate(value) -> str:
    return format_rate(value, nbsp=True)


@register.filter
def share(value) -> str:
    """A share of 1 (`0.8`, as stored) as per cent: `80 %`."""
    return format_share(value)


@register.filter
def digits(number) -> str:
    """A whole number with a no-break space between thousands; anything else as it is."""
    if isinstance(number, int) and not isinstance(number, bool):
        return format_number(number, nbsp=True)
    return "" if number is None else number
