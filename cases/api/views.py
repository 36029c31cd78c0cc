"""The case endpoints of /api/v1/: thin ViewSets that call the case services.

What every endpoint shares (scopes, throttling, sync pagination, audit, errors) is
`webcare.api.views.ApiViewSetMixin`.
"""

from django.db.models import Prefetch
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import access, services
from cases.api.filters import CaseEventFilter, CaseFilter, EscalationFilter
from cases.api.serializers import (
    AgentSerializer,
    AssignSerializer,
    CaseCreateSerializer,
    CaseEventSerializer,
    CaseSerializer,
    CaseUpdateSerializer,
    CloseSerializer,
    CommitmentCreateSerializer,
    CommitmentSerializer,
    EscalateSerializer,
    EscalationAcknowledgeSerializer,
    EscalationResolveSerializer,
    EscalationSerializer,
    MergeSerializer,
    NoteCreateSerializer,
    NoteSerializer,
    ReasonSerializer,
    ReplyRecordSerializer,
    ReplySerializer,
    TeamSerializer,
    TopicSerializer,
)
from cases.models import Agent, Case, CaseEvent, Commitment, Escalation, Team, Topic
from webcare.api.auth import actor_for, request_client
from webcare.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from webcare.api.views import ERROR_RESPONSES, ApiViewSetMixin, paginated


def case_queryset():
    # One query for the cases and their one-to-one relations, one for the topics:
    # constant whatever the page size.
    return Case.objects.select_related(
        "assignee", "team", "customer", "survey"
    ).prefetch_related(Prefetch("topics", queryset=Topic.objects.only("id", "name")))


@extend_schema_view(
    list=extend_schema(
        summary="List cases (incremental sync)",
        description="Ordered by (sync_position, id) unless `ordering` says "
        "otherwise. To sync: page with `next_cursor` until `has_more` is false, keep "
        "the last `next_cursor`, and poll with it later for what changed since. A "
        "change whose transaction is still running appears on a later poll, never "
        "behind the cursor; other orderings are for browsing, not for syncing.",
        responses={200: CaseSerializer(many=True), **ERROR_RESPONSES},
    ),
    retrieve=extend_schema(summary="One case", responses={200: CaseSerializer}),
)
class CaseViewSet(
    ApiViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Case.objects.none()
    serializer_class = CaseSerializer
    filterset_class = CaseFilter
    search_fields = ["subject", "crm_customer_id", "customer__handle", "=id"]
    ordering_fields = ["sync_position", "updated_at", "created_at", "id"]
    staff_permissions = {"events": ("cases.view_caseevent",)}

    def get_queryset(self):
        return case_queryset()

    def _case_response(self, case: Case, code: int = status.HTTP_200_OK) -> Response:
        case = case_queryset().get(pk=case.pk)
        return Response(self.get_serializer(case).data, status=code)

    def _input(self, serializer_class, **context):
        serializer = serializer_class(
            data=self.request.data,
            context={**self.get_serializer_context(), **context},
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _user_or_field(self, data: dict, field: str):
        """A user the action is done as: given, or the staff member asking."""
        if data.get(field) is not None:
            return data[field]
        if request_client(self.request) is None:
            return self.request.user
        raise exceptions.ValidationError({field: ["This field is required."]})

    @extend_schema(
        summary="Open a case from the CRM",
        request=CaseCreateSerializer,
        responses={201: CaseSerializer, **ERROR_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "Customer called about a blocked card",
                value={
                    "subject": "Pinpas geblokkeerd na drie pogingen",
                    "priority": "high",
                    "category": "question",
                    "crm_customer_id": "CRM-004211",
                },
                request_only=True,
            )
        ],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        data = self._input(CaseCreateSerializer)
        case = services.case_open(**data, **self.actor())
        return self._case_response(case, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a case's fields",
        request=CaseUpdateSerializer,
        responses={200: CaseSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "Raise priority and link the CRM customer",
                value={"priority": "urgent", "crm_customer_id": "CRM-004211"},
                request_only=True,
            )
        ],
    )
    def partial_update(self, request, *args, **kwargs):
        case = self.get_object()
        data = self._input(CaseUpdateSerializer)
        case = services.case_update(case=case, **data, **self.actor())
        return self._case_response(case)

    @extend_schema(
        summary="Assign (or unassign) a case",
        request=AssignSerializer,
        responses={200: CaseSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("To an agent", value={"assignee": 7}, request_only=True),
            OpenApiExample(
                "Least-loaded agent", value={"automatic": True}, request_only=True
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        case = self.get_object()
        data = self._input(AssignSerializer)
        if data["automatic"]:
            case = services.case_assign_automatically(case=case, **self.actor())
        else:
            case = services.case_assign(
                case=case, assignee=data["assignee"], **self.actor()
            )
        return self._case_response(case)

    @extend_schema(
        summary="Record a reply the team sent",
        request=ReplyRecordSerializer,
        responses={201: ReplySerializer, **ERROR_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def reply(self, request, pk=None):
        case = self.get_object()
        data = self._input(ReplyRecordSerializer)
        reply = services.case_reply(
            case=case,
            agent=self._user_or_field(data, "agent"),
            text=data["text"],
            channel=data["channel"],
            in_reply_to=data["in_reply_to"],
            is_private=data["is_private"],
            publish=data["publish"],
            posted_url=data["posted_url"],
            **self.actor(),
        )
        return Response(ReplySerializer(reply).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Add an internal note",
        request=NoteCreateSerializer,
        responses={201: NoteSerializer, **ERROR_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def note(self, request, pk=None):
        case = self.get_object()
        data = self._input(NoteCreateSerializer)
        actor = self.actor()
        note = services.case_add_note(
            case=case,
            author=actor["actor"],
            text=data["text"],
            actor_label=actor["actor_label"],
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Escalate to a department",
        request=EscalateSerializer,
        responses={201: EscalationSerializer, **ERROR_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "Phishing report",
                value={
                    "department": "security",
                    "reason": "Customer received a fake SMS with a link.",
                },
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def escalate(self, request, pk=None):
        case = self.get_object()
        data = self._input(EscalateSerializer)
        escalation = services.case_escalate(case=case, **data, **self.actor())
        return Response(
            EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Wait for the customer (stops the resolution clock)",
        request=None,
        responses={200: CaseSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def wait(self, request, pk=None):
        case = services.case_wait_for_customer(case=self.get_object(), **self.actor())
        return self._case_response(case)

    @extend_schema(
        summary="Resolve (the customer was helped)",
        request=None,
        responses={200: CaseSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        case = services.case_resolve(case=self.get_object(), **self.actor())
        return self._case_response(case)

    @extend_schema(
        summary="Reopen a resolved or closed case",
        request=ReasonSerializer,
        responses={200: CaseSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        case = self.get_object()
        data = self._input(ReasonSerializer)
        case = services.case_reopen(case=case, reason=data["reason"], **self.actor())
        return self._case_response(case)

    @extend_schema(
        summary="Close a case",
        request=CloseSerializer,
        responses={200: CaseSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Helped", value={"reason": "helped"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        case = self.get_object()
        data = self._input(CloseSerializer)
        case = services.case_close(case=case, reason=data["reason"], **self.actor())
        return self._case_response(case)

    @extend_schema(
        summary="Merge this duplicate into another case",
        request=MergeSerializer,
        responses={200: CaseSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        case = self.get_object()
        data = self._input(MergeSerializer)
        into = services.case_merge(duplicate=case, into=data["into"], **self.actor())
        return self._case_response(into)

    @extend_schema(
        summary="Make a commitment to the customer",
        request=CommitmentCreateSerializer,
        responses={201: CommitmentSerializer, **ERROR_RESPONSES},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def commitments(self, request, pk=None):
        case = self.get_object()
        data = self._input(CommitmentCreateSerializer)
        commitment = services.commitment_make(
            case=case,
            owner=self._user_or_field(data, "owner"),
            description=data["description"],
            due_at=data["due_at"],
            **self.actor(),
        )
        return Response(
            CommitmentSerializer(commitment).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="A case's audit trail",
        responses={200: CaseEventSerializer(many=True), **ERROR_RESPONSES},
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request, pk=None):
        case = self.get_object()
        rows = access.events_visible_to(
            request.user, CaseEvent.objects.filter(case=case)
        ).order_by("sync_position", "id")
        return paginated(request, rows, CaseEventSerializer)


@extend_schema_view(
    list=extend_schema(summary="Every case event (append-only audit trail)"),
    retrieve=extend_schema(summary="One case event"),
)
class CaseEventViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = CaseEvent.objects.all()
    serializer_class = CaseEventSerializer
    filterset_class = CaseEventFilter
    search_fields = ["actor_label"]
    ordering_fields = ["sync_position", "created_at", "id"]

    def get_queryset(self):
        # An escalation's trail entries follow the escalation's record rule.
        return access.events_visible_to(self.request.user, super().get_queryset())


@extend_schema_view(
    list=extend_schema(
        summary="Escalations",
        description="Escalations of restricted departments "
        "(`WEBCARE_RESTRICTED_DEPARTMENTS`, security by default) are listed only to "
        "staff involved: the department's members, managers, who requested it and "
        "the case's assignee; never to API clients.",
    ),
    retrieve=extend_schema(summary="One escalation"),
)
class EscalationViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Escalation.objects.all()
    serializer_class = EscalationSerializer
    filterset_class = EscalationFilter
    search_fields = ["reason", "case__subject"]
    ordering_fields = ["sync_position", "requested_at", "id"]

    def get_queryset(self):
        # Record rules (cases/access.py): a restricted department's escalations
        # are hidden from other staff and from every API client (a 404 here).
        return access.escalations_visible_to(self.request.user, super().get_queryset())

    def _input(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        summary="Acknowledge: the department has picked it up",
        request=EscalationAcknowledgeSerializer,
        responses={200: EscalationSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        escalation = self.get_object()
        data = self._input(EscalationAcknowledgeSerializer)
        escalation = services.escalation_acknowledge(
            escalation=escalation, note=data["note"], **actor_for(request)
        )
        return Response(EscalationSerializer(escalation).data)

    @extend_schema(
        summary="Resolve: the department has done its part",
        request=EscalationResolveSerializer,
        responses={200: EscalationSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        escalation = self.get_object()
        data = self._input(EscalationResolveSerializer)
        escalation = services.escalation_resolve(
            escalation=escalation, note=data["note"], **actor_for(request)
        )
        return Response(EscalationSerializer(escalation).data)


@extend_schema_view(
    list=extend_schema(summary="Commitments (promises to customers)"),
    retrieve=extend_schema(summary="One commitment"),
)
class CommitmentViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Commitment.objects.all()
    serializer_class = CommitmentSerializer
    filterset_fields = ["case", "status", "owner"]
    search_fields = ["description"]
    ordering_fields = ["sync_position", "created_at", "due_at", "id"]

    @extend_schema(
        summary="The promise was kept",
        request=None,
        responses={200: CommitmentSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def keep(self, request, pk=None):
        commitment = services.commitment_keep(
            commitment=self.get_object(), **actor_for(request)
        )
        return Response(CommitmentSerializer(commitment).data)

    @extend_schema(
        summary="The promise is cancelled",
        request=None,
        responses={200: CommitmentSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        commitment = services.commitment_cancel(
            commitment=self.get_object(), **actor_for(request)
        )
        return Response(CommitmentSerializer(commitment).data)


class TeamViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    search_fields = ["name"]
    ordering = ["id"]
    ordering_fields = ["id", "name"]


class TopicViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Topic.objects.all()
    serializer_class = TopicSerializer
    search_fields = ["name"]
    ordering = ["id"]
    ordering_fields = ["id", "name"]


class AgentViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The agents (their user ids are what `assignee`, `agent` and `owner` take)."""

    queryset = Agent.objects.select_related("user")
    serializer_class = AgentSerializer
    filterset_fields = ["team", "is_available"]
    search_fields = ["user__first_name", "user__last_name", "user__username"]
    ordering = ["id"]
    ordering_fields = ["id"]
