"""Webhook registrations answered before secrets were kept out of stored answers
kept the signing secret in plain text: forget it (issue 16)."""

from django.db import migrations


def forget_secrets(apps, schema_editor):
    IdempotencyKey = apps.get_model("api", "IdempotencyKey")
    rows = IdempotencyKey.objects.filter(response_body__has_key="secret")
    for row in rows.iterator():
        if isinstance(row.response_body, dict) and row.response_body.get("secret"):
            row.response_body = {**row.response_body, "secret": None}
            row.save(update_fields=["response_body"])


class Migration(migrations.Migration):
    dependencies = [("api", "0002_sync_position")]

    operations = [migrations.RunPython(forget_secrets, migrations.RunPython.noop)]
