"""The product's URLs and the benchmark's floors."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path


def floor(request):
    """The least a Django view can do: the floor the pages are measured against."""
    return HttpResponse("ok", content_type="text/plain")


@login_required
def user_floor(request):
    """For information: the least a page for a signed-in user does — read its session and user."""
    return HttpResponse("ok", content_type="text/plain")


@login_required
def page_floor(request):
    """For information: the signed-in user's session and the site's layout, and nothing else."""
    return render(request, "base.html")


urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    path("bench/floor/user/", user_floor, name="bench-user-floor"),
    path("bench/floor/page/", page_floor, name="bench-page-floor"),
    path("", include("stimulans.urls")),
]
