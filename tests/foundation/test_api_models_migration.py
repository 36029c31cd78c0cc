"""The API's models moved from the cases app to webcare.api without losing a row.

A database filled under the old layout (API clients, webhooks and the rest in the
cases app) is migrated forward; every row is found through the new models, and a
permission a group had on the old models is still granted.
"""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from webcare.api.models import (
    ApiAuditEntry,
    ApiClient,
    IdempotencyKey,
    Webhook,
    WebhookDelivery,
)

# The last migration of the cases app before the move; no API app yet.
BEFORE_THE_MOVE = ("cases", "0005_default_service_targets")


def migrate(targets, *, state_at):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(state_at).apps


@pytest.mark.django_db(transaction=True)
def test_rows_written_under_the_old_layout_are_found_after_the_move():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate([BEFORE_THE_MOVE, ("api", None)], state_at=BEFORE_THE_MOVE)
    try:
        OldClient = old.get_model("cases", "ApiClient")
        OldWebhook = old.get_model("cases", "Webhook")
        OldDelivery = old.get_model("cases", "WebhookDelivery")
        OldKey = old.get_model("cases", "IdempotencyKey")
        OldAudit = old.get_model("cases", "ApiAuditEntry")
        ContentType = old.get_model("contenttypes", "ContentType")
        Permission = old.get_model("auth", "Permission")
        OldGroup = old.get_model("auth", "Group")

        client = OldClient.objects.create(
            name="crm", token_prefix="wc_abcde", token_hash="f" * 64, scopes=["read"]
        )
        webhook = OldWebhook.objects.create(
            client=client,
            url="https://crm.example.com/hooks",
            events=["case.opened"],
            secret="whsec_x",
        )
        OldDelivery.objects.create(
            webhook=webhook, event="case.opened", payload={"case": {"id": 1}}
        )
        OldKey.objects.create(client=client, key="k-1", request_fingerprint="a" * 64)
        OldAudit.objects.create(
            client=client,
            client_name="crm",
            method="POST",
            path="/api/v1/cases/",
            operation="case.create",
            status_code=201,
            created_at=timezone.now(),
        )
        content_type = ContentType.objects.get(app_label="cases", model="apiclient")
        view = Permission.objects.get(
            content_type=content_type, codename="view_apiclient"
        )
        OldGroup.objects.create(name="crm-admins").permissions.add(view)
    finally:
        migrate(latest, state_at=latest)

    client = ApiClient.objects.get(name="crm")
    assert client.scopes == ["read"]
    webhook = Webhook.objects.get(client=client)
    assert webhook.url == "https://crm.example.com/hooks"
    assert WebhookDelivery.objects.get(webhook=webhook).payload == {"case": {"id": 1}}
    assert IdempotencyKey.objects.get(client=client).key == "k-1"
    assert ApiAuditEntry.objects.get(client=client).operation == "case.create"
    group = Group.objects.get(name="crm-admins")
    assert [
        (p.content_type.app_label, p.codename) for p in group.permissions.all()
    ] == [("api", "view_apiclient")]
