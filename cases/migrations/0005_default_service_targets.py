"""Sensible default response and resolution targets, counted in business hours.

Public posts on X, Mastodon, Reddit, YouTube and Facebook spread fast; blog and forum
posts (feeds, Discourse) are read more slowly, so their normal and low targets are
longer. Existing targets are left as they are.
"""

from datetime import timedelta

from django.db import migrations

H = timedelta(hours=1)
M = timedelta(minutes=1)

# (priority, channel, first response, resolution, escalation acknowledgement)
DEFAULT_TARGETS = [
    ("urgent", "", 30 * M, 4 * H, 30 * M),
    ("high", "", 1 * H, 8 * H, 1 * H),
    ("normal", "", 2 * H, 16 * H, 4 * H),
    ("low", "", 8 * H, 40 * H, 8 * H),
    ("normal", "feed", 4 * H, 24 * H, 4 * H),
    ("low", "feed", 16 * H, 60 * H, 8 * H),
    ("normal", "discourse", 4 * H, 24 * H, 4 * H),
    ("low", "discourse", 16 * H, 60 * H, 8 * H),
]


def create_targets(apps, schema_editor):
    ServiceTarget = apps.get_model("cases", "ServiceTarget")
    for priority, channel, first, resolution, acknowledgement in DEFAULT_TARGETS:
        ServiceTarget.objects.get_or_create(
            priority=priority,
            channel=channel,
            defaults={
                "first_response": first,
                "resolution": resolution,
                "escalation_acknowledgement": acknowledgement,
            },
        )


def remove_targets(apps, schema_editor):
    ServiceTarget = apps.get_model("cases", "ServiceTarget")
    for priority, channel, first, resolution, acknowledgement in DEFAULT_TARGETS:
        ServiceTarget.objects.filter(
            priority=priority,
            channel=channel,
            first_response=first,
            resolution=resolution,
            escalation_acknowledgement=acknowledgement,
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0004_api_audit_entry")]

    operations = [migrations.RunPython(create_targets, remove_targets)]
