"""Who may do what: every rule is named, lives here, and says why when it says no.

The roles themselves are defined once, in `stimulans.roles`. Objects are
fetched only through the `get_…_for` helpers, which raise 404 for anything the
user may not see — also through a guessed URL or a tampered form field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from allocations.models import AllocationRun, Grant, Organisation, Pot, Unit
from stimulans.roles import (  # noqa: F401  (the roles, for this app's modules)
    DECIDE_PERMISSION,
    OFFICIAL_PERMISSION,
    acts_for,
    is_administrator,
    is_official,
    is_provider,
    known_organisation_ids,
    may_decide,
    organisation_ids,
    remember_organisation_ids,
)

from .models import (
    Application,
    ApplicationStatus,
    Call,
    Membership,
    RepaymentClaim,
    ReportAttachment,
    ReportStatus,
    Requisition,
    RequisitionStatus,
    UsageReport,
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def deny(reason) -> Decision:
    return Decision(False, str(reason))


# ---------------------------------------------------------------- roles


def can_decide_runs(user) -> Decision:
    """Recording a decision is its own permission, here as in the admin: a decided run is a
    public decision that never changes again."""
    if not is_official(user):
        return deny(_("Only officials of the administration handle cases."))
    if not may_decide(user):
        return deny(_("Recording a decision needs the permission to decide allocation runs."))
    return ALLOWED


# ---------------------------------------------------------------- rules


def can_see_call(user, call: Call) -> Decision:
    if is_official(user) or is_provider(user):
        return ALLOWED
    return deny(_("Only officials and providers see calls."))


def can_apply(user, call: Call, organisation: Organisation, today: date) -> Decision:
    if not acts_for(user, organisation.pk):
        return deny(_("You do not act for this organisation."))
    if today < call.opens_on:
        return deny(_("The call opens on %(date)s.") % {"date": call.opens_on.isoformat()})
    if today > call.closes_on:
        return deny(_("The call closed on %(date)s.") % {"date": call.closes_on.isoformat()})
    return ALLOWED


def can_edit_application(user, app: Application, today: date) -> Decision:
    if not acts_for(user, app.organisation_id):
        return deny(_("You do not act for this organisation."))
    if app.status != ApplicationStatus.DRAFT:
        return deny(_("A submitted application can no longer be changed, only withdrawn."))
    if app.call is not None and today > app.call.closes_on:
        return deny(_("The call closed on %(date)s.") % {"date": app.call.closes_on.isoformat()})
    return ALLOWED


def can_submit_application(user, app: Application, today: date) -> Decision:
    return can_edit_application(user, app, today)


def can_withdraw_application(user, app: Application) -> Decision:
    if not acts_for(user, app.organisation_id):
        return deny(_("You do not act for this organisation."))
    if app.status not in (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED):
        return deny(_("Only a draft or a submitted application can be withdrawn."))
    return ALLOWED


def can_review_application(user, app: Application) -> Decision:
    if not is_official(user):
        return deny(_("Only officials review applications."))
    if app.status not in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.APPROVED,
        ApplicationStatus.REJECTED,
    ):
        return deny(_("Only a submitted application can be reviewed."))
    if app.grant.runs.filter(decided_on__isnull=False, redistributes=None).exists():
        return deny(_("The grant is decided; its applications are no longer reviewed."))
    return ALLOWED


def can_handle_cases(user) -> Decision:
    if not is_official(user):
        return deny(_("Only officials do this."))
    return ALLOWED


def can_answer_requisition(user, req: Requisition) -> Decision:
    if not acts_for(user, req.organisation_id):
        return deny(_("You do not act for this organisation."))
    if req.status != RequisitionStatus.PENDING:
        return deny(_("This requisition has already been answered."))
    return ALLOWED


def recipient_has_portal_users(req: Requisition) -> bool:
    """Someone acts for the recipient in the portal: an active member who has signed in (one
    invited but not yet signed in cannot answer yet)."""
    return Membership.objects.filter(
        organisation_id=req.organisation_id, user__is_active=True, user__last_login__isnull=False
    ).exists()


def can_answer_for_recipient(user, req: Requisition) -> Decision:
    """An official answers a requisition only for a recipient with no portal users of its own
    (a city district administration, say); one that has users answers for itself."""
    if not is_official(user):
        return deny(_("Only officials answer for a recipient."))
    if req.status != RequisitionStatus.PENDING:
        return deny(_("This requisition has already been answered."))
    if recipient_has_portal_users(req):
        return deny(_("The recipient has portal users of its own: they answer in the portal."))
    return ALLOWED


def can_record_payment(user, req: Requisition) -> Decision:
    if not is_official(user):
        return deny(_("Only officials record payments."))
    if req.status != RequisitionStatus.ACCEPTED:
        return deny(_("Only a requisitioned amount can be paid."))
    return ALLOWED


def can_edit_report(user, report: UsageReport) -> Decision:
    if not acts_for(user, report.requisition.organisation_id):
        return deny(_("You do not act for this organisation."))
    if report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
        return deny(_("A submitted report can no longer be changed."))
    return ALLOWED


def can_review_report(user, report: UsageReport) -> Decision:
    if not is_official(user):
        return deny(_("Only officials review usage reports."))
    if report.status != ReportStatus.SUBMITTED:
        return deny(_("Only a submitted report can be reviewed."))
    return ALLOWED


def can_edit_unit(user, unit: Unit) -> Decision:
    # Officials see every unit but change none here: administrators use the Django admin.
    if not acts_for(user, unit.organisation_id):
        return deny(_("You do not act for this organisation."))
    return ALLOWED


# ---------------------------------------------------------------- fetching


def applications_for(user) -> QuerySet[Application]:
    qs = Application.objects.all()
    if is_official(user):
        return qs
    return qs.filter(organisation_id__in=organisation_ids(user))


def requisitions_for(user) -> QuerySet[Requisition]:
    qs = Requisition.objects.filter(run__decided_on__isnull=False)
    if is_official(user):
        return qs
    return qs.filter(organisation_id__in=organisation_ids(user))


# The portal's lists: what the two helpers above give anyone, official or not, narrowed to the
# organisations the user acts for. Whether the user is an official changes nothing there, so
# these need not load the user's permissions.
def own_organisations(user) -> list[dict]:
    """The organisations the user acts for, by name, as values: `pk`, `name`, `org_number`
    and `application_count` (how many applications they have). Read with the memberships
    when the user's organisation ids are not known yet: one query gives both."""
    known = known_organisation_ids(user)
    qs = Organisation.objects.all()
    qs = qs.filter(memberships__user=user) if known is None else qs.filter(pk__in=known)
    rows = list(
        qs.annotate(application_count=Count("applications"))
        .order_by("name", "pk")
        .values("pk", "name", "org_number", "application_count")
    )
    if known is None:
        remember_organisation_ids(user, [row["pk"] for row in rows])
    return rows


def own_applications(user) -> QuerySet[Application]:
    return Application.objects.filter(organisation_id__in=organisation_ids(user))


def own_requisitions(user) -> QuerySet[Requisition]:
    return Requisition.objects.filter(
        run__decided_on__isnull=False, organisation_id__in=organisation_ids(user)
    )


def units_for(user) -> QuerySet[Unit]:
    qs = Unit.objects.all()
    if is_official(user):
        return qs
    return qs.filter(organisation_id__in=organisation_ids(user))


def calls_for(user) -> QuerySet[Call]:
    # A provider's organisations are read already; an official's permissions maybe not.
    if is_provider(user) or is_official(user):
        return Call.objects.all()
    return Call.objects.none()


def _get(qs: QuerySet, pk):
    try:
        return qs.get(pk=int(pk))
    except (qs.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def _application_with_parents(qs: QuerySet[Application]) -> QuerySet[Application]:
    return qs.select_related("call", "pot", "organisation", "grant")


def get_application_for(user, pk) -> Application:
    return _get(_application_with_parents(applications_for(user)), pk)


def get_own_application_for(user, pk, *, only: tuple[str, ...] = ()) -> Application:
    """`get_application_for`, looking first among the applications of the organisations the
    user acts for: the only ones a page that changes an application lets anyone change, found
    without reading the user's permissions. Any other goes through `applications_for`, so an
    official sees it (and is told why it cannot be changed) and anyone else gets 404.

    `only`: the fields (of the application and its parents) the page reads of its own
    application, the others deferred; one it does not name costs a query when read."""
    qs = _application_with_parents(own_applications(user))
    try:
        return _get(qs.only(*only) if only else qs, pk)
    except Http404:
        return get_application_for(user, pk)


def get_requisition_for(user, pk) -> Requisition:
    return _get(requisitions_for(user).select_related("run__grant", "organisation"), pk)


def get_claim_for(user, pk) -> RepaymentClaim:
    """A claim on a requisition the user may see: an official's, or the claimed organisation's."""
    qs = RepaymentClaim.objects.filter(requisition__in=requisitions_for(user).values("pk"))
    return _get(
        qs.select_related(
            "requisition__run__grant__agreement",
            "requisition__run__grant__administered_by",
            "requisition__organisation",
            "requisition__pot",
        ),
        pk,
    )


def get_attachment_for(user, pk) -> ReportAttachment:
    """A usage report's attachment, for an official or a user of the reporting organisation.

    Anyone else gets 404, as for an attachment that does not exist.
    """
    qs = ReportAttachment.objects.filter(
        report__requisition__in=requisitions_for(user).values("pk")
    )
    return _get(qs.select_related("report__requisition"), pk)


def get_unit_for(user, pk) -> Unit:
    return _get(units_for(user).select_related("organisation"), pk)


def get_call_for(user, pk) -> Call:
    return _get(calls_for(user).select_related("pot__grant__agreement"), pk)


def get_organisation_for(user, pk) -> Organisation:
    if is_official(user):
        return _get(Organisation.objects.all(), pk)
    return _get(Organisation.objects.filter(pk__in=organisation_ids(user)), pk)


def get_run_for_official(user, pk) -> AllocationRun:
    if not is_official(user):
        raise Http404
    return _get(AllocationRun.objects.select_related("grant"), pk)


def get_call_for_official(user, pk, *, only: tuple[str, ...] = ()) -> Call:
    """A call with its pot and grant, for an officials' page: the agreement unread, and the
    user's organisations too (`calls_for` reads them first, for a provider). `only`: the
    fields the page reads of the three, if not all (as `QuerySet.only` names them)."""
    if not is_official(user):
        raise Http404
    calls = Call.objects.select_related("pot__grant")
    return _get(calls.only(*only) if only else calls, pk)


def get_grant_for_official(user, pk) -> Grant:
    if not is_official(user):
        raise Http404
    return _get(Grant.objects.select_related("agreement"), pk)


def get_pot_for_official(user, pk) -> Pot:
    if not is_official(user):
        raise Http404
    return _get(Pot.objects.select_related("grant"), pk)


def get_report_for_official(user, pk) -> UsageReport:
    if not is_official(user):
        raise Http404
    qs = UsageReport.objects.filter(requisition__run__decided_on__isnull=False)
    return _get(qs.select_related("requisition__run__grant", "requisition__organisation"), pk)


def get_claim_for_official(user, pk) -> RepaymentClaim:
    if not is_official(user):
        raise Http404
    return _get(RepaymentClaim.objects.select_related("requisition__run__grant"), pk)
