"""What an archive holds: the records of one grant, or every table, in an order to insert them."""

from __future__ import annotations

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models

from allocations.models import (
    Agreement,
    AllocationRow,
    AllocationRun,
    AuditEntry,
    Dataset,
    DatasetValue,
    Grant,
    GrantOrganisation,
    GrantUnit,
    Ineligibility,
    Job,
    JobPart,
    Organisation,
    PermittedUse,
    Pot,
    PotResult,
    Unit,
)
from applications.models import (
    Application,
    ApplicationUnit,
    ApplicationUse,
    Call,
    ClaimAccount,
    ClaimRepayment,
    Membership,
    Notice,
    Payment,
    RepaymentClaim,
    ReportAttachment,
    Requisition,
    RequisitionLine,
    UsageLine,
    UsageReport,
)

from ..models import (
    BooksCheck,
    DecidedTexts,
    DecisionSection,
    DecisionText,
    Need,
    NeedItem,
    Roadmap,
    Signatory,
    StrategicArea,
)

FORMAT = "stimulans-backup"
VERSION = 1
MANIFEST = "manifest.json"
RECORDS = "records.json"
USERS = "users.json"
FILES = "files/"
APPS = ("allocations", "applications", "reporting")
# The apps whose migrations decide whether the records fit this database's tables.
SCHEMA_APPS = (*APPS, "auth", "contenttypes")

NeedUse = Need.permitted_uses.through

# Records of one grant that are shared with other grants: matched on restore by their ids in
# the grant file (or, for an agreement, by every detail), created only when missing.
SHARED = (
    Organisation,
    Unit,
    Agreement,
    PermittedUse,
    Roadmap,
    StrategicArea,
    Need,
    NeedItem,
    NeedUse,
)
# Records of the workflow that belong to no grant: in the whole database's archive only.
# Not in a grant's archive: memberships are the users', and a books check is made again after
# a restore (its audit mark names entries of the database it was made in).
NOT_PER_GRANT = (Membership, BooksCheck)


class BackupError(Exception):
    """The archive cannot be made or restored as asked; the message says why."""


# ---------------------------------------------------------------- what one grant is


def grant_sections(grant: Grant) -> list[tuple[type[models.Model], models.QuerySet]]:
    """Every record of one grant, shared ones first, each list in an order it can be inserted in."""
    owned = _owned(grant)
    orgs: set[int] = set()
    units: set[int] = set()
    for model, qs in owned:
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is Organisation:
                orgs.update(qs.exclude(**{f.attname: None}).values_list(f.attname, flat=True))
            elif f.is_relation and f.related_model is Unit:
                units.update(qs.exclude(**{f.attname: None}).values_list(f.attname, flat=True))
    orgs.update(Unit.objects.filter(pk__in=units).values_list("organisation_id", flat=True))
    agreement = Agreement.objects.filter(pk=grant.agreement_id)
    uses = PermittedUse.objects.filter(agreement_id=grant.agreement_id)
    codes = {code for needs in grant.pots.values_list("roadmap_needs", flat=True) for code in needs}
    needs = Need.objects.filter(models.Q(code__in=codes) | models.Q(permitted_uses__in=uses))
    roadmaps = Roadmap.objects.filter(areas__needs__in=needs).distinct()
    shared = [
        (Organisation, Organisation.objects.filter(pk__in=orgs)),
        (Unit, Unit.objects.filter(pk__in=units)),
        (Agreement, agreement),
        (PermittedUse, uses),
        (Roadmap, roadmaps),
        (StrategicArea, StrategicArea.objects.filter(roadmap__in=roadmaps)),
        (Need, Need.objects.filter(area__roadmap__in=roadmaps)),
        (NeedItem, NeedItem.objects.filter(need__area__roadmap__in=roadmaps)),
        (NeedUse, NeedUse.objects.filter(permitteduse__in=uses)),
    ]
    return shared + owned


# The records that are one grant's alone, in the order they are inserted, each with the path
# from it to its grant (`None`: the notices, which name what they concern by type and id).
OWNED = (
    (Grant, "pk"),
    (GrantOrganisation, "grant"),
    (GrantUnit, "grant"),
    (Dataset, "grant"),
    (DatasetValue, "dataset__grant"),
    (Pot, "grant"),
    (AllocationRun, "grant"),
    (PotResult, "run__grant"),
    (AllocationRow, "run__grant"),
    (Ineligibility, "run__grant"),
    (Call, "pot__grant"),
    (Application, "grant"),
    (ApplicationUnit, "application__grant"),
    (ApplicationUse, "application__grant"),
    (Requisition, "run__grant"),
    (RequisitionLine, "requisition__run__grant"),
    (Payment, "requisition__run__grant"),
    (UsageReport, "requisition__run__grant"),
    (UsageLine, "report__requisition__run__grant"),
    (ReportAttachment, "report__requisition__run__grant"),
    (RepaymentClaim, "requisition__run__grant"),
    (ClaimRepayment, "claim__requisition__run__grant"),
    (ClaimAccount, "grant"),
    (Notice, None),
    (DecisionText, "grant"),
    (DecisionSection, "text__grant"),
    (Signatory, "text__grant"),
    (DecidedTexts, "run__grant"),
    (Job, "grant"),
    (JobPart, "job__grant"),
    (AuditEntry, "grant"),
)
# What a notice may concern.
NOTICE_CONCERNS = (Application, Requisition, Payment, UsageReport, RepaymentClaim)


def per_grant_models() -> set[type[models.Model]]:
    """Every model a grant's archive may hold."""
    return set(SHARED) | {model for model, _path in OWNED}


def _owned(grant: Grant) -> list[tuple[type[models.Model], models.QuerySet]]:
    """The records that are this grant's alone."""
    chosen = {
        model: model._base_manager.filter(**{path: grant.pk})
        for model, path in OWNED
        if path is not None
    }
    concerns = models.Q(pk__in=[])
    for model in NOTICE_CONCERNS:
        ct = ContentType.objects.get_for_model(model)
        concerns |= models.Q(content_type=ct, object_id__in=chosen[model].values("pk"))
    chosen[Notice] = Notice.objects.filter(concerns)
    return [(model, chosen[model]) for model, _path in OWNED]


# ---------------------------------------------------------------- what the whole database is


def whole_models() -> list[type[models.Model]]:
    """Every table of the three apps (and the roadmap's links), in an order to fill them in."""
    found: list[type[models.Model]] = []
    for label in APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                found.append(model)
    return _dependency_order(found)


def _dependency_order(found: list[type[models.Model]]) -> list[type[models.Model]]:
    ordered: list[type[models.Model]] = []
    pending = list(found)
    while pending:
        for model in pending:
            needs = {
                f.related_model
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model in found and f.related_model is not model
            }
            if needs <= set(ordered):
                ordered.append(model)
                pending.remove(model)
                break
        else:
            raise BackupError(f"the tables refer to each other in a cycle: {pending}")
    return ordered
