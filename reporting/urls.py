from django.urls import path

from . import views

app_name = "reporting"
urlpatterns = [
    path("", views.grant_list, name="grants"),
    path("grants/<slug:slug>/", views.grant_dashboard, name="dashboard"),
    path("grants/<slug:slug>/documents/", views.grant_documents, name="documents"),
    path("grants/<slug:slug>/texts/", views.decision_texts, name="texts"),
    path("grants/<slug:slug>/needs/", views.tag_needs, name="needs"),
    path("grants/<slug:slug>/datasets/import/", views.dataset_import, name="import-dataset"),
    path("roadmap/", views.followup, name="followup"),
    path("delegation/", views.delegation_report, name="delegation"),
    path("grants/<slug:slug>/registry/", views.registry, name="registry"),
    path(
        "runs/<int:run_id>/letter/<slug:org_slug>/",
        views.provider_letter,
        name="provider-letter",
    ),
    path(
        "grants/<slug:slug>/organisations/<slug:org_slug>/usage.<str:fmt>",
        views.provider_usage,
        name="provider-usage",
    ),
    path("claims/<int:pk>/letter/", views.claim_letter, name="claim_letter"),
    path("units/import/", views.unit_import, name="import-units"),
]
