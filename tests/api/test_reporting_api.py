from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import CaseFactory, MentionFactory, ReplyFactory, SurveyFactory

pytestmark = pytest.mark.django_db


def test_surveys_never_show_the_token_and_the_link_needs_write(crm, reader):
    survey = SurveyFactory(status="answered", score=9, responded_at=timezone.now())
    row = reader.get(f"/api/v1/surveys/{survey.pk}/").json()
    assert row["score"] == 9 and row["band"] == "promoter"
    assert survey.token not in str(reader.get("/api/v1/surveys/").json())
    assert reader.get(f"/api/v1/surveys/{survey.pk}/link/").status_code == 403
    link = crm.get(f"/api/v1/surveys/{survey.pk}/link/").json()
    assert link["url"].endswith(f"/s/{survey.token}/")
    assert link["case"] == survey.case_id
    rows = reader.get("/api/v1/surveys/", {"case": survey.case_id}).json()["results"]
    assert [r["id"] for r in rows] == [survey.pk]


def test_nps_figures(reader):
    now = timezone.now()
    for score in (10, 9, 7, 3):
        SurveyFactory(
            status="answered",
            score=score,
            sent_at=now - timedelta(days=1),
            responded_at=now,
        )
    SurveyFactory(status="sent", sent_at=now - timedelta(days=1))
    body = reader.get(
        "/api/v1/reports/nps/", {"group_by": "period", "period": "day"}
    ).json()
    total = body["total"]
    assert (
        total["promoters"],
        total["passives"],
        total["detractors"],
        total["sent"],
    ) == (2, 1, 1, 5)
    assert total["nps"] == 25.0
    assert sum(group["answered"] for group in body["groups"]) == 4
    assert (
        reader.get("/api/v1/reports/nps/", {"group_by": "weather"}).status_code == 400
    )
    assert (
        reader.get(
            "/api/v1/reports/nps/",
            {"start": "2026-01-02T00:00Z", "end": "2026-01-01T00:00Z"},
        ).status_code
        == 400
    )


def test_response_times_and_volumes(reader):
    now = timezone.now()
    quick = CaseFactory(created_at=now - timedelta(hours=5), priority="high")
    quick.first_response_at = quick.created_at + timedelta(minutes=10)
    quick.status = "open"
    quick.save()
    slow = CaseFactory(created_at=now - timedelta(hours=4), priority="low")
    slow.first_response_at = slow.created_at + timedelta(minutes=50)
    slow.status = "open"
    slow.first_response_breached_at = now
    slow.save()
    CaseFactory(created_at=now - timedelta(hours=3))
    ReplyFactory(case=quick)
    MentionFactory()
    body = reader.get(
        "/api/v1/reports/response-times/", {"group_by": "priority"}
    ).json()
    first = body["total"]["first_response"]
    assert body["total"]["opened"] == 3
    assert (first["count"], first["median_seconds"], first["breached"]) == (
        2,
        1800.0,
        1,
    )
    assert {group["key"] for group in body["groups"]} == {"high", "low", "normal"}
    volumes = reader.get(
        "/api/v1/reports/volumes/",
        {"period": "day", "start": (now - timedelta(days=2)).isoformat()},
    ).json()
    assert volumes["total"]["cases_opened"] == 3
    assert volumes["total"]["replies"] == 1
    assert volumes["total"]["mentions"] == 1
    assert len(volumes["periods"]) in (3, 4)
