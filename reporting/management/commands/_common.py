"""Helpers shared by the reporting commands."""

from pathlib import Path

from django.core.management.base import CommandError

from allocations.management.commands._common import get_grant, get_run
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


def write_bytes(path: Path, data: bytes) -> None:
    """Write the whole file or nothing: a half-written document is worse than none."""
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None
