"""The officials' one navigation, shared by the case-handling and the reporting pages.

Each item names the URLs that belong to it, so that a page deep in a section (one
requisition, one grant's dashboard) marks its section as current. The reporting pages are
named by URL only, never imported: the workflow does not depend on the layer above it, and
an item whose URL is not mounted is left out.
"""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from html import escape  # as Django's `escape` writes it, without the lazy-string wrapper

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from stimulans.roles import is_administrator

register = template.Library()

# (label, the item's URL, the other URLs of its section)
ITEMS = [
    (
        _("Overview"),
        "office:start",
        {
            "office:grant",
            "office:facts",
            "office:facts_import",
            "office:compute",
            "office:run",
            "office:run_units",
            "office:decide",
        },
    ),
    (
        _("Calls"),
        "office:calls",
        {
            "office:call_new",
            "office:call",
            "office:call_close",
            "office:pot_review",
            "office:application",
            "office:bulk_review",
        },
    ),
    (
        _("Requisitions"),
        "office:requisitions",
        {
            "office:requisition",
            "office:record_payment",
            "office:claim",
            "office:answer_requisition",
            "office:invite_recipient_user",
            "office:remind",
        },
    ),
    (_("Usage reports"), "office:reports", {"office:report", "office:review_report"}),
    (
        _("Claims"),
        "office:claims",
        {"office:claim_repaid", "office:redistribute", "office:redistribute_confirm"},
    ),
    (
        _("Dashboards and documents"),
        "reporting:grants",
        {
            "reporting:dashboard",
            "reporting:documents",
            "reporting:needs",
            "reporting:import-dataset",
            "reporting:registry",
            "reporting:texts",
            "allocations:job",
        },
    ),
    (_("Delegated decisions"), "reporting:delegation", set()),
    (_("Roadmap follow-up"), "reporting:followup", set()),
    (_("Import units"), "reporting:import-units", set()),
]


def menu_urls(names) -> dict[str, str]:
    """`reverse(name)` of each URL without arguments that is mounted, as the menus on every
    page ask for them: each reverse costs some 90 calls, the same answer every time for the
    one URL configuration and script prefix, which key the cache (a test's own URL
    configuration included). Both are read once for all: each read of the request's locals
    costs a dozen calls."""
    prefix, urlconf = get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF
    found = {}
    for name in names:
        with suppress(NoReverseMatch):  # not mounted here: left out
            found[name] = _menu_url(name, prefix, urlconf)
    return found


@lru_cache(maxsize=128)
def _menu_url(name: str, prefix: str, urlconf) -> str:
    return reverse(name, urlconf=urlconf)


@register.simple_tag(takes_context=True)
def officials_nav(context) -> SafeString:
    """The menu's items, written here rather than by a template: on every officials' page a
    template loop over ten items cost some 1 500 calls, a tenth of a busy list's rendering."""
    # Each item on a line, and a line after them, as the template wrote them.
    return mark_safe("".join([_item(**item) for item in _items(context)]) + "\n")  # escaped


def _item(*, label, url: str, current: str) -> str:
    active, aria = (" active", f' aria-current="{escape(current)}"') if current else ("", "")
    return (
        f'<li class="nav-item"><a class="nav-link{active}" href="{escape(url)}"{aria}>'
        f"{escape(str(label))}</a></li>\n"
    )


def _items(context) -> list[dict]:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    here = match.view_name if match else ""
    urls = menu_urls([name for _label, name, _section in ITEMS] + ["admin:index"])
    items = []
    for label, name, section in ITEMS:
        if name not in urls:
            continue
        current = "page" if here == name else ("true" if here in section else "")
        items.append({"label": label, "url": urls[name], "current": current})
    user = getattr(request, "user", None)
    if user is not None and is_administrator(user):
        items.append({"label": _("Administration"), "url": urls["admin:index"], "current": ""})
    return items
