"""`field__any`: the rows `field__in` finds, the list sent as one array on PostgreSQL."""

import pytest
from django.db import connection
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext

from allocations.models import AuditEntry, GrantUnit
from applications.models import ApplicationUnit

from .conftest import SEED_000

pytestmark = pytest.mark.django_db


def test_any_finds_what_in_finds_on_ids_foreign_keys_and_text(import_seed):
    import_seed(SEED_000)
    units = list(GrantUnit.objects.order_by("pk").values_list("pk", flat=True))
    some = units[::3]
    assert len(some) > 2
    by_any = GrantUnit.objects.filter(pk__any=some).order_by("pk")
    assert list(by_any.values_list("pk", flat=True)) == some
    links = ApplicationUnit.objects.order_by("pk").values_list("pk", flat=True)
    assert list(links.filter(grant_unit_id__any=some)) == list(links.filter(grant_unit_id__in=some))
    assert list(links.filter(grant_unit__any=some)) == list(links.filter(grant_unit__in=some))
    assert links.filter(grant_unit_id__any=some).exists()
    entries = AuditEntry.objects.order_by("pk").values_list("pk", flat=True)
    names = sorted(set(AuditEntry.objects.values_list("object_id", flat=True)))[::2]  # strings
    found = list(entries.filter(object_id__any=names))
    assert found
    assert found == list(entries.filter(object_id__in=names))
    # No values: no rows, and (as with `in`) no query.
    with CaptureQueriesContext(connection) as queries:
        assert list(GrantUnit.objects.filter(pk__any=[])) == []
    assert len(queries) == 0
    # On PostgreSQL one parameter, an array; elsewhere (SQLite, `make run`) an IN list.
    sql, params = GrantUnit.objects.filter(pk__any=some).values("pk").query.sql_with_params()
    assert '"id" = ANY(%s)' in sql
    assert params == (some,)
    sqlite = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3"}})["default"]
    query = GrantUnit.objects.filter(pk__any=[4, 5]).values("pk").query
    sql, params = query.get_compiler(connection=sqlite).as_sql()
    assert '"id" IN (%s, %s)' in sql
    assert params == (4, 5)


def test_any_refuses_what_it_cannot_send_and_leaves_json_keys_alone(import_seed):
    import_seed(SEED_000)
    units = GrantUnit.objects.all()
    for wrong in ("12", 12, units.values("pk"), ["12"], [1.0], [True]):
        with pytest.raises(TypeError, match="__any"):
            list(units.filter(pk__any=wrong))
    with pytest.raises(TypeError, match="str, not int"):
        list(AuditEntry.objects.filter(object_id__any=[1]))
    # None matches nothing, as with `in`: excluding it excludes no row.
    every = units.count()
    assert units.exclude(pk__any=[None, -1]).count() == every
    assert units.filter(pk__any=[None]).count() == 0
    # On a JSON field `any` is still a key.
    entry = AuditEntry.objects.order_by("pk").first()
    AuditEntry.objects.filter(pk=entry.pk).update(after={"any": "x"})
    assert list(AuditEntry.objects.filter(after__any="x").values_list("pk", flat=True)) == [
        entry.pk
    ]
