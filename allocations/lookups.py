"""`field__any=values`: the rows `field__in=values` finds, the list sent as one parameter.

Django prepares an `in` list value by value through the field (some seventeen calls each:
800 for the fifty rows of a list page, in every query that narrows to them). Here the list
goes to PostgreSQL as one array, `field = ANY(%s)` — the form PostgreSQL turns an `IN` list
into anyway, so the plan is the same; other databases (SQLite, the embedded default) get the
`IN` list. The values must be of the field's own type already (ids as ints, an audit entry's
`object_id` as strings): nothing converts them.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject, Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

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


# On every field; a foreign key (`grant_unit_id__any`, its column's values) does not take
# the lookups of Field and needs its own registration.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)
