"""Every admin changelist and change form renders for each staff group, and no list
page runs a query per row: the query count is the same for few rows and for many."""

from datetime import date, timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    ApprovedFact,
    Commitment,
    DepartmentMembership,
    Holiday,
    ReplyTemplate,
    ServiceTarget,
)
from reporting.models import DailySummary
from sources.models import EngagementRule, ReachSample, TriageRun
from tests.factories import (
    AgentFactory,
    CaseEventFactory,
    CaseFactory,
    EscalationFactory,
    MentionFactory,
    NoteFactory,
    ReplyFactory,
    SurveyFactory,
    TopicFactory,
    UserFactory,
)
from webcare.api.models import (
    ApiAuditEntry,
    ApiClient,
    Webhook,
    WebhookDelivery,
    hash_token,
)
from webcare.notices.models import Notice

pytestmark = pytest.mark.django_db

ROLES = ("agent", "spokesperson", "customer_service", "manager")


def populate(count: int, offset: int) -> None:
    """`count` rows of every model, linked as in real use."""
    now = timezone.now()
    for n in range(offset, offset + count):
        agent = AgentFactory()
        case = CaseFactory(assignee=agent.user, team=agent.team)
        case.topics.add(TopicFactory())
        mention = MentionFactory(case=case, author=case.customer)
        ReachSample.objects.create(mention=mention, reach=n)
        MentionFactory(triage_status="review")
        TriageRun.objects.create(scope="review", total=n)
        ReplyFactory(case=case, agent=agent.user, in_reply_to=mention)
        NoteFactory(case=case, author=agent.user)
        EscalationFactory(case=case, requested_by=agent.user)
        CaseEventFactory(case=case, actor=agent.user)
        Commitment.objects.create(
            case=case, owner=agent.user, description="Call back", due_at=now
        )
        DepartmentMembership.objects.create(user=agent.user, department="security")
        SurveyFactory(case=case, score=n % 11)
        client = ApiClient.objects.create(
            name=f"crm{n}",
            token_prefix=f"p{n}",
            token_hash=hash_token(f"t{n}"),
            scopes=["read"],
        )
        webhook = Webhook.objects.create(
            client=client,
            url="http://127.0.0.1:9/hook",
            events=["case.opened"],
            secret="s",
        )
        WebhookDelivery.objects.create(webhook=webhook, event="case.opened", payload={})
        ApiAuditEntry.objects.create(
            client=client,
            client_name=client.name,
            method="POST",
            path="/api/v1/cases/",
            operation="cases.create",
            status_code=201,
        )
        EngagementRule.objects.create(name=f"rule {n}", outcome="ignore", position=n)
        Holiday.objects.create(
            date=date(2030, 1, 1) + timedelta(days=n), name=f"day {n}"
        )
        ReplyTemplate.objects.create(name=f"template {n}", text="Hoi {customer}")
        ApprovedFact.objects.create(
            statement=f"fact {n}",
            owner_department="pr",
            owner=agent.user,
            sources="-",
            review_by=date(2030, 1, 1) + timedelta(days=n),
        )
        DailySummary.objects.create(date=date(2030, 1, 1) + timedelta(days=n), body="-")
        Notice.objects.create(
            kind="source_health", subject=f"notice {n}", body="-", recipients=["t@x"]
        )
        # django-axes: failed admin logins and the login log.
        login = {
            "username": f"guess{n}",
            "ip_address": "198.51.100.7",
            "user_agent": "ua",
            "http_accept": "*/*",
            "path_info": "/admin/login/",
        }
        AccessAttempt.objects.create(
            **login, get_data="", post_data="", failures_since_start=n + 1
        )
        AccessFailureLog.objects.create(**login, locked_out=n > 4)
        AccessLog.objects.create(**login)
    for priority in ("low", "normal", "high", "urgent"):
        ServiceTarget.objects.get_or_create(
            priority=priority,
            channel="",
            defaults={
                "first_response": timedelta(hours=1),
                "resolution": timedelta(hours=8),
                "escalation_acknowledgement": timedelta(hours=2),
            },
        )


def registered_models():
    return sorted(admin.site._registry, key=lambda model: model._meta.label)


def staff_user(role: str):
    return UserFactory(username=f"staff-{role}", groups=[role])


def count_queries(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response.status_code, len(queries)


@pytest.mark.parametrize("role", ROLES)
def test_every_changelist_renders_without_a_query_per_row(client, role):
    user = staff_user(role)
    client.force_login(user)
    populate(2, offset=0)
    few = {}
    for model in registered_models():
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        )
        few[model] = count_queries(client, url)
    populate(6, offset=2)
    for model in registered_models():
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        )
        status, many = count_queries(client, url)
        may_view = user.has_perm(
            f"{model._meta.app_label}.view_{model._meta.model_name}"
        )
        assert status == (200 if may_view else 403), (model, role, status)
        if may_view:
            assert many == few[model][1], f"{model._meta.label} runs a query per row"
            assert many <= 40, f"{model._meta.label} runs {many} queries"


@pytest.mark.parametrize("role", ROLES)
def test_every_change_form_renders_with_bounded_queries(client, role):
    user = staff_user(role)
    client.force_login(user)
    populate(3, offset=0)
    for model in registered_models():
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"populate() makes no {model._meta.label}"
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
            args=[obj.pk],
        )
        status, queries = count_queries(client, url)
        may_view = user.has_perm(
            f"{model._meta.app_label}.view_{model._meta.model_name}"
        )
        assert status == (200 if may_view else 403), (model, role, status)
        if may_view:
            assert queries <= 60, (
                f"{model._meta.label} change form runs {queries} queries"
            )
