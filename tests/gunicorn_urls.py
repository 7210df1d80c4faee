"""The product's URLs, and /static/ served from the finders for the test's gunicorn."""

from django.conf import settings
from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path

urlpatterns = [
    # `insecure`: serve with DEBUG off too; a test server on loopback only.
    re_path(rf"^{settings.STATIC_URL.lstrip('/')}(?P<path>.*)$", serve, {"insecure": True}),
    path("", include("stimulans.urls")),
]
