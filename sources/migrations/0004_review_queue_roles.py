"""Give the spokespeople the review queue and triage re-runs (webcare.roles)."""

from django.db import migrations


def apply_roles(apps, schema_editor):
    from webcare.roles import apply_roles

    apply_roles(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0003_default_engagement_rules"),
        ("cases", "0003_staff_roles"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
