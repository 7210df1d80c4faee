"""Stored jobs move from reporting to the ledger, so the workflow's pages can use them too.

Only Django's idea of which app owns the models changes: the tables keep their
names (`reporting_job`, `reporting_jobpart`) and every row. Reporting's
migration 0002 forgets the models on its side after this one takes them over.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import allocations.models


def rename_content_types(apps, schema_editor, old="reporting", new="allocations"):
    """Keep admin log entries and permissions pointing at the moved models."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("job", "jobpart"):
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def restore_content_types(apps, schema_editor):
    rename_content_types(apps, schema_editor, old="allocations", new="reporting")


class Migration(migrations.Migration):
    dependencies = [
        ("allocations", "0008_redistribution_recipients"),
        ("contenttypes", "0002_remove_content_type_name"),
        # The tables are made by reporting's first migration; here they only change owner.
        ("reporting", "0001_documents_exports_roadmap"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Job",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("kind", models.CharField(max_length=32, verbose_name="kind")),
                        ("title", models.CharField(max_length=300, verbose_name="title")),
                        (
                            "params",
                            models.JSONField(blank=True, default=dict, verbose_name="options"),
                        ),
                        (
                            "requested_by_label",
                            models.CharField(max_length=200, verbose_name="requested by"),
                        ),
                        (
                            "requested_at",
                            models.DateTimeField(auto_now_add=True, verbose_name="requested at"),
                        ),
                        (
                            "started_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="started at"),
                        ),
                        (
                            "finished_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="finished at"),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "queued"),
                                    ("running", "running"),
                                    ("done", "done"),
                                    ("failed", "failed"),
                                    ("expired", "expired"),
                                ],
                                default="queued",
                                max_length=16,
                                verbose_name="status",
                            ),
                        ),
                        (
                            "progress",
                            models.PositiveSmallIntegerField(
                                default=0, verbose_name="progress (%)"
                            ),
                        ),
                        ("error", models.TextField(blank=True, verbose_name="error")),
                        (
                            "file",
                            models.FileField(
                                blank=True,
                                max_length=300,
                                upload_to=allocations.models.job_file_path,
                                verbose_name="file",
                            ),
                        ),
                        ("parts_total", models.PositiveIntegerField(default=0)),
                        ("parts_done", models.PositiveIntegerField(default=0)),
                        (
                            "grant",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="allocations.grant",
                                verbose_name="grant",
                            ),
                        ),
                        (
                            "requested_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="requested by",
                            ),
                        ),
                        (
                            "run",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="allocations.allocationrun",
                                verbose_name="allocation run",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "background job",
                        "verbose_name_plural": "background jobs",
                        "db_table": "reporting_job",
                        "ordering": ["-requested_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="JobPart",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("position", models.PositiveIntegerField()),
                        ("label", models.CharField(max_length=300, verbose_name="label")),
                        (
                            "file",
                            models.FileField(
                                blank=True,
                                max_length=300,
                                upload_to=allocations.models.part_file_path,
                                verbose_name="file",
                            ),
                        ),
                        ("done", models.BooleanField(default=False)),
                        (
                            "job",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="parts",
                                to="allocations.job",
                            ),
                        ),
                        (
                            "organisation",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="allocations.organisation",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "reporting_jobpart",
                        "ordering": ["job", "position"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("job", "position"), name="job_part_position_unique"
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(rename_content_types, restore_content_types),
    ]
