from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from . import services
from .forms import EmailChangeForm


@login_required
def account(request):
    """ "Mitt konto": who one is, a new e-mail address (with the password), a new password."""
    form = EmailChangeForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        services.change_email(
            user=request.user, email=form.cleaned_data["email"], actor=request.user
        )
        messages.success(request, _("Your e-mail address is changed."))
        return redirect("account")
    return render(request, "accounts/account.html", {"form": form})
