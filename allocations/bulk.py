"""Writing many rows' own values at once, for the services that change hundreds of rows.

Django's `bulk_update` builds a `CASE WHEN pk = … THEN …` expression for every row and
field, and resolving those expressions in Python costs ~1 ms a row for a few fields: a
verification of 500 units spent more time there than in PostgreSQL. `update_rows` sends the
same values as one `UPDATE … FROM unnest(…)` per batch instead, each value prepared by its
field as `bulk_update` would (`get_db_prep_save`), one array per column cast to its type;
`insert_rows` writes new rows as one `INSERT … SELECT … FROM unnest(…)` the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, connections
from django.db.models import Model
from django.db.models.expressions import RawSQL
from django.utils import timezone

BATCH = 1000


def ids_in(ids) -> RawSQL | list[int]:
    """The right-hand side of `pk__in=` for hundreds of ids: one array parameter
    (`unnest(%s)`) on PostgreSQL, where Django's `__in` prepares each id on its own."""
    ids = [int(i) for i in ids]
    if connection.vendor != "postgresql":
        return ids
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))


def update_rows(objs: Sequence[Model], fields: Sequence[str], *, batch_size: int = BATCH) -> int:
    """Write `fields` of each of `objs` (instances of one model, saved) to its row; returns
    how many rows were updated. What `bulk_update(objs, fields)` does, in fewer steps."""
    objs = list(objs)
    if not objs or not fields:
        return 0
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_update(objs, fields, batch_size=batch_size)
    attnames = [model._meta.pk.attname, *(model._meta.get_field(f).attname for f in fields)]
    rows = [tuple(getattr(obj, name) for name in attnames) for obj in objs]
    return update_values(model, fields, rows, batch_size=batch_size)


def update_values(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    batch_size: int = BATCH,
) -> int:
    """Write rows given as values, `(pk, value of each of fields…)` (a foreign key's value is
    its id), without making a model instance of each: what `update_rows` does for instances.
    Returns how many rows were updated."""
    if not rows or not fields:
        return 0
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    if connection.vendor != "postgresql":
        objs = [model(**{f.attname: v for f, v in zip(columns, row, strict=True)}) for row in rows]
        return model._default_manager.bulk_update(objs, fields, batch_size=batch_size)
    db = connections[model._default_manager.db]  # not the proxy: it is asked for every value
    quote = db.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = v.c{i}" for i, f in enumerate(columns) if i > 0)
    arrays, names = _unnest(columns, db)
    table = quote(meta.db_table)
    updated = 0
    with db.cursor() as cursor:
        for params in _column_arrays(rows, columns, db, batch_size):
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM unnest({arrays}) AS v({names}) "
                f"WHERE {table}.{quote(meta.pk.column)} = v.c0",
                params,
            )
            updated += cursor.rowcount
    return updated


def insert_rows(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Write new instances of one model, as `bulk_create(objs)` would, and give them their
    primary keys. `fields` are the instances' own values to write; every other column gets its
    field's default (`auto_now` fields: now), set on the instances too. On PostgreSQL one
    `INSERT … SELECT … FROM unnest(…)` per batch, one array per given column: a few hundred
    rows spent most of a `bulk_create` preparing each field of each row in Python.
    """
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    if connection.vendor != "postgresql" or meta.pk is not meta.auto_field:
        model._default_manager.bulk_create(objs)
        return
    db = connections[model._default_manager.db]
    given = [meta.get_field(name) for name in fields]
    others = [f for f in meta.concrete_fields if f is not meta.pk and f not in given]
    now = timezone.now()
    defaults = [
        now
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in others
    ]
    quote = db.ops.quote_name
    columns = ", ".join(quote(f.column) for f in [*given, *others])
    values = ", ".join(
        [*(f"v.c{i}" for i in range(len(given))), *(f"%s::{f.db_type(db)}" for f in others)]
    )
    arrays, names = _unnest(given, db)
    rows = [tuple(getattr(obj, f.attname) for f in given) for obj in objs]
    prepared = [f.get_db_prep_save(value, db) for f, value in zip(others, defaults, strict=True)]
    ids = []
    with db.cursor() as cursor:
        for params in _column_arrays(rows, given, db, BATCH):
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {values} "
                f"FROM unnest({arrays}) WITH ORDINALITY AS v({names}, ord) ORDER BY v.ord "
                f"RETURNING {quote(meta.pk.column)}",
                [*prepared, *params],
            )
            ids += [pk for (pk,) in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        for f, value in zip(others, defaults, strict=True):
            setattr(obj, f.attname, value)
        obj._state.adding, obj._state.db = False, db.alias


def _unnest(fields: Sequence, db) -> tuple[str, str]:
    """The arguments of `unnest(…)` for one array per field, each cast to its column's type,
    and the names of the columns it makes (`c0`, `c1`, …)."""
    arrays = ", ".join(f"%s::{f.db_type(db)}[]" for f in fields)
    return arrays, ", ".join(f"c{i}" for i in range(len(fields)))


def _column_arrays(rows: Sequence[Sequence], fields: Sequence, db, batch_size: int):
    """The rows in batches, each batch as one list per field of its values, each prepared by
    its field (`get_db_prep_save`, as `bulk_create` and `bulk_update` would): PostgreSQL reads
    an array faster than rows of VALUES."""
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        yield [[f.get_db_prep_save(row[i], db) for row in batch] for i, f in enumerate(fields)]
