"""The source and mention endpoints of /api/v1/ (authors: `cases.api.customers`)."""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from sources.api.filters import MentionFilter, SourceFilter
from sources.api.serializers import (
    IngestResultSerializer,
    MentionIngestSerializer,
    MentionSerializer,
    SourceSerializer,
)
from sources.connectors import MentionItem
from sources.models import Mention, Source
from sources.services import mentions_store
from webcare.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from webcare.api.models import ApiScope
from webcare.api.views import ERROR_RESPONSES, ApiViewSetMixin


@extend_schema_view(
    list=extend_schema(summary="Monitored sources"),
    retrieve=extend_schema(summary="One source"),
    create=extend_schema(summary="Add a source (admin scope)"),
    partial_update=extend_schema(summary="Change a source (admin scope)"),
)
class SourceViewSet(
    ApiViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Source.objects.all()
    serializer_class = SourceSerializer
    filterset_class = SourceFilter
    search_fields = ["name", "query"]
    ordering_fields = ["sync_position", "created_at", "id"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_scopes = {
        "create": ApiScope.ADMIN,
        "partial_update": ApiScope.ADMIN,
    }
    staff_permissions = {
        "create": ("sources.add_source",),
        "partial_update": ("sources.change_source",),
    }

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)


@extend_schema_view(
    list=extend_schema(summary="Mentions (incremental sync)"),
    retrieve=extend_schema(summary="One mention"),
)
class MentionViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Mention.objects.select_related("author")
    serializer_class = MentionSerializer
    filterset_class = MentionFilter
    search_fields = ["text", "author__handle", "external_id"]
    ordering_fields = ["sync_position", "updated_at", "first_seen_at", "id"]
    required_scopes = {"ingest": ApiScope.INGEST}
    staff_permissions = {"ingest": ("sources.add_mention",)}

    @extend_schema(
        summary="Push mentions (bulk, idempotent upsert)",
        description="Stores up to 500 posts of a 'manual' source. A post already "
        "stored (same source and external_id) is updated, not duplicated, so a "
        "retried push is harmless; an Idempotency-Key also replays the first answer.",
        request=MentionIngestSerializer,
        responses={200: IngestResultSerializer, **ERROR_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "A post from the CRM's social inbox",
                value={
                    "source": 3,
                    "items": [
                        {
                            "external_id": "fb-10223",
                            "text": "Mijn app logt steeds uit, iemand anders ook?",
                            "author_id": "5512",
                            "author_handle": "jdevries",
                            "published_at": "2025-03-04T09:12:00+01:00",
                            "language": "nl",
                        }
                    ],
                },
                request_only=True,
            )
        ],
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    @idempotent
    def ingest(self, request):
        serializer = MentionIngestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = [MentionItem(**item) for item in data["items"]]
        result = mentions_store(source=data["source"], items=items)
        return Response(IngestResultSerializer(result).data, status=status.HTTP_200_OK)
