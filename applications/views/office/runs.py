"""Allocation runs: the result per pot, organisation and unit, and the decision."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations.models import AllocationRun, Organisation
from allocations.services import RunFrozen, published_differences

from ... import permissions, services
from ...forms.office import (
    DecisionForm,
    RunRowsFilterForm,
)
from ...services import WorkflowError
from .common import official_required, paginate


@official_required
def run(request, pk):
    run = permissions.get_run_for_official(request.user, pk)
    return _run_page(request, run)


def _can_decide(run: AllocationRun) -> bool:
    if run.is_decided:
        return False
    latest = run.grant.runs.filter(redistributes=run.redistributes_id).order_by("-number").first()
    return latest.pk == run.pk


def _run_page(request, run: AllocationRun, form: DecisionForm | None = None):
    grant = run.grant
    may_decide = permissions.can_decide_runs(request.user)
    if form is None and _can_decide(run) and may_decide:
        form = DecisionForm(initial=DecisionForm.defaults(grant))
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
@require_POST
def decide(request, pk):
    run = permissions.get_run_for_official(request.user, pk)
    allowed = permissions.can_decide_runs(request.user)
    if not allowed:
        raise PermissionDenied(allowed.reason)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            services.decide(run=run, actor=request.user, **form.cleaned_data)
        except RunFrozen:
            run.refresh_from_db()
            if run.is_decided:
                form.add_error(
                    None,
                    _("This run was decided on %s; a decision is not changed.")
                    % run.decided_on.isoformat(),
                )
            else:
                form.add_error(None, _("A later run of this grant exists: decide that one."))
        except WorkflowError as exc:
            for field, message in exc.problems or [(None, str(exc))]:
                form.add_error(field, message)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The decision on run %s is recorded.") % run.number)
            return redirect("office:run", run.pk)
    return _run_page(request, run, form)
