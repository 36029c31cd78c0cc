"""The CRM API for sources, authors (linked to CRM customers) and mentions."""

from django.db import transaction
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import services as case_services
from cases.api_auth import actor_for
from cases.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from cases.models import ACTIVE_STATUSES, ApiScope, Case
from cases.views import ERROR_RESPONSES, ApiViewSetMixin
from sources.connectors import MentionItem
from sources.filters import AuthorFilter, MentionFilter, SourceFilter
from sources.models import Author, Mention, Source
from sources.serializers import (
    AuthorLinkResultSerializer,
    AuthorLinkSerializer,
    AuthorSerializer,
    IngestResultSerializer,
    MentionIngestSerializer,
    MentionSerializer,
    SourceSerializer,
)
from sources.services import mentions_store

# How many active cases of one author a link follows; more is not one customer.
MAX_LINKED_CASES = 100


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
    ordering = ["created_at", "id"]
    ordering_fields = ["created_at", "id"]
    sync_field = "created_at"
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


def author_link_customer(
    *, author: Author, crm_customer_id: str, actor=None, actor_label: str = ""
) -> list[int]:
    """Link a social author to a CRM customer (or unlink with ""); the author's active
    cases that carried the old id (or none) follow, each through case_update so that
    every case's trail shows the change. Returns the ids of the cases changed."""
    with transaction.atomic():
        author = Author.objects.select_for_update().get(pk=author.pk)
        old = author.crm_customer_id
        author.crm_customer_id = crm_customer_id
        author.save(update_fields=["crm_customer_id", "updated_at"])
        cases = list(
            Case.objects.filter(
                customer=author,
                status__in=ACTIVE_STATUSES,
                crm_customer_id__in={old, ""} - {crm_customer_id},
            ).order_by("pk")[:MAX_LINKED_CASES]
        )
        for case in cases:
            case_services.case_update(
                case=case,
                crm_customer_id=crm_customer_id,
                actor=actor,
                actor_label=actor_label,
            )
    return [case.pk for case in cases]


@extend_schema_view(
    list=extend_schema(summary="Social authors (customers on social media)"),
    retrieve=extend_schema(summary="One author"),
)
class AuthorViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer
    filterset_class = AuthorFilter
    search_fields = ["handle", "display_name", "crm_customer_id"]
    staff_permissions = {
        "link": ("sources.change_author",),
        "unlink": ("sources.change_author",),
    }

    @extend_schema(
        summary="Link the author to a CRM customer",
        description="Active cases of the author without a CRM customer id (or with "
        "the previous one) get the new id; each change is in the case's trail.",
        request=AuthorLinkSerializer,
        responses={200: AuthorLinkResultSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Link", value={"crm_customer_id": "CRM-004211"}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def link(self, request, pk=None):
        author = self.get_object()
        serializer = AuthorLinkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changed = author_link_customer(
            author=author,
            crm_customer_id=serializer.validated_data["crm_customer_id"],
            **actor_for(request),
        )
        author.refresh_from_db()
        return Response(
            {"author": AuthorSerializer(author).data, "cases_updated": changed}
        )

    @extend_schema(
        summary="Unlink the author from its CRM customer",
        request=None,
        responses={200: AuthorLinkResultSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def unlink(self, request, pk=None):
        author = self.get_object()
        changed = author_link_customer(
            author=author, crm_customer_id="", **actor_for(request)
        )
        author.refresh_from_db()
        return Response(
            {"author": AuthorSerializer(author).data, "cases_updated": changed}
        )


@extend_schema_view(
    list=extend_schema(summary="Mentions (incremental sync by updated_at)"),
    retrieve=extend_schema(summary="One mention"),
)
class MentionViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Mention.objects.select_related("author")
    serializer_class = MentionSerializer
    filterset_class = MentionFilter
    search_fields = ["text", "author__handle", "external_id"]
    ordering_fields = ["updated_at", "first_seen_at", "id"]
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
