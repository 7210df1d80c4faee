"""Writing many rows' own values at once, for the services that change hundreds of rows.

Django's `bulk_update` builds a `CASE WHEN pk = … THEN …` expression for every row and
field, and resolving those expressions in Python costs ~1 ms a row for a few fields: a
verification of 500 units spent more time there than in PostgreSQL. `update_rows` sends the
same values as one `UPDATE … FROM unnest(…)` per batch instead, each value prepared by its
field as `bulk_update` would (`get_db_prep_save`), one array per column cast to its type.
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
    arrays = ", ".join(f"%s::{f.db_type(db)}[]" for f in columns)
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    table = quote(meta.db_table)
    updated = 0
    with db.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            # One array per column: PostgreSQL reads an array faster than rows of VALUES.
            params = [
                [f.get_db_prep_save(row[i], db) for row in batch] for i, f in enumerate(columns)
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM unnest({arrays}) AS v({names}) "
                f"WHERE {table}.{quote(meta.pk.column)} = v.c0",
                params,
            )
            updated += cursor.rowcount
    return updated


def insert_values(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence]) -> list:
    """Insert rows given as values, `(value of each of fields…)` (a foreign key's value is its
    id), in order, and return their new primary keys; every other column gets its field's
    default. What `bulk_create` does for instances, without making and preparing a model
    instance of each row (a few hundred rows spent most of a `bulk_create` in Python): on
    PostgreSQL one `INSERT … SELECT … FROM unnest(…)` per batch, one array per given column.
    """
    if not rows:
        return []
    meta = model._meta
    given = [meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql" or meta.pk is not meta.auto_field:
        objs = model._default_manager.bulk_create(
            model(**{f.attname: v for f, v in zip(given, row, strict=True)}) for row in rows
        )
        return [obj.pk for obj in objs]
    db = connections[model._default_manager.db]
    quote = db.ops.quote_name
    others = [f for f in meta.concrete_fields if f is not meta.pk and f not in given]
    # What an instance made without them would hold (`auto_now` fields: now), prepared once.
    now = timezone.now()
    defaults = [
        f.get_db_prep_save(
            now
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            else f.get_default(),
            db,
        )
        for f in others
    ]
    columns = ", ".join(quote(f.column) for f in [*given, *others])
    values = ", ".join(
        [*(f"v.c{i}" for i in range(len(given))), *(f"%s::{f.db_type(db)}" for f in others)]
    )
    arrays = ", ".join(f"%s::{f.db_type(db)}[]" for f in given)
    names = ", ".join(f"c{i}" for i in range(len(given)))
    table = quote(meta.db_table)
    ids = []
    with db.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            params = [
                [f.get_db_prep_save(row[i], db) for row in batch] for i, f in enumerate(given)
            ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {values} "
                f"FROM unnest({arrays}) WITH ORDINALITY AS v({names}, ord) ORDER BY v.ord "
                f"RETURNING {quote(meta.pk.column)}",
                [*defaults, *params],
            )
            ids += [pk for (pk,) in cursor.fetchall()]
    return ids
