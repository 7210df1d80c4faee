"""Inviting a provider user: an administrator names an e-mail address and an organisation.

The user is created without a usable password and made a member of the organisation, and
gets an e-mail with a one-time link — a password-reset token — to a page where they choose
their password. Once they have, the token no longer holds: it is derived from the password.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.contrib.auth.views import PasswordResetConfirmView
from django.db import transaction
from django.urls import reverse, reverse_lazy
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from allocations import audit
from allocations.formerrors import GroupedNumbers
from allocations.models import Organisation

from .models import Membership, NoticeKind
from .services.notices import record_notice


class InviteForm(GroupedNumbers, forms.Form):
    # The address is also the user name, which holds at most 150 characters.
    email = forms.EmailField(label=_("e-mail address"), max_length=150)
    organisation = forms.ModelChoiceField(
        label=_("organisation"), queryset=Organisation.objects.order_by("name")
    )
    first_name = forms.CharField(label=_("first name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("last name"), max_length=150, required=False)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        data = super().clean()
        email, organisation = data.get("email"), data.get("organisation")
        if email and organisation:
            if Membership.objects.filter(
                user__email__iexact=email, organisation=organisation
            ).exists():
                self.add_error("email", _("This user already acts for the organisation."))
            elif get_user_model().objects.filter(email__iexact=email).count() > 1:
                self.add_error("email", _("Several users have this e-mail address."))
            elif (
                get_user_model()
                .objects.filter(username__iexact=email)
                .exclude(email__iexact=email)
                .exists()
            ):
                self.add_error("email", _("Another user has this address as user name."))
        return data


def invitation_url(request, user) -> str:
    path = reverse(
        "office:invitation",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_tokens.make_token(user),
        },
    )
    return request.build_absolute_uri(path)


@transaction.atomic
def invite(*, request, email: str, organisation: Organisation, first_name="", last_name=""):
    """Create (or find) the user, add the membership, and e-mail the link once committed."""
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if created:
        user = User(username=email, email=email, first_name=first_name, last_name=last_name)
        user.set_unusable_password()
        user.save()
    membership = Membership.objects.create(user=user, organisation=organisation)
    audit.log(
        "membership.invited",
        membership,
        actor=request.user,
        after={"email": email, "organisation": organisation.slug, "new_user": created},
    )
    # A user who has a password already is told, not sent a link that would replace it.
    context = {
        "user": user,
        "organisation": organisation,
        "url": None if user.has_usable_password() else invitation_url(request, user),
        "login_url": request.build_absolute_uri(reverse("login")),
    }

    record_notice(
        kind=NoticeKind.INVITATION, context=context, recipients=[user.email], concerns=membership
    )
    return membership


class InvitationTokens(PasswordResetTokenGenerator):
    """Invitation links hold longer than a password reset's day: a new provider user may not
    read the e-mail at once (`STIMULANS_INVITATION_DAYS`). Spent once a password is set."""

    key_salt = "stimulans.invitation"

    def check_token(self, user, token):
        """Django's check, with the invitation's own lifetime instead of the reset's."""
        if not (user and token):
            return False
        try:
            ts = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        valid = any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        )
        age = self._num_seconds(self._now()) - ts
        return valid and age <= settings.STIMULANS_INVITATION_DAYS * 24 * 3600


invitation_tokens = InvitationTokens()


class InvitationAcceptView(PasswordResetConfirmView):
    """The invitee chooses a password; afterwards the link is spent."""

    token_generator = invitation_tokens

    template_name = "applications/invite/accept.html"
    success_url = reverse_lazy("login")
    reset_url_token = "valj-losenord"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is set. Sign in with it."))
        return response
