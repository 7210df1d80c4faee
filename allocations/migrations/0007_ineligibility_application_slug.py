"""An ineligible unit names its application by slug, not by a key into the workflow.

The ledger does not point into the workflow's tables, so the two apps' models
no longer depend on each other; existing rows keep the application they named.
"""

from django.db import migrations, models


def copy_slugs(apps, schema_editor):
    Ineligibility = apps.get_model("allocations", "Ineligibility")
    for row in Ineligibility.objects.exclude(application=None).select_related("application"):
        row.application_slug = row.application.slug
        row.save(update_fields=["application_slug"])


def copy_keys(apps, schema_editor):
    Ineligibility = apps.get_model("allocations", "Ineligibility")
    Application = apps.get_model("applications", "Application")
    for row in Ineligibility.objects.exclude(application_slug="").select_related("run"):
        row.application = Application.objects.filter(
            grant_id=row.run.grant_id, slug=row.application_slug
        ).first()
        row.save(update_fields=["application"])


class Migration(migrations.Migration):
    dependencies = [
        ("allocations", "0006_freeze_decided_runs"),
        ("applications", "0005_application_newest_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="ineligibility",
            name="application_slug",
            field=models.CharField(blank=True, max_length=100, verbose_name="application"),
        ),
        migrations.RunPython(copy_slugs, copy_keys),
        migrations.RemoveField(model_name="ineligibility", name="application"),
    ]
