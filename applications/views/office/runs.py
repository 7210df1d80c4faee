"""Allocation runs: the result per pot, organisation and unit, and the decision."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from allocations.models import AllocationRun, Organisation
from allocations.services import published_differences
from allocations.wording import format_kronor

from ... import permissions, services
from ...forms.office import (
    DecisionForm,
    RoundDecisionForm,
    RunRowsFilterForm,
)
from ...services import WorkflowError
from .common import confirmation_page, is_confirmed, official_required, paginate


@official_required
def run(request, pk):
    run = permissions.get_run_for_official(request.user, pk)
    return _run_page(request, run)


def _can_decide(run: AllocationRun) -> bool:
    if run.is_decided:
        return False
    latest = run.grant.runs.filter(redistributes=run.redistributes_id).order_by("-number").first()
    return latest.pk == run.pk


def _decision_form(run: AllocationRun, data=None) -> DecisionForm:
    """A round's decision asks the official to confirm what happens with the amounts."""
    form_class = RoundDecisionForm if run.is_redistribution else DecisionForm
    if data is not None:
        return form_class(data)
    return form_class(initial=DecisionForm.defaults(run.grant))


def _round_context(run: AllocationRun) -> dict:
    """Where a redistribution round's money came from, and who took part."""
    if not run.is_redistribution:
        return {}
    taking_part = list(
        Organisation.objects.filter(slug__in=run.redistribution_recipients).order_by("name")
    )
    try:
        candidates = services.redistribution_candidates(run.redistributes)
    except WorkflowError:
        candidates = []
    chosen = {o.pk for o in taking_part}
    return {
        "source_claims": run.source_claims.select_related("requisition__organisation").order_by(
            "paid_on", "pk"
        ),
        "taking_part": taking_part,
        "left_out": [o for o in candidates if o.pk not in chosen],
        "receiving": run.rows.filter(amount__gt=0).values("organisation_id").distinct().count(),
    }


def _run_page(request, run: AllocationRun, form: DecisionForm | None = None):
    grant = run.grant
    may_decide = permissions.can_decide_runs(request.user)
    if form is None and _can_decide(run) and may_decide:
        form = _decision_form(run)
    organisations = (
        run.rows.values("organisation__name")
        .annotate(total=Sum("amount"), units=Count("unit"))
        .order_by("organisation__name")
    )
    differences = published_differences(run)
    names = dict(
        Organisation.objects.filter(slug__in=[d[0] for d in differences]).values_list(
            "slug", "name"
        )
    )
    context = {
        "run": run,
        "grant": grant,
        "allocated": run.allocated(),
        "pot_results": run.pot_results.select_related("pot").order_by("position"),
        "organisations": paginate(request, organisations),
        "differences": [
            {"name": names.get(slug, slug), "published": p, "computed": c, "diff": p - c}
            for slug, p, c in differences
        ],
        "form": form,
        "decidable": _can_decide(run),
        "not_allowed": may_decide.reason,
        "requisition_count": run.requisitions.count(),
        **_round_context(run),
    }
    return render(request, "applications/office/run.html", context)


@official_required
def run_units(request, pk):
    run = permissions.get_run_for_official(request.user, pk)
    form = RunRowsFilterForm(request.GET, run=run)
    data = form.values()
    ineligible = request.GET.get("show") == "ineligible"
    qs = run.ineligible if ineligible else run.rows.filter(unit__isnull=False)
    qs = qs.select_related("unit", "organisation", "pot")
    if "pot" in data:
        qs = qs.filter(pot=data["pot"])
    if "organisation" in data:
        qs = qs.filter(organisation=data["organisation"])
    context = {
        "run": run,
        "form": form,
        "ineligible": ineligible,
        "keep": [("show", "ineligible")] if ineligible else [],
        "page": paginate(request, qs.order_by("organisation__name", "unit__name", "pk")),
    }
    return render(request, "applications/office/run_units.html", context)


@official_required
def decide(request, pk):
    """The decision, confirmed on a page that says what it gives to how many and that it is final.

    A GET shows the page with the decision form; a valid form posted without the
    confirmation shows the summary; only a POST with the confirmation decides.
    """
    run = permissions.get_run_for_official(request.user, pk)
    allowed = permissions.can_decide_runs(request.user)
    if not allowed:
        raise PermissionDenied(allowed.reason)
    if request.method != "POST":
        if not _can_decide(run):
            messages.info(request, _("This run cannot be decided."))
            return redirect("office:run", run.pk)
        form = _decision_form(run)
    else:
        form = _decision_form(run, request.POST)
        if not form.is_valid():
            return _run_page(request, run, form)
    # A run that cannot be decided goes straight to the service, which says why not; dates
    # the service would refuse are shown at their fields before anything is confirmed.
    if _can_decide(run) and not is_confirmed(request):
        if form.is_bound:
            problems = services.decision_date_problems(
                run=run,
                decided_on=form.cleaned_data["decided_on"],
                requisition_by=form.cleaned_data.get("requisition_by"),
            )
            for field, message in problems:
                form.add_error(field if field in form.fields else None, message)
            if problems:
                return _run_page(request, run, form)
        return confirmation_page(
            request,
            title=_("Record the decision on %(run)s?") % {"run": run.title()},
            summary=decision_summary(run),
            action=reverse("office:decide", args=[run.pk]),
            back=reverse("office:run", args=[run.pk]),
            button=_("Record the decision"),
            form=form,
        )
    decision = dict(form.cleaned_data)
    decision.pop("confirm", None)
    try:
        services.decide(run=run, actor=request.user, **decision)
    except WorkflowError as exc:
        for field, message in exc.problems or [(None, str(exc))]:
            form.add_error(field if field in form.fields else None, message)
    else:
        messages.success(request, _("Decision recorded: %(run)s.") % {"run": run.title()})
        return redirect("office:run", run.pk)
    return _run_page(request, run, form)


def decision_summary(run: AllocationRun) -> list[str]:
    """What recording the decision does, with the amounts."""
    totals = list(
        run.rows.values("organisation_id", "pot_id").annotate(total=Sum("amount")).order_by()
    )
    recipients = {t["organisation_id"] for t in totals if t["total"] > 0}
    requisitions = sum(1 for t in totals if t["total"] > 0)
    amount = sum(t["total"] for t in totals if t["total"] > 0)
    return [
        ngettext(
            "The decision allocates %(amount)s to %(count)s recipient and opens "
            "%(requisitions)s requisition; each recipient is told by e-mail.",
            "The decision allocates %(amount)s to %(count)s recipients and opens "
            "%(requisitions)s requisitions; each recipient is told by e-mail.",
            len(recipients),
        )
        % {
            "amount": format_kronor(amount, nbsp=True),
            "count": len(recipients),
            "requisitions": requisitions,
        },
        _("A decision is public and final: it cannot be changed once recorded."),
    ]
