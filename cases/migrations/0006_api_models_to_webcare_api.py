"""The CRM's access models (API clients, webhooks, deliveries, idempotency keys, the
API audit log) moved to the `webcare.api` app. Their tables stay as they are: this
only takes them out of the cases app's state; webcare/api/migrations/0001 takes
them in."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_default_service_targets")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel("ApiAuditEntry"),
                migrations.DeleteModel("IdempotencyKey"),
                migrations.DeleteModel("WebhookDelivery"),
                migrations.DeleteModel("Webhook"),
                migrations.DeleteModel("ApiClient"),
            ]
        )
    ]
