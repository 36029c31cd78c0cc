"""The one router of /api/v1/: every app's `api` package registers its ViewSets here.

`webcare.api.apps` imports those packages when Django is ready, so the routes are
complete before the URLconf or the schema reads them.
"""

from rest_framework.routers import DefaultRouter

from webcare.api.views import WebhookDeliveryViewSet, WebhookViewSet

router = DefaultRouter()
router.include_root_view = False
# The platform's own endpoints: the client's webhooks and their delivery log.
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register(
    "webhook-deliveries", WebhookDeliveryViewSet, basename="webhookdelivery"
)
