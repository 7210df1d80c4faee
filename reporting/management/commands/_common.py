"""Helpers shared by the reporting commands."""

from django.core.management.base import CommandError

from allocations.management.commands._common import get_grant, get_run, write_bytes
from allocations.models import AllocationRun, Grant
from reporting.documents import RenderError, latest_run

__all__ = ["get_grant", "pick_run", "write_bytes"]


def pick_run(grant: Grant, number: int | None, *, decided: bool = False) -> AllocationRun:
    if number:
        return get_run(grant, number)
    try:
        return latest_run(grant, decided=decided)
    except RenderError as exc:
        raise CommandError(str(exc)) from None
