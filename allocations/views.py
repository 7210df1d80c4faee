from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from stimulans.roles import is_administrator, is_official, is_provider

from . import jobs
from .models import Job, JobStatus


@login_required
def home(request):
    """Everyone starts where their work is."""
    user = request.user
    if is_official(user):
        return redirect("office:start")
    if is_provider(user):
        return redirect("portal:start")
    if is_administrator(user):
        return redirect("admin:index")
    return redirect("portal:start")


# ---------------------------------------------------------------- stored jobs: one page for all


def get_job_for(user, pk: int) -> Job:
    """A job the user may see (see `jobs.may_see`); 403 for anyone else, whether or not the
    job exists, so that the status tells no one which jobs there are."""
    job = Job.objects.select_related("grant", "run").filter(pk=pk).first()
    if job is None and (is_official(user) or is_administrator(user)):
        raise Http404
    if job is None or not jobs.may_see(user, job):
        raise PermissionDenied(_("Only the one who asked and the officials may see this job."))
    return job


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.as_shown(get_job_for(request.user, pk))
    context = {
        "job": job,
        "kind": jobs.kind_label(job.kind),
        "summary": jobs.summary(job),
        "links": jobs.links(job, request.user),
        "parts": job.parts.filter(done=True) if job.status == JobStatus.DONE else [],
        "file_days": settings.STIMULANS_JOB_FILE_DAYS,
    }
    return render(request, "allocations/job.html", context)


@login_required
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    job = jobs.as_shown(get_job_for(request.user, pk))
    done = job.status == JobStatus.DONE
    return JsonResponse(
        {
            "status": job.status,
            "progress": job.progress,
            "error": job.error,
            "summary": jobs.summary(job),
            "run": job.run_id if done else None,
            "download": reverse("allocations:download", args=[job.pk])
            if done and job.file
            else None,
        }
    )


@login_required
@require_POST
def job_again(request: HttpRequest, pk: int) -> HttpResponse:
    """Make an expired job's file again: a new job with the same options."""
    job = get_job_for(request.user, pk)
    if job.status != JobStatus.EXPIRED:
        return redirect("allocations:job", pk=job.pk)
    try:
        new = jobs.again(job=job, actor=request.user)
    except jobs.JobRefused as exc:
        messages.error(request, str(exc))
        return redirect("allocations:job", pk=job.pk)
    return redirect("allocations:job", pk=new.pk)


@login_required
def job_download(request: HttpRequest, pk: int) -> FileResponse:
    job = get_job_for(request.user, pk)
    if job.status != JobStatus.DONE or not job.file:
        raise Http404(_("The file is not ready."))
    name = job.file.name.rsplit("/", 1)[-1]
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=name)


@login_required
def part_download(request: HttpRequest, pk: int, position: int) -> FileResponse:
    job = get_job_for(request.user, pk)
    part = get_object_or_404(job.parts, position=position, done=True)
    if job.status != JobStatus.DONE or not part.file:
        raise Http404(_("The file is not ready."))
    name = part.file.name.rsplit("/", 1)[-1]
    return FileResponse(part.file.open("rb"), as_attachment=True, filename=name)
