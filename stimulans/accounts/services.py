"""Changes to one's own account, each in one transaction with its audit entry."""

from __future__ import annotations

from django.db import transaction

from allocations import audit


@transaction.atomic
def change_email(*, user, email: str, actor) -> None:
    """Give `user` a new e-mail address (the caller has checked their password)."""
    before = user.email
    if email == before:
        return
    user.email = email
    user.save(update_fields=["email"])
    audit.log(
        "account.email_changed", user, actor=actor, before={"email": before}, after={"email": email}
    )
