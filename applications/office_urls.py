from django.urls import path

from . import invitations
from .views import office

app_name = "office"
urlpatterns = [
    path("", office.start, name="start"),
    path("bidrag/<int:pk>/", office.grant, name="grant"),
    path("bidrag/<int:pk>/berakna/", office.compute, name="compute"),
    path("bidrag/<int:pk>/uppgifter/", office.facts, name="facts"),
    path("bidrag/<int:pk>/uppgifter/placeringar/", office.facts_import, name="facts_import"),
    path("utlysningar/", office.calls, name="calls"),
    path("utlysningar/ny/", office.call_new, name="call_new"),
    path("utlysningar/<int:pk>/", office.call_review, name="call"),
    path("utlysningar/<int:pk>/stang/", office.call_close, name="call_close"),
    path("potter/<int:pk>/ansokningar/", office.pot_review, name="pot_review"),
    path("potter/<int:pk>/ansokningar/granska/", office.bulk_review, name="bulk_review"),
    path("potter/<int:pk>/omfordela/", office.redistribute, name="redistribute"),
    path(
        "potter/<int:pk>/omfordela/bekrafta/",
        office.redistribute_confirm,
        name="redistribute_confirm",
    ),
    path("ansokningar/<int:pk>/", office.application, name="application"),
    path("ansokningar/<int:pk>/granska/", office.review_application, name="review_application"),
    path(
        "ansokningar/<int:pk>/enheter/<int:unit_pk>/lage/",
        office.confirm_location,
        name="confirm_location",
    ),
    path("korningar/<int:pk>/", office.run, name="run"),
    path("korningar/<int:pk>/enheter/", office.run_units, name="run_units"),
    path("korningar/<int:pk>/beslut/", office.decide, name="decide"),
    path("rekvisitioner/", office.requisitions, name="requisitions"),
    path("rekvisitioner/paminn/", office.remind, name="remind"),
    path("rekvisitioner/<int:pk>/", office.requisition, name="requisition"),
    path("rekvisitioner/<int:pk>/svara/", office.answer_requisition, name="answer_requisition"),
    path(
        "rekvisitioner/<int:pk>/bjud-in/",
        office.invite_recipient_user,
        name="invite_recipient_user",
    ),
    path("rekvisitioner/<int:pk>/utbetalning/", office.record_payment, name="record_payment"),
    path("rekvisitioner/<int:pk>/aterkrav/", office.claim, name="claim"),
    path("aterkrav/", office.claims, name="claims"),
    path("aterkrav/<int:pk>/aterbetalt/", office.claim_repaid, name="claim_repaid"),
    path("aterkrav/<int:pk>/aterbetalning/", office.claim_repayment, name="claim_repayment"),
    path("bidrag/<int:pk>/aterkravskonto/", office.claim_account, name="claim_account"),
    path("aterrapporter/", office.reports, name="reports"),
    path("aterrapporter/<int:pk>/", office.report, name="report"),
    path("aterrapporter/<int:pk>/granska/", office.review_report, name="review_report"),
    # Reached by an invited provider user, who is no official: no sign-in needed.
    path(
        "inbjudan/<uidb64>/<token>/",
        invitations.InvitationAcceptView.as_view(),
        name="invitation",
    ),
]
