from django.urls import include, path

urlpatterns = [
    path("portal/", include("applications.portal_urls")),
    path("handlaggning/", include("applications.office_urls")),
]
