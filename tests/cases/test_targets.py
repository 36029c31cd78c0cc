"""Response and resolution targets counted in the team's business hours."""

from datetime import UTC, datetime, timedelta

import pytest

from cases import services
from cases.business_hours import business_time_between
from cases.models import Holiday, ServiceTarget
from cases.selectors import service_target_for, team_schedule
from tests.cases.conftest import amsterdam
from tests.factories import MentionFactory, TeamFactory

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
M = timedelta(minutes=1)


def open_case(team, **kwargs):
    kwargs.setdefault("channel", "x_search")
    return services.case_open(subject="Vraag", team=team, **kwargs)


def test_default_targets_ship_with_the_migration():
    normal = service_target_for(priority="normal", channel="x_search")
    assert (normal.channel, normal.first_response, normal.resolution) == (
        "",
        2 * H,
        16 * H,
    )
    assert service_target_for(priority="urgent", channel="").first_response == 30 * M
    # Blogs and forums are read more slowly: their own target.
    forum = service_target_for(priority="normal", channel="feed")
    assert (forum.channel, forum.first_response) == ("feed", 4 * H)
    assert ServiceTarget.objects.filter(channel="").count() == 4


def test_a_case_opened_in_hours_is_due_in_business_time(team, clock):
    clock.set(amsterdam(2026, 3, 2, 9, 0))  # Monday
    case = open_case(team)
    assert case.first_response_due_at == amsterdam(2026, 3, 2, 11, 0)
    assert case.next_due_at == case.first_response_due_at


def test_the_lunch_break_does_not_count(team, clock):
    clock.set(amsterdam(2026, 3, 2, 11, 30))
    case = open_case(team)
    # 30 minutes before 12:00, then 1.5 hours after 12:45.
    assert case.first_response_due_at == amsterdam(2026, 3, 2, 14, 15)


def test_the_weekend_does_not_count(team, clock):
    clock.set(amsterdam(2026, 3, 6, 19, 30))  # Friday, the evening block ends at 20:00
    case = open_case(team)
    # 30 minutes on Friday, then Saturday's morning block from 09:00.
    assert case.first_response_due_at == amsterdam(2026, 3, 7, 10, 30)
    clock.set(amsterdam(2026, 3, 7, 12, 30))  # Saturday, closes at 13:00
    case = open_case(team)
    assert case.first_response_due_at == amsterdam(2026, 3, 9, 9, 30)  # Monday


def test_a_case_opened_outside_hours_starts_counting_at_the_opening(team, clock):
    clock.set(amsterdam(2026, 3, 8, 3, 0))  # Sunday night
    case = open_case(team, priority="urgent")
    assert case.first_response_due_at == amsterdam(2026, 3, 9, 8, 30)
    # Four hours end exactly when the morning block closes.
    assert case.resolution_due_at == amsterdam(2026, 3, 9, 12, 0)


def test_a_team_holiday_closes_the_day(team, clock):
    Holiday.objects.create(date=datetime(2026, 3, 9).date(), name="Teamdag")
    clock.set(amsterdam(2026, 3, 7, 12, 0))  # Saturday
    case = open_case(team)
    # One hour on Saturday; Sunday closed; Monday is the team day.
    assert case.first_response_due_at == amsterdam(2026, 3, 10, 9, 0)


def test_dutch_public_holidays_are_closed(team, clock):
    # Easter 2026: Sunday 5 April, Easter Monday 6 April.
    clock.set(amsterdam(2026, 4, 4, 14, 0))  # Saturday after closing
    case = open_case(team)
    assert case.first_response_due_at == amsterdam(2026, 4, 7, 10, 0)


def test_team_opening_hours_override_the_default(clock):
    team = TeamFactory(
        name="Nachtploeg",
        opening_hours={"blocks": {"mon": ["20:00-24:00"], "tue": ["00:00-06:00"]}},
    )
    clock.set(amsterdam(2026, 3, 2, 23, 0))
    case = open_case(team)
    # One hour until midnight, one after.
    assert case.first_response_due_at == amsterdam(2026, 3, 3, 1, 0)


@pytest.mark.parametrize(
    ("opened", "expected_due"),
    [
        # Spring forward, Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST.
        (
            datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
            datetime(2026, 3, 29, 4, 30, tzinfo=UTC),
        ),
        # Fall back, Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET.
        (
            datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 3, 30, tzinfo=UTC),
        ),
    ],
)
def test_business_time_is_real_time_across_a_dst_change(opened, expected_due, clock):
    team = TeamFactory(
        name="Altijd open",
        opening_hours={"blocks": {"sun": ["00:00-24:00"], "sat": ["00:00-24:00"]}},
    )
    clock.set(opened)
    case = open_case(team, priority="urgent")
    # Four hours of open time are four real hours, whatever the wall clock says.
    assert case.resolution_due_at == expected_due


def test_dst_change_between_blocks_keeps_wall_time_openings(team, clock):
    # Saturday 28 March 2026 12:00 CET, 2h normal target: 1h on Saturday, then
    # Monday 30 March (CEST) from 08:00 local = 06:00 UTC.
    clock.set(amsterdam(2026, 3, 28, 12, 0))
    case = open_case(team)
    assert case.first_response_due_at == amsterdam(2026, 3, 30, 9, 0)
    assert case.first_response_due_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_a_channel_target_wins_over_the_any_channel_target(team, clock):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team, channel="feed")
    assert case.first_response_due_at == amsterdam(2026, 3, 2, 13, 45)


def test_without_a_target_there_are_no_due_times(team, clock):
    ServiceTarget.objects.filter(priority="low").delete()
    case = open_case(team, priority="low")
    assert case.first_response_due_at is None
    assert case.resolution_due_at is None
    assert case.next_due_at is None


def test_waiting_on_the_customer_stops_the_resolution_clock(team, agent, clock):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team)
    services.case_reply(case=case, agent=agent, text="Welk rekeningnummer?")
    case.refresh_from_db()
    due = case.resolution_due_at
    clock.set(amsterdam(2026, 3, 2, 10, 0))
    services.case_wait_for_customer(case=case, actor=agent)
    case.refresh_from_db()
    assert case.next_due_at is None  # nothing is due while the customer is away
    schedule = team_schedule(team)
    left = business_time_between(schedule, clock.now, due)
    clock.set(amsterdam(2026, 3, 3, 10, 0))  # the customer answers a day later
    services.case_add_mention(case=case, mention=MentionFactory(), actor_label="t")
    case.refresh_from_db()
    assert business_time_between(schedule, clock.now, case.resolution_due_at) == left
    assert case.resolution_due_at > due
    assert case.next_due_at == case.resolution_due_at


def test_a_reopened_case_gets_a_fresh_resolution_target(team, agent, clock):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team, priority="urgent")
    services.case_reply(case=case, agent=agent, text="Opgelost")
    services.case_resolve(case=case, actor=agent)
    clock.set(amsterdam(2026, 3, 4, 9, 0))
    case = services.case_reopen(case=case, reason="Toch niet", actor=agent)
    assert case.resolution_due_at == amsterdam(2026, 3, 4, 13, 45)  # lunch skipped
    assert case.next_due_at == case.resolution_due_at
    assert case.resolution_breached_at is None
