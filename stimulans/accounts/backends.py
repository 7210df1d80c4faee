"""Django's model backend, reading a user's permissions in one query rather than two.

`ModelBackend` asks for the user's own permissions and for its groups' in two queries the
first time a request checks one (`stimulans.roles.is_official` does on every officials' page
and every provider list). This one asks for both at once, with the same answer: the active
user's own and its groups' permissions (a superuser's: every permission), kept on the user
object for the rest of the request as Django keeps them (`_perm_cache`).
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class OneQueryModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            perms = Permission.objects.all()
            if not user_obj.is_superuser:
                perms = perms.filter(Q(user=user_obj) | Q(group__user=user_obj))
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in perms.values_list(
                    "content_type__app_label", "codename"
                ).order_by()
            }
        return user_obj._perm_cache
