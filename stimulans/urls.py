from django.contrib import admin
from django.urls import include, path

from stimulans import accessibility

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("tillganglighetsredogorelse/", accessibility.statement, name="accessibility"),
    path("accounts/", include("stimulans.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("reporting/", include("reporting.urls")),
    path("", include("allocations.urls")),
    path("", include("applications.urls")),
]
# Stored files (decision documents, exports) are never served from MEDIA_URL: they are
# downloaded through views that check who may see them, also under DEBUG.
