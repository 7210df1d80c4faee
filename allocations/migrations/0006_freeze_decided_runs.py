"""A decided run is a public decision: the database itself refuses to change it.

The services and the admin already refuse; these triggers make sure that no
other path (a shell, a script, a future bug) can change or delete a decided
run, its rows or its pot results either.

On SQLite a later migration that rebuilds one of these tables (adding or altering a
column) must drop the triggers first and make them again after (see 0008).
"""

from django.db import migrations

POSTGRES = """
CREATE OR REPLACE FUNCTION stimulans_refuse_decided_change() RETURNS trigger AS $$
DECLARE
    run_id bigint;
BEGIN
    IF TG_TABLE_NAME = 'allocations_allocationrun' THEN
        IF OLD.decided_on IS NOT NULL THEN
            RAISE EXCEPTION 'allocation run % is decided and cannot be changed', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    run_id := OLD.run_id;
    IF EXISTS (SELECT 1 FROM allocations_allocationrun r
               WHERE r.id = run_id AND r.decided_on IS NOT NULL) THEN
        RAISE EXCEPTION 'allocation run % is decided: its % cannot be changed', run_id, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER allocationrun_frozen BEFORE UPDATE OR DELETE ON allocations_allocationrun
    FOR EACH ROW EXECUTE FUNCTION stimulans_refuse_decided_change();
CREATE TRIGGER allocationrow_frozen BEFORE UPDATE OR DELETE ON allocations_allocationrow
    FOR EACH ROW EXECUTE FUNCTION stimulans_refuse_decided_change();
CREATE TRIGGER potresult_frozen BEFORE UPDATE OR DELETE ON allocations_potresult
    FOR EACH ROW EXECUTE FUNCTION stimulans_refuse_decided_change();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS allocationrun_frozen ON allocations_allocationrun;
DROP TRIGGER IF EXISTS allocationrow_frozen ON allocations_allocationrow;
DROP TRIGGER IF EXISTS potresult_frozen ON allocations_potresult;
DROP FUNCTION IF EXISTS stimulans_refuse_decided_change();
"""

SQLITE = [
    """CREATE TRIGGER allocationrun_frozen_update BEFORE UPDATE ON allocations_allocationrun
       WHEN OLD.decided_on IS NOT NULL
       BEGIN SELECT RAISE(ABORT, 'allocation run is decided and cannot be changed'); END""",
    """CREATE TRIGGER allocationrun_frozen_delete BEFORE DELETE ON allocations_allocationrun
       WHEN OLD.decided_on IS NOT NULL
       BEGIN SELECT RAISE(ABORT, 'allocation run is decided and cannot be changed'); END""",
]
for table in ("allocationrow", "potresult"):
    for op in ("UPDATE", "DELETE"):
        SQLITE.append(
            f"""CREATE TRIGGER {table}_frozen_{op.lower()} BEFORE {op} ON allocations_{table}
            WHEN EXISTS (SELECT 1 FROM allocations_allocationrun r
                         WHERE r.id = OLD.run_id AND r.decided_on IS NOT NULL)
            BEGIN SELECT RAISE(ABORT, 'allocation run is decided: it cannot be changed'); END"""
        )
SQLITE_TRIGGERS = [
    "allocationrun_frozen_update",
    "allocationrun_frozen_delete",
    "allocationrow_frozen_update",
    "allocationrow_frozen_delete",
    "potresult_frozen_update",
    "potresult_frozen_delete",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("allocations", "0005_field_labels")]

    operations = [migrations.RunPython(create, drop)]
