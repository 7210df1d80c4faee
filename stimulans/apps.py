from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """Django's admin with our site as `admin.site`: for administrators only."""

    default_site = "stimulans.admin_site.AdministratorsAdminSite"
