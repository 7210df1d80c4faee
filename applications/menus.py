"""The menus at the top of every page — the officials' and the portal's — written in Python.

A menu is a list of items: (label, the item's URL name, the other URL names of its section).
The page shown is marked `aria-current="page"` and a page deeper in a section (one
application, one requisition) marks its section `aria-current="true"`. Written here rather
than by a template loop, where each item's `{% url %}`, `{% translate %}` and `{% if %}` cost
some 250 calls on every page.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from functools import lru_cache
from html import escape  # as Django's `escape` writes it, without the lazy-string wrapper

from django.urls import (
    NoReverseMatch,
    URLResolver,
    get_resolver,
    get_script_prefix,
    get_urlconf,
    reverse,
)
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language


def menu_html(request, items: Iterable[tuple]) -> SafeString:
    """The items whose URL is mounted, one `<li>` a line, the page shown and its section marked."""
    match = getattr(request, "resolver_match", None)
    here = match.view_name if match else ""
    items = list(items)
    urls = menu_urls([name for _label, name, _section in items])
    lines = []
    for label, name, section in items:
        if name not in urls:  # not mounted here: left out
            continue
        current = "page" if here == name else ("true" if here in section else "")
        active, aria = (" active", f' aria-current="{current}"') if current else ("", "")
        lines.append(
            f'<li class="nav-item"><a class="nav-link{active}" href="{escape(urls[name])}"{aria}>'
            f"{escape(str(label))}</a></li>\n"
        )
    return mark_safe("".join(lines))  # escaped above


def menu_urls(names: Iterable[str]) -> dict[str, str]:
    """`reverse(name)` of each URL without arguments that is mounted. Each reverse costs some
    90 calls and gives the same answer every time for one URL configuration, script prefix and
    language, which key the cache; they are read once for all the names (each read of the
    request's locals costs a dozen calls)."""
    key = (get_resolver(get_urlconf()), get_script_prefix(), get_language())
    found = {}
    for name in names:
        with suppress(NoReverseMatch):
            found[name] = _menu_url(name, *key)
    return found


@lru_cache(maxsize=256)
def _menu_url(name: str, resolver: URLResolver, prefix: str, language: str | None) -> str:
    # The arguments after the name only key the cache: `reverse` reads the same prefix and
    # language itself, and Django makes a new resolver whenever the URL configuration changes
    # (`clear_url_caches`, as when a test overrides ROOT_URLCONF).
    return reverse(name, urlconf=resolver.urlconf_name)
