"""Django's user admin, with the read-only password summary as valid HTML."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import ReadOnlyPasswordHashWidget, UserChangeForm
from django.contrib.auth.models import User


class PasswordSummary(ReadOnlyPasswordHashWidget):
    """Django's, without the `disabled` its field gives it: a <div> may not carry that
    attribute (the Nu Html Checker refuses the page), and there is nothing to disable."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("disabled", None)
        return context


class ValidUserChangeForm(UserChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "password" in self.fields:
            self.fields["password"].widget = PasswordSummary()


admin.site.unregister(User)


@admin.register(User)
class StimulansUserAdmin(UserAdmin):
    form = ValidUserChangeForm
