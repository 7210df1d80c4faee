from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.utils.translation import gettext_lazy as _

from allocations.formerrors import GroupedNumbers


class EmailChangeForm(GroupedNumbers, forms.Form):
    """A new e-mail address, given only with the current password (ASVS 2.5: re-authenticate).

    The password is checked through `authenticate`, so wrong guesses count towards the
    sign-in lock like any other failed sign-in.
    """

    email = forms.EmailField(label=_("New e-mail address"), max_length=254)
    password = forms.CharField(
        label=_("Your current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = request.user

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        taken = get_user_model().objects.filter(email__iexact=email).exclude(pk=self.user.pk)
        if taken.exists():
            raise forms.ValidationError(_("Another user has this e-mail address."))
        return email

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        user = authenticate(self.request, username=self.user.get_username(), password=password)
        if user is None or user.pk != self.user.pk:
            raise forms.ValidationError(_("The password is wrong."))
        return password
