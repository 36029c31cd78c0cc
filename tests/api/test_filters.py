from datetime import timedelta

import pytest
from django.utils import timezone

from cases.api.filters import CaseFilter
from cases.models import Case, Topic
from tests.factories import (
    AuthorFactory,
    CaseFactory,
    MentionFactory,
    SourceFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_the_filterset_on_its_own():
    wanted = CaseFactory(status="open", priority="high", category="complaint")
    CaseFactory(status="new", priority="high", category="complaint")
    CaseFactory(status="open", priority="low", category="question")
    found = CaseFilter(
        {"status": ["open"], "priority": ["high"], "category": ["complaint"]},
        queryset=Case.objects.all(),
    ).qs
    assert list(found) == [wanted]
    invalid = CaseFilter({"status": ["sleeping"]}, queryset=Case.objects.all())
    assert not invalid.is_valid()
    assert "status" in invalid.errors


def test_status_priority_category_and_channel(crm):
    a = CaseFactory(status="open", priority="urgent", category="phishing")
    b = CaseFactory(status="new", priority="low", category="question", channel="reddit")
    assert ids(crm.get(CASES, {"status": ["open", "new"]})) == {a.pk, b.pk}
    assert ids(crm.get(CASES, {"priority": "urgent"})) == {a.pk}
    assert ids(crm.get(CASES, {"category": "question"})) == {b.pk}
    assert ids(crm.get(CASES, {"channel": "reddit"})) == {b.pk}
    assert ids(crm.get(CASES, {"active": "true"})) == {a.pk, b.pk}
    assert crm.get(CASES, {"status": "sleeping"}).status_code == 400


def test_assignee_team_customer_and_crm_customer(crm, agent):
    other_team = TeamFactory(name="Zakelijk")
    customer = AuthorFactory(crm_customer_id="CRM-7")
    a = CaseFactory(assignee=agent, customer=customer, crm_customer_id="CRM-7")
    b = CaseFactory(team=other_team)
    assert ids(crm.get(CASES, {"assignee": agent.pk})) == {a.pk}
    assert ids(crm.get(CASES, {"unassigned": "true"})) == {b.pk}
    assert ids(crm.get(CASES, {"team": other_team.pk})) == {b.pk}
    assert ids(crm.get(CASES, {"customer": customer.pk})) == {a.pk}
    assert ids(crm.get(CASES, {"crm_customer_id": "CRM-7"})) == {a.pk}
    # An unknown id matches nothing; a non-number is refused.
    assert ids(crm.get(CASES, {"assignee": 987654})) == set()
    assert crm.get(CASES, {"assignee": "anna"}).status_code == 400
    assert crm.get(CASES, {"assignee": "99999999999999999999999"}).status_code == 400


def test_topic_and_source_give_each_case_once(crm):
    payments = Topic.objects.create(name="Payments")
    a, b = CaseFactory(), CaseFactory()
    a.topics.add(payments)
    forum, feed = SourceFactory(), SourceFactory()
    # Two mentions from the same source: still one row for the case.
    MentionFactory(case=a, source=forum)
    MentionFactory(case=a, source=forum)
    MentionFactory(case=b, source=feed)
    assert [
        r["id"] for r in crm.get(CASES, {"topic": "Payments"}).json()["results"]
    ] == [a.pk]
    rows = crm.get(CASES, {"source": str(forum.pk)}).json()["results"]
    assert [row["id"] for row in rows] == [a.pk]
    assert ids(crm.get(CASES, {"source": f"{forum.pk},{feed.pk}"})) == {a.pk, b.pk}


def test_created_and_updated_ranges(crm):
    now = timezone.now()
    old = CaseFactory(created_at=now - timedelta(days=10))
    new = CaseFactory(created_at=now - timedelta(hours=1))
    Case.objects.filter(pk=old.pk).update(updated_at=now - timedelta(days=9))
    since = (now - timedelta(days=2)).isoformat()
    assert ids(crm.get(CASES, {"created_after": since})) == {new.pk}
    assert ids(crm.get(CASES, {"created_before": since})) == {old.pk}
    assert ids(crm.get(CASES, {"updated_since": since})) == {new.pk}
    assert ids(crm.get(CASES, {"updated_before": since})) == {old.pk}
    assert crm.get(CASES, {"updated_since": "yesterday"}).status_code == 400


def test_search_and_ordering(crm):
    a = CaseFactory(subject="Hypotheekrente te hoog")
    b = CaseFactory(subject="App crasht bij inloggen")
    assert ids(crm.get(CASES, {"search": "hypotheek"})) == {a.pk}
    assert crm.get(CASES, {"search": "a\x00b"}).status_code == 400
    newest_first = crm.get(CASES, {"ordering": "-created_at"}).json()["results"]
    assert [row["id"] for row in newest_first] == [b.pk, a.pk]
    oldest_first = crm.get(CASES, {"ordering": "created_at"}).json()["results"]
    assert [row["id"] for row in oldest_first] == [a.pk, b.pk]


def test_other_lists_filter_too(crm):
    case = CaseFactory()
    mention = MentionFactory(case=case, language="nl")
    MentionFactory(language="en")
    rows = crm.get("/api/v1/mentions/", {"case": case.pk}).json()["results"]
    assert [row["id"] for row in rows] == [mention.pk]
    rows = crm.get("/api/v1/mentions/", {"language": "en"}).json()["results"]
    assert len(rows) == 1 and rows[0]["id"] != mention.pk
    assert crm.get("/api/v1/escalations/", {"status": "open"}).status_code == 200
    assert crm.get("/api/v1/escalations/", {"department": "nowhere"}).status_code == 400
