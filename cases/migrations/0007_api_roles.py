"""Managers keep managing API access now that its models live in the API app."""

from django.db import migrations


def apply_roles(apps, schema_editor):
    from webcare.roles import apply_roles

    apply_roles(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_api_models_to_webcare_api"),
        ("api", "0001_initial"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
