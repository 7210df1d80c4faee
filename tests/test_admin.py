"""The admin: the budget tree on a grant's page, computing and deciding, and refusing bad input."""

import html
import json
import re
from datetime import date
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.test import RequestFactory
from django.urls import reverse

from allocations import grantfile, services
from allocations.models import (
    AllocationRun,
    AuditEntry,
    Dataset,
    DatasetValue,
    Grant,
    GrantUnit,
    Job,
    JobStatus,
    Organisation,
    Pot,
)
from applications.grantfiles import import_grant
from applications.models import Application, ApplicationStatus
from applications.services import review_application

from .factories import decide

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED_003 = "aldrenamnden-2023-god-och-nara-vard"
SEED_000 = "aldrenamnden-2020-vardens-medarbetare"


def import_seed(slug: str) -> Grant:
    return import_grant(grantfile.parse((FIXTURES / f"{slug}.json").read_bytes()))


@pytest.fixture
def client(admin_client):
    # Our messages are asserted in their source language; the admin defaults to Swedish.
    admin_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return admin_client


@pytest.fixture
def grant(db) -> Grant:
    return import_seed(SEED_003)


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def form_data(response) -> dict:
    """What the change page's form would post back unchanged: every field, every inline."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data = {}
    for form in forms:
        for field in form:
            if field.field.disabled:
                continue
            value = field.value()
            if value is True:
                data[field.html_name] = "on"
            elif value is not None and value is not False:
                data[field.html_name] = str(value)
    return data


def post_change(client, obj, **changes):
    url = change_url(obj)
    data = form_data(client.get(url))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return client.post(url, data)


def page(response) -> str:
    """The page as text, with entities such as &#x27; turned back into characters."""
    return html.unescape(response.content.decode())


def tree_row(text: str, slug: str) -> str:
    """The budget tree's table row for pot `slug`."""
    rows = re.findall(r"<tr.*?</tr>", text, flags=re.S)
    (row,) = [r for r in rows if f">{slug}</span>" in r]
    return row


def ledger_state() -> list:
    """Everything a refused form must leave as it was."""
    pots = list(
        Pot.objects.order_by("pk").values_list(
            "pk", "parent_id", "slug", "amount", "takes_rest", "model", "position"
        )
    )
    grants = list(Grant.objects.order_by("pk").values_list("pk", "amount", "source_grant"))
    return [pots, grants, AuditEntry.objects.count()]


# ---------------------------------------------------------------- the budget tree


@pytest.mark.django_db
def test_grant_page_shows_the_budget_tree_with_swedish_amounts(client, grant):
    services.compute_grant(grant_id=grant.pk)

    response = client.get(change_url(grant))

    assert response.status_code == 200
    text = page(response)
    nara_vard = tree_row(text, "nara-vard")
    assert "36\xa0310\xa0636\xa0kr" in nara_vard
    ssk = tree_row(text, "ssk-ansokan")
    # Amount, allocated, unallocated: 1 640 000 kr of the 1 800 000 kr went to applications.
    assert re.search(
        r"1\xa0800\xa0000\xa0kr.*1\xa0640\xa0000\xa0kr.*160\xa0000\xa0kr", ssk, flags=re.S
    )
    assert "amounts open for application" in ssk
    # A per-place pot shows its rate: 10 300 000 kr over 4 536 places.
    assert "2\xa0270,72\xa0kr" in tree_row(text, "vardens-medarbetare")
    # The rest pot shows what it resolves to, here nothing.
    samordning = tree_row(text, "ssk-samordning")
    assert "0\xa0kr" in samordning
    assert "the rest" in samordning
    # Indented by depth: nara-vard-sdf is two levels down, its children three.
    assert 'class="tree-depth-2"' in tree_row(text, "nara-vard-sdf")
    assert 'class="tree-depth-3"' in tree_row(text, "prioriterade-omraden")
    # The runs: number and allocated total (51 810 636 kr less the 160 000 kr unallocated).
    assert "51\xa0650\xa0636\xa0kr" in text
    assert reverse("admin:allocations_allocationrun_decide", args=[grant.latest_run().pk]) in text


@pytest.mark.django_db
def test_a_grant_not_computed_says_so_and_still_shows_its_amounts(client, grant):
    Pot.objects.filter(grant=grant, slug="ssk-ansokan").update(amount=1_700_000)

    text = page(client.get(change_url(grant)))

    assert "has not been computed yet" in text
    assert "36\xa0310\xa0636\xa0kr" in tree_row(text, "nara-vard")
    # The rest pot resolves to what its siblings leave: 5 200 000 − 3 100 000 − 300 000 − 1 700 000.
    assert "100\xa0000\xa0kr" in tree_row(text, "ssk-samordning")
    assert "No runs yet." in text


@pytest.mark.django_db
def test_the_tree_marks_pots_changed_since_the_latest_run(client, grant):
    services.compute_grant(grant_id=grant.pk)
    Pot.objects.filter(grant=grant, slug="ssk-ansokan").update(amount=1_700_000)

    text = page(client.get(change_url(grant)))

    assert "changed since the latest run" in tree_row(text, "ssk-ansokan")
    assert "changed since the latest run" not in tree_row(text, "nara-vard")


# ---------------------------------------------------------------- computing and deciding


@pytest.mark.django_db(transaction=True)
def test_the_compute_action_creates_a_run_and_says_so(client, grant):
    url = reverse("admin:allocations_grant_changelist")
    data = {"action": "compute_allocations", "_selected_action": [grant.pk]}

    response = client.post(url, data, follow=True)

    run = AllocationRun.objects.get(grant=grant)
    assert run.number == 1
    assert run.allocated() == 51_650_636
    assert run.computed_by.username == "admin"
    assert f"is computed: run {run.number}" in page(response)


@pytest.mark.django_db(transaction=True)
def test_the_compute_button_reports_a_pot_that_cannot_be_computed(client, grant):
    # Approved amounts beyond the pot: valid input, but the engine refuses to divide it.
    pot = Pot.objects.get(grant=grant, slug="ssk-ansokan")
    Pot.objects.filter(pk=pot.pk).update(amount=1_000_000)
    Pot.objects.filter(grant=grant, slug="ssk-samordning").update(takes_rest=False, amount=800_000)

    url = reverse("admin:allocations_grant_compute", args=[grant.pk])
    response = client.post(url, follow=True)

    assert response.status_code == 200
    assert "could not be computed: pot ssk-ansokan" in page(response)
    assert not AllocationRun.objects.filter(grant=grant).exists()


@pytest.mark.django_db
def test_the_compute_button_queues_one_job_on_commit_and_its_page_follows_it(
    client, grant, django_capture_on_commit_callbacks
):
    url = reverse("admin:allocations_grant_compute", args=[grant.pk])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(url)
    job = Job.objects.get(grant=grant)
    assert job.kind == "compute"
    assert job.requested_by.username == "admin"
    assert response.url == reverse("allocations:job", args=[job.pk])
    assert "Waiting for the worker" in page(client.get(response.url))
    assert not AllocationRun.objects.exists()

    # Pressed again, from the action this time, while the first is queued: the same job.
    action = {"action": "compute_allocations", "_selected_action": [grant.pk]}
    with django_capture_on_commit_callbacks(execute=False) as again:
        second = client.post(reverse("admin:allocations_grant_changelist"), action)
    assert second.url == response.url
    assert not again
    assert Job.objects.count() == 1

    for callback in queued:
        callback()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.run == AllocationRun.objects.get(grant=grant)
    assert f"is computed: run {job.run.number}" in page(client.get(response.url))


@pytest.mark.django_db
def test_a_tree_the_engine_cannot_read_is_not_sent_to_it(client, grant):
    Pot.objects.filter(grant=grant, slug="lss-halsan").update(model=None)
    url = reverse("admin:allocations_grant_changelist")
    data = {"action": "compute_allocations", "_selected_action": [grant.pk]}

    response = client.post(url, data, follow=True)

    assert response.status_code == 200
    assert "cannot be computed yet" in page(response)
    assert "needs an allocation model" in page(response)
    assert not AllocationRun.objects.exists()


@pytest.mark.django_db
def test_the_decide_view_freezes_the_run_and_a_second_decision_is_a_form_error(client, grant):
    run = services.compute_grant(grant_id=grant.pk)
    url = reverse("admin:allocations_allocationrun_decide", args=[run.pk])
    assert client.get(url).status_code == 200
    decision = {
        "decided_on": "2023-03-14",
        "decided_by": "Äldrenämnden",
        "delegation": "",
        "reference": "ÄN 2023/117",
    }

    response = client.post(url, decision)

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.decided_on == date(2023, 3, 14)
    assert run.decided_by == "Äldrenämnden"
    assert run.decision_reference == "ÄN 2023/117"
    assert run.decision_recorded_by.username == "admin"
    assert AuditEntry.objects.filter(action="run.decided", object_id=str(run.pk)).count() == 1

    again = client.post(url, {**decision, "decided_on": "2023-04-01", "decided_by": "Someone"})

    assert again.status_code == 200
    assert "was decided on 2023-03-14" in again.context["form"].non_field_errors()[0]
    run.refresh_from_db()
    assert (run.decided_on, run.decided_by) == (date(2023, 3, 14), "Äldrenämnden")


@pytest.mark.django_db
def test_a_decision_names_who_decided(client, grant):
    run = services.compute_grant(grant_id=grant.pk)
    url = reverse("admin:allocations_allocationrun_decide", args=[run.pk])

    response = client.post(url, {"decided_on": "2023-03-14", "decided_by": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors
    run.refresh_from_db()
    assert not run.is_decided


@pytest.mark.django_db
def test_a_runs_page_shows_its_pots_and_links_to_its_rows_and_ineligible_units(client, grant):
    run = services.compute_grant(grant_id=grant.pk)
    assert run.ineligible.exists()

    text = page(client.get(change_url(run)))

    assert "Utveckling av den nära vården" in text  # a pot result's path
    assert "36\xa0310\xa0636\xa0kr" in text
    rows_url = reverse("admin:allocations_allocationrow_changelist") + f"?run__id__exact={run.pk}"
    assert rows_url in text
    rows = client.get(rows_url)
    assert rows.status_code == 200
    assert rows.context["cl"].result_count == run.rows.count()
    ineligible_url = (
        reverse("admin:allocations_ineligibility_changelist") + f"?run__id__exact={run.pk}"
    )
    assert ineligible_url in text
    ineligible = client.get(ineligible_url)
    assert ineligible.context["cl"].result_count == run.ineligible.count()
    assert run.ineligible.first().reason() in page(ineligible)


@pytest.mark.django_db
def test_the_run_admin_refuses_to_change_or_delete_a_decided_run(client, grant):
    run = services.compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2023, 3, 14), decided_by="Äldrenämnden")
    rows = run.rows.count()

    assert client.get(change_url(run)).status_code == 200  # looked at, read-only
    assert client.post(change_url(run), {"decided_by": "x"}).status_code == 403
    delete_url = reverse("admin:allocations_allocationrun_delete", args=[run.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:allocations_allocationrun_changelist")
    bulk = {"action": "delete_selected", "_selected_action": [run.pk], "post": "yes"}
    response = client.post(changelist, bulk)

    assert response.status_code == 200
    assert "was decided on" in page(response)
    run.refresh_from_db()
    assert run.decided_by == "Äldrenämnden"
    assert run.rows.count() == rows


@pytest.mark.django_db
def test_an_undecided_run_may_be_deleted_and_that_is_logged(client, grant):
    run = services.compute_grant(grant_id=grant.pk)
    delete_url = reverse("admin:allocations_allocationrun_delete", args=[run.pk])

    response = client.post(delete_url, {"post": "yes"})

    assert response.status_code == 302
    assert not AllocationRun.objects.filter(pk=run.pk).exists()
    assert AuditEntry.objects.filter(action="run.deleted", actor__username="admin").exists()


@pytest.mark.django_db
def test_the_audit_trail_is_read_only(client, grant):
    entry = AuditEntry.objects.first()
    assert client.get(change_url(entry)).status_code == 200
    assert client.post(change_url(entry), {"action": "x"}).status_code == 403
    delete_url = reverse("admin:allocations_auditentry_delete", args=[entry.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:allocations_auditentry_add")).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


# ---------------------------------------------------------------- pots: refusing bad input


def pot(grant, slug) -> Pot:
    return Pot.objects.get(grant=grant, slug=slug)


@pytest.mark.django_db
def test_posting_a_pot_unchanged_saves_and_logs_nothing(client, grant):
    before = ledger_state()

    response = post_change(client, pot(grant, "nara-vard"))

    assert response.status_code == 302
    assert ledger_state() == before


@pytest.mark.django_db
def test_a_pot_change_is_saved_and_audited(client, grant):
    response = post_change(client, pot(grant, "ssk-ansokan"), amount="1700000")

    assert response.status_code == 302
    assert pot(grant, "ssk-ansokan").amount == 1_700_000
    entry = AuditEntry.objects.get(action="pot.changed")
    assert entry.actor.username == "admin"
    assert entry.grant == grant
    assert entry.before["amount"] == 1_800_000
    assert entry.after["amount"] == 1_700_000


BAD_POTS = [
    pytest.param(
        "prioriterade-omraden",
        {"model": json.dumps({"type": "key", "factors": [{"dataset": "bef-1999", "weight": "1"}]})},
        "model.factors[0].dataset: unknown dataset 'bef-1999'",
        id="unknown-dataset",
    ),
    pytest.param(
        "grundstod-aldreforvaltningen",
        {"model": '{"type": "fixed", "amounts": {"aldreforvaltningen": 3199999.5}}'},
        "money is a whole number of kronor, not 3199999.5",
        id="float-amount-in-fixed-model",
    ),
    pytest.param(
        "grundstod-sdf",
        {"model": json.dumps({"type": "equal", "recipients": ["nobody-ab"]})},
        "model.recipients[0]: unknown organisation 'nobody-ab'",
        id="unknown-organisation",
    ),
    pytest.param(
        "lss-halsan",
        {"model": '{"type": "fixed", "amounts": {"lss": 1, "lss": 2}}'},
        "the key 'lss' appears twice",
        id="duplicate-key",
    ),
    pytest.param(
        "lss-halsan",
        {"model": json.dumps({"type": "fixed", "amounts": {"socialforvaltningen": 600_001}})},
        "1 kr more than the pot",
        id="fixed-amounts-exceed-the-pot",
    ),
    pytest.param(
        "grundstod-sdf",
        {"amount": "5600000"},
        "The pots under “Utveckling av den nära vården” add up to 36 410 636 kr, "
        "100 000 kr more than its 36 310 636 kr.",
        id="children-exceed-the-parent",
    ),
    pytest.param(
        "nara-vard-sdf",
        {"amount": "21010635"},
        "The pots under “Nära vård stadsdelsförvaltningar” add up to 21 010 636 kr, "
        "1 kr more than its 21 010 635 kr.",
        id="parent-below-its-children",
    ),
    pytest.param(
        "vardens-medarbetare",
        {"amount": "10300001"},
        "1 kr more than the grant's 51 810 636 kr",
        id="top-level-exceeds-the-grant",
    ),
    pytest.param(
        "ssk-ansokan",
        {"amount": "", "takes_rest": "on"},
        "may take the rest",
        id="second-rest-pot",
    ),
    pytest.param(
        "ssk-ansokan",
        {"amount": "1800000", "takes_rest": "on"},
        "leave the amount empty",
        id="rest-with-an-amount",
    ),
    pytest.param(
        "ssk-ansokan",
        {"amount": ""},
        "Give an amount, or tick",
        id="no-amount-no-rest",
    ),
    pytest.param(
        "lss-halsan",
        {"model": ""},
        "needs an allocation model",
        id="leaf-without-model",
    ),
    pytest.param(
        "nara-vard-sdf",
        {"model": json.dumps({"type": "remainder", "recipient": "aldreforvaltningen"})},
        "divided into other pots and also has an allocation model",
        id="parent-with-model",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "changes", "message"), BAD_POTS)
def test_a_bad_pot_is_refused_with_the_error_shown_and_nothing_changed(
    client, grant, slug, changes, message
):
    before = ledger_state()

    response = post_change(client, pot(grant, slug), **changes)

    assert response.status_code == 200
    assert message in page(response)
    assert ledger_state() == before


@pytest.mark.django_db
def test_a_pot_cannot_be_moved_below_itself(client, grant):
    before = ledger_state()
    grandchild = pot(grant, "prioriterade-omraden")

    response = post_change(client, pot(grant, "nara-vard"), parent=str(grandchild.pk))

    assert response.status_code == 200
    assert "A pot cannot lie below itself" in page(response)
    assert ledger_state() == before


@pytest.mark.django_db
def test_a_pot_cannot_take_a_parent_in_another_grant(client, grant):
    other = import_seed(SEED_000)
    foreign = Pot.objects.filter(grant=other).first()
    before = ledger_state()

    response = post_change(client, pot(grant, "skola"), parent=str(foreign.pk))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["parent"]
    assert ledger_state() == before


@pytest.mark.django_db
def test_a_new_pot_under_a_pot_with_a_model_is_refused(client, grant):
    before = ledger_state()
    url = reverse("admin:allocations_pot_add") + f"?grant={grant.pk}"
    data = form_data(client.get(url))
    data.update(
        grant=str(grant.pk),
        parent=str(pot(grant, "skola").pk),
        slug="skola-extra",
        name="Extra",
        amount="1000",
        model=json.dumps({"type": "fixed", "amounts": {"utbildningsforvaltningen": 1000}}),
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert "“Nära vård skola (utbildningsförvaltningen)” is divided into other pots" in (
        page(response)
    )
    assert ledger_state() == before


def child_rows(prefix_index: int, slug: str, amount: int, org: str) -> dict:
    p = f"children-{prefix_index}-"
    return {
        f"{p}slug": slug,
        f"{p}name": slug.title(),
        f"{p}position": str(prefix_index),
        f"{p}amount": str(amount),
        f"{p}model": json.dumps({"type": "fixed", "amounts": {org: amount}}),
    }


@pytest.mark.django_db
def test_a_leaf_is_divided_by_emptying_its_model_and_adding_pots_below_it(client, grant):
    skola = pot(grant, "skola")
    org = "utbildningsforvaltningen"

    response = post_change(
        client,
        skola,
        model=None,
        **{"children-TOTAL_FORMS": "2"},
        **child_rows(0, "skola-a", 3_000_000, org),
        **child_rows(1, "skola-b", 2_000_000, org),
    )

    assert response.status_code == 302
    skola.refresh_from_db()
    assert skola.model is None
    assert sorted(skola.children.values_list("slug", "amount", "grant")) == [
        ("skola-a", 3_000_000, grant.pk),
        ("skola-b", 2_000_000, grant.pk),
    ]
    assert AuditEntry.objects.filter(action="pot.created", grant=grant).count() == 2
    assert AuditEntry.objects.get(action="pot.changed").after["model"] is None
    run = services.compute_grant(grant_id=grant.pk)
    assert run.rows.filter(pot__slug="skola-a").get().amount == 3_000_000


@pytest.mark.django_db
def test_pots_below_that_exceed_the_pot_are_refused(client, grant):
    before = ledger_state()
    org = "utbildningsforvaltningen"

    response = post_change(
        client,
        pot(grant, "skola"),
        model=None,
        **{"children-TOTAL_FORMS": "2"},
        **child_rows(0, "skola-a", 3_000_000, org),
        **child_rows(1, "skola-b", 2_500_000, org),
    )

    assert response.status_code == 200
    assert "500 000 kr more than its 5 000 000 kr" in page(response)
    assert ledger_state() == before


@pytest.mark.django_db
def test_a_pot_below_with_a_bad_model_is_refused(client, grant):
    before = ledger_state()
    rows = child_rows(0, "skola-a", 5_000_000, "nobody-ab")

    response = post_change(
        client, pot(grant, "skola"), model=None, **{"children-TOTAL_FORMS": "1"}, **rows
    )

    assert response.status_code == 200
    assert "unknown organisation 'nobody-ab'" in page(response)
    assert ledger_state() == before


@pytest.mark.django_db
def test_two_rest_pots_below_one_pot_are_refused(client, grant):
    before = ledger_state()
    parent = pot(grant, "vidareutbildning-ssk")
    response = client.get(change_url(parent))
    index = [f.instance.slug for f in response.context["inline_admin_formsets"][0].formset.forms]

    data = form_data(response)
    p = f"children-{index.index('ssk-ansokan')}-"
    data[f"{p}amount"] = ""
    data[f"{p}takes_rest"] = "on"
    response = client.post(change_url(parent), data)

    assert response.status_code == 200
    assert "Only one pot under “Vidareutbildning" in page(response)
    assert ledger_state() == before


@pytest.mark.django_db
def test_deleting_a_pot_logs_it_and_every_pot_below_it(client, grant):
    nara_vard = pot(grant, "nara-vard")
    subtree = {
        str(pk)
        for pk in Pot.objects.filter(grant=grant)
        .filter(Q(pk=nara_vard.pk) | Q(parent=nara_vard) | Q(parent__parent=nara_vard))
        .values_list("pk", flat=True)
    }
    assert len(subtree) == 9
    url = reverse("admin:allocations_pot_delete", args=[nara_vard.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Pot.objects.filter(pk__in=subtree).exists()
    deleted = AuditEntry.objects.filter(action="pot.deleted", actor__username="admin")
    assert {e.object_id for e in deleted} == subtree
    assert deleted.get(object_id=str(nara_vard.pk)).before["amount"] == 36_310_636


@pytest.mark.django_db
def test_the_last_pot_below_a_divided_pot_cannot_be_deleted(client, grant):
    parent = pot(grant, "nara-vard-sdf")
    parent.children.exclude(slug="ovrigt-pagaende").delete()
    last = pot(grant, "ovrigt-pagaende")
    url = reverse("admin:allocations_pot_delete", args=[last.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 200
    assert "would be left with neither pots below it nor a model" in page(response)
    assert Pot.objects.filter(pk=last.pk).exists()


# ---------------------------------------------------------------- grants and other inputs


@pytest.mark.django_db
def test_a_grant_cannot_lead_back_to_itself_through_its_upstream_grants(client, grant):
    upstream = import_seed(SEED_000)
    Grant.objects.filter(pk=upstream.pk).update(
        source_grant=grant.slug, source_organisation="aldreforvaltningen"
    )
    before = ledger_state()

    response = post_change(
        client, grant, source_grant=upstream.slug, source_organisation="aldreforvaltningen"
    )

    assert response.status_code == 200
    assert f"({grant.slug} → {upstream.slug} → {grant.slug})" in page(response)
    assert ledger_state() == before

    itself = post_change(client, grant, source_grant=grant.slug, source_organisation="x")

    assert itself.status_code == 200
    assert "cannot be its own source" in page(itself)
    assert ledger_state() == before


@pytest.mark.django_db
def test_a_grant_amount_below_its_pots_is_refused_and_a_good_one_audited(client, grant):
    before = ledger_state()

    response = post_change(client, grant, amount="51810635")

    assert response.status_code == 200
    assert "1 kr more than the grant's 51 810 635 kr" in page(response)
    assert ledger_state() == before

    response = post_change(client, grant, amount="52000000")

    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="grant.changed")
    assert (entry.before["amount"], entry.after["amount"]) == (51_810_636, 52_000_000)


@pytest.mark.django_db
def test_agreement_dates_out_of_order_are_field_errors_and_nothing_changes(client, grant):
    agreement = grant.agreement
    assert agreement.spend_by == date(2023, 12, 31)

    response = post_change(client, agreement, report_by="2023-06-30", repay_by="2023-12-30")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["report_by"] == [
        "The report-by date cannot be before the spend-by date (2023-12-31): the use of the "
        "money is reported after the time to spend it ends."
    ]
    assert "unspent money is repaid after" in errors["repay_by"][0]
    agreement.refresh_from_db()
    assert (agreement.report_by, agreement.repay_by) == (None, None)

    swedish = client.post(
        change_url(agreement),
        {**form_data(client.get(change_url(agreement))), "report_by": "2023-06-30"},
        HTTP_ACCEPT_LANGUAGE="sv",
    )
    assert "kan inte ligga före sista dag att förbruka medlen (2023-12-31)" in page(swedish)

    response = post_change(client, agreement, report_by="2023-12-31", repay_by="2024-03-31")

    assert response.status_code == 302
    agreement.refresh_from_db()
    assert (agreement.report_by, agreement.repay_by) == (date(2023, 12, 31), date(2024, 3, 31))


@pytest.mark.django_db
def test_a_call_closing_after_the_agreements_first_date_is_a_field_error(client, grant):
    from applications.models import Call

    pot = Pot.objects.get(grant=grant, slug="ssk-ansokan")  # spend by 2023-12-31
    url = reverse("admin:applications_call_add")
    call = {"pot": pot.pk, "title": "Vidareutbildning", "instructions": ""}

    response = client.post(url, {**call, "opens_on": "2023-12-01", "closes_on": "2023-12-31"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["closes_on"] == [
        "The call must close before the agreement's spend-by date (2023-12-31): the money is "
        "decided after the call closes, and then spent."
    ]
    response = client.post(url, {**call, "opens_on": "2023-12-01", "closes_on": "2023-11-30"})
    assert response.context["adminform"].form.errors["closes_on"] == [
        "A call cannot close before it opens."
    ]
    assert not Call.objects.exists()

    response = client.post(url, {**call, "opens_on": "2023-09-01", "closes_on": "2023-09-30"})

    assert response.status_code == 302
    assert Call.objects.get().closes_on == date(2023, 9, 30)
    entry = AuditEntry.objects.get(action__startswith="call.")
    assert entry.after["closes_on"] == "2023-09-30"


@pytest.mark.django_db
def test_unit_figures_and_dataset_values_are_audited(client, grant):
    unit = GrantUnit.objects.filter(grant=grant).exclude(places=None).first()
    response = post_change(client, unit, places=str(unit.places + 5))
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="grantunit.changed")
    assert entry.after["places"] - entry.before["places"] == 5

    dataset = Dataset.objects.get(grant=grant, slug="befolkning-2023")
    response = client.get(change_url(dataset))
    data = form_data(response)
    forms = response.context["inline_admin_formsets"][0].formset.forms
    first = forms[0].instance
    data["values-0-value"] = str(first.value + 1000)
    assert client.post(change_url(dataset), data).status_code == 302
    entry = AuditEntry.objects.get(action="datasetvalue.changed")
    assert entry.after["value"] == first.value + 1000
    assert entry.grant == grant


@pytest.mark.django_db
def test_dataset_values_that_a_key_cannot_divide_by_are_refused(client, grant):
    dataset = Dataset.objects.get(grant=grant, slug="befolkning-2023")
    response = client.get(change_url(dataset))
    data = form_data(response)
    for i in range(len(response.context["inline_admin_formsets"][0].formset.forms)):
        data[f"values-{i}-value"] = "0"
    values = list(DatasetValue.objects.filter(dataset=dataset).values_list("value", flat=True))

    response = client.post(change_url(dataset), data)

    assert response.status_code == 200
    assert "sums to 0 over the recipients" in page(response)
    assert list(DatasetValue.objects.filter(dataset=dataset).values_list("value", flat=True)) == (
        values
    )


@pytest.mark.django_db
def test_a_dataset_a_key_uses_cannot_be_deleted(client, grant):
    dataset = Dataset.objects.get(grant=grant, slug="befolkning-2023")
    url = reverse("admin:allocations_dataset_delete", args=[dataset.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 200
    assert "an allocation model of the grant uses it" in page(response)
    assert Dataset.objects.filter(pk=dataset.pk).exists()


@pytest.mark.django_db
def test_the_admin_shows_an_application_but_never_writes_it(client, grant):
    application = Application.objects.filter(grant=grant, pot__slug="ssk-ansokan").first()
    url = change_url(application)

    assert client.get(url).status_code == 200
    response = client.post(url, {"status": "draft", "granted_amount": "1"})

    assert response.status_code == 403
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED


@pytest.mark.django_db
def test_rejecting_in_the_admin_asks_for_the_reason_and_goes_through_the_review(client, grant):
    application = Application.objects.filter(grant=grant, pot__slug="ssk-ansokan").first()
    url = reverse("admin:applications_application_changelist")
    action = {"action": "reject_applications", "_selected_action": [application.pk]}

    asked = client.post(url, action)
    assert asked.status_code == 200
    assert "reason" in asked.context["form"].fields
    without = client.post(url, {**action, "reason": " "})
    assert without.status_code == 200
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED

    done = client.post(url, {**action, "reason": "Late"})

    assert done.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED
    assert application.status_reason == "Late"
    entry = AuditEntry.objects.get(action="application.reviewed", object_id=str(application.pk))
    assert entry.before["status"] == "approved"
    assert entry.after["status"] == "rejected"
    assert entry.actor.username == "admin"


@pytest.mark.django_db
def test_approving_in_the_admin_an_application_pot_still_needs_a_granted_amount(client, grant):
    application = Application.objects.filter(grant=grant, pot__slug="ssk-ansokan").first()
    review_application(app=application, approve=False, reason="Late", actor=None)
    url = reverse("admin:applications_application_changelist")

    response = client.post(
        url, {"action": "approve_applications", "_selected_action": [application.pk]}, follow=True
    )

    assert "Set the recommended amount." in page(response)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REJECTED


@pytest.mark.django_db
def test_an_organisation_number_must_pass_the_luhn_check(client):
    url = reverse("admin:allocations_organisation_add")
    data = {"slug": "ny-ab", "name": "Ny AB", "kind": "private_provider", "ownership": "private"}

    bad = client.post(url, {**data, "org_number": "556036-0794"})

    assert bad.status_code == 200
    assert "is not a valid organisation number" in page(bad)
    assert not Organisation.objects.filter(slug="ny-ab").exists()
    assert client.post(url, {**data, "org_number": "556036-0793"}).status_code == 302


# ---------------------------------------------------------------- every page answers


@pytest.mark.django_db
def test_every_changelist_add_and_change_page_answers(client, grant):
    run = services.compute_grant(grant_id=grant.pk)
    decide(run_id=run.pk, decided_on=date(2023, 3, 14), decided_by="Äldrenämnden")
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="admin")

    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200, opts.label
        add = client.get(reverse(f"{name}_add"))
        expected = 200 if model_admin.has_add_permission(request) else 403
        assert add.status_code == expected, opts.label
        obj = model._default_manager.first()
        if obj is not None and model.__module__.startswith(("allocations", "applications")):
            assert client.get(change_url(obj)).status_code == 200, opts.label
