"""Compile-time checks of timer values: ISO 8601 durations, date-times, repeating intervals
(``R5/PT10M``) and cron expressions (Zeebe's Spring cron, Camunda 7's Quartz cron).

Each check returns None when the text is valid, else a sentence saying what is wrong.
"""

from __future__ import annotations

import re
from datetime import datetime

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"-?P(?=\d|T\d)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?"
)
_ZONE_ID = re.compile(r"\[[A-Za-z0-9_+\-/]+\]$")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#\-]+")
_CRON_FIELDS = (6, 7)  # seconds first; Quartz adds an optional year

EXAMPLES = {
    "duration": "'PT15M' or 'P1DT2H'",
    "date": "'2025-06-01T09:00:00Z'",
    "cycle": "'R3/PT10M' or a cron expression '0 0 9 * * MON-FRI'",
}


def duration_problem(text: str) -> str | None:
    if _DURATION.fullmatch(text):
        return None
    return "is not an ISO 8601 duration"


def date_problem(text: str) -> str | None:
    try:
        datetime.fromisoformat(_ZONE_ID.sub("", text))
    except ValueError:
        return "is not an ISO 8601 date-time"
    return None


def cycle_problem(text: str) -> str | None:
    if text.startswith("R"):
        return _repeating_interval_problem(text)
    return _cron_problem(text)


def _repeating_interval_problem(text: str) -> str | None:
    """``R[n]/duration``, ``R[n]/start/duration`` or ``R[n]/duration/end``."""
    repetitions, *parts = text.split("/")
    if not re.fullmatch(r"R\d*", repetitions) or not 1 <= len(parts) <= 2:
        return "is not a repeating interval like 'R3/PT10M'"
    durations = [part for part in parts if _DURATION.fullmatch(part)]
    dates = [part for part in parts if date_problem(part) is None]
    if len(durations) != 1 or len(durations) + len(dates) != len(parts):
        return "is not a repeating interval like 'R3/PT10M' or 'R/2025-01-01T00:00:00Z/P1D'"
    return None


def _cron_problem(text: str) -> str | None:
    fields = text.split()
    if len(fields) not in _CRON_FIELDS:
        return (
            f"is neither a repeating interval (R/...) nor a cron expression with 6 or 7 "
            f"fields, seconds first (it has {len(fields)})"
        )
    if not all(_CRON_FIELD.fullmatch(field) for field in fields):
        return "is not a valid cron expression"
    return None


CHECKS = {"duration": duration_problem, "date": date_problem, "cycle": cycle_problem}
