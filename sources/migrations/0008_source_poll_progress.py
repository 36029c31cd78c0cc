from django.db import migrations, models

from webcare.sync import InstallSyncPosition


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0007_sync_position"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="poll_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="source",
            name="poll_started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="source",
            name="last_poll_result",
            field=models.JSONField(blank=True, default=dict),
        ),
        # SQLite rebuilt the table for the non-null field, dropping its trigger.
        InstallSyncPosition(model_name="source"),
    ]
