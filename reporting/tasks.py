"""Celery tasks of a letters batch: ids in, call the service.

A reporting job itself is run by the generic `allocations.run_job`, which calls
the function registered for its kind in `apps.py`.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services

# A lost database connection is worth another try; everything else is the job's error.
RETRY = {"autoretry_for": (OperationalError, InterfaceError), "max_retries": 3}


@shared_task(name="reporting.render_letter_parts", **RETRY)
def render_letter_parts(job_id: int, part_ids: list[int]) -> None:
    services.render_letter_parts(job_id=job_id, part_ids=part_ids)


@shared_task(name="reporting.assemble_letters", **RETRY)
def assemble_letters(job_id: int) -> None:
    services.assemble_letters(job_id=job_id)


@shared_task(name="reporting.check_books", **RETRY)
def check_books() -> int:
    """The beat's: check every grant's books and keep the result for the dashboard."""
    return services.check_all_books()
