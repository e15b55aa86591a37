"""When timers fire: ISO 8601 durations, date-times and repeating intervals, from a given now.

Pure functions (the engine passes ``workflow.now()``), so the same schedule comes out on
replay. A value is the model's literal text, or the value its expression evaluated to (a
string, a FEEL duration or a date-time). Zeebe's rules: a duration counts from when the timer
starts; ``R3/PT10M`` fires three times, ten minutes apart; ``R/PT1H`` repeats until its scope
ends; ``R/<start>/PT1H`` fires first at ``start``; a date-time without an offset is UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from translator.expressions._temporal import (
    YearsMonths,
    add_months,
    format_duration,
    parse_duration,
)

_ZONE_ID = re.compile(r"\[[A-Za-z0-9_+\-/]+\]$")
_REPETITIONS = re.compile(r"R(\d*)")


class TimerValueError(ValueError):
    """The timer's value is not a duration, date-time or repeating interval it accepts."""


@dataclass(frozen=True)
class TimerSchedule:
    first: datetime
    interval: timedelta | YearsMonths | None = None
    repetitions: int | None = 1
    """How many times it fires; None: until its scope ends."""

    def due_times(self) -> Iterator[datetime]:
        remaining: TimerSchedule | None = self
        while remaining is not None:
            yield remaining.first
            remaining = remaining.following()

    def following(self) -> TimerSchedule | None:
        """What is left after the first firing, or None."""
        if self.interval is None or self.repetitions == 1:
            return None
        repetitions = None if self.repetitions is None else self.repetitions - 1
        return TimerSchedule(_shift(self.first, self.interval), self.interval, repetitions)

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first.isoformat(),
            "interval": None if self.interval is None else format_duration(self.interval),
            "repetitions": self.repetitions,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TimerSchedule:
        interval = data.get("interval")
        return cls(
            first=_date_time(data["first"]),
            interval=None if interval is None else _duration(interval),
            repetitions=data.get("repetitions"),
        )


def schedule(kind: str, value: Any, now: datetime) -> TimerSchedule:
    """The schedule of a ``duration``, ``date`` or ``cycle`` timer started at ``now``."""
    if kind == "duration":
        return TimerSchedule(_shift(now, _duration(value)))
    if kind == "date":
        return TimerSchedule(_date_time(value))
    if kind == "cycle":
        return _cycle(value, now)
    raise TimerValueError(f"unknown timer kind {kind!r}")


def _cycle(value: Any, now: datetime) -> TimerSchedule:
    text = _text(value)
    repetitions, *parts = text.split("/")
    match = _REPETITIONS.fullmatch(repetitions)
    if match is None or not 1 <= len(parts) <= 2:
        raise TimerValueError(
            f"{text!r} is not a repeating interval like 'R3/PT10M' (cron cycles are not "
            "supported by this interpreter yet)"
        )
    count = int(match.group(1)) if match.group(1) else None
    if len(parts) == 1:
        interval = _duration(parts[0])
        return TimerSchedule(_shift(now, interval), interval, count)
    start_or_interval, interval_or_end = parts
    try:
        start = _date_time(start_or_interval)
    except TimerValueError:
        # 'R3/PT10M/<end>': the end bounds nothing Zeebe honours either; count from now.
        interval = _duration(start_or_interval)
        return TimerSchedule(_shift(now, interval), interval, count)
    return TimerSchedule(start, _duration(interval_or_end), count)


def _duration(value: Any) -> timedelta | YearsMonths:
    if isinstance(value, timedelta | YearsMonths):
        duration = value
    else:
        parsed = parse_duration(_text(value))
        if parsed is None:
            raise TimerValueError(f"{value!r} is not an ISO 8601 duration like 'PT15M'")
        duration = parsed
    negative = duration.months < 0 if isinstance(duration, YearsMonths) else duration < timedelta()
    if negative:
        raise TimerValueError(f"the duration {format_duration(duration)} is negative")
    return duration


def _date_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(_ZONE_ID.sub("", _text(value)))
        except ValueError:
            raise TimerValueError(
                f"{value!r} is not an ISO 8601 date-time like '2025-06-01T09:00:00Z'"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shift(moment: datetime, duration: timedelta | YearsMonths) -> datetime:
    if isinstance(duration, YearsMonths):
        shifted = add_months(moment, duration.months)
        assert isinstance(shifted, datetime)
        return shifted
    return moment + duration


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TimerValueError(f"expected text, got {type(value).__name__} {value!r}")
    return value.strip()
