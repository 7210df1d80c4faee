"""The provider portal: open calls, applications, decisions, requisitions, usage reports.

Every object comes through a `permissions.get_…_for` helper (404 for what the
user may not see) and every change through a service; the lists show only
the organisations the user acts for, also to a user who is an official too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import F, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations.models import (
    AllocationRun,
    AuditEntry,
    GrantUnit,
    Organisation,
    PermittedUse,
    PotResult,
)
from allocations.wording import reason_text, rule_text, unit_type_label
from stimulans import uploads

from .. import permissions, services
from ..forms.portal import (
    ApplicationFilterForm,
    ApplicationForm,
    AttachmentForm,
    CallFilterForm,
    DecisionFilterForm,
    RequisitionAcceptForm,
    RequisitionDeclineForm,
    StartApplicationForm,
    TaskFilterForm,
    UsageReportForm,
    use_field_name,
)
from ..models import (
    Application,
    ApplicationStatus,
    ApplicationUnit,
    Call,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageReport,
    with_granted,
)
from ..permissions import organisation_ids
from ..services import WorkflowError
from ..units import (
    grant_units_offered_to,
    offered_units,
    save_draft_with_new_units,
    unconfirmed_grant_units,
    units_new_to_grant,
)

PER_PAGE = 25
PREVIEW = 10
ACTIVE = (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.APPROVED)


def _today() -> date:
    return timezone.localdate()


def _page(
    request: HttpRequest,
    items,
    *,
    param: str = "page",
    per_page: int = PER_PAGE,
    first_page_first: bool = False,
    counted: QuerySet | None = None,
    count: int | None = None,
) -> Page:
    """One page of a list; the links keep the other query parameters (filters, other lists).

    `first_page_first`: the first page (as most visits see it) is read before the list is
    counted; one that is not full is the whole list, and the database need not count it.
    `counted`: the same rows as `items` without the joins that only its columns need.
    `count`: the number of items, when known already.
    """
    paginator = Paginator(items, per_page)
    number = request.GET.get(param)
    if count is not None:
        paginator.count = count
        page = paginator.get_page(number)
    elif first_page_first and number in (None, "", "1"):
        rows = list(items[:per_page])
        if len(rows) < per_page:
            paginator.count = len(rows)
        elif counted is not None:
            paginator.count = counted.count()
        page = Page(rows, 1, paginator)
    else:
        if counted is not None:
            paginator.count = counted.count()
        page = paginator.get_page(number)

    def url(number: int) -> str:
        query = request.GET.copy()
        query[param] = number
        return f"?{query.urlencode()}"

    page.previous_url = url(page.previous_page_number()) if page.has_previous() else ""
    page.next_url = url(page.next_page_number()) if page.has_next() else ""
    return page


def _organisations(user) -> QuerySet[Organisation]:
    return Organisation.objects.filter(pk__in=organisation_ids(user)).order_by("name")


def _own_applications(user) -> QuerySet[Application]:
    return permissions.own_applications(user)


def _own_requisitions(user) -> QuerySet[Requisition]:
    return permissions.own_requisitions(user)


def _open_calls(user, today: date) -> QuerySet[Call]:
    """The calls open today, as values: what the start page shows of them."""
    return (
        permissions.calls_for(user)
        .filter(opens_on__lte=today, closes_on__gte=today)
        .order_by("closes_on", "id")
        .values("pk", "title", "closes_on", "pot__name", "pot__grant__title")
    )


# What the tables of applications and decisions show (`_application_table.html`,
# `_decision_table.html`), and no more: the related rows' other columns (a pot's model, a
# grant's texts) are neither read from the database nor decoded for every row. As values:
# no model instances, and a cheaper query to build than one selecting related rows.
def _application_table(qs: QuerySet[Application]) -> QuerySet[Application]:
    return qs.values(
        "pk",
        "slug",
        "status",
        "granted",
        "submitted_at",
        "call__title",
        "pot__name",
        "grant__title",
        "organisation__name",
    )


def _decision_page(request: HttpRequest, qs: QuerySet[Requisition], **options) -> Page:
    """A page of the decisions table: the requisitions as values, newest decision first, each
    with `round`: the title of the redistribution round that decided it ("" for an allocation)."""
    table = qs.order_by("-run__decided_on", "-id").values(
        "pk",
        "amount",
        "status",
        "due_on",
        "run_id",
        "run__decided_on",
        "run__redistributes",
        "run__grant__title",
        "pot__name",
        "organisation__name",
    )
    found = _page(request, table, counted=qs, **options)
    # A round is named by its place among the pot's rounds: read for the rounds' rows only.
    round_ids = {row["run_id"] for row in found if row["run__redistributes"] is not None}
    titles = {}
    if round_ids:
        rounds = AllocationRun.objects.filter(pk__in=round_ids).select_related("redistributes")
        titles = {run.pk: run.title() for run in rounds}
    for row in found:
        row["round"] = titles.get(row["run_id"], "")
    return found


# ---------------------------------------------------------------- what to do next


@dataclass
class Task:
    kind: str
    due_on: date | None
    title: str
    organisation_name: str
    view: str  # the page to do it on, with `pk`
    pk: int
    amount: int | None = None
    overdue: bool = False

    @property
    def url(self) -> str:
        return reverse(self.view, args=[self.pk])


def _tasks(
    user,
    today: date,
    *,
    kind: str | None = None,
    organisation: int | None = None,
    apps: QuerySet[Application] | None = None,
    reqs: QuerySet[Requisition] | None = None,
):
    """Everything the user's organisations must do, soonest due first; three queries in all.

    Read as plain values, not model instances: a provider with a thousand drafts still gets
    its start page quickly, and only the page shown resolves its links. `apps` and `reqs`:
    the user's own, when the caller has them already.
    """
    apps = _own_applications(user) if apps is None else apps
    reqs = _own_requisitions(user) if reqs is None else reqs
    if organisation is not None:
        apps = apps.filter(organisation_id=organisation)
        reqs = reqs.filter(organisation_id=organisation)
    tasks: list[Task] = []
    if kind in (None, "application"):
        # (The call's closing day leaves out the drafts without a call.)
        drafts = (
            apps.filter(status=ApplicationStatus.DRAFT, call__closes_on__gte=today)
            .order_by()  # sorted below
            .values_list(
                "pk", "call__closes_on", "call__title", "organisation__name", "requested_amount"
            )
        )
        title = _("Submit the application to “%(call)s”")
        tasks += [
            Task(
                "application",
                due,
                title % {"call": call},
                org,
                "portal:application_edit",
                pk,
                amount,
            )
            for pk, due, call, org, amount in drafts
        ]
    # The requisitions to requisition or decline and those to report on: one query.
    to_requisition = kind in (None, "requisition")
    to_report = kind in (None, "report")
    wanted = Q(pk__in=[])
    if to_requisition:
        wanted |= Q(status=RequisitionStatus.PENDING)
    if to_report:
        wanted |= Q(status=RequisitionStatus.ACCEPTED) & ~Q(
            report__status__in=(ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
        )
    if to_requisition or to_report:
        found = (
            reqs.filter(wanted)
            .order_by()  # sorted below
            .values_list(
                "pk",
                "status",
                "due_on",
                "run__grant__agreement__report_by",
                "pot__name",
                "organisation__name",
                "amount",
                "report__status",
            )
        )
        requisition = _("Requisition or decline the money from “%(pot)s”")
        returned = _("Complete the returned usage report for “%(pot)s”")
        due_report = _("Report what the money from “%(pot)s” was used for")
        for pk, status, due, report_by, pot, org, amount, report in found:
            if status == RequisitionStatus.PENDING:
                tasks.append(
                    Task(
                        "requisition",
                        due,
                        requisition % {"pot": pot},
                        org,
                        "portal:requisition",
                        pk,
                        amount,
                    )
                )
            else:
                title = returned if report == ReportStatus.RETURNED else due_report
                tasks.append(
                    Task("report", report_by, title % {"pot": pot}, org, "portal:report", pk)
                )
    if kind in (None, "claim"):
        # Read from the requisitions' side: a join instead of a subquery to plan.
        claims = (
            reqs.filter(claims__isnull=False, claims__paid_on__isnull=True)
            .order_by("claims__created_at", "claims__id")
            .values_list(
                "pk", "claims__due_on", "pot__name", "organisation__name", "claims__amount"
            )
        )
        title = _("Repay unused money from “%(pot)s”")
        tasks += [
            Task("claim", due, title % {"pot": pot}, org, "portal:requisition", pk, amount)
            for pk, due, pot, org, amount in claims
        ]
    for task in tasks:
        task.overdue = task.due_on is not None and task.due_on < today
    # Soonest due first; tasks alike (say, one per organisation) by organisation; the claims
    # of one requisition as they came, in the order they were made. The database's order of
    # the drafts and requisitions is not asked for: it costs joins (grant, agreement) and
    # would only order tasks alike.
    tasks.sort(
        key=lambda t: (
            t.due_on is None,
            t.due_on or today,
            t.kind,
            t.title,
            t.organisation_name,
            t.pk,
        )
    )
    return tasks


# ---------------------------------------------------------------- start and lists


@login_required
def start(request: HttpRequest) -> HttpResponse:
    user, today = request.user, _today()
    # First: read with the memberships, the organisations give the user's organisation ids
    # to the other lists, and the number of their applications to that list's pager.
    organisations = permissions.own_organisations(user)
    own_applications, own_requisitions = _own_applications(user), _own_requisitions(user)
    context = {
        "today": today,
        # A provider's organisations and the calls open today are a handful: read whole, the
        # pager counts them in Python instead of asking the database.
        "organisations": _page(request, organisations, param="op", per_page=PREVIEW),
        "tasks": _page(
            request,
            _tasks(user, today, apps=own_applications, reqs=own_requisitions),
            param="tp",
            per_page=PREVIEW,
        ),
        "calls": _page(request, list(_open_calls(user, today)), param="cp", per_page=PREVIEW),
        "applications": _page(
            request,
            _application_table(with_granted(own_applications)).order_by("-created_at", "-id"),
            param="ap",
            per_page=PREVIEW,
            count=sum(organisation["application_count"] for organisation in organisations),
        ),
        "decisions": _decision_page(
            request, own_requisitions, param="dp", per_page=PREVIEW, first_page_first=True
        ),
    }
    return render(request, "applications/portal/start.html", context)


@login_required
def tasks(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = TaskFilterForm(request.GET, organisations=_organisations(user))
    found = _tasks(user, _today(), kind=form.value("kind"), organisation=form.value("organisation"))
    q = form.value("q")
    if q:
        found = [t for t in found if q.casefold() in t.title.casefold()]
    return render(
        request,
        "applications/portal/tasks.html",
        {"form": form, "tasks": _page(request, found)},
    )


@login_required
def calls(request: HttpRequest) -> HttpResponse:
    user, today = request.user, _today()
    form = CallFilterForm(request.GET)
    state = form.value("state") or "open"
    qs = permissions.calls_for(user).select_related("pot__grant")
    if state == "open":
        qs = qs.filter(opens_on__lte=today, closes_on__gte=today).order_by("closes_on", "id")
    elif state == "upcoming":
        qs = qs.filter(opens_on__gt=today).order_by("opens_on", "id")
    elif state == "closed":
        qs = qs.filter(closes_on__lt=today).order_by("-closes_on", "id")
    else:
        qs = qs.order_by("-opens_on", "id")
    q = form.value("q")
    if q:
        qs = qs.filter(
            Q(title__icontains=q) | Q(pot__name__icontains=q) | Q(pot__grant__title__icontains=q)
        )
    return render(
        request,
        "applications/portal/calls.html",
        {"form": form, "calls": _page(request, qs), "today": today},
    )


@login_required
def applications(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ApplicationFilterForm(request.GET, organisations=_organisations(user))
    qs = _own_applications(user)
    if form.value("organisation"):
        qs = qs.filter(organisation_id=form.value("organisation"))
    if form.value("status"):
        qs = qs.filter(status=form.value("status"))
    q = form.value("q")
    if q:
        qs = qs.filter(
            Q(slug__icontains=q)
            | Q(pot__name__icontains=q)
            | Q(grant__title__icontains=q)
            | Q(call__title__icontains=q)
        )
    table = _application_table(with_granted(qs)).order_by("-created_at", "-id")
    return render(
        request,
        "applications/portal/applications.html",
        {"form": form, "applications": _page(request, table, counted=qs)},
    )


@login_required
def decisions(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = DecisionFilterForm(request.GET, organisations=_organisations(user))
    qs = _own_requisitions(user)
    if form.value("organisation"):
        qs = qs.filter(organisation_id=form.value("organisation"))
    if form.value("status"):
        qs = qs.filter(status=form.value("status"))
    q = form.value("q")
    if q:
        qs = qs.filter(Q(pot__name__icontains=q) | Q(run__grant__title__icontains=q))
    return render(
        request,
        "applications/portal/decisions.html",
        {"form": form, "decisions": _decision_page(request, qs)},
    )


# ---------------------------------------------------------------- calls


def _call_facts(call: Call) -> dict:
    """What a provider must know before applying: rule, tiers, amount and the live rate."""
    pot = call.pot
    model = pot.model or {}
    facts = {
        "kind": pot.model_type,
        "unit_based": pot.model_type in services.UNIT_BASED,
        "rule": rule_text(model.get("eligible"), municipality=pot.grant.recipient),
        "measure": services.pot_measure(pot),
        "pot_amount": services.pot_amount(pot),
        "tiers": [
            {**tier, "unit_type_label": unit_type_label(tier["unit_type"])}
            for tier in model.get("tiers", ())
        ],
    }
    if facts["measure"]:
        facts["rate"], facts["applied"] = services.indicative_rate(call)
    return facts


@login_required
def call(request: HttpRequest, pk: int) -> HttpResponse:
    user, today = request.user, _today()
    call = permissions.get_call_for(user, pk)
    agreement = call.pot.grant.agreement
    orgs = list(_organisations(user))
    existing, elsewhere = {}, {}
    # Applications to the same pot made outside this call (imported, or an earlier call).
    mine = with_granted(_own_applications(user))
    for app in mine.filter(pot_id=call.pot_id, status__in=ACTIVE).order_by("id"):
        if app.call_id == call.pk:
            existing[app.organisation_id] = app
        else:
            elsewhere.setdefault(app.organisation_id, []).append(app)
    unit_counts = dict.fromkeys((o.pk for o in orgs), 0)
    for org_id in GrantUnit.objects.filter(
        grant_id=call.pot.grant_id, organisation_id__in=unit_counts
    ).values_list("organisation_id", flat=True):
        unit_counts[org_id] += 1
    applicants = [
        {
            "organisation": org,
            "application": existing.get(org.pk),
            "elsewhere": elsewhere.get(org.pk, []),
            "may_apply": permissions.can_apply(user, call, org, today),
            "units": unit_counts[org.pk],
        }
        for org in orgs
    ]
    context = {
        "call": call,
        "agreement": agreement,
        "uses": agreement.permitted_uses.all(),
        "facts": _call_facts(call),
        "applicants": applicants,
        "is_open": call.is_open(today),
        "today": today,
    }
    return render(request, "applications/portal/call.html", context)


@login_required
@require_POST
def apply(request: HttpRequest, pk: int) -> HttpResponse:
    user, today = request.user, _today()
    call = permissions.get_call_for(user, pk)
    form = StartApplicationForm(request.POST, organisations=_organisations(user))
    if not form.is_valid():
        messages.error(request, _("Choose one of your organisations."))
        return redirect("portal:call", pk=call.pk)
    org = permissions.get_organisation_for(user, form.cleaned_data["organisation"])
    decision = permissions.can_apply(user, call, org, today)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("portal:call", pk=call.pk)
    try:
        app = services.start_application(call=call, organisation=org, actor=user, today=today)
    except WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect("portal:call", pk=call.pk)
    if app.status == ApplicationStatus.DRAFT:
        return redirect("portal:application_edit", pk=app.pk)
    return redirect("portal:application", pk=app.pk)


# ---------------------------------------------------------------- applications


def _unit_rows(app: Application) -> list[dict]:
    """The application's units with the figures it gives and, once sent, why any fails."""
    rows = []
    for link in app.applicationunit_set.select_related("grant_unit__unit").order_by("position"):
        gu = link.grant_unit
        reason = app.unit_reasons.get(gu.unit.slug)
        rows.append(
            {
                "slug": gu.unit.slug,
                "name": gu.unit.name,
                "type": unit_type_label(gu.type),
                "places": gu.places if link.places is None else link.places,
                "customers": gu.customers if link.customers is None else link.customers,
                "corrected": link.places is not None or link.customers is not None,
                "reason": reason_text(reason["code"], reason["details"]) if reason else "",
            }
        )
    return rows


def _history(request: HttpRequest, *objects) -> Page:
    """The audit entries of the given objects (model instances), oldest first."""
    match = Q(pk__in=[])
    for obj in objects:
        match |= Q(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    entries = AuditEntry.objects.filter(match).order_by("at", "id")
    return _page(request, entries, param="hp", per_page=PER_PAGE)


@login_required
def application(request: HttpRequest, pk: int) -> HttpResponse:
    user, today = request.user, _today()
    app = permissions.get_application_for(user, pk)
    app.granted = app.is_granted()
    context = {
        "app": app,
        "units": _unit_rows(app),
        "uses": app.uses.all(),
        "unit_based": app.pot.model_type in services.UNIT_BASED,
        "show_eligibility": app.status != ApplicationStatus.DRAFT,
        "may_edit": permissions.can_edit_application(user, app, today),
        "may_withdraw": permissions.can_withdraw_application(user, app),
        "call_closed": app.call is not None and today > app.call.closes_on,
        "decisions": permissions.requisitions_for(user)
        .filter(pot_id=app.pot_id, organisation_id=app.organisation_id)
        .select_related("run")
        .order_by("-run__decided_on", "-id"),
        "history": _history(request, app),
    }
    return render(request, "applications/portal/application.html", context)


# What the application form reads of the application and its parents (the permission check,
# the page's head, the form, the units on offer); the rest of their 70 columns is not read.
# tests/test_portal.py counts the page's queries: a field read but not named here adds one.
APPLICATION_FORM_FIELDS = (
    *("slug", "status", "organisation", "grant", "pot", "call", "intended_use"),
    *("requested_amount", "contact_name", "contact_email", "contact_phone"),
    *("payment_method", "payment_account", "will_report", "facts_declared_at"),
    *("organisation__name", "grant__title", "grant__agreement", "grant__recipient"),
    *("pot__grant", "pot__name", "pot__model", "call__title", "call__closes_on"),
)


@login_required
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user, today = request.user, _today()
    app = permissions.get_own_application_for(user, pk, only=APPLICATION_FORM_FIELDS)
    decision = permissions.can_edit_application(user, app, today)
    if not decision:
        messages.warning(request, decision.reason)
        return redirect("portal:application", pk=app.pk)
    unit_based = app.pot.model_type in services.UNIT_BASED
    grant_units, new_units = [], []
    # The application's units, read once for the offer below and the form; in their order
    # within the application, without the model's joins to order the applications.
    links = list(ApplicationUnit.objects.filter(application_id=app.pk).order_by("position"))
    if unit_based:
        # Only the applicant's own units of this grant can be chosen, and its registered
        # units that are new in the grant (see `applications.units`).
        grant_units = grant_units_offered_to(app)
        new_units = units_new_to_grant(app)
        grant_units, new_units, unavailable = offered_units(app, grant_units, new_units, links)
    else:
        unavailable = []
    form = ApplicationForm(
        request.POST or None,
        app=app,
        links=links,
        grant_units=grant_units,
        new_units=new_units,
        unavailable=unavailable,
        unconfirmed=unconfirmed_grant_units(grant_units),
        # The model's order within the one agreement, without joining it.
        uses=list(
            PermittedUse.objects.filter(agreement_id=app.grant.agreement_id).order_by(
                "position", "id"
            )
        ),
        needs_amount=app.pot.model_type == "approved_amounts",
    )
    if request.method == "POST" and form.is_valid():
        try:
            save_draft_with_new_units(
                app=app, actor=user, new_units=form.new_unit_choices(), **form.draft_fields()
            )
        except WorkflowError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The draft is saved."))
            if "review" in request.POST:
                return redirect("portal:application_review", pk=app.pk)
            return redirect("portal:application_edit", pk=app.pk)
    context = {
        "app": app,
        "form": form,
        "unit_based": unit_based,
        "rule": rule_text(
            (app.pot.model or {}).get("eligible"),
            # The pot's grant is the application's, read with it.
            municipality=(
                app.grant if app.grant_id == app.pot.grant_id else app.pot.grant
            ).recipient,
        ),
    }
    return render(request, "applications/portal/application_form.html", context)


@login_required
def application_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The last look before sending: which units the rule takes, what is missing; then submit."""
    user, today = request.user, _today()
    app = permissions.get_application_for(user, pk)
    if request.method == "POST":
        decision = permissions.can_submit_application(user, app, today)
        if not decision:
            messages.error(request, decision.reason)
            return redirect("portal:application_review", pk=app.pk)
        try:
            services.submit_application(app=app, actor=user, today=today)
        except WorkflowError as exc:
            messages.error(request, str(exc))
            return redirect("portal:application_review", pk=app.pk)
        messages.success(request, _("The application is sent. A confirmation goes by e-mail."))
        return redirect("portal:application", pk=app.pk)
    if app.status != ApplicationStatus.DRAFT:
        return redirect("portal:application", pk=app.pk)
    names = {}
    units = _unit_rows(app)
    for row in units:
        names[row["slug"]] = row
    for slug, reason in services.eligibility_preview(app).items():
        if reason is not None and slug in names:
            names[slug]["reason"] = reason_text(*reason)
    context = {
        "app": app,
        "units": units,
        "uses": app.uses.all(),
        "unit_based": app.pot.model_type in services.UNIT_BASED,
        "problems": services.submission_problems(app),
        "may_submit": permissions.can_submit_application(user, app, today),
    }
    return render(request, "applications/portal/application_review.html", context)


@login_required
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    app = permissions.get_application_for(user, pk)
    decision = permissions.can_withdraw_application(user, app)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("portal:application", pk=app.pk)
    if request.method == "POST":
        try:
            services.withdraw_application(app=app, actor=user)
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("The application is withdrawn."))
        return redirect("portal:application", pk=app.pk)
    return render(request, "applications/portal/application_withdraw.html", {"app": app})


# ---------------------------------------------------------------- decisions and requisitions


def _basis(req: Requisition) -> dict:
    """How the amount was reached: per unit `quantity × rate` for a per-unit pot."""
    rows = (
        req.run.rows.filter(organisation_id=req.organisation_id, pot_id=req.pot_id)
        .exclude(unit=None)
        .select_related("unit")
        .order_by("unit__name", "id")
    )
    model = req.pot.model or {}
    tier_measures = {t["unit_type"]: t["measure"] for t in model.get("tiers", ())}
    result = PotResult.objects.filter(run_id=req.run_id, pot_id=req.pot_id).first()
    return {
        "rows": [
            {
                "unit": row.unit.name,
                "quantity": row.quantity,
                "measure": model.get("measure") or tier_measures.get(row.unit.type, "places"),
                "amount": row.amount,
            }
            for row in rows
        ],
        "rate": result.rate if result and req.pot.model_type == "per_unit" else None,
        "kind": req.pot.model_type,
    }


def _payment_initial(user, req: Requisition) -> dict:
    """The account the organisation gave when it applied to the pot, as a starting point."""
    app = (
        _own_applications(user)
        .filter(organisation_id=req.organisation_id, pot_id=req.pot_id)
        .exclude(payment_account="")
        .order_by("-submitted_at", "-id")
        .first()
    )
    if app is None:
        return {}
    return {"payment_method": app.payment_method, "payment_account": app.payment_account}


@login_required
def requisition(request: HttpRequest, pk: int) -> HttpResponse:
    """The decision for one organisation and pot, and its answer: requisition or decline."""
    user = request.user
    req = permissions.get_requisition_for(user, pk)
    answer = permissions.can_answer_requisition(user, req)
    agreement = req.run.grant.agreement
    uses = list(PermittedUse.objects.filter(agreement_id=agreement.pk))
    accept_form = RequisitionAcceptForm(req=req, uses=uses, initial=_payment_initial(user, req))
    decline_form = RequisitionDeclineForm()
    if request.method == "POST":
        if not answer:
            messages.error(request, answer.reason)
            return redirect("portal:requisition", pk=req.pk)
        action = request.POST.get("action")
        if action == "accept":
            accept_form = RequisitionAcceptForm(request.POST, req=req, uses=uses)
            if accept_form.is_valid():
                try:
                    services.accept_requisition(
                        req=req,
                        payment_method=accept_form.cleaned_data["payment_method"],
                        payment_account=accept_form.cleaned_data["payment_account"],
                        lines=accept_form.lines(),
                        actor=user,
                    )
                except WorkflowError as exc:
                    accept_form.add_error(None, str(exc))
                else:
                    messages.success(request, _("The money is requisitioned."))
                    return redirect("portal:requisition", pk=req.pk)
        elif action == "decline":
            decline_form = RequisitionDeclineForm(request.POST)
            if decline_form.is_valid():
                try:
                    services.decline_requisition(
                        req=req, reason=decline_form.cleaned_data["decline_reason"], actor=user
                    )
                except WorkflowError as exc:
                    decline_form.add_error(None, str(exc))
                else:
                    messages.success(request, _("You have declined the money."))
                    return redirect("portal:requisition", pk=req.pk)
        else:
            return redirect("portal:requisition", pk=req.pk)
    payments = list(req.payments.order_by("paid_on", "id"))
    claims = list(
        services.with_repaid(req.claims.all())
        .annotate(left=F("amount") - F("repaid_sum"))
        .order_by("created_at", "id")
    )
    for claim in claims:
        claim.overdue = claim.is_overdue(timezone.localdate())
    report = UsageReport.objects.filter(requisition=req).first()
    context = {
        "req": req,
        "agreement": agreement,
        "uses": uses,
        "basis": _basis(req),
        "may_answer": answer,
        "accept_form": accept_form,
        "decline_form": decline_form,
        "lines": req.lines.select_related("use").order_by("use__position", "use_id"),
        "payments": payments,
        "paid": sum(p.amount for p in payments),
        "claims": claims,
        "report": report,
        "history": _history(request, req, *payments, *claims, *([report] if report else [])),
    }
    return render(request, "applications/portal/requisition.html", context)


# ---------------------------------------------------------------- usage reports


@login_required
def report(request: HttpRequest, pk: int) -> HttpResponse:
    """The usage report of a requisition (återrapportering); what is unspent is computed."""
    user = request.user
    req = permissions.get_requisition_for(user, pk)
    if req.status != RequisitionStatus.ACCEPTED:
        messages.info(request, _("A usage report is made once the money is requisitioned."))
        return redirect("portal:requisition", pk=req.pk)
    report = UsageReport.objects.filter(requisition=req).first()
    if report is None:
        editable = (
            permissions.ALLOWED
            if permissions.acts_for(user, req.organisation_id)
            else permissions.deny(_("You do not act for this organisation."))
        )
    else:
        editable = permissions.can_edit_report(user, report)
    uses = list(PermittedUse.objects.filter(agreement_id=req.run.grant.agreement_id))
    paid = services.paid_total(req)
    if request.method == "POST":
        if not editable:
            messages.error(request, editable.reason)
            return redirect("portal:report", pk=req.pk)
        submitting = "submit" in request.POST
        form = UsageReportForm(request.POST, uses=uses, paid=paid, submitting=submitting)
        if form.is_valid():
            report = services.report_for(req)
            try:
                services.save_report(
                    report=report,
                    lines=form.lines(),
                    achievements=form.cleaned_data["achievements"].strip(),
                    benefit=form.cleaned_data["benefit"].strip(),
                    actor=user,
                )
                if submitting:
                    services.submit_report(report=report, actor=user)
            except WorkflowError as exc:
                form.add_error(None, str(exc))
            else:
                if submitting:
                    messages.success(request, _("The usage report is submitted."))
                else:
                    messages.success(request, _("The usage report is saved."))
                return redirect("portal:report", pk=req.pk)
    else:
        initial = {}
        if report is not None:
            initial = {"achievements": report.achievements, "benefit": report.benefit}
            for line in report.lines.select_related("use"):
                initial[use_field_name(line.use)] = line.amount
        form = UsageReportForm(initial=initial, uses=uses, paid=paid)
    used = services.used_total(report) if report is not None else 0
    planned = {line.use_id: line.amount for line in req.lines.all()}
    saved = {line.use_id: line.amount for line in report.lines.all()} if report else {}
    context = {
        "req": req,
        "report": report,
        "form": form,
        "editable": editable,
        "paid": paid,
        "used": used,
        "unspent": services.unspent(report) if report is not None else paid,
        "rows": [
            {
                "use": use,
                "field": form[use_field_name(use)],
                "planned": planned.get(use.pk),
                "saved": saved.get(use.pk),
            }
            for use in uses
        ],
        "agreement": req.run.grant.agreement,
        "history": _history(request, report) if report is not None else [],
        "attachments": list(report.attachments.all()) if report is not None else [],
        "attachment_form": AttachmentForm() if editable else None,
    }
    return render(request, "applications/portal/report.html", context)


@login_required
@require_POST
def attachment_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Attach a file to the requisition's usage report (made now if not yet started)."""
    req = permissions.get_requisition_for(request.user, pk)
    if req.status != RequisitionStatus.ACCEPTED or not permissions.acts_for(
        request.user, req.organisation_id
    ):
        messages.error(request, _("You do not act for this organisation."))
        return redirect("portal:report", pk=req.pk)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            attachment = services.add_attachment(
                report=services.report_for(req),
                name=upload.name,
                content=upload,
                actor=request.user,
            )
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("%(name)s is attached.") % {"name": attachment.name})
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("portal:report", pk=req.pk)


@login_required
def attachment(request: HttpRequest, pk: int) -> HttpResponse:
    """An attachment's file, for the reporting organisation's users and officials only."""
    found = permissions.get_attachment_for(request.user, pk)
    if not found.file.storage.exists(found.file.name):
        raise Http404
    content_type = uploads.KINDS.get(found.kind, ("application/octet-stream",))[0]
    return FileResponse(
        found.file.open("rb"), as_attachment=True, filename=found.name, content_type=content_type
    )


@login_required
@require_POST
def attachment_remove(request: HttpRequest, pk: int) -> HttpResponse:
    found = permissions.get_attachment_for(request.user, pk)
    req_pk = found.report.requisition_id
    if not permissions.acts_for(request.user, found.report.requisition.organisation_id):
        messages.error(request, _("You do not act for this organisation."))
        return redirect("portal:report", pk=req_pk)
    try:
        services.remove_attachment(attachment=found, actor=request.user)
    except WorkflowError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(name)s is removed.") % {"name": found.name})
    return redirect("portal:report", pk=req_pk)
