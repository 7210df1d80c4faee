"""Helpers shared by the grant commands."""

from datetime import date
from pathlib import Path

from django.core.management.base import CommandError

from allocations.models import AllocationRun, Grant


def get_grant(slug: str) -> Grant:
    grant = Grant.objects.filter(slug=slug).first()
    if grant is None:
        known = ", ".join(Grant.objects.values_list("slug", flat=True)[:20]) or "none"
        raise CommandError(f"no grant '{slug}' (imported grants: {known})")
    return grant


def get_run(grant: Grant, number: int | None) -> AllocationRun:
    runs = grant.runs.all()
    run = runs.filter(number=number).first() if number else runs.order_by("-number").first()
    if run is None:
        if number:
            raise CommandError(f"grant '{grant.slug}' has no run {number}")
        raise CommandError(
            f"grant '{grant.slug}' has not been computed: run `allocate {grant.slug}`"
        )
    return run


def write_bytes(path: Path, data: bytes) -> None:
    """Write the whole file or nothing: a half-written document is worse than none."""
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date in the form YYYY-MM-DD") from None
