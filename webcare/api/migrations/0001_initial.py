"""The CRM's access models, moved here from the cases app with their tables.

The tables keep their names (`db_table`), so nothing is created or copied: the models
only enter this app's state (cases/migrations/0006 took them out of that app's). The
content types move along, so the permissions already granted to groups stay granted.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MODELS = ("apiclient", "webhook", "webhookdelivery", "idempotencykey", "apiauditentry")


def move_content_types(from_label, to_label):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        for model in MODELS:
            if ContentType.objects.filter(app_label=to_label, model=model).exists():
                continue
            ContentType.objects.filter(app_label=from_label, model=model).update(
                app_label=to_label
            )

    return move


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("cases", "0006_api_models_to_webcare_api"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ApiClient',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True)),
                        ('token_prefix', models.CharField(editable=False, max_length=12)),
                        ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                        ('scopes', models.JSONField(default=list)),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('last_used_at', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'verbose_name': 'API client',
                        'db_table': 'cases_apiclient',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='Webhook',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.URLField(max_length=1000)),
                        ('events', models.JSONField(default=list)),
                        ('secret', models.CharField(help_text='Shared secret for the HMAC-SHA256 signature.', max_length=100)),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhooks', to='api.apiclient')),
                    ],
                    options={
                        'db_table': 'cases_webhook',
                        'ordering': ['client', 'url'],
                    },
                ),
                migrations.CreateModel(
                    name='ApiAuditEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('client_name', models.CharField(max_length=100)),
                        ('method', models.CharField(max_length=10)),
                        ('path', models.CharField(max_length=500)),
                        ('operation', models.CharField(help_text='View and action.', max_length=100)),
                        ('object_type', models.CharField(blank=True, max_length=50)),
                        ('object_id', models.CharField(blank=True, max_length=50)),
                        ('status_code', models.PositiveIntegerField()),
                        ('idempotency_key', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ('client', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='audit_entries', to='api.apiclient')),
                    ],
                    options={
                        'verbose_name': 'API audit entry',
                        'verbose_name_plural': 'API audit entries',
                        'db_table': 'cases_apiauditentry',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['client', 'created_at'], name='cases_apiau_client__38e875_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='IdempotencyKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=200)),
                        ('request_fingerprint', models.CharField(max_length=64)),
                        ('response_status', models.PositiveIntegerField(null=True)),
                        ('response_body', models.JSONField(null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='api.apiclient')),
                    ],
                    options={
                        'db_table': 'cases_idempotencykey',
                        'constraints': [models.UniqueConstraint(fields=('client', 'key'), name='idempotency_key_unique')],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event', models.CharField(choices=[('case.opened', 'Case opened'), ('case.assigned', 'Case assigned'), ('case.escalated', 'Case escalated'), ('case.resolved', 'Case resolved'), ('survey.answered', 'Survey answered')], max_length=30)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed')], default='pending', max_length=10)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('last_status_code', models.PositiveIntegerField(blank=True, null=True)),
                        ('last_error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('webhook', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='api.webhook')),
                    ],
                    options={
                        'verbose_name_plural': 'webhook deliveries',
                        'db_table': 'cases_webhookdelivery',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='cases_webho_status_f7094b_idx')],
                    },
                ),
            ]
        ),
        migrations.RunPython(
            move_content_types("cases", "api"), move_content_types("api", "cases")
        ),
    ]
