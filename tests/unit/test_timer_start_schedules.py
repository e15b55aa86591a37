"""Timer start events as Temporal schedule specs (pure: the dev server test is in
tests/integration/test_worker_end_to_end.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import ScheduleRange

import translator
from activities._schedules import (
    TimerStartError,
    quartz_to_temporal_cron,
    timer_spec,
    timer_starts,
)
from tests.helpers.models import timer_started

NOW = datetime(2026, 11, 24, 10, 0, 7, tzinfo=UTC)


def test_a_repeating_cycle_is_an_interval_counted_from_now_with_limited_actions() -> None:
    spec, remaining, fire_now = timer_spec("cycle", "R3/PT10M", NOW)
    assert remaining == 3 and not fire_now
    (interval,) = spec.intervals
    assert interval.every == timedelta(minutes=10)
    assert spec.start_at == NOW + timedelta(minutes=10)
    # Temporal counts intervals from the epoch; the offset lands them on the first firing.
    assert (spec.start_at - datetime(1970, 1, 1, tzinfo=UTC)) % interval.every == interval.offset


def test_an_endless_cycle_with_a_start_fires_first_at_the_start() -> None:
    spec, remaining, _ = timer_spec("cycle", "R/2027-01-01T09:00:00Z/P1D", NOW)
    assert remaining is None
    assert spec.start_at == datetime(2027, 1, 1, 9, tzinfo=UTC)
    assert spec.intervals[0].every == timedelta(days=1)
    assert spec.intervals[0].offset == timedelta(hours=9)


def test_a_date_starts_once_and_a_past_date_at_once() -> None:
    spec, remaining, fire_now = timer_spec("date", "2027-03-01T08:30:00+01:00", NOW)
    (calendar,) = spec.calendars
    assert remaining == 1 and not fire_now
    assert calendar.hour == [ScheduleRange(7)] and calendar.minute == [ScheduleRange(30)]
    assert calendar.year == [ScheduleRange(2027)]
    assert timer_spec("date", "2020-01-01T00:00:00Z", NOW)[2] is True


def test_a_monthly_cycle_is_a_calendar_on_the_same_day() -> None:
    spec, _, _ = timer_spec("cycle", "R/2027-01-31T06:00:00Z/P3M", NOW)
    (calendar,) = spec.calendars
    assert calendar.day_of_month == [ScheduleRange(31)]
    assert calendar.month == [ScheduleRange(1, 12, 3)]
    with pytest.raises(TimerStartError, match="divisor of 12"):
        timer_spec("cycle", "R/P5M", NOW)


def test_quartz_cron_becomes_temporal_cron_with_sunday_zero() -> None:
    assert quartz_to_temporal_cron("0 0 9 ? * MON-FRI") == "0 0 9 * * MON-FRI *"
    assert quartz_to_temporal_cron("0 30 6 * * 1,7 2027") == "0 30 6 * * 0,6 2027"
    spec, remaining, _ = timer_spec("cycle", "0 0/15 * * * ?", NOW)
    assert spec.cron_expressions == ["0 0/15 * * * * *"] and remaining is None
    with pytest.raises(TimerStartError, match="Quartz"):
        quartz_to_temporal_cron("*/5 * * * *")


def test_an_invalid_cycle_is_refused_with_the_value() -> None:
    with pytest.raises(TimerStartError, match="PT-bad"):
        timer_spec("cycle", "R3/PT-bad", NOW)


def test_a_process_yields_one_schedule_per_timer_start_event() -> None:
    (definition,) = translator.compile_bytes(timer_started("nightly", "R/PT1H").encode(), "t")
    (start,) = timer_starts(definition, "bpmn", NOW)
    assert start.schedule_id == "bpmn-timer-start/bpmn/nightly/every_two_seconds"
    assert start.source == "cycle:R/PT1H"
    assert start.remaining_actions is None
