"""The officials' pages (handläggning): calls, review, decision, payments, reports, claims.

Every page needs `permissions.can_handle_cases`: a visitor who is not signed in is sent to
sign in, and anyone else signed in gets 403 on every office URL, whatever object it names —
so that no one outside learns which ids exist. An official who names an object that does
not exist gets 404. Objects are fetched through the `permissions.get_…` helpers; every state
change is a function in `services`.
"""

from __future__ import annotations

from functools import wraps

from celery.result import AsyncResult, EagerResult
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations.engine import AllocationError
from allocations.forms import grant_problems
from allocations.models import AllocationRun, AuditEntry, Grant, Organisation, Pot
from allocations.services import RunFrozen, published_differences
from allocations.tasks import compute_grant
from allocations.wording import format_kronor, reason_text

from .. import permissions, services
from ..forms.office import (
    APPLIED_FOR,
    CallFilterForm,
    CallForm,
    ClaimFilterForm,
    ClaimForm,
    DecisionForm,
    PaymentForm,
    RepaidForm,
    ReportFilterForm,
    ReportReviewForm,
    RequisitionFilterForm,
    ReviewFilterForm,
    ReviewForm,
    RunRowsFilterForm,
)
from ..models import (
    Application,
    ApplicationStatus,
    ApplicationUnit,
    Call,
    ClaimDisposition,
    ClaimReason,
    RepaymentClaim,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageReport,
)
from ..services import WorkflowError

PAGE_SIZE = 50


def official_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        decision = permissions.can_handle_cases(request.user)
        if not decision:
            raise PermissionDenied(decision.reason)
        return view(request, *args, **kwargs)

    return wrapped


def paginate(request, items, per_page: int = PAGE_SIZE, param: str = "page"):
    return Paginator(items, per_page).get_page(request.GET.get(param))


def pot_tree(pots) -> list[tuple[Pot, int]]:
    """Pots in tree order with their depth (0 at the top)."""
    by_parent: dict[int | None, list[Pot]] = {}
    for pot in sorted(pots, key=lambda p: (p.position, p.pk)):
        by_parent.setdefault(pot.parent_id, []).append(pot)
    ordered: list[tuple[Pot, int]] = []

    def walk(parent_id, depth):
        for pot in by_parent.get(parent_id, []):
            ordered.append((pot, depth))
            walk(pot.pk, depth + 1)

    walk(None, 0)
    return ordered


# ---------------------------------------------------------------- start and grants


@official_required
def start(request):
    today = timezone.localdate()
    grants = paginate(request, Grant.objects.prefetch_related("pots").order_by("slug"), per_page=10)
    open_calls = Call.objects.filter(opens_on__lte=today, closes_on__gte=today)
    requisitions = services.with_balances(permissions.requisitions_for(request.user))
    counts = {
        "submitted": Application.objects.filter(status=ApplicationStatus.SUBMITTED).count(),
        "pending": requisitions.filter(status=RequisitionStatus.PENDING).count(),
        "unpaid": requisitions.filter(status=RequisitionStatus.ACCEPTED)
        .filter(paid_sum__lt=F("amount"))
        .count(),
        "reports": UsageReport.objects.filter(
            status=ReportStatus.SUBMITTED, requisition__run__decided_on__isnull=False
        ).count(),
        "claims": RepaymentClaim.objects.filter(paid_on__isnull=True).count(),
    }
    context = {
        "page": grants,
        "grants": [(grant, pot_tree(grant.pots.all())) for grant in grants],
        "applied_for": APPLIED_FOR,
        "open_calls": open_calls.select_related("pot__grant")
        .annotate(waiting=Count("applications", filter=Q(applications__status="submitted")))
        .order_by("closes_on", "pk")[:10],
        "open_count": open_calls.count(),
        "closed_count": Call.objects.filter(closes_on__lt=today).count(),
        "counts": counts,
        "today": today,
    }
    return render(request, "applications/office/start.html", context)


@official_required
def grant(request, pk):
    grant = permissions.get_grant_for_official(request.user, pk)
    _report_queued_computation(request, grant)
    latest = grant.runs.filter(redistributes=None).order_by("-number").first()
    results = {r.pot_id: r for r in latest.pot_results.all()} if latest else {}
    waiting = dict(
        RepaymentClaim.objects.filter(
            requisition__run__grant=grant,
            disposition=ClaimDisposition.REDISTRIBUTE,
            paid_on__isnull=False,
            redistribution__isnull=True,
        )
        .values_list("requisition__pot_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    calls = dict(
        Call.objects.filter(pot__grant=grant)
        .values_list("pot_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    pots = list(grant.pots.all())
    parents = {p.parent_id for p in pots}
    tree = [
        {
            "pot": pot,
            "depth": depth,
            "indent": f"{depth * 1.5}rem",
            "result": results.get(pot.pk),
            "waiting": waiting.get(pot.pk, 0),
            "calls": calls.get(pot.pk, 0),
            "applied_for": pot.pk not in parents and pot.model_type in APPLIED_FOR,
        }
        for pot, depth in pot_tree(pots)
    ]
    runs = (
        grant.runs.annotate(total=Sum("rows__amount"))
        .select_related("redistributes", "computed_by")
        .order_by("-number")
    )
    context = {"grant": grant, "tree": tree, "latest": latest, "runs": paginate(request, runs)}
    return render(request, "applications/office/grant.html", context)


def _task_key(grant: Grant) -> str:
    return f"office-compute-{grant.pk}"


def _report_outcome(request, grant: Grant, outcome: dict) -> None:
    if outcome.get("ok"):
        messages.success(
            request,
            _("“%(grant)s” is computed: run %(number)s.")
            % {"grant": grant, "number": outcome["number"]},
        )
    else:
        messages.error(
            request,
            _("“%(grant)s” could not be computed: pot %(pot)s: %(error)s")
            % {"grant": grant, "pot": outcome.get("pot"), "error": outcome.get("error")},
        )


def _report_queued_computation(request, grant: Grant) -> None:
    """With a real worker: say whether the computation queued earlier has finished."""
    task_id = request.session.get(_task_key(grant))
    if not task_id:
        return
    result = AsyncResult(task_id, app=compute_grant.app)
    if not result.ready():
        messages.info(request, _("The computation is under way; reload this page in a moment."))
        return
    del request.session[_task_key(grant)]
    outcome = result.get(propagate=False)
    if isinstance(outcome, dict):
        _report_outcome(request, grant, outcome)
    else:
        messages.error(request, _("The computation failed; try again or ask an administrator."))


@official_required
@require_POST
def compute(request, pk):
    grant = permissions.get_grant_for_official(request.user, pk)
    problems = grant_problems(grant)
    if problems:
        messages.error(
            request,
            _("“%(grant)s” cannot be computed yet: %(problems)s")
            % {"grant": grant, "problems": " ".join(problems)},
        )
        return redirect("office:grant", grant.pk)

    def queue() -> None:
        result = compute_grant.delay(grant.pk, request.user.pk)
        if isinstance(result, EagerResult):  # embedded: it has run already
            _report_outcome(request, grant, result.get())
        else:
            request.session[_task_key(grant)] = result.id
            messages.info(request, _("The computation is queued; reload this page in a moment."))

    transaction.on_commit(queue)
    return redirect("office:grant", grant.pk)


# ---------------------------------------------------------------- calls


@official_required
def calls(request):
    today = timezone.localdate()
    form = CallFilterForm(request.GET)
    data = form.values()
    qs = Call.objects.select_related("pot__grant").annotate(
        total=Count("applications"),
        waiting=Count("applications", filter=Q(applications__status="submitted")),
    )
    if "grant" in data:
        qs = qs.filter(pot__grant=data["grant"])
    state = data.get("state")
    if state == CallFilterForm.OPEN:
        qs = qs.filter(opens_on__lte=today, closes_on__gte=today)
    elif state == CallFilterForm.UPCOMING:
        qs = qs.filter(opens_on__gt=today)
    elif state == CallFilterForm.CLOSED:
        qs = qs.filter(closes_on__lt=today)
    context = {
        "form": form,
        "page": paginate(request, qs.order_by("-opens_on", "id")),
        "today": today,
    }
    return render(request, "applications/office/calls.html", context)


@official_required
def call_new(request):
    today = timezone.localdate()
    if request.method == "POST":
        form = CallForm(request.POST)
        if form.is_valid():
            try:
                call = services.open_call(actor=request.user, **form.cleaned_data)
            except WorkflowError as exc:
                form.add_error("pot", str(exc))
            else:
                messages.success(request, _("The call “%s” is made.") % call)
                return redirect("office:call", call.pk)
    else:
        initial = {"opens_on": today}
        pot = request.GET.get("pot", "")
        if pot.isdigit():
            initial["pot"] = pot
        form = CallForm(initial=initial)
    return render(request, "applications/office/call_form.html", {"form": form})


@official_required
@require_POST
def call_close(request, pk):
    call = permissions.get_call_for(request.user, pk)
    today = timezone.localdate()
    if call.closes_on < today:
        messages.info(request, _("The call closed on %s already.") % call.closes_on.isoformat())
    else:
        services.close_call(call=call, today=today, actor=request.user)
        messages.success(request, _("The call “%s” closes at the end of today.") % call)
    return redirect("office:call", call.pk)


# ---------------------------------------------------------------- review


@official_required
def call_review(request, pk):
    call = permissions.get_call_for(request.user, pk)
    apps = permissions.applications_for(request.user).filter(call=call)
    return _review_page(request, call.pot, apps, call)


@official_required
def pot_review(request, pk):
    pot = permissions.get_pot_for_official(request.user, pk)
    apps = permissions.applications_for(request.user).filter(pot=pot)
    return _review_page(request, pot, apps, None)


def _review_page(request, pot: Pot, apps, call: Call | None):
    """Every application in one list, with the same number of queries for 10 or 10 000.

    The counts and sums are made in SQL from the stored verdicts on each application's units
    (`services.refresh_screening`); only the page's own rows are read into Python.
    """
    form = ReviewFilterForm(
        request.GET, organisations=Organisation.objects.filter(pk__in=apps.values("organisation"))
    )
    data = form.values()
    if "organisation" in data:
        apps = apps.filter(organisation=data["organisation"])
    unit_based = pot.model_type in services.UNIT_BASED
    if unit_based:
        services.refresh_screening(pot)
    flagged = Exists(ApplicationUnit.objects.filter(application=OuterRef("pk"), eligible=False))
    if data.get("eligibility") == ReviewFilterForm.INELIGIBLE:
        apps = apps.filter(flagged)
    elif data.get("eligibility") == ReviewFilterForm.ELIGIBLE:
        apps = apps.exclude(flagged)

    # The summary covers every status, so that it also says what the status filter would give.
    summary = {value: _summary_row(value, label) for value, label in ApplicationStatus.choices}
    total = _summary_row("", _("all"))
    by_status = (
        apps.order_by()
        .values("status")
        .annotate(
            count=Count("pk"),
            requested=Coalesce(Sum("requested_amount"), 0),
            granted=Coalesce(Sum("granted_amount"), 0),
        )
    )
    measured = (
        ApplicationUnit.objects.filter(application__in=apps.order_by().values("pk"))
        .order_by()
        .values("application__status")
        .annotate(
            measured=Coalesce(Sum("measure"), 0),
            measured_eligible=Coalesce(Sum("measure", filter=Q(eligible=True)), 0),
        )
    )
    figures = {row["status"]: row for row in by_status}
    if unit_based:
        for row in measured:
            figures.setdefault(row["application__status"], {}).update(
                measure=row["measured"], eligible=row["measured_eligible"]
            )
    for status, values in figures.items():
        for row in (summary[status], total):
            for key in ("count", "requested", "granted", "measure", "eligible"):
                row[key] += values.get(key, 0)

    if "status" in data:
        apps = apps.filter(status=data["status"])
    page = paginate(
        request, apps.select_related("organisation").order_by("organisation__name", "slug", "pk")
    )
    on_page = Application.objects.filter(pk__in=[app.pk for app in page])
    screened = services.screen_applications(pot, on_page, refresh=False) if unit_based else {}
    rows = []
    for app in page:
        units = screened.get(app.pk, [])
        rows.append(
            {
                "app": app,
                "units": units,
                "reasons": [(u.name, reason_text(*u.reason)) for u in units if u.reason],
                "measure": sum(u.measure for u in units),
                "eligible": sum(u.measure for u in units if u.reason is None),
            }
        )
    context = {
        "pot": pot,
        "grant": pot.grant,
        "call": call,
        "form": form,
        "page": page,
        "rows": rows,
        "summary": [row for row in summary.values() if row["count"]] + [total],
        "measure": services.pot_measure(pot),
        "unit_based": unit_based,
        "amounts": pot.model_type == "approved_amounts",
        "today": timezone.localdate(),
    }
    return render(request, "applications/office/review.html", context)


def _summary_row(status: str, label) -> dict:
    return {
        "status": status,
        "label": label,
        "count": 0,
        "measure": 0,
        "eligible": 0,
        "requested": 0,
        "granted": 0,
    }


@official_required
def application(request, pk):
    app = permissions.get_application_for(request.user, pk)
    return _application_page(request, app)


def _application_page(request, app: Application, form: ReviewForm | None = None):
    units = services.screen_applications(app.pot, Application.objects.filter(pk=app.pk))
    review = permissions.can_review_application(request.user, app)
    if form is None and review:
        form = ReviewForm(
            pot=app.pot,
            initial={"reason": app.status_reason, "granted_amount": app.granted_amount},
        )
    context = {
        "app": app,
        "units": [(u, reason_text(*u.reason) if u.reason else "") for u in units.get(app.pk, [])],
        "measure": services.pot_measure(app.pot),
        "uses": app.uses.all(),
        "history": _history(("applications.application", [app.pk])),
        "form": form,
        "not_reviewable": review.reason,
        "back": _review_url(app),
    }
    return render(request, "applications/office/application.html", context)


def _history(*objects: tuple[str, list[int]]) -> list[AuditEntry]:
    """The audit entries of the named objects, oldest first (for `applications/_history.html`)."""
    match = Q(pk__in=[])
    for object_type, ids in objects:
        match |= Q(object_type=object_type, object_id__in=[str(pk) for pk in ids])
    return list(AuditEntry.objects.filter(match).order_by("at", "id"))


def _review_url(app: Application) -> str:
    if app.call_id:
        return reverse("office:call", args=[app.call_id])
    return reverse("office:pot_review", args=[app.pot_id])


@official_required
@require_POST
def review_application(request, pk):
    app = permissions.get_application_for(request.user, pk)
    decision = permissions.can_review_application(request.user, app)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("office:application", app.pk)
    form = ReviewForm(request.POST, pot=app.pot)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.review_application(
                app=app,
                approve=data["decision"] == ReviewForm.APPROVE,
                reason=data["reason"],
                granted_amount=data.get("granted_amount"),
                actor=request.user,
            )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Application %s is reviewed.") % app.slug)
            return redirect(_review_url(app))
    return _application_page(request, app, form)


# ---------------------------------------------------------------- decision


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
        form = DecisionForm(
            initial={
                "decided_on": timezone.localdate(),
                "decided_by": grant.decision_body,
                "delegation": grant.delegated_to,
                "reference": grant.reference,
            }
        )
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
        except (WorkflowError, ValueError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The decision on run %s is recorded.") % run.number)
            return redirect("office:run", run.pk)
    return _run_page(request, run, form)


# ---------------------------------------------------------------- requisitions and payments


@official_required
def requisitions(request):
    today = timezone.localdate()
    form = RequisitionFilterForm(request.GET)
    data = form.values()
    qs = services.with_balances(permissions.requisitions_for(request.user))
    for name in ("run", "pot", "organisation"):
        if name in data:
            qs = qs.filter(**{name: data[name]})
    status = data.get("status")
    if status == RequisitionFilterForm.UNPAID:
        qs = qs.filter(status=RequisitionStatus.ACCEPTED, paid_sum__lt=F("amount"))
    elif status in RequisitionStatus.values:
        qs = qs.filter(status=status)
    qs = qs.select_related("run__grant", "organisation", "pot").order_by(
        "-run__decided_on", "run_id", "organisation__name", "pot__position", "pk"
    )
    pots = services.pot_balances(qs)
    items = qs
    if status == RequisitionFilterForm.CLAIMABLE:
        items = [req for req in qs if services.claimable(req, today)]
    page = paginate(request, items)
    rows = [(req, services.balance_of(req), services.claimable(req, today)) for req in page]
    context = {"form": form, "page": page, "rows": rows, "pots": pots, "run": data.get("run")}
    return render(request, "applications/office/requisitions.html", context)


@official_required
def requisition(request, pk):
    req = permissions.get_requisition_for(request.user, pk)
    return _requisition_page(request, req)


def _requisition_page(request, req: Requisition, **forms):
    today = timezone.localdate()
    req = (
        services.with_balances(Requisition.objects.filter(pk=req.pk))
        .select_related("run__grant__agreement", "organisation", "pot")
        .get()
    )
    balance = services.balance_of(req)
    claimable = services.claimable(req, today)
    if "payment_form" not in forms and req.status == RequisitionStatus.ACCEPTED and balance.left:
        forms["payment_form"] = PaymentForm(
            left=balance.left, initial={"paid_on": today, "amount": balance.left}
        )
    if "claim_form" not in forms and claimable and claimable[1] > 0:
        forms["claim_form"] = ClaimForm(
            most=claimable[1],
            initial={
                "amount": claimable[1],
                "due_on": req.run.grant.agreement.repay_by,
                "disposition": ClaimDisposition.RETURN_TO_STATE,
            },
        )
    repaid_form, repaid_claim = forms.pop("repaid", (None, None))
    claims = [
        (claim, repaid_form if claim.pk == repaid_claim else RepaidForm(initial={"paid_on": today}))
        for claim in req.claims.select_related("redistribution")
    ]
    payments = list(req.payments.select_related("recorded_by"))
    context = {
        "req": req,
        "balance": balance,
        "pot_balance": services.pot_balances(Requisition.objects.filter(run=req.run, pot=req.pot)),
        "claimable": claimable,
        "claim_reason": ClaimReason(claimable[0]).label if claimable else "",
        "lines": req.lines.select_related("use"),
        "payments": payments,
        "claims": claims,
        "history": _history(
            ("applications.requisition", [req.pk]),
            ("applications.payment", [p.pk for p in payments]),
            ("applications.repaymentclaim", [c.pk for c, _form in claims]),
        ),
        "report": UsageReport.objects.filter(requisition=req).first(),
        **forms,
    }
    return render(request, "applications/office/requisition.html", context)


@official_required
@require_POST
def record_payment(request, pk):
    req = permissions.get_requisition_for(request.user, pk)
    decision = permissions.can_record_payment(request.user, req)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("office:requisition", req.pk)
    left = req.amount - services.paid_total(req)
    form = PaymentForm(request.POST, left=left)
    if form.is_valid():
        try:
            services.record_payment(req=req, actor=request.user, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("A payment of %(amount)s to %(recipient)s is recorded.")
                % {
                    "amount": format_kronor(form.cleaned_data["amount"]),
                    "recipient": req.organisation,
                },
            )
            return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, payment_form=form)


@official_required
@require_POST
def claim(request, pk):
    req = permissions.get_requisition_for(request.user, pk)
    today = timezone.localdate()
    what = services.claimable(req, today)
    if not what or what[1] <= 0:
        messages.error(request, _("Nothing can be claimed back from this recipient now."))
        return redirect("office:requisition", req.pk)
    form = ClaimForm(request.POST, most=what[1])
    if form.is_valid():
        try:
            services.claim_repayment(req=req, today=today, actor=request.user, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("%(amount)s is claimed back from %(recipient)s.")
                % {
                    "amount": format_kronor(form.cleaned_data["amount"]),
                    "recipient": req.organisation,
                },
            )
            return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, claim_form=form)


@official_required
@require_POST
def claim_repaid(request, pk):
    claim = permissions.get_claim_for_official(request.user, pk)
    req = permissions.get_requisition_for(request.user, claim.requisition_id)
    form = RepaidForm(request.POST)
    if form.is_valid():
        try:
            services.mark_claim_repaid(claim=claim, actor=request.user, **form.cleaned_data)
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The claim is marked as repaid."))
            return redirect("office:requisition", req.pk)
    return _requisition_page(request, req, repaid=(form, claim.pk))


# ---------------------------------------------------------------- usage reports


def _reports():
    return UsageReport.objects.filter(requisition__run__decided_on__isnull=False).annotate(
        used=Coalesce(Sum("lines__amount"), 0)
    )


@official_required
def reports(request):
    form = ReportFilterForm(request.GET)
    data = form.values()
    qs = _reports().select_related("requisition__run__grant", "requisition__organisation")
    if "status" in data:
        qs = qs.filter(status=data["status"])
    if "grant" in data:
        qs = qs.filter(requisition__run__grant=data["grant"])
    page = paginate(request, qs.order_by("-submitted_at", "pk"))
    return render(request, "applications/office/reports.html", {"form": form, "page": page})


@official_required
def report(request, pk):
    report = permissions.get_report_for_official(request.user, pk)
    return _report_page(request, report)


def _report_page(request, report: UsageReport, form: ReportReviewForm | None = None):
    if form is None and permissions.can_review_report(request.user, report):
        form = ReportReviewForm()
    paid = services.paid_total(report.requisition)
    used = services.used_total(report)
    context = {
        "report": report,
        "req": report.requisition,
        "lines": report.lines.select_related("use"),
        "paid": paid,
        "used": used,
        "unspent": paid - used,
        "form": form,
        "history": _history(("applications.usagereport", [report.pk])),
    }
    return render(request, "applications/office/report.html", context)


@official_required
@require_POST
def review_report(request, pk):
    report = permissions.get_report_for_official(request.user, pk)
    decision = permissions.can_review_report(request.user, report)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("office:report", report.pk)
    form = ReportReviewForm(request.POST)
    if form.is_valid():
        try:
            services.review_report(
                report=report,
                accept=form.cleaned_data["decision"] == ReportReviewForm.ACCEPT,
                comment=form.cleaned_data["comment"],
                actor=request.user,
            )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The usage report is reviewed."))
            return redirect("office:report", report.pk)
    return _report_page(request, report, form)


# ---------------------------------------------------------------- claims and redistribution


@official_required
def claims(request):
    form = ClaimFilterForm(request.GET)
    data = form.values()
    qs = RepaymentClaim.objects.select_related(
        "requisition__run__grant", "requisition__organisation", "requisition__pot", "redistribution"
    )
    if "grant" in data:
        qs = qs.filter(requisition__run__grant=data["grant"])
    if data.get("state") == ClaimFilterForm.OUTSTANDING:
        qs = qs.filter(paid_on__isnull=True)
    elif data.get("state") == ClaimFilterForm.SETTLED:
        qs = qs.filter(paid_on__isnull=False)
    if "disposition" in data:
        qs = qs.filter(disposition=data["disposition"])
    waiting = dict(
        RepaymentClaim.objects.filter(
            disposition=ClaimDisposition.REDISTRIBUTE,
            paid_on__isnull=False,
            redistribution__isnull=True,
        )
        .values_list("requisition__pot_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    pots = Pot.objects.filter(pk__in=waiting).select_related("grant").order_by("grant__slug", "pk")
    context = {
        "form": form,
        "page": paginate(request, qs.order_by("-created_at", "-pk")),
        "waiting": [(pot, waiting[pot.pk]) for pot in pots],
        "open_rounds": AllocationRun.objects.filter(
            redistributes__isnull=False, decided_on__isnull=True
        )
        .select_related("grant", "redistributes")
        .order_by("-computed_at"),
    }
    return render(request, "applications/office/claims.html", context)


@official_required
@require_POST
def redistribute(request, pk):
    pot = permissions.get_pot_for_official(request.user, pk)
    try:
        run = services.redistribute(pot=pot, actor=request.user)
    except WorkflowError as exc:
        messages.error(request, str(exc))
    except AllocationError as exc:
        messages.error(
            request,
            _("The money of “%(pot)s” cannot be redistributed: %(error)s")
            % {"pot": pot, "error": exc.message},
        )
    else:
        messages.success(
            request,
            _("Redistribution round %(number)s divides %(amount)s; decide it below.")
            % {"number": run.number, "amount": format_kronor(run.redistributed_amount or 0)},
        )
        return redirect("office:run", run.pk)
    return redirect("office:claims")
