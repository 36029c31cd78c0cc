from django.db import migrations


def apply_roles(apps, schema_editor):
    from webcare.roles import apply_roles

    apply_roles(apps, schema_editor)


class Migration(migrations.Migration):
    # Managers ("*") get reassign_case, handle_any_department and the department
    # memberships in databases made before they existed.
    dependencies = [("cases", "0008_record_permissions")]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
