from django.db import migrations


def apply_roles(apps, schema_editor):
    from webcare.roles import apply_roles

    apply_roles(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0002_initial"),
        ("sources", "0001_initial"),
        ("reporting", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
