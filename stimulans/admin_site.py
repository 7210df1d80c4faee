"""The Django admin, for administrators only (ASVS: least privilege).

Django lets any active staff user in; here being staff gives nothing. Anyone signed in who is
not an administrator is refused with a 403, anyone else is sent to the product's own sign-in
page: the admin's own pages, its sign-in form included, are shown to administrators only.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from .roles import is_administrator


class AdministratorsAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return is_administrator(request.user)

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
            raise PermissionDenied
        wanted = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect_to_login(wanted, settings.LOGIN_URL)
