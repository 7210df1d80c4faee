"""The officials' one navigation, shared by the case-handling and the reporting pages.

Each item names the URLs that belong to it, so that a page deep in a section (one
requisition, one grant's dashboard) marks its section as current. The reporting pages are
named by URL only, never imported: the workflow does not depend on the layer above it, and
an item whose URL is not mounted is left out.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from stimulans.roles import is_administrator

from ..menus import menu_html

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


@register.simple_tag(takes_context=True)
def officials_nav(context) -> SafeString:
    """The officials' menu (see `applications.menus`); administrators also get the admin."""
    request = context.get("request")
    items = ITEMS
    user = getattr(request, "user", None)
    if user is not None and is_administrator(user):
        items = [*ITEMS, (_("Administration"), "admin:index", set())]
    return menu_html(request, items)
