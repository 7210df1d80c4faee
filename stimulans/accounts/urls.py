from django.urls import path

from . import views

urlpatterns = [
    path("konto/", views.account, name="account"),
]
