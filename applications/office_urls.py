from django.urls import path

from .views import office

app_name = "office"
urlpatterns = [
    path("", office.start, name="start"),
]
