"""`field__any=values`: the rows `field__in=values` finds, the list sent as one parameter.

Django prepares an `in` list value by value through the field (some seventeen calls each:
800 for the fifty rows of a list page, in every query that narrows to them). Here the list
goes to PostgreSQL as one array, `field = ANY(%s)` — the form PostgreSQL turns an `IN` list
into anyway, so the plan is the same; other databases (SQLite, the embedded default) get the
`IN` list.

For ids and texts only: registered on integer and text fields and on foreign keys (to an
integer key), not on every field — on a JSON field `any` stays the name of a key. Nothing
converts the values, so they must be of the field's own type already (ids as ints, an audit
entry's `object_id` as strings): anything else is a TypeError at once, on every database,
rather than a match on SQLite and an error on PostgreSQL. As with `in`, None matches nothing.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import CharField, ForeignObject, IntegerField, Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        if not isinstance(self.rhs, list | tuple | set | frozenset):
            raise TypeError(f"__any takes a list of values, not {type(self.rhs).__name__}")
        values = [value for value in self.rhs if value is not None]
        field = self.lhs.output_field
        if isinstance(field, ForeignObject):
            field = field.target_field
        kind = str if isinstance(field, CharField) else int
        strays = set(map(type, values)) - {kind}  # map: no Python call a value
        if strays:
            found = ", ".join(sorted(t.__name__ for t in strays))
            raise TypeError(f"__any on {field.name}: values of type {kind.__name__}, not {found}")
        return values

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet  # as `in` does: no query is sent
        lhs, lhs_params = self.process_lhs(compiler, connection)
        marks = ", ".join(["%s"] * len(self.rhs))
        return f"{lhs} IN ({marks})", (*lhs_params, *self.rhs)

    def as_postgresql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, self.rhs)


# A foreign key does not take the lookups of the other fields and needs its own registration.
for field_class in (IntegerField, CharField, ForeignObject):
    field_class.register_lookup(AnyOf)
