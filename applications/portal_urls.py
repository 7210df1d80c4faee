from django.urls import path

from .views import portal, units

app_name = "portal"
urlpatterns = [
    path("", portal.start, name="start"),
    path("att-gora/", portal.tasks, name="tasks"),
    path("utlysningar/", portal.calls, name="calls"),
    path("utlysningar/<int:pk>/", portal.call, name="call"),
    path("utlysningar/<int:pk>/ansok/", portal.apply, name="apply"),
    path("ansokningar/", portal.applications, name="applications"),
    path("ansokningar/<int:pk>/", portal.application, name="application"),
    path("ansokningar/<int:pk>/andra/", portal.application_edit, name="application_edit"),
    path("ansokningar/<int:pk>/granska/", portal.application_review, name="application_review"),
    path(
        "ansokningar/<int:pk>/aterkalla/", portal.application_withdraw, name="application_withdraw"
    ),
    path("beslut/", portal.decisions, name="decisions"),
    path("beslut/<int:pk>/", portal.requisition, name="requisition"),
    path("beslut/<int:pk>/aterrapportering/", portal.report, name="report"),
    path("beslut/<int:pk>/aterrapportering/bilagor/", portal.attachment_add, name="attachment_add"),
    path("bilagor/<int:pk>/", portal.attachment, name="attachment"),
    path("bilagor/<int:pk>/ta-bort/", portal.attachment_remove, name="attachment_remove"),
    path("enheter/", units.unit_list, name="units"),
    path("enheter/ny/", units.unit_new, name="unit_new"),
    path("enheter/<int:pk>/andra/", units.unit_edit, name="unit_edit"),
]
