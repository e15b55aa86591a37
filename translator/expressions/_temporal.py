"""FEEL dates, times and durations on top of :mod:`datetime`.

Days-time durations are ``timedelta``; years-months durations (``P1Y2M``) have no ``datetime``
counterpart and are ``YearsMonths``. Every helper answers ``None`` where FEEL answers null.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

_DURATION = re.compile(
    r"(-)?P(?:(\d{1,9})Y)?(?:(\d{1,9})M)?(?:(\d{1,9})W)?(?:(\d{1,9})D)?"
    r"(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9}(?:\.\d{1,9})?)S)?)?"
)


@dataclass(frozen=True, order=True)
class YearsMonths:
    """A FEEL years-and-months duration, counted in months."""

    months: int


Duration = timedelta | YearsMonths


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_time(text: str) -> time | None:
    try:
        return time.fromisoformat(text)
    except ValueError:
        return None


def parse_date_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_duration(text: str) -> Duration | None:
    """ISO 8601 ``P1Y2M`` or ``P3DT4H5M6.5S`` (FEEL does not mix the two kinds)."""
    match = _DURATION.fullmatch(text)
    if match is None or text.endswith(("P", "T")):
        return None
    sign, years, months, weeks, days, hours, minutes, seconds = match.groups()
    negative = -1 if sign else 1
    if years or months:
        if weeks or days or hours or minutes or seconds:
            return None
        return YearsMonths(negative * (int(years or 0) * 12 + int(months or 0)))
    try:
        return negative * timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(seconds or 0),
        )
    except OverflowError:
        return None


def format_duration(value: Duration) -> str:
    if isinstance(value, YearsMonths):
        sign, months = ("-" if value.months < 0 else ""), abs(value.months)
        years, months = divmod(months, 12)
        text = (f"{years}Y" if years else "") + (f"{months}M" if months or not years else "")
        return f"{sign}P{text}"
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = "".join(f"{amount}{unit}" for amount, unit in ((hours, "H"), (minutes, "M")) if amount)
    if value.microseconds:
        clock += f"{seconds}.{value.microseconds:06d}".rstrip("0") + "S"
    elif seconds:
        clock += f"{seconds}S"
    days = f"{value.days}D" if value.days else ""
    if not days and not clock:
        return "PT0S"
    return f"{sign}P{days}" + (f"T{clock}" if clock else "")


def format_temporal(value: date | time) -> str:
    """ISO text; UTC written ``Z`` as FEEL and JSON writers usually do."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def add_months(value: date, months: int) -> date:
    """``value`` moved by whole months, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    year, month_index = divmod(value.year * 12 + value.month - 1 + months, 12)
    day = min(value.day, calendar.monthrange(year, month_index + 1)[1])
    return value.replace(year=year, month=month_index + 1, day=day)


def _is_date(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _shift_time(value: time, delta: timedelta) -> time:
    moved = datetime.combine(date(2000, 1, 1), value) + delta
    return moved.timetz()


def add(left: Any, right: Any) -> Any:
    """``left + right`` for temporal operands, else None."""
    if isinstance(left, Duration) and not isinstance(right, Duration):
        left, right = right, left
    if isinstance(left, YearsMonths) and isinstance(right, YearsMonths):
        return YearsMonths(left.months + right.months)
    if isinstance(left, date) and isinstance(right, YearsMonths):
        return add_months(left, right.months)
    if isinstance(right, timedelta):
        if isinstance(left, (date, timedelta)):
            return left + right
        if isinstance(left, time):
            return _shift_time(left, right)
    return None


def subtract(left: Any, right: Any) -> Any:
    """``left - right`` for temporal operands, else None."""
    if isinstance(right, YearsMonths) and isinstance(left, YearsMonths):
        return YearsMonths(left.months - right.months)
    if isinstance(right, (timedelta, YearsMonths)):
        return add(left, negate(right))
    if isinstance(left, datetime) and isinstance(right, datetime):
        return left - right
    if _is_date(left) and _is_date(right):
        return left - right
    if isinstance(left, time) and isinstance(right, time):
        day = date(2000, 1, 1)
        return datetime.combine(day, left) - datetime.combine(day, right)
    return None


def negate(value: Any) -> Any:
    if isinstance(value, YearsMonths):
        return YearsMonths(-value.months)
    if isinstance(value, timedelta):
        return -value
    return None


def scale(duration: Any, factor: Any, divide: bool) -> Any:
    """``duration * factor`` or ``duration / factor``; ``duration / duration`` is a number."""
    if isinstance(duration, timedelta) and isinstance(factor, timedelta):
        return duration / factor if divide and factor else None
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        return None
    if divide:
        if not factor:
            return None
        factor = 1 / factor
    if isinstance(duration, timedelta):
        return duration * factor
    if isinstance(duration, YearsMonths):
        return YearsMonths(int(duration.months * factor))
    return None


_PROPERTIES = {
    "year": lambda v: v.year,
    "month": lambda v: v.month,
    "day": lambda v: v.day,
    "weekday": lambda v: v.isoweekday(),
    "hour": lambda v: v.hour,
    "minute": lambda v: v.minute,
    "second": lambda v: v.second,
}
_DURATION_PROPERTIES = {
    "days": lambda v: v.days,
    "hours": lambda v: v.seconds // 3600,
    "minutes": lambda v: v.seconds // 60 % 60,
    "seconds": lambda v: v.seconds % 60,
}


def temporal_property(value: Any, name: str) -> Any:
    """FEEL ``date.year``, ``duration.hours``...; None when the value has no such property."""
    if isinstance(value, YearsMonths):
        years = int(value.months / 12)  # truncates towards zero, so both parts share a sign
        return {"years": years, "months": value.months - years * 12}.get(name)
    getter = (_DURATION_PROPERTIES if isinstance(value, timedelta) else _PROPERTIES).get(name)
    try:
        return getter(value) if getter else None
    except AttributeError:  # e.g. "hour" of a date
        return None
