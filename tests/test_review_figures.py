"""The review list's kept figures follow every change to applications and their units.

PostgreSQL's triggers keep them (migration 0009); each step below compares them with the
figures summed from the applications themselves, for the pot and each call, with every
filter the list has. The books check after every test of the suite compares them too.
"""

from datetime import date

import pytest
from django.db.models import F

from allocations.models import GrantUnit, Organisation, PermittedUse, Pot
from applications import books, review_figures, services
from applications.models import Application, ApplicationStatus, Call, ReviewFigures
from applications.services import UnitChoice

from .conftest import SEED_000, fit_agreement
from .factories import official_user, provider_user
from .test_books import breached
from .test_reporting_workflow import english  # noqa: F401 - the checks' words in English

pytestmark = pytest.mark.django_db
TODAY = date(2020, 3, 10)


def figures(pot: Pot, call: Call | None, *, kept: bool, **filters) -> dict:
    apps = Application.objects.filter(call=call) if call else Application.objects.filter(pot=pot)
    if kept:
        found = review_figures.per_status(pot, call, apps, **filters)
    else:
        found = review_figures._summed(apps, **filters)
    return {
        status: tuple(values[v] for v in review_figures.VALUES) for status, values in found.items()
    }


def assert_kept(pot: Pot) -> None:
    """The kept figures are the summed ones, for the pot, each call, and with each filter."""
    assert review_figures.kept()
    organisations = [None, *Organisation.objects.filter(applications__pot=pot).distinct()[:3]]
    for call in [None, *Call.objects.filter(pot=pot)]:
        for organisation in organisations:
            for flagged in (None, True, False):
                filters = {"organisation": organisation, "flagged": flagged}
                summed = figures(pot, call, kept=False, **filters)
                assert figures(pot, call, kept=True, **filters) == summed, (call, filters)
        listed = set(review_figures.organisations(pot, call, Application.objects.none()))
        apps = (
            Application.objects.filter(call=call) if call else Application.objects.filter(pot=pot)
        )
        assert listed == set(Organisation.objects.filter(applications__in=apps))
    assert books.check_grant(pot.grant) == []


def test_the_kept_figures_follow_every_change(import_seed):
    grant = import_seed(SEED_000)
    fit_agreement(grant, report_by=date(2021, 1, 31))
    pot = Pot.objects.get(grant=grant, slug="sarskilda-boenden")
    assert Application.objects.filter(pot=pot).count() > 10  # imported in bulk
    assert_kept(pot)

    official = official_user()
    call = services.open_call(
        pot=pot,
        title="Våren",
        opens_on=date(2020, 3, 1),
        closes_on=date(2020, 3, 31),
        actor=official,
    )
    norr = Organisation.objects.get(slug="omsorg-norr-ab")
    user = provider_user(norr, "norr")
    app = services.start_application(call=call, organisation=norr, actor=user, today=TODAY)
    assert_kept(pot)

    # Units chosen, figures corrected, an amount asked for: the units are made anew.
    unit = GrantUnit.objects.get(grant=grant, unit__slug="vob-013")
    unit.applicationunit_set.all().delete()  # free it from the imported application
    assert_kept(pot)
    uses = list(PermittedUse.objects.filter(agreement_id=grant.agreement_id)[:1])
    draft = {
        "uses": uses,
        "intended_use": "Kompetensutveckling.",
        "contact_name": "Kontakt",
        "contact_email": "kontakt@example.invalid",
        "contact_phone": "",
        "payment_method": "bankgiro",
        "payment_account": "5050-1055",
        "will_report": True,
        "declared": True,
        "actor": user,
    }
    services.save_draft(app=app, units=[UnitChoice(unit, places=37)], **draft)
    assert_kept(pot)
    services.save_draft(app=app, units=[UnitChoice(unit, places=12)], **draft)
    assert_kept(pot)
    services.submit_application(app=app, actor=user, today=TODAY)
    assert_kept(pot)
    assert figures(pot, call, kept=True)[ApplicationStatus.SUBMITTED][0] == 1

    # Reviewed, one by one and in bulk; withdrawn.
    submitted = Application.objects.filter(pot=pot, status=ApplicationStatus.SUBMITTED)
    submitted = submitted.exclude(pk=app.pk)
    first, *others = submitted.order_by("id")
    services.review_application(app=first, approve=False, reason="Nej", actor=official)
    assert_kept(pot)
    services.bulk_review_applications(
        application_ids=[a.pk for a in others[:3]], approve=True, reason="", actor=official
    )
    assert_kept(pot)
    services.withdraw_application(app=Application.objects.get(pk=app.pk), actor=user)
    assert_kept(pot)

    # A unit's figures change for the grant: its verdict is made again in every application.
    GrantUnit.objects.filter(pk=unit.pk).update(in_city=False)
    services.rescreen_grant_units([unit.pk])
    flagged_before = figures(pot, None, kept=True, flagged=True)
    assert_kept(pot)
    GrantUnit.objects.filter(grant=grant).update(in_city=False, city_placed_share=0)
    services.rescreen_grant_units(
        list(GrantUnit.objects.filter(grant=grant).values_list("pk", flat=True))
    )
    assert figures(pot, None, kept=True, flagged=True) != flagged_before
    assert_kept(pot)

    # Past the services too: a queryset update, a delete.
    Application.objects.filter(pot=pot).update(requested_amount=F("position") + 1000)
    assert_kept(pot)
    Application.objects.filter(pk=app.pk).delete()
    assert_kept(pot)
    Application.objects.filter(grant=grant).delete()
    assert_kept(pot)
    assert not ReviewFigures.objects.exclude(count=0).exists()


@pytest.mark.breaks_books
def test_a_kept_figure_that_the_applications_do_not_add_up_to_is_named(import_seed):
    grant = import_seed(SEED_000)
    kept = ReviewFigures.objects.filter(pot_id__in=grant.pots.values("pk"), count__gt=0)
    row = kept.order_by("id").first()
    ReviewFigures.objects.filter(pk=row.pk).update(count=F("count") + 1)
    text = breached(grant, "review figures")
    organisation = Organisation.objects.get(pk=row.organisation_id)
    label = ApplicationStatus(row.status).label
    assert f"{organisation.name}, status {label}: kept {row.count + 1} / " in text
    assert f"the applications give {row.count} / " in text
