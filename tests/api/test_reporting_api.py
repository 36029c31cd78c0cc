from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cases.business_hours import (
    DEFAULT_CONFIG,
    DEFAULT_SCHEDULE,
    WEEKDAY_NAMES,
    Schedule,
    business_time_between,
)
from cases.models import Case
from reporting import selectors as reporting_selectors
from reporting.api import views as api_views
from reporting.selectors import BusinessClock
from tests.factories import (
    CaseFactory,
    MentionFactory,
    ReplyFactory,
    SurveyFactory,
    TeamFactory,
)

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


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=AMSTERDAM)


def test_response_times_count_each_teams_business_hours(reader):
    # Default hours: weekdays 08:00-12:00, 12:45-17:30, 18:00-20:00; Saturday 09-13.
    office = TeamFactory(name="Office hours")
    # Round the clock; the night of 28/29 March 2026 has an hour less (summer time).
    always = TeamFactory(
        name="Always open",
        opening_hours={"blocks": {day: ["00:00-24:00"] for day in WEEKDAY_NAMES}},
    )
    weekend = CaseFactory(team=office, created_at=_local(2026, 3, 6, 19))  # Friday
    weekend.first_response_at = _local(2026, 3, 9, 9)  # Monday: 1 h + 4 h + 1 h
    weekend.status = "open"
    weekend.save()
    evening = CaseFactory(team=office, created_at=_local(2026, 3, 9, 17))
    evening.first_response_at = _local(2026, 3, 9, 17, 10)
    evening.resolved_at = _local(2026, 3, 10, 8, 30)  # 30 min + 2 h + 30 min
    evening.status = "resolved"
    evening.save()
    night = CaseFactory(team=always, created_at=_local(2026, 3, 28, 22))
    night.first_response_at = _local(2026, 3, 29, 4)  # 6 h on the clock, 5 h passed
    night.status = "open"
    night.save()
    CaseFactory(team=always, created_at=_local(2026, 4, 1, 2))  # after the end

    body = reader.get(
        "/api/v1/reports/response-times/",
        {"start": "2026-03-01T00:00Z", "end": "2026-04-01T00:00Z", "group_by": "team"},
    ).json()

    assert body["total"]["opened"] == 3
    assert body["total"]["first_response"]["count"] == 3
    groups = {group["key"]: group for group in body["groups"]}
    assert set(groups) == {str(office.pk), str(always.pk)}
    office_first = groups[str(office.pk)]["first_response"]
    assert office_first["median_business_seconds"] == (6 * 3600 + 600) / 2
    assert office_first["median_seconds"] == (62 * 3600 + 600) / 2
    resolution = groups[str(office.pk)]["resolution"]
    assert (resolution["count"], resolution["median_business_seconds"]) == (1, 10800)
    assert resolution["median_seconds"] == 15.5 * 3600
    always_first = groups[str(always.pk)]["first_response"]
    assert always_first["median_business_seconds"] == 5 * 3600
    assert always_first["median_seconds"] == 5 * 3600
    assert groups[str(always.pk)]["opened"] == 1
    assert Case.objects.filter(team=always).count() == 2


def test_response_times_read_the_cases_in_chunks(reader, monkeypatch):
    monkeypatch.setattr(api_views, "REPORT_CHUNK_SIZE", 2)
    now = timezone.now()
    for minutes in (10, 20, 30, 40, 90):
        case = CaseFactory(created_at=now - timedelta(hours=3))
        case.first_response_at = case.created_at + timedelta(minutes=minutes)
        case.status = "open"
        case.save()
    first = reader.get("/api/v1/reports/response-times/").json()["total"][
        "first_response"
    ]
    assert (first["count"], first["median_seconds"], first["p90_seconds"]) == (
        5,
        1800.0,
        5400.0,
    )
    assert first["mean_seconds"] == 2280.0


EDGE_SCHEDULE = Schedule.from_config(
    {
        **DEFAULT_CONFIG,
        "blocks": {
            "mon": ["08:00-12:00", "12:45-17:30", "18:00-24:00"],
            "tue": ["00:00-01:30", "09:00-17:00"],
            "wed": ["02:00-03:00", "09:00-17:00"],
            "thu": ["09:00-17:00"],
            "fri": ["09:00-17:00"],
            "sun": ["01:30-02:45", "22:00-24:00"],
        },
        "holidays": ["2026-10-27"],
    }
)
CLOCK_SINCE = datetime(2026, 3, 20, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(2026, 3, 10),
    max_value=datetime(2029, 12, 31),
    timezones=st.just(UTC),
)


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(start=instants, end=instants)
@example(start=_utc(2026, 3, 17, 10), end=_utc(2026, 3, 23, 10))  # before `since`
@example(start=_utc(2026, 3, 21), end=_utc(2029, 12, 30))  # too far ahead
@example(start=_utc(2026, 3, 29, 0, 30), end=_utc(2026, 3, 29, 2))  # summer time
@example(start=_utc(2026, 10, 25), end=_utc(2026, 10, 25, 3))  # winter time
@example(start=_utc(2026, 10, 26, 22), end=_utc(2026, 10, 28, 12))  # a holiday
def test_business_clock_equals_business_time_between(start, end):
    # One clock for all examples, as the report keeps one per team: it is extended
    # as later instants come, and goes back to the direct computation before
    # `since` and too far ahead. Both DST changes and a holiday lie in the range.
    clock = _shared_clock()
    assert clock.between(start, end) == business_time_between(EDGE_SCHEDULE, start, end)


_clocks: list = []


def _shared_clock() -> BusinessClock:
    if not _clocks:
        _clocks.append(BusinessClock(EDGE_SCHEDULE, since=CLOCK_SINCE))
    return _clocks[0]


def test_business_clock_falls_back_when_intervals_overlap(monkeypatch):
    def overlapping(schedule, day):
        opens = datetime.combine(day, time(9), tzinfo=UTC)
        return [(opens, opens + timedelta(hours=30))]

    monkeypatch.setattr(reporting_selectors, "day_intervals", overlapping)
    clock = BusinessClock(DEFAULT_SCHEDULE, since=CLOCK_SINCE)
    start = datetime(2026, 3, 23, 10, tzinfo=UTC)  # Monday, 11:00 in Amsterdam
    end = start + timedelta(days=2)
    assert clock.between(start, end) == business_time_between(
        DEFAULT_SCHEDULE, start, end
    )
    assert clock.additive is False
