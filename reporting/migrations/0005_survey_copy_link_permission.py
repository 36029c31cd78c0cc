"""Copying a survey's personal link becomes a permission of its own (issue 16).

Only this permission is granted here (added to the roles that list it), rather than
every role re-applied: a full re-apply would need every other app's migrations that
add permissions to have run first.
"""

from django.db import migrations

from webcare.roles import grant_permission, revoke_permissions

CODENAME = "copy_survey_link"


def grant(apps, schema_editor):
    grant_permission(apps, "reporting", CODENAME)


def revoke(apps, schema_editor):
    revoke_permissions(apps, "reporting", [CODENAME])


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0004_daily_summary_notice"),
        ("cases", "0003_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="survey",
            options={
                "ordering": ["-scheduled_for"],
                "permissions": [
                    (
                        "copy_survey_link",
                        "Can copy a survey's personal link for the customer",
                    )
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
