"""The review list's summary: applications and their sums per status, over a call or a pot.

On PostgreSQL the figures are kept in `ReviewFigures` by triggers (migration 0009) in the
same transaction as every change to an application or its units, so the list of a call
with 10 000 applications sums a few hundred kept rows instead of every application and unit.
Elsewhere (SQLite in development) they are summed from the applications on every view.
`books_breaches` compares the kept figures with the applications (the books check).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from allocations.models import Grant, Organisation, Pot

from .models import Application, ApplicationStatus, ApplicationUnit, Call, ReviewFigures

VALUES = ("count", "requested", "granted", "measure", "eligible")
# Which applications an eligibility filter keeps: True, those with an ineligible unit.
FLAGGED = Exists(ApplicationUnit.objects.filter(application=OuterRef("pk"), eligible=False))


def kept() -> bool:
    """Whether this database keeps the figures (the triggers are PostgreSQL's)."""
    return connection.vendor == "postgresql"


def _rows(pot: Pot, call: Call | None) -> QuerySet[ReviewFigures]:
    if call is not None:
        return ReviewFigures.objects.filter(call_id=call.pk)
    return ReviewFigures.objects.filter(pot_id=pot.pk)


def organisations(pot: Pot, call: Call | None, apps: QuerySet[Application]) -> QuerySet:
    """The organisations with an application in the list (`apps`: the call's or the pot's)."""
    if kept():
        having = _rows(pot, call).filter(count__gt=0).values("organisation_id")
    else:
        having = apps.values("organisation")
    # Only what the filter's select shows: 500 providers are 500 instances on every view.
    return Organisation.objects.filter(pk__in=having).only("name")


def per_status(
    pot: Pot,
    call: Call | None,
    apps: QuerySet[Application],
    *,
    organisation: Organisation | None = None,
    flagged: bool | None = None,
) -> dict[str, dict[str, int]]:
    """{status: {count, requested, granted, measure, eligible}} of the list's applications
    (`apps`: the call's or the pot's), of one organisation and with or without an ineligible
    unit if asked; statuses without applications are left out."""
    if kept():
        rows = _rows(pot, call)
        if organisation is not None:
            rows = rows.filter(organisation_id=organisation.pk)
        if flagged is not None:
            rows = rows.filter(flagged=flagged)
        found = rows.values("status").annotate(**{v: Sum(v) for v in VALUES})
        return {row["status"]: row for row in found if row["count"]}
    return _summed(apps, organisation=organisation, flagged=flagged)


def _summed(apps, *, organisation, flagged) -> dict[str, dict[str, int]]:
    """The same, summed from the applications and their units (two passes over both)."""
    if organisation is not None:
        apps = apps.filter(organisation=organisation)
    if flagged is True:
        apps = apps.filter(FLAGGED)
    elif flagged is False:
        apps = apps.exclude(FLAGGED)
    figures = {
        row["status"]: {**row, "measure": 0, "eligible": 0}
        for row in apps.order_by()
        .values("status")
        .annotate(
            count=Count("pk"),
            requested=Coalesce(Sum("requested_amount"), 0),
            granted=Coalesce(Sum("granted_amount"), 0),
        )
    }
    measured = (
        apps.order_by()
        .values("status")
        .annotate(
            measure=Coalesce(Sum("applicationunit__measure"), 0),
            eligible=Coalesce(
                Sum("applicationunit__measure", filter=Q(applicationunit__eligible=True)), 0
            ),
        )
    )
    for row in measured:
        if row["status"] in figures:
            figures[row["status"]].update(measure=row["measure"], eligible=row["eligible"])
    return figures


# ---------------------------------------------------------------- the books check

# The kept figures' key and values, summed from the applications of one grant: written out
# once more here, apart from the triggers, so that the check does not trust them.
COUNTED = """
SELECT pot_id, call_id, organisation_id, status, flagged,
       count(*), sum(requested), sum(granted), sum(measure), sum(eligible)
  FROM (SELECT a.pot_id, coalesce(a.call_id, 0) AS call_id, a.organisation_id, a.status,
               coalesce(bool_or(u.eligible = false), false) AS flagged,
               coalesce(a.requested_amount, 0) AS requested,
               coalesce(a.granted_amount, 0) AS granted,
               coalesce(sum(u.measure), 0) AS measure,
               coalesce(sum(u.measure) FILTER (WHERE u.eligible), 0) AS eligible
          FROM applications_application a
          LEFT JOIN applications_applicationunit u ON u.application_id = a.id
         WHERE a.grant_id = %s
         GROUP BY a.id) per_application
 GROUP BY pot_id, call_id, organisation_id, status, flagged
"""


def books_breaches(grant: Grant) -> list[str]:
    """Every kept figure of `grant`'s applications that they do not add up to."""
    if not kept():
        return []
    with connection.cursor() as cursor:
        cursor.execute(COUNTED, [grant.pk])
        counted = {tuple(row[:5]): [int(v) for v in row[5:]] for row in cursor}
    stored = {
        (row[0], row[1], row[2], row[3], row[4]): list(row[5:])
        for row in ReviewFigures.objects.filter(pot_id__in=grant.pots.values("pk")).values_list(
            "pot_id", "call_id", "organisation_id", "status", "flagged", *VALUES
        )
        if any(row[5:])
    }
    if counted == stored:
        return []
    pots = dict(grant.pots.values_list("pk", "name"))
    names = dict(
        Organisation.objects.filter(pk__in={key[2] for key in {*counted, *stored}}).values_list(
            "pk", "name"
        )
    )
    zero = [0] * len(VALUES)
    breaches = []
    for key in sorted({*counted, *stored}):
        if counted.get(key, zero) != stored.get(key, zero):
            breaches.append(
                _(
                    "The review list's figures of “%(pot)s”, %(organisation)s, status "
                    "%(status)s: kept %(kept)s, the applications give %(counted)s "
                    "(applications / requested / granted / applied for / eligible)."
                )
                % {
                    "pot": pots.get(key[0], key[0]),
                    "organisation": names.get(key[2], key[2]),
                    "status": ApplicationStatus(key[3]).label
                    if key[3] in ApplicationStatus.values
                    else key[3],
                    "kept": " / ".join(map(str, stored.get(key, zero))),
                    "counted": " / ".join(map(str, counted.get(key, zero))),
                }
            )
    return breaches
