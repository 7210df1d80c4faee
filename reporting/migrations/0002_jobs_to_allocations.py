"""Stored jobs now belong to the ledger (`allocations.Job`); reporting forgets its models.

The tables stay as they are: the ledger's migration 0007 took them over with
their names and rows, so nothing is dropped here.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0001_documents_exports_roadmap"),
        ("allocations", "0009_jobs_from_reporting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="JobPart"),
                migrations.DeleteModel(name="Job"),
            ],
        ),
    ]
