"""The review list's figures, kept by PostgreSQL in the same transaction as every change.

The official's review list of a call or pot shows, over all its applications, the number
of applications and the sums requested, granted, applied for and eligible, per status. With
10 000 applications that is two passes over both tables on every view. This table keeps
those figures per pot, call (0: none), organisation, status and whether any unit is
ineligible (`flagged`), so the page sums a few hundred rows, filters included.

Statement triggers on `applications_application` and `applications_applicationunit` add
what each INSERT, UPDATE or DELETE changes (bulk creates and `.update()` included, the
services' and any other path's alike), in the same transaction; a TRUNCATE of either table
makes the figures anew. `applications.books` compares them with the applications on every
books check. Only on PostgreSQL: elsewhere the table does not exist and the page sums the
applications themselves (`applications.review_figures.kept`).

The table is derived data, unmanaged by Django: backups leave it out, and a restore's
inserts make it again through the triggers.
"""

from django.db import migrations, models

TABLE = "applications_reviewfigures"
KEY = "pot_id, call_id, organisation_id, status, flagged"
VALUES = ("count", "requested", "granted", "measure", "eligible")


def _contribution(apps: str, units: str, sign: int) -> str:
    """What the applications in `apps` (a relation) add to the figures, times `sign`, with
    their units as `units` (a relation of application_id, measure, eligible) has them."""
    return f"""
        SELECT a.pot_id, coalesce(a.call_id, 0) AS call_id, a.organisation_id, a.status,
               coalesce(u.flagged, false) AS flagged,
               {sign} AS count,
               {sign} * coalesce(a.requested_amount, 0) AS requested,
               {sign} * coalesce(a.granted_amount, 0) AS granted,
               {sign} * coalesce(u.measure, 0) AS measure,
               {sign} * coalesce(u.eligible, 0) AS eligible
          FROM {apps} a
          LEFT JOIN (
                SELECT application_id, bool_or(NOT eligible) AS flagged, sum(measure) AS measure,
                       sum(measure) FILTER (WHERE eligible) AS eligible
                  FROM {units} units
                 WHERE application_id IN (SELECT id FROM {apps} ids)
                 GROUP BY application_id
               ) u ON u.application_id = a.id
    """


def _add(deltas: str) -> str:
    """Add the rows of `deltas` to the figures: in key order, so that two transactions take
    the rows they share in the same order; nothing is written for a change that adds up to
    nothing (an application's contact or units saved as they were)."""
    sums = ", ".join(f"sum({v})" for v in VALUES)
    nonzero = " OR ".join(f"sum({v}) <> 0" for v in VALUES)
    update = ", ".join(f"{v} = f.{v} + EXCLUDED.{v}" for v in VALUES)
    return f"""
        INSERT INTO {TABLE} AS f ({KEY}, {", ".join(VALUES)})
        SELECT {KEY}, {sums} FROM ({deltas}) d
         GROUP BY {KEY} HAVING {nonzero}
         ORDER BY {KEY}
        ON CONFLICT ({KEY}) DO UPDATE SET {update};
    """


APPLICATIONS = "applications_application"
UNITS = "(SELECT application_id, measure, eligible FROM applications_applicationunit)"
# The applications a statement on units touched, as they are now.
TOUCHED = f"""(SELECT * FROM {APPLICATIONS} WHERE id IN (
    SELECT application_id FROM {{changed}}))"""
# Their units before the statement: those there now, less what it inserted or updated, plus
# what it updated or deleted as it was.
UNITS_BEFORE_INSERT = """(SELECT application_id, measure, eligible
    FROM applications_applicationunit WHERE id NOT IN (SELECT id FROM new_units))"""
UNITS_BEFORE_UPDATE = """(SELECT application_id, measure, eligible
    FROM applications_applicationunit WHERE id NOT IN (SELECT id FROM new_units)
    UNION ALL SELECT application_id, measure, eligible FROM old_units)"""
UNITS_BEFORE_DELETE = """(SELECT application_id, measure, eligible FROM applications_applicationunit
    UNION ALL SELECT application_id, measure, eligible FROM old_units)"""

REBUILD = f"""
    DELETE FROM {TABLE};
    {_add(_contribution(APPLICATIONS, UNITS, 1))}
"""

CREATE = f"""
CREATE TABLE {TABLE} (
    id bigserial PRIMARY KEY,
    pot_id bigint NOT NULL,
    call_id bigint NOT NULL,
    organisation_id bigint NOT NULL,
    status varchar(16) NOT NULL,
    flagged boolean NOT NULL,
    count bigint NOT NULL DEFAULT 0,
    requested bigint NOT NULL DEFAULT 0,
    granted bigint NOT NULL DEFAULT 0,
    measure bigint NOT NULL DEFAULT 0,
    eligible bigint NOT NULL DEFAULT 0,
    CONSTRAINT review_figures_key UNIQUE ({KEY})
);
CREATE INDEX review_figures_call ON {TABLE} (call_id);

CREATE FUNCTION stimulans_review_figures_applications() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_add(_contribution("new_apps", UNITS, 1))}
    ELSIF TG_OP = 'UPDATE' THEN
        {_add(_contribution("old_apps", UNITS, -1) + " UNION ALL " + _contribution("new_apps", UNITS, 1))}
    ELSE
        {_add(_contribution("old_apps", UNITS, -1))}
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION stimulans_review_figures_units() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_add(_contribution(TOUCHED.format(changed="new_units"), UNITS_BEFORE_INSERT, -1) + " UNION ALL " + _contribution(TOUCHED.format(changed="new_units"), UNITS, 1))}
    ELSIF TG_OP = 'UPDATE' THEN
        {_add(_contribution(TOUCHED.format(changed="(SELECT application_id FROM old_units UNION SELECT application_id FROM new_units) changed"), UNITS_BEFORE_UPDATE, -1) + " UNION ALL " + _contribution(TOUCHED.format(changed="(SELECT application_id FROM old_units UNION SELECT application_id FROM new_units) changed"), UNITS, 1))}
    ELSE
        {_add(_contribution(TOUCHED.format(changed="old_units"), UNITS_BEFORE_DELETE, -1) + " UNION ALL " + _contribution(TOUCHED.format(changed="old_units"), UNITS, 1))}
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION stimulans_review_figures_rebuild() RETURNS trigger AS $$
BEGIN
    {REBUILD}
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER review_figures_insert AFTER INSERT ON applications_application
    REFERENCING NEW TABLE AS new_apps
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_applications();
CREATE TRIGGER review_figures_update AFTER UPDATE ON applications_application
    REFERENCING OLD TABLE AS old_apps NEW TABLE AS new_apps
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_applications();
CREATE TRIGGER review_figures_delete AFTER DELETE ON applications_application
    REFERENCING OLD TABLE AS old_apps
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_applications();
CREATE TRIGGER review_figures_truncate AFTER TRUNCATE ON applications_application
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_rebuild();

CREATE TRIGGER review_figures_insert AFTER INSERT ON applications_applicationunit
    REFERENCING NEW TABLE AS new_units
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_units();
CREATE TRIGGER review_figures_update AFTER UPDATE ON applications_applicationunit
    REFERENCING OLD TABLE AS old_units NEW TABLE AS new_units
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_units();
CREATE TRIGGER review_figures_delete AFTER DELETE ON applications_applicationunit
    REFERENCING OLD TABLE AS old_units
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_units();
CREATE TRIGGER review_figures_truncate AFTER TRUNCATE ON applications_applicationunit
    FOR EACH STATEMENT EXECUTE FUNCTION stimulans_review_figures_rebuild();

{REBUILD}
"""

DROP = f"""
DROP TRIGGER IF EXISTS review_figures_insert ON applications_application;
DROP TRIGGER IF EXISTS review_figures_update ON applications_application;
DROP TRIGGER IF EXISTS review_figures_delete ON applications_application;
DROP TRIGGER IF EXISTS review_figures_truncate ON applications_application;
DROP TRIGGER IF EXISTS review_figures_insert ON applications_applicationunit;
DROP TRIGGER IF EXISTS review_figures_update ON applications_applicationunit;
DROP TRIGGER IF EXISTS review_figures_delete ON applications_applicationunit;
DROP TRIGGER IF EXISTS review_figures_truncate ON applications_applicationunit;
DROP FUNCTION IF EXISTS stimulans_review_figures_applications();
DROP FUNCTION IF EXISTS stimulans_review_figures_units();
DROP FUNCTION IF EXISTS stimulans_review_figures_rebuild();
DROP TABLE IF EXISTS {TABLE};
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0014_notice_kinds_with_reminders"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReviewFigures",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("pot_id", models.BigIntegerField()),
                ("call_id", models.BigIntegerField()),
                ("organisation_id", models.BigIntegerField()),
                ("status", models.CharField(max_length=16)),
                ("flagged", models.BooleanField()),
                ("count", models.BigIntegerField()),
                ("requested", models.BigIntegerField()),
                ("granted", models.BigIntegerField()),
                ("measure", models.BigIntegerField()),
                ("eligible", models.BigIntegerField()),
            ],
            options={"db_table": "applications_reviewfigures", "managed": False},
        ),
        migrations.RunPython(create, drop),
    ]
