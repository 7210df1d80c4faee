from django.urls import path

from . import views

app_name = "allocations"
urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/status.json", views.job_status, name="job-status"),
    path("jobs/<int:pk>/again/", views.job_again, name="job-again"),
    path("jobs/<int:pk>/download/", views.job_download, name="download"),
    path("jobs/<int:pk>/letters/<int:position>/", views.part_download, name="download-part"),
]
