"""What django-axes does when a user name and an address are locked out.

Axes counts failed sign-ins per (user name, address) and refuses the pair once
`AXES_FAILURE_LIMIT` is reached, for `AXES_COOLOFF_TIME`. Here: the address it counts, the
page the refused person sees (our own sign-in page, with the reason in their language), and
the lock's entry in our audit trail.
"""

from __future__ import annotations

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from allocations import audit


def client_address(request) -> str | None:
    """The connection's address, or behind N proxies the one the outermost proxy saw.

    Each proxy appends the address it was reached from to X-Forwarded-For, so the Nth entry
    from the right was written by ours; anything left of it a client may have forged.
    """
    count = settings.STIMULANS_PROXY_COUNT
    if count:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def lock_message() -> str:
    minutes = int(get_cool_off().total_seconds() // 60)
    return _(
        "Too many failed sign-ins: this account is locked from your address for %(minutes)s "
        "minutes. Try again later, or choose a new password through “Forgot your password?”."
    ) % {"minutes": minutes}


def locked_out_response(request, original_response, credentials):
    """A refused sign-in: our sign-in page with the reason (status 429, Too Many Requests).

    A signed-in user whose password check on their account page is refused goes back to
    that page with the reason as a message.
    """
    if request.user.is_authenticated:
        messages.error(request, lock_message())
        return redirect("account")
    username = (credentials or {}).get("username") or ""
    form = AuthenticationForm(request, initial={"username": username})
    return render(
        request,
        "registration/login.html",
        {"form": form, "locked_message": lock_message(), "next": request.POST.get("next", "")},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


def record_lock(sender, request, username, ip_address, **kwargs) -> None:
    """Axes' `user_locked_out` signal: the lock goes into the audit trail when it begins.

    Axes sends the signal again for each attempt refused while the lock holds (each one
    counted as another failure); only the one that reaches the limit starts a lock.
    """
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None and failures > settings.AXES_FAILURE_LIMIT:
        return
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    obj = user or (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address)
        .order_by("-attempt_time")
        .first()
    )
    if obj is None:  # nothing stored to point at: the user name is in the entry itself
        obj = AccessAttempt(pk=0, username=username, ip_address=ip_address)
    audit.log(
        "login.locked",
        obj,
        actor_label=ip_address or "",
        after={
            "username": username,
            "ip_address": ip_address,
            "failures": failures,
            "locked_minutes": int(get_cool_off().total_seconds() // 60),
        },
    )
