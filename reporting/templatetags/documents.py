"""Filters for the decision documents: the official's plain text as paragraphs, counts."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from allocations.wording import format_count

register = template.Library()

BULLETS = ("• ", "- ", "* ", "– ")


@register.filter
def paragraphs(text: str) -> SafeString:
    """Plain text as HTML: blank lines part paragraphs, lines starting with a bullet make lists."""
    html = []
    for block in (text or "").replace("\r\n", "\n").split("\n\n"):
        words: list[str] = []
        items: list[str] = []
        for line in (line.strip() for line in block.split("\n")):
            if not line:
                continue
            if line.startswith(BULLETS):
                if words:
                    html.append(format_html("<p>{}</p>", " ".join(words)))
                    words = []
                items.append(line[2:].strip())
                continue
            if items:
                html.append(_list(items))
                items = []
            words.append(line)
        if words:
            html.append(format_html("<p>{}</p>", " ".join(words)))
        if items:
            html.append(_list(items))
    return mark_safe("".join(html))  # every part above is escaped


def _list(items: list[str]) -> SafeString:
    return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((i,) for i in items)))


@register.filter
def count(value) -> str:
    return format_count(value)
