"""Django's model backend, reading a user's permissions in one query rather than two.

`ModelBackend` asks for the user's own permissions and for its groups' in two queries the
first time a request checks one (`stimulans.roles.is_official` does on every officials' page
and every provider list). This one asks for both at once, with the same answer: the active
user's own and its groups' permissions (a superuser's: every permission), kept on the user
object for the rest of the request as Django keeps them (`_perm_cache`).
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db import connection

# Written out rather than built through the ORM: building its joins cost some 1 400 Python
# calls and half a millisecond on every signed-in page, three times what running it costs.
# The tables are django.contrib.auth's (its User, not swapped) and contenttypes'.
EVERY_PERMISSION = """
SELECT ct.app_label, p.codename
  FROM auth_permission p
  JOIN django_content_type ct ON ct.id = p.content_type_id
"""
USER_PERMISSIONS = (
    EVERY_PERMISSION
    + """
 WHERE p.id IN (SELECT own.permission_id
                  FROM auth_user_user_permissions own
                 WHERE own.user_id = %(user)s
                 UNION
                SELECT granted.permission_id
                  FROM auth_group_permissions granted
                  JOIN auth_user_groups member ON member.group_id = granted.group_id
                 WHERE member.user_id = %(user)s)
"""
)


class OneQueryModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                if user_obj.is_superuser:
                    cursor.execute(EVERY_PERMISSION)
                else:
                    cursor.execute(USER_PERMISSIONS, {"user": user_obj.pk})
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor}
        return user_obj._perm_cache
