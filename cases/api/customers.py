"""The author endpoints of /api/v1/: social authors, and their link to a CRM customer.

They are served by the cases app because linking an author moves the customer id of
the author's active cases along (`cases.services.author_link_customer`).
"""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases.services import author_link_customer
from sources.api.filters import AuthorFilter
from sources.api.serializers import AuthorSerializer
from sources.models import Author
from webcare.api.auth import actor_for
from webcare.api.views import ERROR_RESPONSES, ApiViewSetMixin


class AuthorLinkSerializer(serializers.Serializer):
    crm_customer_id = serializers.CharField(max_length=100)

    def validate_crm_customer_id(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value


class AuthorLinkResultSerializer(serializers.Serializer):
    author = AuthorSerializer()
    cases_updated = serializers.ListField(child=serializers.IntegerField())


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
