from django.urls import path

from . import views

app_name = "allocations"
urlpatterns = [
    path("", views.home, name="home"),
]
