"""The accessibility statement (tillgänglighetsredogörelse) the law on accessible digital public
services (2018:1937) asks of every public service, laid out after DIGG's model. Anyone may read
it, signed in or not; every page's footer links to it.

Who to contact, how far the service complies and what is known not to work come from the
settings (STIMULANS_ACCESSIBILITY_*, documented in README's "Configuration").
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

# What the project knows does not yet work for everyone. An installation lists its own
# findings in STIMULANS_ACCESSIBILITY_ISSUES instead.
KNOWN_ISSUES = [
    _(
        "Decision documents in PDF are tagged for screen readers and validated automatically "
        "(PDF/UA-1), but have not been tried with screen readers. Ask us and we will send "
        "the content in another format."
    ),
    _(
        "Exports to Excel and CSV follow the structure of the data; their columns have no "
        "descriptions beyond their headings."
    ),
    _(
        "The administrators' pages for grant files and settings (the Django admin) have not "
        "been tested with screen readers."
    ),
    _(
        "The dashboard's charts give a screen reader only their title; the amounts they show "
        "are in the dashboard's tables and exports."
    ),
]


def known_issues() -> list:
    if get_language() != "sv" and settings.STIMULANS_ACCESSIBILITY_ISSUES_EN is not None:
        return settings.STIMULANS_ACCESSIBILITY_ISSUES_EN
    if settings.STIMULANS_ACCESSIBILITY_ISSUES is not None:
        return settings.STIMULANS_ACCESSIBILITY_ISSUES
    return KNOWN_ISSUES


@require_safe
def statement(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accessibility.html",
        {
            "organisation": settings.STIMULANS_ACCESSIBILITY_ORGANISATION,
            "email": settings.STIMULANS_ACCESSIBILITY_EMAIL,
            "phone": settings.STIMULANS_ACCESSIBILITY_PHONE,
            "compliance": settings.STIMULANS_ACCESSIBILITY_COMPLIANCE,
            "issues": known_issues(),
            "assessed_on": settings.STIMULANS_ACCESSIBILITY_ASSESSED_ON,
        },
    )
