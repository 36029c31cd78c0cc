"""Business hours: response and resolution targets count only opening hours.

The webcare team is not 24x7, so a target such as "first response within 2 hours"
means two hours of *open* time. This module is pure (no Django) so that models,
services, reports and tests can share it.

A `Schedule` holds weekly opening blocks in local wall time, a time zone and closed
days. Every function converts the blocks of each local day into UTC intervals and
works on those, so daylight-saving changes are exact:

- a wall time that does not exist (the spring-forward gap) resolves to the first
  instant at which the clock reads it or later, i.e. the moment of the change;
- a wall time that occurs twice (fall-back) resolves to its first occurrence.

An end of ``time(0, 0)`` (``"24:00"`` in a config) means midnight at the end of the
day. A holiday closes every block that starts on that local date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Europe/Amsterdam"

# Looking further ahead than this for an opening means the schedule is closed for
# good (e.g. a year of holidays); fail loudly instead of looping.
MAX_CLOSED_DAYS = 400

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_DAY_NUMBERS = {
    **{name: number for number, name in enumerate(WEEKDAY_NAMES)},
    **{name: number for number, name in enumerate(_FULL_WEEKDAY_NAMES)},
}

LiberationDay = bool | Literal["lustrum"]

# A small bank webcare team (about three people): weekdays in three blocks with a
# lunch and a dinner break, a Saturday morning, closed on Sundays and on Dutch
# public holidays (Liberation Day only in lustrum years, as the banks do).
# Plain data so that it can be copied into settings; treat it as read-only.
_WEEKDAY_BLOCKS = ("08:00-12:00", "12:45-17:30", "18:00-20:00")
DEFAULT_CONFIG: dict = {
    "timezone": DEFAULT_TIMEZONE,
    "blocks": {
        **{name: list(_WEEKDAY_BLOCKS) for name in WEEKDAY_NAMES[:5]},
        "sat": ["09:00-13:00"],
    },
    "holidays": [],
    "dutch_public_holidays": True,
    "include_liberation_day": "lustrum",
}

_CONFIG_KEYS = (
    "timezone",
    "blocks",
    "holidays",
    "dutch_public_holidays",
    "include_liberation_day",
)
_BLOCK_PATTERN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MIDNIGHT = time(0, 0)


class ScheduleError(ValueError):
    """Invalid opening hours: a bad config entry or `Schedule` argument."""


def _day_label(weekday: int) -> str:
    return _FULL_WEEKDAY_NAMES[weekday]


def _time_label(value: time, *, is_end: bool = False) -> str:
    if is_end and value == _MIDNIGHT:
        return "24:00"
    text = value.strftime("%H:%M")
    if value.second or value.microsecond:
        text = value.isoformat()
    return text


def _block_label(block: tuple[time, time]) -> str:
    return f"{_time_label(block[0])}-{_time_label(block[1], is_end=True)}"


def _ends_after(block: tuple[time, time]) -> bool:
    start, end = block
    return end == _MIDNIGHT or end > start


def _check_liberation_day(value: object) -> LiberationDay:
    if value is True or value is False or value == "lustrum":
        return value  # type: ignore[return-value]
    raise ScheduleError(
        f"include_liberation_day must be true, false or 'lustrum', not {value!r}"
    )


def _normalise_blocks(
    blocks: Mapping[int, Iterable[tuple[time, time]]],
) -> Mapping[int, tuple[tuple[time, time], ...]]:
    if not isinstance(blocks, Mapping):
        raise ScheduleError("blocks must map a weekday (0=Monday) to opening blocks")
    normalised: dict[int, tuple[tuple[time, time], ...]] = {}
    for weekday, day_blocks in blocks.items():
        if type(weekday) is not int or not 0 <= weekday <= 6:
            raise ScheduleError(
                f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday!r}"
            )
        pairs = []
        for block in day_blocks:
            if (
                not isinstance(block, tuple | list)
                or len(block) != 2
                or not all(
                    isinstance(part, time) and part.tzinfo is None for part in block
                )
            ):
                raise ScheduleError(
                    f"{_day_label(weekday)}: a block must be a pair of naive "
                    f"datetime.time values, not {block!r}"
                )
            pair = (block[0], block[1])
            if not _ends_after(pair):
                raise ScheduleError(
                    f"{_day_label(weekday)}: block {_block_label(pair)} must end "
                    "after it starts"
                )
            pairs.append(pair)
        pairs.sort(key=lambda pair: pair[0])
        for previous, current in pairwise(pairs):
            if previous[1] == _MIDNIGHT or current[0] < previous[1]:
                raise ScheduleError(
                    f"{_day_label(weekday)}: block {_block_label(current)} overlaps "
                    f"{_block_label(previous)}"
                )
        if pairs:
            normalised[weekday] = tuple(pairs)
    if not normalised:
        # Every search for an opening would run forever.
        raise ScheduleError("a schedule needs at least one opening block")
    return MappingProxyType(dict(sorted(normalised.items())))


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """Weekly opening hours in local wall time, plus closed days.

    `blocks` maps a weekday (0=Monday) to its opening blocks, e.g.
    ``{0: ((time(8), time(12, 30)), (time(13, 15), time(17, 30)))}``. Blocks are
    validated and stored sorted. `holidays` are closed local dates; with
    `dutch_public_holidays` the Dutch public holidays of every year are closed too.
    """

    timezone: tzinfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    # A mapping is not hashable; equal schedules still hash equally without it.
    blocks: Mapping[int, tuple[tuple[time, time], ...]] = field(hash=False)
    holidays: frozenset[date] = frozenset()
    dutch_public_holidays: bool = False
    include_liberation_day: LiberationDay = "lustrum"

    def __post_init__(self) -> None:
        timezone = self.timezone
        if isinstance(timezone, str):
            timezone = _zone(timezone)
        if not isinstance(timezone, tzinfo):
            raise ScheduleError(f"timezone must be a tzinfo, not {timezone!r}")
        holidays = frozenset(self.holidays)
        for day in holidays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ScheduleError(f"holidays must be dates, not {day!r}")
        object.__setattr__(self, "timezone", timezone)
        object.__setattr__(self, "blocks", _normalise_blocks(self.blocks))
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(
            self, "dutch_public_holidays", bool(self.dutch_public_holidays)
        )
        _check_liberation_day(self.include_liberation_day)

    @classmethod
    def from_config(cls, config: Mapping) -> Schedule:
        """Build a schedule from settings-style data (see `DEFAULT_CONFIG`).

        ``{"timezone": "Europe/Amsterdam", "blocks": {"mon": ["08:00-12:30",
        "13:15-17:30"], ...}, "holidays": ["2026-12-24"], "dutch_public_holidays":
        true, "include_liberation_day": "lustrum"}``. Only "blocks" is required.
        Raises ScheduleError (a ValueError) naming the offending entry.
        """
        if not isinstance(config, Mapping):
            raise ScheduleError("business hours config must be a mapping")
        unknown = sorted(str(key) for key in config if key not in _CONFIG_KEYS)
        if unknown:
            raise ScheduleError(
                f"unknown business hours setting(s): {', '.join(unknown)}; "
                f"expected {', '.join(_CONFIG_KEYS)}"
            )
        if "blocks" not in config:
            raise ScheduleError("business hours config needs 'blocks'")
        timezone_name = config.get("timezone", DEFAULT_TIMEZONE)
        if not isinstance(timezone_name, str):
            raise ScheduleError(f"timezone must be a name, not {timezone_name!r}")
        dutch = config.get("dutch_public_holidays", False)
        if not isinstance(dutch, bool):
            raise ScheduleError(
                f"dutch_public_holidays must be true or false, not {dutch!r}"
            )
        return cls(
            timezone=_zone(timezone_name),
            blocks=_parse_config_blocks(config["blocks"]),
            holidays=frozenset(_parse_config_holidays(config.get("holidays", ()))),
            dutch_public_holidays=dutch,
            include_liberation_day=_check_liberation_day(
                config.get("include_liberation_day", "lustrum")
            ),
        )

    def is_closed_day(self, day: date) -> bool:
        """Whether the local date is a holiday (a day without any opening).

        Dutch public holidays are known from 2014; earlier dates are not closed.
        """
        if day in self.holidays:
            return True
        return self.dutch_public_holidays and day in _dutch_holidays_cached(
            day.year, self.include_liberation_day
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"unknown timezone {name!r}") from error


def _parse_clock(hours: str, minutes: str, *, text: str, is_end: bool) -> time:
    hour, minute = int(hours), int(minutes)
    if hour == 24 and minute == 0 and is_end:
        return _MIDNIGHT
    if hour > 23 or minute > 59:
        raise ScheduleError(f"block {text!r} has an invalid time")
    return time(hour, minute)


def _parse_config_blocks(blocks: object) -> dict[int, list[tuple[time, time]]]:
    if not isinstance(blocks, Mapping):
        raise ScheduleError("'blocks' must map day names (mon..sun) to lists of blocks")
    parsed: dict[int, list[tuple[time, time]]] = {}
    for name, texts in blocks.items():
        weekday = (
            _DAY_NUMBERS.get(name.strip().lower()) if isinstance(name, str) else None
        )
        if weekday is None:
            raise ScheduleError(
                f"unknown day name {name!r}; use {', '.join(WEEKDAY_NAMES)}"
            )
        if weekday in parsed:
            raise ScheduleError(f"{_day_label(weekday)} is given twice in 'blocks'")
        if isinstance(texts, str) or not isinstance(texts, Iterable):
            raise ScheduleError(
                f"{name}: expected a list of 'HH:MM-HH:MM' strings, not {texts!r}"
            )
        day_blocks = []
        for text in texts:
            match = _BLOCK_PATTERN.match(text) if isinstance(text, str) else None
            if match is None:
                raise ScheduleError(f"{name}: block {text!r} is not 'HH:MM-HH:MM'")
            start = _parse_clock(*match.group(1, 2), text=text, is_end=False)
            end = _parse_clock(*match.group(3, 4), text=text, is_end=True)
            day_blocks.append((start, end))
        parsed[weekday] = day_blocks
    return parsed


def _parse_config_holidays(holidays: object) -> Iterator[date]:
    if isinstance(holidays, str) or not isinstance(holidays, Iterable):
        raise ScheduleError("'holidays' must be a list of ISO dates (YYYY-MM-DD)")
    for value in holidays:
        if isinstance(value, date) and not isinstance(value, datetime):
            yield value
            continue
        try:
            yield date.fromisoformat(value)
        except (TypeError, ValueError) as error:
            raise ScheduleError(
                f"holiday {value!r} is not an ISO date (YYYY-MM-DD)"
            ) from error


# Dutch public holidays ------------------------------------------------------------


def easter_sunday(year: int) -> date:
    """Western Easter by the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def dutch_public_holiday_names(
    year: int, *, include_liberation_day: LiberationDay = "lustrum"
) -> dict[date, str]:
    """The Dutch public holidays of `year` with their Dutch names, by date.

    Liberation Day (5 May) is a national holiday, but banks close on it only in
    lustrum years (2025, 2030, ...): hence the "lustrum" default.
    """
    _check_liberation_day(include_liberation_day)
    if isinstance(year, bool) or not isinstance(year, int) or year < 2014:
        # King's Day rules apply from 2014; earlier years had Queen's Day.
        raise ValueError(f"Dutch public holidays are known from 2014, not {year!r}")
    easter = easter_sunday(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:
        kings_day = date(year, 4, 26)
    named = [
        (date(year, 1, 1), "Nieuwjaarsdag"),
        (easter - timedelta(days=2), "Goede Vrijdag"),
        (easter, "Eerste Paasdag"),
        (easter + timedelta(days=1), "Tweede Paasdag"),
        (kings_day, "Koningsdag"),
        (easter + timedelta(days=39), "Hemelvaartsdag"),
        (easter + timedelta(days=49), "Eerste Pinksterdag"),
        (easter + timedelta(days=50), "Tweede Pinksterdag"),
        (date(year, 12, 25), "Eerste Kerstdag"),
        (date(year, 12, 26), "Tweede Kerstdag"),
    ]
    if include_liberation_day is True or (
        include_liberation_day == "lustrum" and year % 5 == 0
    ):
        named.append((date(year, 5, 5), "Bevrijdingsdag"))
    names: dict[date, str] = {}
    for day, name in sorted(named):
        # Liberation Day can fall on Ascension Day; keep both names.
        names[day] = f"{names[day]} / {name}" if day in names else name
    return names


def dutch_public_holidays(
    year: int, *, include_liberation_day: LiberationDay = "lustrum"
) -> set[date]:
    """The dates of the Dutch public holidays of `year` (see the names function)."""
    return set(
        dutch_public_holiday_names(year, include_liberation_day=include_liberation_day)
    )


@lru_cache(maxsize=256)
def _dutch_holidays_cached(
    year: int, include_liberation_day: LiberationDay
) -> frozenset:
    if year < 2014:
        return frozenset()
    return frozenset(
        dutch_public_holidays(year, include_liberation_day=include_liberation_day)
    )


# Intervals ------------------------------------------------------------------------


def _as_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _local_to_utc(zone: tzinfo, wall: datetime) -> datetime:
    """The first instant at which the local clock reads `wall` or later."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists; fold=0 picks the first of two occurrences
    # `wall` lies in a spring-forward gap: the two folds bracket the change.
    other = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(first, other), max(first, other)

    def reached(instant: datetime) -> bool:
        return instant.astimezone(zone).replace(tzinfo=None) >= wall

    if reached(low) or not reached(high):
        return first
    resolution = timedelta(microseconds=1)
    while high - low > resolution:
        middle = low + (high - low) // 2
        if reached(middle):
            high = middle
        else:
            low = middle
    return high


def day_intervals(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """Opening intervals (UTC, half-open) of the blocks that start on local `day`."""
    day_blocks = schedule.blocks.get(day.weekday())
    if not day_blocks or schedule.is_closed_day(day):
        return []
    zone = schedule.timezone
    intervals = []
    for start, end in day_blocks:
        opens = _local_to_utc(zone, datetime.combine(day, start))
        end_day = day + timedelta(days=1) if end == _MIDNIGHT else day
        closes = _local_to_utc(zone, datetime.combine(end_day, end))
        if closes > opens:  # a block inside a DST gap has no open time
            intervals.append((opens, closes))
    return intervals


def _local_date(schedule: Schedule, instant: datetime) -> date:
    return instant.astimezone(schedule.timezone).date()


def _intervals_after(
    schedule: Schedule, since: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals in time order, clipped to start no earlier than `since`.

    Raises ValueError when MAX_CLOSED_DAYS pass without any opening.
    """
    # Start a day early: a block running to midnight belongs to the day before.
    day = _local_date(schedule, since) - timedelta(days=1)
    closed_days = 0
    while True:
        found = False
        for opens, closes in day_intervals(schedule, day):
            if closes > since:
                found = True
                yield max(opens, since), closes
        closed_days = 0 if found else closed_days + 1
        if closed_days > MAX_CLOSED_DAYS:
            raise ValueError(
                f"no opening hours within {MAX_CLOSED_DAYS} days after "
                f"{since.isoformat()}"
            )
        day += timedelta(days=1)


# Public API -----------------------------------------------------------------------


def is_open(schedule: Schedule, at: datetime) -> bool:
    """Whether the team is open at the aware instant `at`."""
    instant = _as_utc(at, "at")
    today = _local_date(schedule, instant)
    for offset in (-1, 0, 1):
        for opens, closes in day_intervals(schedule, today + timedelta(days=offset)):
            if opens <= instant < closes:
                return True
    return False


def next_open(schedule: Schedule, at: datetime) -> datetime:
    """`at` (in UTC) if the team is open then, else the start of the next block."""
    opens, _ = next(_intervals_after(schedule, _as_utc(at, "at")))
    return opens


def add_business_time(
    schedule: Schedule, start: datetime, duration: timedelta
) -> datetime:
    """The UTC instant at which `duration` of open time has passed since `start`.

    Counting starts at the next opening when `start` is outside hours; a zero
    duration is therefore due at `next_open(start)`. When the duration ends exactly
    at a closing time, that closing time is returned (not the next opening).
    """
    if not isinstance(duration, timedelta):
        raise TypeError(f"duration must be a timedelta, not {duration!r}")
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    remaining = duration
    for opens, closes in _intervals_after(schedule, _as_utc(start, "start")):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    raise AssertionError("unreachable: _intervals_after never ends")


def business_time_between(
    schedule: Schedule, start: datetime, end: datetime
) -> timedelta:
    """Open time between two aware instants; zero when `end` is not after `start`."""
    start_utc, end_utc = _as_utc(start, "start"), _as_utc(end, "end")
    total = timedelta(0)
    if end_utc <= start_utc:
        return total
    day = _local_date(schedule, start_utc) - timedelta(days=1)
    last_day = _local_date(schedule, end_utc)
    while day <= last_day:
        for opens, closes in day_intervals(schedule, day):
            overlap = min(closes, end_utc) - max(opens, start_utc)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


DEFAULT_SCHEDULE = Schedule.from_config(DEFAULT_CONFIG)
