"""The menus' URLs are reversed once and kept: never a URL of another prefix or configuration."""

from django.urls import include, path, set_script_prefix

from applications.menus import menu_urls

# A URL configuration of this test's own: the portal mounted elsewhere.
urlpatterns = [path("annan/", include("applications.portal_urls"))]


def test_menu_urls_follow_the_script_prefix_and_the_url_configuration(settings):
    assert menu_urls(["portal:start", "no:such"]) == {"portal:start": "/portal/"}
    set_script_prefix("/stad/")  # a deployment under a path, as SCRIPT_NAME sets it
    try:
        assert menu_urls(["portal:start"]) == {"portal:start": "/stad/portal/"}
    finally:
        set_script_prefix("/")
    settings.ROOT_URLCONF = __name__
    assert menu_urls(["portal:start", "office:start"]) == {"portal:start": "/annan/"}
    settings.ROOT_URLCONF = "stimulans.urls"
    assert menu_urls(["portal:start"]) == {"portal:start": "/portal/"}
