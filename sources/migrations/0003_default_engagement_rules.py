"""The shipped rules of engagement (sources.triage.rules.DEFAULT_RULES when written).

Copied, not imported: a migration must do the same thing forever, whatever the
defaults in code become. Skipped when the team already has rules.
"""

from django.db import migrations

DEFAULT_RULES = [
    {
        "position": 10,
        "name": "Phishing report",
        "categories": ["phishing"],
        "outcome": "engage",
        "priority": "urgent",
        "reason": "phishing: warn and help the customer now, tell security",
        "department": "",
        "also_escalate_to": "security",
    },
    {
        "position": 20,
        "name": "Abuse",
        "categories": ["abuse"],
        "outcome": "ignore",
        "priority": "normal",
        "reason": "abuse is never answered",
        "department": "",
        "also_escalate_to": "",
    },
    {
        "position": 30,
        "name": "Factual inaccuracy",
        "categories": ["factual_inaccuracy"],
        "outcome": "engage",
        "priority": "high",
        "reason": "a wrong statement of fact is always answered with the right facts",
        "department": "",
        "also_escalate_to": "",
    },
    {
        "position": 40,
        "name": "Opinion",
        "categories": ["opinion"],
        "outcome": "ignore",
        "priority": "normal",
        "reason": "sentiment/preference: nothing to win",
        "department": "",
        "also_escalate_to": "",
    },
    {
        "position": 50,
        "name": "Question",
        "categories": ["question"],
        "outcome": "engage",
        "priority": "normal",
        "reason": "a customer asks: answer",
        "department": "",
        "also_escalate_to": "",
    },
    {
        "position": 60,
        "name": "Complaint",
        "categories": ["complaint"],
        "outcome": "engage",
        "priority": "high",
        "reason": "a customer has a problem: help before it grows",
        "department": "",
        "also_escalate_to": "",
    },
    {
        "position": 70,
        "name": "Praise",
        "categories": ["praise"],
        "outcome": "engage",
        "priority": "low",
        "reason": "praise: thank the customer back",
        "department": "",
        "also_escalate_to": "",
    },
    {
        "position": 80,
        "name": "Spam",
        "categories": ["spam"],
        "outcome": "ignore",
        "priority": "normal",
        "reason": "commercial/spam",
        "department": "",
        "also_escalate_to": "",
    },
]


def create_default_rules(apps, schema_editor):
    EngagementRule = apps.get_model("sources", "EngagementRule")
    if EngagementRule.objects.exists():
        return
    EngagementRule.objects.bulk_create(
        EngagementRule(description="Shipped default rule of engagement.", **rule)
        for rule in DEFAULT_RULES
    )


def remove_default_rules(apps, schema_editor):
    EngagementRule = apps.get_model("sources", "EngagementRule")
    for rule in DEFAULT_RULES:
        EngagementRule.objects.filter(
            name=rule["name"], position=rule["position"]
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("sources", "0002_triage_run")]

    operations = [migrations.RunPython(create_default_rules, remove_default_rules)]
