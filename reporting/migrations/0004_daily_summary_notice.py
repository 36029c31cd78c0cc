"""The daily summary is mailed through the notice outbox.

Summaries already mailed keep that fact as a sent notice; one not mailed yet gets a
pending notice, so the outbox sends it.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def summaries_to_notices(apps, schema_editor):
    DailySummary = apps.get_model("reporting", "DailySummary")
    Notice = apps.get_model("notices", "Notice")
    for summary in DailySummary.objects.filter(notice__isnull=True):
        summary.notice = Notice.objects.create(
            kind="daily_summary",
            about=f"daily_summary:{summary.date:%Y-%m-%d}",
            recipients=summary.recipients,
            subject=f"Contacts of {summary.date:%Y-%m-%d}",
            body=summary.body,
            status="sent" if summary.sent_at else "pending",
            sent_at=summary.sent_at,
            next_attempt_at=None if summary.sent_at else timezone.now(),
            created_at=summary.created_at,
        )
        summary.save(update_fields=["notice"])


def notices_to_summaries(apps, schema_editor):
    DailySummary = apps.get_model("reporting", "DailySummary")
    for summary in DailySummary.objects.select_related("notice"):
        summary.sent_at = summary.notice.sent_at if summary.notice else None
        summary.save(update_fields=["sent_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("notices", "0001_initial"),
        ("reporting", "0003_survey_send_claimed_until"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailysummary",
            name="notice",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="notices.notice",
            ),
        ),
        migrations.RunPython(summaries_to_notices, notices_to_summaries),
        migrations.RemoveField(model_name="dailysummary", name="sent_at"),
    ]
