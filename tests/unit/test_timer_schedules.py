"""Timer schedules: durations, dates, repeating intervals, and values that are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from workflows._timers import TimerValueError, schedule

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_a_duration_counts_from_now() -> None:
    assert list(schedule("duration", "PT15M", NOW).due_times()) == [NOW + timedelta(minutes=15)]
    assert list(schedule("duration", "P30D", NOW).due_times()) == [NOW + timedelta(days=30)]


def test_a_month_duration_clamps_the_day() -> None:
    [due] = schedule("duration", "P1M", NOW).due_times()
    assert due == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


def test_a_date_without_offset_is_utc() -> None:
    [due] = schedule("date", "2026-03-01T09:00:00", NOW).due_times()
    assert due == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    [zoned] = schedule("date", "2026-03-01T09:00:00+01:00[Europe/Prague]", NOW).due_times()
    assert zoned == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_repeating_intervals() -> None:
    three = list(schedule("cycle", "R3/PT10M", NOW).due_times())
    assert three == [NOW + timedelta(minutes=10 * n) for n in (1, 2, 3)]
    endless = list(islice(schedule("cycle", "R/PT1H", NOW).due_times(), 5))
    assert len(endless) == 5
    start = list(schedule("cycle", "R2/2026-02-01T00:00:00Z/P1D", NOW).due_times())
    assert start == [datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)]


def test_expression_values() -> None:
    [due] = schedule("duration", timedelta(hours=2), NOW).due_times()
    assert due == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("duration", "soon", "not an ISO 8601 duration"),
        ("duration", "-PT1M", "negative"),
        ("date", "tomorrow", "not an ISO 8601 date-time"),
        ("cycle", "0 0 9 * * MON", "cron cycles are not supported"),
        ("duration", 5, "expected text"),
    ],
)
def test_values_that_are_not_timers_are_refused_with_the_reason(
    kind: str, value: object, message: str
) -> None:
    with pytest.raises(TimerValueError, match=message):
        schedule(kind, value, NOW)
