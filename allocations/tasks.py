"""Celery tasks: ids in, call the service, ids out."""

from celery import shared_task
from django.contrib.auth import get_user_model

from . import services


@shared_task(name="allocations.compute_grant")
def compute_grant(grant_id: int, user_id: int | None = None, actor_label: str = "") -> dict:
    """Compute a grant; returns the run's id and number, or the reason it could not."""
    from .engine import AllocationError

    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        run = services.compute_grant(grant_id=grant_id, actor=actor, actor_label=actor_label)
    except AllocationError as exc:
        # A configuration problem, not a crash: the caller shows it to the official.
        return {"ok": False, "pot": exc.pot, "error": exc.message}
    return {"ok": True, "run_id": run.pk, "number": run.number}
