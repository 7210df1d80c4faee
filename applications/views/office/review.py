"""Reviewing applications: the list of a call or pot, one application, the verdict."""

from __future__ import annotations

from html import escape  # as Django's `escape` writes it, without the lazy-string wrapper

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from allocations.models import AllocationRun, Pot
from allocations.templatetags.money import digits, kronor
from allocations.wording import format_number, reason_text

from ... import permissions, review_figures, services, units
from ...forms.office import (
    BulkReviewForm,
    LocationForm,
    ReviewFilterForm,
    ReviewForm,
)
from ...models import (
    Application,
    ApplicationStatus,
    Call,
)
from ...services import WorkflowError
from ...units import unconfirmed_grant_units
from .common import audit_history, official_required, paginate

# What the list of a call reads of the call, its pot and its grant: their other columns (the
# grant has fifteen) cost a few hundred calls to select and load on every view.
CALL_SHOWN = (
    "title",
    "instructions",
    "opens_on",
    "closes_on",
    "pot__name",
    "pot__model",
    "pot__grant__title",
)


@official_required
def call_review(request, pk):
    call = permissions.get_call_for_official(request.user, pk, only=CALL_SHOWN)
    apps = permissions.applications_for(request.user).filter(call=call)
    return _review_page(request, call.pot, apps, call)


@official_required
def pot_review(request, pk):
    pot = permissions.get_pot_for_official(request.user, pk)
    apps = permissions.applications_for(request.user).filter(pot=pot)
    return _review_page(request, pot, apps, None)


def _review_page(request, pot: Pot, apps, call: Call | None):
    """Every application in one list, with the same number of queries for 10 or 10 000.

    The counts and sums per status are the kept review figures (`applications.review_figures`,
    made by the database in the transaction of every change), the verdicts the stored ones
    on each application's units (made by the services that change them, never here); only
    the page's own rows are read.
    """
    form = ReviewFilterForm(
        request.GET, organisations=review_figures.organisations(pot, call, apps)
    )
    data = form.values()
    if "organisation" in data:
        apps = apps.filter(organisation=data["organisation"])
    unit_based = pot.model_type in services.UNIT_BASED
    flagged = None
    if data.get("eligibility") == ReviewFilterForm.INELIGIBLE:
        apps, flagged = apps.filter(review_figures.FLAGGED), True
    elif data.get("eligibility") == ReviewFilterForm.ELIGIBLE:
        apps, flagged = apps.exclude(review_figures.FLAGGED), False

    # The summary covers every status, so that it also says what the status filter would give.
    summary = {value: _summary_row(value, label) for value, label in ApplicationStatus.choices}
    total = _summary_row("", _("all"))
    figures = review_figures.per_status(
        pot, call, apps, organisation=data.get("organisation"), flagged=flagged
    )
    for status, values in figures.items():
        for row in (summary[status], total):
            for key in ("count", "requested", "granted"):
                row[key] += values[key]
            if unit_based:
                for key in ("measure", "eligible"):
                    row[key] += values[key]

    if "status" in data:
        apps = apps.filter(status=data["status"])
    # The list's length is in the summary already: the paginator need not count it again.
    listed = summary[data["status"]]["count"] if "status" in data else total["count"]
    page = paginate(
        request,
        # Only what `_RowWriter` writes, as named tuples: the page builds no model instances.
        apps.order_by("organisation__name", "slug", "pk").values_list(
            *_RowWriter.COLUMNS, named=True
        ),
        count=listed,
    )
    page.object_list = on_page = list(page.object_list)  # read once, not item by item
    # The page's units, found through its applications (not the bare ids: given those,
    # PostgreSQL hashed every unit of the grant instead of a nested loop over the fifty).
    page_apps = Application.objects.filter(pk__any=[app.pk for app in on_page])
    screened = services.screen_applications(pot, page_apps) if unit_based else {}
    unconfirmed = unconfirmed_grant_units(
        [u.grant_unit_id for found in screened.values() for u in found]
    )
    # Asked of the runs by the grant's id: through `pot.grant.runs` the related manager cost
    # a hundred calls more.
    bulk = not AllocationRun.objects.filter(
        grant_id=pot.grant_id, decided_on__isnull=False, redistributes=None
    ).exists()
    measure = services.pot_measure(pot)
    amounts = pot.model_type == "approved_amounts"
    writer = _RowWriter(bulk=bulk, unit_based=unit_based, measure=measure, amounts=amounts)
    worded = {}  # a pot's rule gives few reasons: each is put in words once a page

    def words(reason) -> str:
        key = repr(reason)  # a code and a dict of details: not hashable as it is
        if key not in worded:
            worded[key] = reason_text(*reason)
        return worded[key]

    rows = []
    for app in on_page:
        units = screened.get(app.pk, [])
        row = {
            "app": app,
            "units": units,
            "reasons": [(u.name, words(u.reason)) for u in units if u.reason],
            "unconfirmed": [u.name for u in units if u.grant_unit_id in unconfirmed],
            "measure": sum(u.measure for u in units),
            "eligible": sum(u.measure for u in units if u.reason is None),
        }
        row["html"] = writer.html(row)
        rows.append(row)
    summary_rows = [row for row in summary.values() if row["count"]] + [total]
    # An amount set in review is recommended (tillstyrkt) until a decision grants it.
    decided = not bulk
    context = {
        "pot": pot,
        "grant": pot.grant,
        "call": call,
        "form": form,
        "page": page,
        "rows": rows,
        # The rows written out in one piece: a template loop over fifty costs ~50 calls a row.
        "rows_html": mark_safe("".join([row["html"] for row in rows])),  # escaped by _RowWriter
        "summary": summary_rows,
        "summary_html": _summary_html(
            request, summary_rows, measures=bool(unit_based and measure), amounts=amounts
        ),
        "measure": measure,
        "unit_based": unit_based,
        "amounts": amounts,
        "today": timezone.localdate(),
        # Ticking rows to review them together, until the grant is decided.
        "decided": decided,
        "bulk_form": None if decided else BulkReviewForm(),
    }
    return render(request, "applications/office/review.html", context)


class _RowWriter:
    """Each application's row of the list, written here rather than by the template: fifty
    rows of a dozen cells cost the template engine some 900 calls a row. What is the same on
    every row (the link's pattern, the words) is made once per page."""

    PK = 987654321  # stands for the application's id in the link, replaced on each row
    # The columns `html` reads (and the filters' tests: an application's organisation).
    COLUMNS = (
        "pk",
        "slug",
        "organisation_id",
        "status",
        "status_reason",
        "requested_amount",
        "granted_amount",
        "submitted_at",
        "organisation__name",
    )

    def __init__(self, *, bulk: bool, unit_based: bool, measure, amounts: bool):
        self.bulk, self.unit_based, self.measure, self.amounts = bulk, unit_based, measure, amounts
        self.link = escape(reverse("office:application", args=[self.PK])).replace(
            str(self.PK), "{pk}"
        )
        self.tick = _("Tick %(slug)s")
        self.new = escape(_("new in this grant — location not confirmed"))
        self.statuses = {value: escape(str(label)) for value, label in ApplicationStatus.choices}
        self.zone = timezone.get_current_timezone()

    def html(self, row: dict) -> str:
        """The row's markup, every value in it escaped (marked safe once, with the others)."""
        app = row["app"]
        cells = []
        if self.bulk:
            cells.append(
                '<td><input type="checkbox" class="form-check-input" name="applications" '
                f'value="{app.pk}" form="bulk-review" '
                f'aria-label="{escape(self.tick % {"slug": app.slug})}"></td>'
            )
        cells.append(
            f'<td><a href="{self.link.format(pk=app.pk)}">{escape(app.slug)}</a></td>'
            f"<td>{escape(app.organisation__name)}</td>"
        )
        reason = app.status_reason
        cells.append(
            f"<td>{self.statuses.get(app.status) or escape(app.status)}"
            + (f'<div class="small text-muted">{escape(reason)}</div>' if reason else "")
            + "</td>"
        )
        if self.unit_based:
            notes = "".join(
                f'<div class="small text-danger">{escape(name)}: {escape(text)}</div>'
                for name, text in row["reasons"]
            ) + "".join(
                f'<div class="small"><span class="badge text-bg-warning">{self.new}</span> '
                f"{escape(name)}</div>"
                for name in row["unconfirmed"]
            )
            names = escape(", ".join(u.name for u in row["units"]))
            cells.append(f"<td>{names}{notes}</td>")
            if self.measure:
                cells.append(
                    f'<td class="text-end">{format_number(row["measure"], nbsp=True)}</td>'
                    f'<td class="text-end">{format_number(row["eligible"], nbsp=True)}</td>'
                )
        if self.amounts:
            cells.append(
                f'<td class="text-end">{escape(kronor(app.requested_amount))}</td>'
                f'<td class="text-end">{escape(kronor(app.granted_amount))}</td>'
            )
        # As `|date:"Y-m-d"` writes it: the local day (`localtime`, its zone looked up once).
        submitted = (
            app.submitted_at.astimezone(self.zone).date().isoformat() if app.submitted_at else ""
        )
        cells.append(f"<td>{submitted}</td>")
        return f"<tr>{''.join(cells)}</tr>"


def _summary_html(request, rows: list[dict], *, measures: bool, amounts: bool) -> SafeString:
    """The summary's rows, written here as the list's are: a handful of rows of filters and
    `{% querystring %}` cost the template engine some 1 200 calls. A status links to the list
    of that status, its first page, keeping the other filters (as `{% querystring status=…
    page=None %}` writes it)."""
    params = request.GET.copy()
    params.pop("page", None)
    html = []
    for row in rows:
        label = escape(capfirst(row["label"]))
        if row["status"]:
            params["status"] = row["status"]
            label = f'<a href="{escape("?" + params.urlencode())}">{label}</a>'
        cells = [f"<td>{label}</td>", f'<td class="text-end">{digits(row["count"])}</td>']
        if measures:
            cells.append(
                f'<td class="text-end">{digits(row["measure"])}</td>'
                f'<td class="text-end">{digits(row["eligible"])}</td>'
            )
        if amounts:
            cells.append(
                f'<td class="text-end">{escape(kronor(row["requested"]))}</td>'
                f'<td class="text-end">{escape(kronor(row["granted"]))}</td>'
            )
        bold = "" if row["status"] else ' class="fw-bold"'
        status = escape(row["status"] or "all")
        html.append(f'<tr{bold} data-status="{status}">{"".join(cells)}</tr>')
    return mark_safe("".join(html))  # every value escaped above


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


def _application_page(
    request,
    app: Application,
    form: ReviewForm | None = None,
    location: tuple[int, LocationForm] | None = None,
):
    app.granted = app.is_granted()
    units = services.screen_applications(app.pot, Application.objects.filter(pk=app.pk))
    review = permissions.can_review_application(request.user, app)
    screened = units.get(app.pk, [])
    # Units an application added to the grant, whose location the official confirms: offered
    # as the application states it (`services.verify_facts` verifies it).
    grant_units = [u.grant_unit_id for u in screened]
    unconfirmed = unconfirmed_grant_units(grant_units)
    locations = {}
    if review:
        for link in app.applicationunit_set.filter(grant_unit__in=unconfirmed).select_related(
            "grant_unit"
        ):
            locations[link.grant_unit_id] = LocationForm(
                stated=services.stated_facts(link), prefix=f"unit-{link.grant_unit_id}"
            )
        if location is not None:
            locations[location[0]] = location[1]
    if form is None and review:
        form = ReviewForm(
            pot=app.pot,
            initial={"reason": app.status_reason, "granted_amount": app.granted_amount},
        )
    context = {
        "app": app,
        "units": [
            (u, reason_text(*u.reason) if u.reason else "", locations.get(u.grant_unit_id))
            for u in screened
        ],
        "unconfirmed": unconfirmed,
        "measure": services.pot_measure(app.pot),
        "uses": app.uses.all(),
        "history": audit_history(("applications.application", [app.pk])),
        "form": form,
        "not_reviewable": review.reason,
        "back": _review_url(app),
    }
    return render(request, "applications/office/application.html", context)


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


@official_required
@require_POST
def confirm_location(request, pk, unit_pk):
    """Confirm where a unit new to the grant lies: one unit's verification of its facts."""
    app = permissions.get_application_for(request.user, pk)
    link = get_object_or_404(
        app.applicationunit_set.select_related("grant_unit__unit"), grant_unit=unit_pk
    )
    allowed = permissions.can_review_application(request.user, app)
    if not allowed:
        messages.error(request, allowed.reason)
        return redirect("office:application", app.pk)
    form = LocationForm(request.POST, prefix=f"unit-{unit_pk}")
    if form.is_valid():
        try:
            units.confirm_location(
                app=app,
                grant_unit=link.grant_unit,
                in_city=form.cleaned_data["in_city"],
                city_placed_share=form.share(),
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except WorkflowError as exc:
            for field, message in exc.problems:
                form.add_error(field, message)
            if not exc.problems:
                form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _(
                    "The location of %(unit)s is confirmed; what the application states of it "
                    "is verified."
                )
                % {"unit": link.grant_unit.unit.name},
            )
            return redirect("office:application", app.pk)
    return _application_page(request, app, location=(link.grant_unit_id, form))
