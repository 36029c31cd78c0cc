"""What every endpoint of /api/v1/ shares, and the CRM's own webhooks.

`ApiViewSetMixin` gives an app's ViewSet the platform: scope or staff permission,
throttling per client, keyset pagination, filters, UTC times, the audit log of client
writes, and a service's refusal answered as 400/403/409 with its message.
"""

from datetime import UTC

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from webcare.api.auth import (
    ApiClientRateThrottle,
    ScopePermission,
    actor_for,
    request_client,
)
from webcare.api.filters import NulSafeSearchFilter, WebhookDeliveryFilter
from webcare.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from webcare.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from webcare.api.input import StorableJSONParser
from webcare.api.models import ApiAuditEntry, Webhook, WebhookDelivery
from webcare.api.pagination import SyncCursorPagination
from webcare.api.serializers import (
    WebhookCreatedSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)
from webcare.api.webhooks import webhook_secret_new
from webcare.errors import ServiceError, ServicePermissionDenied, StateConflict

# Ids in paths: digits only, and no more than a bigint holds, so a path can only
# ever miss (404), never overflow the database.
ID_PATTERN = r"[0-9]{1,18}"

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: messages per field."),
    401: OpenApiResponse(description="No or an invalid token."),
    403: OpenApiResponse(description="The client lacks the scope, or a rule forbids."),
    404: OpenApiResponse(description="No such object."),
    409: OpenApiResponse(description="Not possible in the object's current state."),
    429: OpenApiResponse(description="Too many requests: wait Retry-After seconds."),
}


class ServiceConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Not possible in the current state."
    default_code = "conflict"


def translate_service_error(exc: Exception) -> Exception:
    """A service's refusal as the HTTP error a client can act upon."""
    if isinstance(exc, StateConflict):
        return ServiceConflict(str(exc), code="invalid_transition")
    if isinstance(exc, ServicePermissionDenied):
        return exceptions.PermissionDenied(str(exc))
    if isinstance(exc, ServiceError):
        return exceptions.ValidationError({"detail": [str(exc)]}, code="case_rule")
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"detail": exc.messages})
    if isinstance(exc, IntegrityError):
        return ServiceConflict("This conflicts with data that already exists.")
    return exc


class ApiViewSetMixin:
    """What every endpoint of /api/v1/ shares."""

    parser_classes = [StorableJSONParser, FormParser, MultiPartParser]
    permission_classes = [ScopePermission]
    throttle_classes = [ApiClientRateThrottle]
    pagination_class = SyncCursorPagination
    filter_backends = [DjangoFilterBackend, NulSafeSearchFilter, OrderingFilter]
    ordering = ["sync_position", "id"]
    ordering_fields = ["sync_position", "updated_at", "created_at", "id"]
    lookup_value_regex = ID_PATTERN
    required_scopes: dict[str, str] = {}
    staff_permissions: dict[str, tuple[str, ...]] = {}

    def initial(self, request, *args, **kwargs):
        # Machines read the API: every time is given in UTC (and naive input is UTC),
        # whatever the staff's TIME_ZONE; no historical offsets in seconds.
        timezone.activate(UTC)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc):
        return super().handle_exception(translate_service_error(exc))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        timezone.deactivate()
        client = request_client(request)
        if client is not None and request.method in WRITE_METHODS:
            self._audit(request, response, client, kwargs)
        return response

    def _audit(self, request, response, client, kwargs) -> None:
        lookup = getattr(self, "lookup_url_kwarg", None) or getattr(
            self, "lookup_field", "pk"
        )
        object_id = kwargs.get(lookup, "")
        data = getattr(response, "data", None)
        if not object_id and isinstance(data, dict) and "id" in data:
            object_id = data["id"]
        ApiAuditEntry.objects.create(
            client=client,
            client_name=client.name,
            method=request.method,
            path=request.path[:500],
            operation=f"{self.basename}.{getattr(self, 'action', '') or ''}"[:100],
            object_type=self.basename[:50] if self.basename else "",
            object_id=str(object_id)[:50],
            status_code=response.status_code,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, "")[:200],
        )

    def actor(self) -> dict:
        return actor_for(self.request)


def paginated(request, rows, serializer_class) -> Response:
    """A keyset page of `rows` (already ordered), for list-like actions."""
    paginator = SyncCursorPagination()
    page = paginator.paginate_queryset(rows, request)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="This client's webhooks"),
    retrieve=extend_schema(summary="One webhook"),
    create=extend_schema(
        summary="Register a webhook",
        description="The answer carries the signing `secret`, once. Each delivery is "
        "a POST with `X-Webcare-Signature: t=<unix time>,v1=<hex>`, where hex is "
        'HMAC-SHA256(secret, "<t>.<body>"). Failed deliveries are retried with '
        "exponential backoff. A replay with the same Idempotency-Key answers with "
        "the same webhook and `secret` null: the secret is never stored in a "
        "replayable answer (delete and register again if it was lost).",
        request=WebhookSerializer,
        responses={201: WebhookCreatedSerializer, **ERROR_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "Escalations and resolutions",
                value={
                    "url": "https://crm.example.com/hooks/webcare",
                    "events": ["case.escalated", "case.resolved"],
                },
                request_only=True,
            )
        ],
    ),
    partial_update=extend_schema(summary="Change a webhook"),
    destroy=extend_schema(summary="Remove a webhook"),
)
class WebhookViewSet(
    ApiViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Webhooks belong to the API client that registered them; staff use the admin."""

    queryset = Webhook.objects.none()
    serializer_class = WebhookSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering = ["created_at", "id"]
    ordering_fields = ["created_at", "id"]
    search_fields = ["url"]
    staff_permissions = {"deliveries": ("api.view_webhookdelivery",)}

    def get_queryset(self):
        client = request_client(self.request)
        if client is None:
            return Webhook.objects.all()
        return Webhook.objects.filter(client=client)

    def _client(self):
        client = request_client(self.request)
        if client is None:
            raise exceptions.PermissionDenied(
                "Webhooks belong to an API client; staff manage them in the admin."
            )
        return client

    # The secret is in this answer only: a replay gets the webhook with secret null.
    @idempotent(secret_fields=("secret",))
    def create(self, request, *args, **kwargs):
        client = self._client()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = serializer.save(client=client, secret=webhook_secret_new())
        return Response(
            WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED
        )

    def perform_update(self, serializer):
        self._client()
        serializer.save()

    def perform_destroy(self, instance):
        self._client()
        instance.delete()

    @extend_schema(
        summary="The delivery log of a webhook",
        responses={200: WebhookDeliverySerializer(many=True), **ERROR_RESPONSES},
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        webhook = self.get_object()
        rows = WebhookDelivery.objects.filter(webhook=webhook).order_by(
            "sync_position", "id"
        )
        return paginated(request, rows, WebhookDeliverySerializer)


class WebhookDeliveryViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Every delivery to this client's webhooks, with status and last error."""

    queryset = WebhookDelivery.objects.none()
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    ordering_fields = ["sync_position", "created_at", "id"]
    search_fields = ["event"]

    def get_queryset(self):
        client = request_client(self.request)
        rows = WebhookDelivery.objects.all()
        return rows if client is None else rows.filter(webhook__client=client)
