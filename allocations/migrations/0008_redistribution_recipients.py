"""A redistribution round names the recipients the official chose.

SQLite adds the column by rebuilding the table, and the rebuild trips over the
triggers that freeze decided runs (0006): they are dropped for the rebuild and
made again after it. PostgreSQL adds the column in place and keeps its triggers.
"""

from importlib import import_module

from django.db import migrations, models

freeze = import_module("allocations.migrations.0006_freeze_decided_runs")


def unfreeze_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        freeze.drop(apps, schema_editor)


def freeze_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        freeze.create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("allocations", "0007_ineligibility_application_slug"),
    ]

    operations = [
        migrations.RunPython(unfreeze_on_sqlite, freeze_on_sqlite),
        migrations.AddField(
            model_name="allocationrun",
            name="redistribution_recipients",
            field=models.JSONField(
                blank=True, default=list, verbose_name="recipients taking part"
            ),
        ),
        migrations.RunPython(freeze_on_sqlite, unfreeze_on_sqlite),
    ]
