"""The roadmap (seed 004) as a fixture, needs tied to pots and uses, and the follow-up."""

from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse

from allocations.models import AuditEntry, PermittedUse, Pot
from allocations.services import compute_grant
from reporting import roadmap, services
from reporting.models import Need, NeedItem, NeedItemKind, Roadmap, horizon_terms

from .conftest import SEED_001, SEED_003
from .factories import decide, official_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def seed_roadmap(db):
    call_command("loaddata", "roadmap-2021", verbosity=0)
    return Roadmap.objects.get(slug="fardplan-aldreomsorg-2021")


def test_the_fixture_transcribes_seed_004(seed_roadmap):
    assert seed_roadmap.reference == "KS 2021/1462"
    areas = list(seed_roadmap.areas.values_list("title", flat=True))
    assert areas == [
        "Ändamålsenlig organisation och styrning",
        "Personal med rätt kompetens och bra arbetsförhållanden",
        "Säkerställa grunduppdraget",
        "En kvalitativ och värdig omsorg med ett gott bemötande",
    ]
    assert Need.objects.filter(area__roadmap=seed_roadmap).count() == 20
    need = Need.objects.get(code="digitalisering-och-valfardsteknik")
    items = {k: [i.text for i in need.items.filter(kind=k)] for k in NeedItemKind.values}
    assert "Smarta lås" in items["city"]
    assert "Utredningen Välfärdsteknik i äldreomsorgen" in items["national"]
    assert [i.horizon for i in need.items.filter(kind="further")] == ["Kort sikt, löpande"] * 2
    first = Need.objects.get(code="nara-samverkan-med-regionerna")
    assert [i.horizon for i in first.items.filter(kind="further")] == [
        "Medellång sikt",
        "Kort",
        "Löpande",
    ]
    # The seed lacks a page: the need whose title is missing says so rather than guessing.
    assert Need.objects.get(code="personal-rubrik-saknas").note
    call_command("loaddata", "roadmap-2021", verbosity=0)  # loading again changes nothing
    assert NeedItem.objects.count() == 122


def test_horizons_are_normalised():
    assert horizon_terms("Medellång sikt, löpande") == ["medium", "ongoing"]
    assert horizon_terms("Lång sikt") == ["long"]
    assert horizon_terms("Löpande (ingår i boendeplan)") == ["ongoing"]
    assert horizon_terms("Kort") == ["short"]


def test_codes_resolve_and_unknown_ones_are_named(seed_roadmap):
    needs, unknown = roadmap.resolve(["god-och-nara-vard", "bef-2018"])
    assert [n.title for n in needs] == ["God och nära vård"]
    assert unknown == ["bef-2018"]


def test_follow_up_sums_money_per_area_and_need_counting_each_pot_once(seed_roadmap, import_seed):
    grant = import_seed(SEED_003, review=True)
    run = compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2023, 5, 25), decided_by="Äldrenämnden")
    official = official_user("o")
    nara = Pot.objects.get(grant=grant, slug="nara-vard")
    services.tag_pot(pot=nara, codes=["god-och-nara-vard", "nara-samverkan-med-regionerna"])
    # A child tagged with the same need is already in its parent.
    child = Pot.objects.get(grant=grant, slug="grundstod-sdf")
    services.tag_pot(pot=child, codes=["god-och-nara-vard"], actor=official)
    staff = Pot.objects.get(grant=grant, slug="vardens-medarbetare")
    services.tag_pot(pot=staff, codes=["god-arbetsmiljo", "status-pa-arbeten"])
    Pot.objects.filter(pk=child.pk).update(roadmap_needs=["god-och-nara-vard", "no-such-need"])

    report = roadmap.followup(seed_roadmap)
    lines = {line.need.code: line for area in report["areas"] for line in area.needs}
    assert lines["god-och-nara-vard"].values == {
        "allocated": 36_310_636,
        "decided": 36_310_636,
        "paid": 0,
        "used": 0,
    }
    assert lines["nara-samverkan-med-regionerna"].values["allocated"] == 36_310_636
    assert lines["god-arbetsmiljo"].values["decided"] == 10_300_000
    assert lines["adekvat-bemanning"].pots == []
    areas = {a.area.code: a.values for a in report["areas"]}
    assert areas["personal-och-arbetsforhallanden"]["allocated"] == 10_300_000  # once, not twice
    assert areas["organisation-och-styrning"]["allocated"] == 36_310_636
    assert report["totals"]["allocated"] == 36_310_636 + 10_300_000
    assert [code for _g, _p, code in report["unresolved"]] == ["no-such-need"]
    assert lines["god-och-nara-vard"].horizons  # e.g. ongoing, medium term
    assert AuditEntry.objects.filter(action="pot.roadmap_needs", actor=official).exists()
    with pytest.raises(ValueError, match="no-such-need"):
        services.tag_pot(pot=staff, codes=["no-such-need"])


def test_the_tagging_page_ties_pots_and_uses_to_needs(seed_roadmap, import_seed, client):
    grant = import_seed(SEED_001, review=True)
    compute_grant(grant_id=grant.pk)
    client.force_login(official_user("o"))
    pot = Pot.objects.get(grant=grant, slug="smarta-las")
    use = PermittedUse.objects.filter(agreement=grant.agreement).first()
    url = reverse("reporting:needs", args=[grant.slug])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            f"pot_{pot.pk}": ["digitalisering-och-valfardsteknik"],
            f"use_{use.pk}": ["hog-kontinuitet"],
        },
    )
    assert response.status_code == 302
    pot.refresh_from_db()
    assert pot.roadmap_needs == ["digitalisering-och-valfardsteknik"]
    assert list(use.roadmap_needs.values_list("code", flat=True)) == ["hog-kontinuitet"]
    page = client.get(reverse("reporting:followup")).content.decode()
    assert "Digitalisering och välfärdsteknik" in page
    assert "1\u00a0565\u00a0000\u00a0kr" in page
