"""Officials' pages: grants and their dashboards, documents and exports, the roadmap.

And what a provider may have here: its own decision letter and its own figures.
"""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from allocations.jobs import JobRefused
from allocations.models import AllocationRun, AuditEntry, Grant, Job, JobPart, JobStatus
from allocations.tables import ImportRefused
from applications import permissions as workflow_permissions

from . import dashboard, delegation, pdf, roadmap, services
from .access import (
    get_grant_for,
    get_letter_for,
    get_organisation_for,
    official_required,
)
from .documents import RenderError, runs_of
from .forms import (
    DatasetImportForm,
    DecisionTextForm,
    ExportForm,
    NeedTagForm,
    PeriodForm,
    UnitImportForm,
)
from .formulas import DEFAULT_DELIMITER, DELIMITERS
from .imports import import_dataset, import_units
from .models import DecisionText, JobKind, Roadmap
from .registry import RegistryExporter
from .registry import entries as entries_of
from .texts import TEXT_FIELDS, save_texts
from .workflow_exports import UsageExporter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@official_required
def grant_list(request: HttpRequest) -> HttpResponse:
    grants = Grant.objects.select_related("agreement").order_by("-agreement__year", "slug")
    rows = [(g, runs_of(g).order_by("-number").first()) for g in grants]
    return render(request, "reporting/grant_list.html", {"rows": rows})


@official_required
def grant_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    grant = get_grant_for(request.user, slug)
    if request.method == "POST" and request.POST.get("action") == "check-books":
        check = services.check_books(grant=grant, actor=request.user)
        if check.balanced:
            messages.success(request, _("The books are checked now: they balance."))
        else:
            messages.error(request, _("The books are checked now: they do not balance."))
        return redirect("reporting:dashboard", slug=grant.slug)
    # The books' check as kept, checked again first if anything changed since; the figures
    # from the cache unless something changed since they were kept (`dashboard.figures_key`).
    check = services.current_books_check(grant)
    context = {
        "grant": grant,
        "check": check,
        "problems": check.texts(),
        "check_minutes": services.books_check_minutes(),
        "figures": dashboard.figures(grant, check),
    }
    return render(request, "reporting/dashboard.html", context)


@official_required
def grant_documents(request: HttpRequest, slug: str) -> HttpResponse:
    grant = get_grant_for(request.user, slug)
    form = ExportForm(grant)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == JobKind.DECISION_REPORT:
                job = services.request_job(kind=action, grant=grant, user=request.user)
                return redirect("allocations:job", pk=job.pk)
            if action == JobKind.LETTERS:
                run = letters_run(grant, request.POST.get("run"))
                job = services.request_job(kind=action, grant=grant, run=run, user=request.user)
                return redirect("allocations:job", pk=job.pk)
            if action == JobKind.EXPORT:
                form = ExportForm(grant, request.POST)
                if form.is_valid():
                    job = services.request_job(
                        kind=JobKind.EXPORT, grant=grant, params=form.params(), user=request.user
                    )
                    return redirect("allocations:job", pk=job.pk)
        except JobRefused as exc:  # a document refused, or no queue for background work
            messages.error(request, str(exc))
    jobs = Job.objects.filter(grant=grant).select_related("run")[:20]
    texts_url = reverse("reporting:texts", args=[grant.slug])
    decided = grant.runs.decided().with_round_numbers().select_related("redistributes")
    return render(
        request,
        "reporting/documents.html",
        {
            "grant": grant,
            "form": form,
            "jobs": jobs,
            "texts_url": texts_url,
            "decided_runs": decided.order_by("-number"),
            "letters_default": runs_of(grant).decided().order_by("-number").first(),
        },
    )


@official_required
def decision_texts(request: HttpRequest, slug: str) -> HttpResponse:
    """The grant's decision texts: what the report and the letters say around their figures.

    Decided runs keep the texts they were decided with (`reporting.texts`).
    """
    grant = get_grant_for(request.user, slug)
    text = DecisionText.objects.filter(grant=grant).first() or DecisionText(grant=grant)
    form = DecisionTextForm(request.POST if request.method == "POST" else None, instance=text)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in TEXT_FIELDS}
        try:
            save_texts(grant=grant, values=values, actor=request.user)
        except ValidationError as exc:  # a race with another edit; say so, change nothing
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The decision texts are saved."))
            return redirect("reporting:texts", grant.slug)
    entries = AuditEntry.objects.filter(grant=grant, action="decision_texts_changed")
    changes = [
        (entry, [DecisionText._meta.get_field(name).verbose_name for name in entry.after or {}])
        for entry in entries.order_by("-at", "-pk")[:10]
    ]
    decided = grant.runs.decided().with_round_numbers().select_related("redistributes")
    return render(
        request,
        "reporting/decision_texts.html",
        {
            "grant": grant,
            "form": form,
            "changes": changes,
            "decided_runs": decided.order_by("-number"),
        },
    )


def letters_run(grant: Grant, value: str | None) -> AllocationRun | None:
    """The decided run (first decision or redistribution round) whose letters are asked for.

    None without a choice: the latest decided allocation of the whole grant.
    """
    if not value:
        return None
    run = grant.runs.decided().filter(pk=value).first() if value.isdigit() else None
    if run is None:
        raise RenderError(_("Choose one of the grant's decided runs."))
    return run


@official_required
def followup(request: HttpRequest) -> HttpResponse:
    roadmaps = list(Roadmap.objects.all())
    chosen = next((r for r in roadmaps if r.slug == request.GET.get("roadmap")), None)
    chosen = chosen or (roadmaps[0] if roadmaps else None)
    year = request.GET.get("year")
    report = None
    if chosen is not None:
        report = roadmap.followup(chosen, year=int(year) if year and year.isdigit() else None)
    years = sorted(set(Grant.objects.values_list("agreement__year", flat=True)), reverse=True)
    return render(
        request,
        "reporting/followup.html",
        {"roadmaps": roadmaps, "report": report, "years": years},
    )


@official_required
def delegation_report(request: HttpRequest) -> HttpResponse:
    """Decisions taken under delegation in a period, on the page and as PDF or xlsx."""
    today = timezone.localdate()
    form = PeriodForm(request.GET or {"start": today.replace(day=1), "end": today})
    decisions = None
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        fmt = request.GET.get("format")
        if fmt == "pdf":
            response = HttpResponse(delegation.report_pdf(start, end), "application/pdf")
        elif fmt == "xlsx":
            buffer = io.BytesIO()
            delegation.write_report_xlsx(start, end, buffer)
            response = HttpResponse(buffer.getvalue(), XLSX_TYPE)
        else:
            decisions = delegation.delegated_decisions(start, end)
            return render(
                request,
                "reporting/delegation.html",
                {"form": form, "decisions": decisions, "query": request.GET.urlencode()},
            )
        name = delegation.filename(start, end, fmt)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return render(request, "reporting/delegation.html", {"form": form, "decisions": decisions})


@official_required
def registry(request: HttpRequest, slug: str) -> HttpResponse:
    """A grant's registry extract (diarieutdrag) on the page, and as xlsx or CSV."""
    grant = get_grant_for(request.user, slug)
    fmt = request.GET.get("format")
    if fmt in ("xlsx", "csv"):
        exporter = RegistryExporter(grant)
        delimiter = request.GET.get("delimiter")
        buffer = io.BytesIO()
        exporter.write(
            fmt, buffer, delimiter=delimiter if delimiter in DELIMITERS else DEFAULT_DELIMITER
        )
        types = {"xlsx": XLSX_TYPE, "csv": "text/csv; charset=utf-8"}
        response = HttpResponse(buffer.getvalue(), content_type=types[fmt])
        response["Content-Disposition"] = f'attachment; filename="{exporter.filename(fmt)}"'
        return response
    return render(
        request, "reporting/registry.html", {"grant": grant, "entries": entries_of(grant)}
    )


@official_required
def tag_needs(request: HttpRequest, slug: str) -> HttpResponse:
    grant = get_grant_for(request.user, slug)
    form = NeedTagForm(grant, request.POST or None)
    if request.method == "POST" and form.is_valid():
        for pot, field in form.pot_fields():
            services.tag_pot(pot=pot, codes=form.cleaned_data[field.name], actor=request.user)
        for use, field in form.use_fields():
            services.tag_use(
                use=use, needs=form.needs(form.cleaned_data[field.name]), actor=request.user
            )
        messages.success(request, _("The roadmap needs are saved."))
        return redirect("reporting:needs", slug=grant.slug)
    return render(request, "reporting/needs.html", {"grant": grant, "form": form})


@official_required
def unit_import(request: HttpRequest) -> HttpResponse:
    form = UnitImportForm(request.POST or None, request.FILES or None)
    refused = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            counts = import_units(upload.read(), upload.name, actor=request.user)
        except ImportRefused as exc:
            refused = exc
        else:
            messages.success(
                request,
                _("Units: %(created)s added, %(updated)s updated, %(unchanged)s unchanged.")
                % counts,
            )
            return redirect("reporting:import-units")
    return render(request, "reporting/import.html", {"form": form, "refused": refused})


@official_required
def dataset_import(request: HttpRequest, slug: str) -> HttpResponse:
    grant = get_grant_for(request.user, slug)
    form = DatasetImportForm(request.POST or None, request.FILES or None)
    refused = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dataset = import_dataset(
                grant,
                data["file"].read(),
                data["file"].name,
                slug=data["dataset"],
                label=data["label"],
                source=data["source"],
                reference_date=data["reference_date"],
                replace=data["replace"],
                actor=request.user,
            )
        except ImportRefused as exc:
            refused = exc
        else:
            messages.success(
                request,
                _("Dataset %(id)s imported: %(count)s values.")
                % {"id": dataset.slug, "count": dataset.values.count()},
            )
            return redirect("reporting:dashboard", slug=grant.slug)
    return render(
        request, "reporting/import.html", {"form": form, "refused": refused, "grant": grant}
    )


@login_required
def provider_letter(request: HttpRequest, run_id: int, org_slug: str) -> HttpResponse:
    """An organisation's decision letter of a decided run, for its own users (and officials).

    The letter a batch already rendered is served as it was sent; otherwise it is
    rendered now, which takes about a second for one letter.
    """
    run, organisation = get_letter_for(request.user, run_id, org_slug)
    name = f"{run.grant.slug}-run-{run.number}-beslut-{organisation.slug}.pdf"
    part = (
        JobPart.objects.filter(
            job__run=run,
            job__kind=JobKind.LETTERS,
            job__status=JobStatus.DONE,
            organisation=organisation,
            done=True,
        )
        .exclude(file="")
        .order_by("-job__finished_at", "-job_id")
        .first()
    )
    if part is not None and part.file.storage.exists(part.file.name):
        return FileResponse(part.file.open("rb"), as_attachment=True, filename=name)
    try:
        (data,) = pdf.render_letters(run, [organisation.pk])
    except RenderError as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def claim_letter(request: HttpRequest, pk: int) -> HttpResponse:
    """A claim's letter (återkrav), for the claimed organisation's users and officials."""
    claim = workflow_permissions.get_claim_for(request.user, pk)
    if not claim.payment_reference:
        raise Http404  # money taken back, never paid out: there is nothing to pay
    try:
        data = pdf.render_claim_letter(claim)
    except RenderError as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    name = f"{claim.requisition.run.grant.slug}-aterkrav-{claim.pk}.pdf"
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def provider_usage(request: HttpRequest, slug: str, org_slug: str, fmt: str) -> HttpResponse:
    """An organisation's requisitions, payments, usage and repayments of a grant, as xlsx or CSV."""
    types = {"xlsx": XLSX_TYPE, "csv": "text/csv; charset=utf-8"}
    if fmt not in types:
        raise Http404
    organisation = get_organisation_for(request.user, org_slug)
    grant = get_object_or_404(Grant, slug=slug)
    try:
        exporter = UsageExporter(grant, {"organisation": organisation.slug})
    except RenderError:
        raise Http404 from None  # nothing decided yet
    if not exporter.requisitions().exists():
        raise Http404
    buffer = io.BytesIO()
    delimiter = request.GET.get("delimiter")
    exporter.write(
        fmt, buffer, delimiter=delimiter if delimiter in DELIMITERS else DEFAULT_DELIMITER
    )
    response = HttpResponse(buffer.getvalue(), content_type=types[fmt])
    response["Content-Disposition"] = f'attachment; filename="{exporter.filename(fmt)}"'
    return response
