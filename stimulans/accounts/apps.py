from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Signing in and one's own account: throttling, the lock's audit entry, "Mitt konto"."""

    name = "stimulans.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from .lockout import record_lock

        user_locked_out.connect(record_lock, dispatch_uid="accounts.record_lock")
