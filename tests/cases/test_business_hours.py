from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.business_hours import (
    DEFAULT_CONFIG,
    DEFAULT_SCHEDULE,
    MAX_CLOSED_DAYS,
    Schedule,
    ScheduleError,
    add_business_time,
    business_time_between,
    dutch_public_holiday_names,
    dutch_public_holidays,
    easter_sunday,
    is_open,
    next_open,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
# 4.5 + 4.25 = 8.75 open hours a weekday, closed at weekends and Dutch holidays.
OFFICE = Schedule.from_config(
    {
        "blocks": {day: ["08:00-12:30", "13:15-17:30"] for day in WEEKDAYS},
        "dutch_public_holidays": True,
    }
)
# Only open on Sunday nights across the hour at which the clocks change.
NIGHT = Schedule.from_config({"blocks": {"sun": ["01:00-04:00"]}})


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMSTERDAM)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Dutch public holidays ---------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2016, date(2016, 3, 27)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),  # the latest possible date
        (2285, date(2285, 3, 22)),  # the earliest possible date
    ],
)
def test_easter_sunday_matches_known_dates(year, expected):
    assert easter_sunday(year) == expected


def test_it_lists_the_dutch_public_holidays_of_2026():
    assert dutch_public_holiday_names(2026) == {
        date(2026, 1, 1): "Nieuwjaarsdag",
        date(2026, 4, 3): "Goede Vrijdag",
        date(2026, 4, 5): "Eerste Paasdag",
        date(2026, 4, 6): "Tweede Paasdag",
        date(2026, 4, 27): "Koningsdag",
        date(2026, 5, 14): "Hemelvaartsdag",
        date(2026, 5, 24): "Eerste Pinksterdag",
        date(2026, 5, 25): "Tweede Pinksterdag",
        date(2026, 12, 25): "Eerste Kerstdag",
        date(2026, 12, 26): "Tweede Kerstdag",
    }


def test_it_lists_the_dutch_public_holidays_of_2027():
    assert dutch_public_holiday_names(2027) == {
        date(2027, 1, 1): "Nieuwjaarsdag",
        date(2027, 3, 26): "Goede Vrijdag",
        date(2027, 3, 28): "Eerste Paasdag",
        date(2027, 3, 29): "Tweede Paasdag",
        date(2027, 4, 27): "Koningsdag",
        date(2027, 5, 6): "Hemelvaartsdag",
        date(2027, 5, 16): "Eerste Pinksterdag",
        date(2027, 5, 17): "Tweede Pinksterdag",
        date(2027, 12, 25): "Eerste Kerstdag",
        date(2027, 12, 26): "Tweede Kerstdag",
    }


def test_kings_day_moves_to_saturday_when_the_27th_is_a_sunday():
    assert date(2025, 4, 27).weekday() == 6
    holidays = dutch_public_holidays(2025)
    assert date(2025, 4, 26) in holidays
    assert date(2025, 4, 27) not in holidays


def test_liberation_day_is_closed_only_in_lustrum_years_by_default():
    assert date(2025, 5, 5) in dutch_public_holidays(2025)
    assert date(2030, 5, 5) in dutch_public_holidays(2030)
    assert date(2026, 5, 5) not in dutch_public_holidays(2026)
    assert date(2026, 5, 5) in dutch_public_holidays(2026, include_liberation_day=True)
    assert date(2025, 5, 5) not in dutch_public_holidays(
        2025, include_liberation_day=False
    )


def test_liberation_day_on_ascension_day_keeps_both_names():
    names = dutch_public_holiday_names(2016, include_liberation_day=True)
    assert names[date(2016, 5, 5)] == "Bevrijdingsdag / Hemelvaartsdag"
    assert len(names) == 10


def test_it_rejects_bad_holiday_arguments():
    with pytest.raises(ValueError, match="include_liberation_day"):
        dutch_public_holidays(2026, include_liberation_day="sometimes")
    with pytest.raises(ValueError, match="from 2014"):
        dutch_public_holidays(2013)


# is_open and next_open -----------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 1, 5, 7, 59, 59), False),  # Monday before opening
        (local(2026, 1, 5, 8, 0), True),
        (local(2026, 1, 5, 12, 29, 59, 999999), True),
        (local(2026, 1, 5, 12, 30), False),  # lunch gap
        (local(2026, 1, 5, 13, 15), True),
        (local(2026, 1, 5, 17, 30), False),  # closed at closing time
        (local(2026, 1, 3, 10, 0), False),  # Saturday
        (local(2026, 1, 4, 10, 0), False),  # Sunday
        (local(2026, 1, 1, 10, 0), False),  # Nieuwjaarsdag, a Thursday
        (local(2026, 1, 2, 10, 0), True),
        (local(2026, 4, 27, 10, 0), False),  # Koningsdag, a Monday
        (local(2026, 5, 5, 10, 0), True),  # Bevrijdingsdag, not a lustrum year
        (local(2026, 5, 14, 10, 0), False),  # Hemelvaartsdag
        (utc(2026, 1, 5, 7, 0), True),  # 08:00 in Amsterdam
        (utc(2026, 1, 5, 6, 59), False),
        (utc(2026, 7, 6, 6, 0), True),  # 08:00 in summer time
        (utc(2026, 7, 6, 5, 59), False),
        (datetime(2026, 1, 5, 2, 0, tzinfo=NEW_YORK), True),  # 08:00 Amsterdam
    ],
)
def test_is_open_compares_in_the_schedule_time_zone(at, expected):
    assert is_open(OFFICE, at) is expected


def test_next_open_returns_the_instant_itself_when_open():
    at = local(2026, 1, 5, 9, 17, 3)
    result = next_open(OFFICE, at)
    assert result == at
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 1, 5, 6, 0), local(2026, 1, 5, 8, 0)),  # before opening
        (local(2026, 1, 5, 12, 45), local(2026, 1, 5, 13, 15)),  # lunch gap
        (local(2026, 1, 5, 17, 30), local(2026, 1, 6, 8, 0)),  # at closing
        (local(2026, 1, 9, 23, 0), local(2026, 1, 12, 8, 0)),  # Friday night
        (local(2025, 12, 31, 18, 0), local(2026, 1, 2, 8, 0)),  # over New Year
        (local(2026, 4, 2, 18, 0), local(2026, 4, 7, 8, 0)),  # over Easter
    ],
)
def test_next_open_finds_the_start_of_the_next_block(at, expected):
    result = next_open(OFFICE, at)
    assert result == expected
    assert result.tzinfo is UTC


# add_business_time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # Opened Friday 23:00: counting starts Monday 08:00.
        (local(2026, 1, 9, 23, 0), 2 * HOUR, local(2026, 1, 12, 10, 0)),
        # In the lunch gap: counting starts at 13:15.
        (local(2026, 1, 5, 12, 45), HOUR, local(2026, 1, 5, 14, 15)),
        # Inside a block: one hour before lunch, one after.
        (local(2026, 1, 5, 11, 30), 2 * HOUR, local(2026, 1, 5, 14, 15)),
        # Exactly filling the block ends at closing, not at the next opening.
        (local(2026, 1, 5, 11, 30), HOUR, local(2026, 1, 5, 12, 30)),
        (local(2026, 1, 5, 6, 0), 30 * MINUTE, local(2026, 1, 5, 8, 30)),
        (local(2026, 1, 5, 19, 0), 30 * MINUTE, local(2026, 1, 6, 8, 30)),
        # On a holiday (Thursday 1 January): starts Friday.
        (local(2026, 1, 1, 10, 0), HOUR, local(2026, 1, 2, 9, 0)),
        # 20 hours = Monday 8.75 + Tuesday 8.75 + 2.5 on Wednesday.
        (local(2026, 1, 5, 8, 0), 20 * HOUR, local(2026, 1, 7, 10, 30)),
        # One full working week of 43.75 hours ends Friday at closing.
        (
            local(2026, 1, 5, 8, 0),
            timedelta(hours=43, minutes=45),
            local(2026, 1, 9, 17, 30),
        ),
        # Christmas Eve (Thursday) 17:00: half an hour, then Christmas and the
        # weekend, the rest on Monday 28 December.
        (local(2026, 12, 24, 17, 0), 2 * HOUR, local(2026, 12, 28, 9, 30)),
        # Zero duration: due at once when open, at the next opening when not.
        (local(2026, 1, 5, 9, 0), timedelta(0), local(2026, 1, 5, 9, 0)),
        (local(2026, 1, 3, 9, 0), timedelta(0), local(2026, 1, 5, 8, 0)),
        # Seconds and microseconds are kept exactly.
        (
            local(2026, 1, 5, 12, 29, 59, 500000),
            timedelta(seconds=1),
            local(2026, 1, 5, 13, 15, 0, 500000),
        ),
    ],
)
def test_add_business_time_counts_only_open_time(start, duration, due):
    result = add_business_time(OFFICE, start, duration)
    assert result == due
    assert result.tzinfo is UTC


def test_add_business_time_spans_a_long_christmas_closure():
    # The team also closes between Christmas and New Year in this config.
    schedule = Schedule.from_config(
        {
            "blocks": {day: ["08:00-12:30", "13:15-17:30"] for day in WEEKDAYS},
            "holidays": ["2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31"],
            "dutch_public_holidays": True,
        }
    )
    # Thursday 24 December 17:00 + 2h: 30 minutes, then closed until Monday
    # 4 January 2027 (Friday 1 January is Nieuwjaarsdag).
    due = add_business_time(schedule, local(2026, 12, 24, 17, 0), 2 * HOUR)
    assert due == local(2027, 1, 4, 9, 30)
    assert business_time_between(schedule, local(2026, 12, 24, 17, 0), due) == 2 * HOUR


def test_add_business_time_accepts_any_time_zone():
    # 17:00 Friday in New York is 23:00 in Amsterdam.
    start = datetime(2026, 1, 9, 17, 0, tzinfo=NEW_YORK)
    assert add_business_time(OFFICE, start, 2 * HOUR) == utc(2026, 1, 12, 9, 0)


def test_add_business_time_rejects_bad_arguments():
    with pytest.raises(ValueError, match="negative"):
        add_business_time(OFFICE, local(2026, 1, 5, 9, 0), -MINUTE)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(OFFICE, datetime(2026, 1, 5, 9, 0), HOUR)
    with pytest.raises(TypeError, match="timedelta"):
        add_business_time(OFFICE, local(2026, 1, 5, 9, 0), 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2026, 1, 5, 9, 0))


# business_time_between ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            local(2026, 1, 5, 0, 0),
            local(2026, 1, 12, 0, 0),
            timedelta(hours=43, minutes=45),
        ),
        # Friday 17:00 to Monday 09:00 over the weekend: 30 + 60 minutes.
        (local(2026, 1, 9, 17, 0), local(2026, 1, 12, 9, 0), 90 * MINUTE),
        # Inside the lunch gap only.
        (local(2026, 1, 5, 12, 35), local(2026, 1, 5, 13, 10), timedelta(0)),
        (local(2026, 1, 5, 12, 0), local(2026, 1, 5, 14, 0), 75 * MINUTE),
        # Whole Easter weekend from Thursday evening to Tuesday morning.
        (local(2026, 4, 2, 18, 0), local(2026, 4, 7, 8, 0), timedelta(0)),
        # end before start
        (local(2026, 1, 6, 10, 0), local(2026, 1, 5, 10, 0), timedelta(0)),
        (local(2026, 1, 5, 10, 0), local(2026, 1, 5, 10, 0), timedelta(0)),
    ],
)
def test_business_time_between_counts_open_time(start, end, expected):
    assert business_time_between(OFFICE, start, end) == expected


def test_a_year_of_business_time_excludes_weekends_and_holidays():
    # 2026 has 261 weekdays; of its holidays, 7 fall on weekdays (1 Jan, Good
    # Friday, Easter Monday, King's Day, Ascension, Whit Monday, Christmas Day).
    total = business_time_between(OFFICE, local(2026, 1, 1), local(2027, 1, 1))
    assert total == (261 - 7) * timedelta(hours=8, minutes=45)


# Daylight saving time ------------------------------------------------------------


def test_spring_forward_night_has_one_hour_less():
    # 2026-03-29 01:00 CET = 00:00 UTC; 04:00 CEST = 02:00 UTC.
    assert business_time_between(
        NIGHT, local(2026, 3, 28), local(2026, 3, 30)
    ) == timedelta(hours=2)
    assert business_time_between(
        NIGHT, local(2026, 3, 21), local(2026, 3, 23)
    ) == timedelta(hours=3)
    assert next_open(NIGHT, local(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 0, 0)
    assert add_business_time(NIGHT, local(2026, 3, 29, 1, 0), 2 * HOUR) == utc(
        2026, 3, 29, 2, 0
    )
    # Half an hour more carries over to the next Sunday, in summer time.
    assert add_business_time(
        NIGHT, local(2026, 3, 29, 1, 0), timedelta(hours=2, minutes=30)
    ) == utc(2026, 4, 4, 23, 30)


def test_fall_back_night_has_one_hour_more():
    # 2026-10-25 01:00 CEST = 23:00 UTC the day before; 04:00 CET = 03:00 UTC.
    assert business_time_between(
        NIGHT, local(2026, 10, 24), local(2026, 10, 26)
    ) == timedelta(hours=4)
    assert add_business_time(NIGHT, local(2026, 10, 25, 1, 0), 4 * HOUR) == utc(
        2026, 10, 25, 3, 0
    )
    # Both occurrences of 02:30 are open.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=AMSTERDAM, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=AMSTERDAM, fold=1)
    assert first.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert second.astimezone(UTC) == utc(2026, 10, 25, 1, 30)
    assert is_open(NIGHT, first)
    assert is_open(NIGHT, second)
    assert not is_open(NIGHT, utc(2026, 10, 25, 3, 0))


def test_whole_day_blocks_last_23_and_25_hours_on_dst_sundays():
    schedule = Schedule.from_config({"blocks": {"sun": ["00:00-24:00"]}})
    assert business_time_between(
        schedule, local(2026, 3, 28), local(2026, 3, 30)
    ) == timedelta(hours=23)
    assert business_time_between(
        schedule, local(2026, 10, 24), local(2026, 10, 26)
    ) == timedelta(hours=25)
    assert business_time_between(
        schedule, local(2026, 10, 17), local(2026, 10, 19)
    ) == timedelta(hours=24)


def test_a_block_starting_in_the_spring_forward_gap_opens_at_the_change():
    # 02:30 does not exist on 2026-03-29: the clock jumps from 02:00 to 03:00
    # (01:00 UTC), so the block opens then and closes at 03:30 CEST.
    schedule = Schedule.from_config({"blocks": {"sun": ["02:30-03:30"]}})
    assert next_open(schedule, local(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0)
    assert business_time_between(
        schedule, local(2026, 3, 28), local(2026, 3, 30)
    ) == timedelta(minutes=30)


def test_a_block_inside_the_spring_forward_gap_has_no_open_time():
    schedule = Schedule.from_config({"blocks": {"sun": ["02:05-02:55"]}})
    assert business_time_between(
        schedule, local(2026, 3, 28), local(2026, 3, 30)
    ) == timedelta(0)
    # The next opening is the Sunday after, in summer time.
    assert next_open(schedule, local(2026, 3, 28, 12, 0)) == utc(2026, 4, 5, 0, 5)


def test_an_ambiguous_start_means_its_first_occurrence():
    # 02:30 happens twice on 2026-10-25; the block starts at the first (CEST) one
    # and ends at 05:00 CET: three and a half hours.
    schedule = Schedule.from_config({"blocks": {"sun": ["02:30-05:00"]}})
    assert next_open(schedule, local(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 30)
    assert business_time_between(
        schedule, local(2026, 10, 24), local(2026, 10, 26)
    ) == timedelta(hours=3, minutes=30)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # Friday 17:00 CET (16:00 UTC) + 1h: 30 minutes, then Monday 08:30 CEST.
        (local(2026, 3, 27, 17, 0), utc(2026, 3, 30, 6, 30)),
        # Friday 17:00 CEST (15:00 UTC) + 1h: 30 minutes, then Monday 08:30 CET.
        (local(2026, 10, 23, 17, 0), utc(2026, 10, 26, 7, 30)),
    ],
)
def test_office_hours_follow_the_clock_across_dst_weekends(start, due):
    assert add_business_time(OFFICE, start, HOUR) == due


# Guards ----------------------------------------------------------------------------


def test_it_rejects_an_empty_schedule():
    with pytest.raises(ValueError, match="at least one opening block"):
        Schedule(blocks={})
    with pytest.raises(ValueError, match="at least one opening block"):
        Schedule.from_config({"blocks": {"mon": [], "tue": []}})


def test_it_stops_searching_when_closed_for_longer_than_the_limit():
    closed = {date(2026, 1, 5) + timedelta(weeks=week) for week in range(70)}
    schedule = Schedule(blocks={0: ((time(9), time(17)),)}, holidays=closed)
    start = local(2026, 1, 1)
    with pytest.raises(ValueError, match=f"no opening hours within {MAX_CLOSED_DAYS}"):
        next_open(schedule, start)
    with pytest.raises(ValueError, match="no opening hours"):
        add_business_time(schedule, start, HOUR)
    # Counting over a closed stretch is fine: it is bounded by the end (the last
    # closed Monday is 3 May 2027).
    assert business_time_between(schedule, start, local(2027, 5, 4)) == timedelta(0)
    assert not is_open(schedule, local(2026, 1, 5, 10, 0))


def test_it_finds_an_opening_just_within_the_limit():
    # Open on Mondays only; the first 52 Mondays of 2026 are closed.
    closed = {date(2026, 1, 5) + timedelta(weeks=week) for week in range(52)}
    schedule = Schedule(blocks={0: ((time(9), time(17)),)}, holidays=closed)
    assert next_open(schedule, local(2026, 1, 1)) == local(2027, 1, 4, 9, 0)


# Configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"blocks": {"mon": ["08:00-12:00", "11:00-13:00"]}},
            "monday: block 11:00-13:00 overlaps 08:00-12:00",
        ),
        (
            {"blocks": {"tue": ["20:00-24:00", "21:00-22:00"]}},
            "tuesday: block 21:00-22:00 overlaps 20:00-24:00",
        ),
        ({"blocks": {"mon": ["12:00-08:00"]}}, "12:00-08:00 must end after it starts"),
        ({"blocks": {"mon": ["08:00-08:00"]}}, "08:00-08:00 must end after it starts"),
        ({"blocks": {"mo": ["08:00-12:00"]}}, "unknown day name 'mo'; use mon, tue"),
        ({"blocks": {1: ["08:00-12:00"]}}, "unknown day name 1"),
        (
            {"blocks": {"mon": ["08:00-12:00"], "Monday": ["13:00-14:00"]}},
            "monday is given twice",
        ),
        ({"blocks": {"mon": ["8-12"]}}, "mon: block '8-12' is not 'HH:MM-HH:MM'"),
        ({"blocks": {"mon": [800]}}, "mon: block 800 is not 'HH:MM-HH:MM'"),
        ({"blocks": {"mon": ["25:00-26:00"]}}, "'25:00-26:00' has an invalid time"),
        ({"blocks": {"mon": ["08:60-09:00"]}}, "'08:60-09:00' has an invalid time"),
        ({"blocks": {"mon": ["24:00-24:00"]}}, "'24:00-24:00' has an invalid time"),
        ({"blocks": {"mon": "08:00-12:00"}}, "mon: expected a list of 'HH:MM-HH:MM'"),
        ({"blocks": ["08:00-12:00"]}, "'blocks' must map day names"),
        ({}, "needs 'blocks'"),
        ([], "must be a mapping"),
        (
            {"blocks": {"mon": ["08:00-12:00"]}, "timezon": "UTC"},
            "unknown business hours setting(s): timezon",
        ),
        (
            {"blocks": {"mon": ["08:00-12:00"]}, "timezone": "Europe/Amsterdm"},
            "unknown timezone 'Europe/Amsterdm'",
        ),
        (
            {"blocks": {"mon": ["08:00-12:00"]}, "timezone": 1},
            "timezone must be a name",
        ),
        (
            {"blocks": {"mon": ["08:00-12:00"]}, "holidays": ["2026-13-01"]},
            "holiday '2026-13-01' is not an ISO date",
        ),
        (
            {"blocks": {"mon": ["08:00-12:00"]}, "holidays": "2026-12-24"},
            "'holidays' must be a list",
        ),
        (
            {"blocks": {"mon": ["08:00-12:00"]}, "dutch_public_holidays": "yes"},
            "dutch_public_holidays must be true or false",
        ),
        (
            {"blocks": {"mon": ["08:00-12:00"]}, "include_liberation_day": 1},
            "include_liberation_day must be true, false or 'lustrum'",
        ),
    ],
)
def test_from_config_rejects_bad_config_with_a_clear_message(config, message):
    with pytest.raises(ScheduleError) as raised:
        Schedule.from_config(config)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"blocks": {7: ((time(8), time(9)),)}}, "weekday must be 0 (Monday) to 6"),
        ({"blocks": {True: ((time(8), time(9)),)}}, "weekday must be 0 (Monday) to 6"),
        ({"blocks": {0: ((time(8),),)}}, "a block must be a pair"),
        (
            {"blocks": {0: ((time(8, tzinfo=UTC), time(9)),)}},
            "a block must be a pair of naive",
        ),
        ({"blocks": {0: ((time(9), time(8)),)}}, "must end after it starts"),
        (
            {"blocks": {0: ((time(8), time(9)),)}, "holidays": {datetime(2026, 1, 1)}},
            "holidays must be dates",
        ),
        ({"blocks": {0: ((time(8), time(9)),)}, "timezone": 3}, "timezone must be"),
        ({"blocks": {0: ((time(8), time(9)),)}, "timezone": "Mars/Base"}, "Mars/Base"),
    ],
)
def test_schedule_validates_direct_construction(kwargs, message):
    with pytest.raises(ScheduleError) as raised:
        Schedule(**kwargs)
    assert message in str(raised.value)


def test_from_config_parses_blocks_sorted_with_full_day_names_and_midnight():
    schedule = Schedule.from_config(
        {
            "timezone": "Europe/Amsterdam",
            "blocks": {
                "Monday": ["13:15-17:30", " 08:00 - 12:30 "],
                "sat": ["20:00-24:00"],
            },
            "holidays": ["2026-12-24", date(2026, 12, 31)],
        }
    )
    assert schedule.blocks == {
        0: ((time(8), time(12, 30)), (time(13, 15), time(17, 30))),
        5: ((time(20), time(0)),),
    }
    assert schedule.holidays == {date(2026, 12, 24), date(2026, 12, 31)}
    assert schedule.timezone == AMSTERDAM
    assert not schedule.dutch_public_holidays
    # The Saturday block runs up to midnight and not beyond.
    assert is_open(schedule, local(2026, 1, 3, 23, 59, 59))
    assert not is_open(schedule, local(2026, 1, 4, 0, 0))
    # Equal configs give equal, hashable schedules.
    assert schedule == Schedule.from_config(
        {
            "blocks": {
                "mon": ["08:00-12:30", "13:15-17:30"],
                "saturday": ["20:00-24:00"],
            },
            "holidays": ["2026-12-31", "2026-12-24"],
        }
    )
    assert len({schedule, DEFAULT_SCHEDULE}) == 2


def test_adjacent_blocks_count_as_one_stretch():
    schedule = Schedule.from_config({"blocks": {"mon": ["08:00-12:00", "12:00-13:00"]}})
    assert add_business_time(schedule, local(2026, 1, 5, 11, 0), 2 * HOUR) == local(
        2026, 1, 5, 13, 0
    )


def test_the_default_schedule_is_a_small_teams_week():
    assert Schedule.from_config(DEFAULT_CONFIG) == DEFAULT_SCHEDULE
    # A normal week: 5 x (4 + 4.75 + 2) + 4 on Saturday = 57.75 hours.
    assert business_time_between(
        DEFAULT_SCHEDULE, local(2026, 1, 5), local(2026, 1, 12)
    ) == timedelta(hours=57, minutes=45)
    assert is_open(DEFAULT_SCHEDULE, local(2026, 1, 5, 19, 0))
    assert not is_open(DEFAULT_SCHEDULE, local(2026, 1, 5, 12, 30))  # lunch
    assert not is_open(DEFAULT_SCHEDULE, local(2026, 1, 5, 17, 45))  # dinner
    assert is_open(DEFAULT_SCHEDULE, local(2026, 1, 10, 12, 59))  # Saturday
    assert not is_open(DEFAULT_SCHEDULE, local(2026, 1, 11, 12, 0))  # Sunday
    assert not is_open(DEFAULT_SCHEDULE, local(2026, 4, 27, 10, 0))  # Koningsdag
    assert not is_open(DEFAULT_SCHEDULE, local(2025, 5, 5, 10, 0))  # lustrum
    assert is_open(DEFAULT_SCHEDULE, local(2026, 5, 5, 10, 0))


# Properties ------------------------------------------------------------------------

# Monday to Friday office hours, Dutch holidays, and a Sunday night block across
# the DST changes, so that the properties also run over the clock changes.
MIXED = Schedule.from_config(
    {
        "blocks": {
            **{day: ["08:00-12:30", "13:15-17:30"] for day in WEEKDAYS},
            "sun": ["01:00-04:00"],
        },
        "dutch_public_holidays": True,
    }
)

instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 1, 1),
    timezones=st.just(UTC),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=300))


def wall_clock_is_open(schedule: Schedule, instant: datetime) -> bool:
    """An independent oracle: look at the local wall clock, no interval logic."""
    wall = instant.astimezone(schedule.timezone)
    if schedule.is_closed_day(wall.date()):
        return False
    return any(
        start <= wall.time() < end
        for start, end in schedule.blocks.get(wall.weekday(), ())
    )


@settings(max_examples=300, deadline=None)
@given(start=instants, duration=durations)
def test_business_time_between_inverts_add_business_time(start, duration):
    due = add_business_time(MIXED, start, duration)
    assert due >= start
    assert business_time_between(MIXED, start, due) == duration
    if duration:
        # The due time is the first instant at which the duration has elapsed.
        almost = due - timedelta(microseconds=1)
        assert business_time_between(MIXED, start, almost) < duration
        assert is_open(MIXED, almost)


@settings(max_examples=300, deadline=None)
@given(first=instants, second=instants, third=instants)
def test_business_time_between_adds_up(first, second, third):
    start, middle, end = sorted((first, second, third))
    assert business_time_between(MIXED, start, end) == business_time_between(
        MIXED, start, middle
    ) + business_time_between(MIXED, middle, end)


@settings(max_examples=60, deadline=None)
@given(
    start=instants.map(lambda value: value.replace(second=0, microsecond=0)),
    minutes=st.integers(min_value=0, max_value=3 * 24 * 60),
)
def test_it_agrees_with_a_minute_by_minute_wall_clock_count(start, minutes):
    open_minutes = sum(
        wall_clock_is_open(MIXED, start + step * MINUTE) for step in range(minutes)
    )
    end = start + minutes * MINUTE
    assert business_time_between(MIXED, start, end) == open_minutes * MINUTE


@settings(max_examples=300, deadline=None)
@given(at=instants)
def test_is_open_and_next_open_agree_with_the_wall_clock(at):
    assert is_open(MIXED, at) is wall_clock_is_open(MIXED, at)
    opening = next_open(MIXED, at)
    assert opening >= at
    assert is_open(MIXED, opening)
    assert business_time_between(MIXED, at, opening) == timedelta(0)


@pytest.mark.parametrize(
    "sunday", [local(2026, 3, 28, 23, 0), local(2026, 10, 24, 23, 0)]
)
def test_it_agrees_with_the_wall_clock_minute_by_minute_on_dst_nights(sunday):
    # Every minute of the night of the change, not left to chance.
    start = sunday.astimezone(UTC)
    minutes = 8 * 60
    open_minutes = sum(
        wall_clock_is_open(MIXED, start + step * MINUTE) for step in range(minutes)
    )
    assert (
        business_time_between(MIXED, start, start + minutes * MINUTE)
        == open_minutes * MINUTE
    )
    for step in range(minutes):
        instant = start + step * MINUTE
        assert is_open(MIXED, instant) is wall_clock_is_open(MIXED, instant)
