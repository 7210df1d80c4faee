"""Telephone, bankgiro and plusgiro numbers already stored, put in their normal form.

Only a number that reads as right is rewritten; anything else (a draft's half-typed number)
is left as it was, and submitting the draft says what is wrong with it. Reversing leaves the
normal forms: they are what the numbers were, written one way.
"""

from django.core.exceptions import ValidationError
from django.db import migrations

from allocations import identifiers


def _normal(normal, text: str) -> str:
    try:
        return normal(text)
    except ValidationError:
        return text


def normalise(apps, schema_editor):
    Application = apps.get_model("applications", "Application")
    Requisition = apps.get_model("applications", "Requisition")
    for app in Application.objects.exclude(contact_phone="", payment_account="").iterator():
        phone = _normal(identifiers.normal_phone, app.contact_phone) if app.contact_phone else ""
        account = app.payment_account
        if account and app.payment_method:
            account = _normal(lambda t: identifiers.normal_account(app.payment_method, t), account)
        if (phone, account) != (app.contact_phone, app.payment_account):
            app.contact_phone, app.payment_account = phone, account
            app.save(update_fields=["contact_phone", "payment_account"])
    for req in Requisition.objects.exclude(payment_account="").iterator():
        account = _normal(
            lambda t: identifiers.normal_account(req.payment_method, t), req.payment_account
        )
        if account != req.payment_account:
            req.payment_account = account
            req.save(update_fields=["payment_account"])


class Migration(migrations.Migration):
    dependencies = [("applications", "0009_unit_facts_statement_and_verification")]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]
