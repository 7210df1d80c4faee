"""Celery tasks: ids in, call the service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import jobs

# A lost database connection is worth another try; everything else is the job's error.
RETRY = {"autoretry_for": (OperationalError, InterfaceError), "max_retries": 3}


@shared_task(name="allocations.run_job", **RETRY)
def run_job(job_id: int) -> None:
    """Any stored job: the function its kind registered in `allocations.jobs` does the work."""
    jobs.run_job(job_id=job_id)


@shared_task(name="allocations.expire_job_files")
def expire_job_files() -> int:
    """On the beat: fail the jobs no worker finished, and delete the files of jobs finished
    longer ago than files are kept."""
    jobs.fail_stalled()
    return jobs.expire_files()
