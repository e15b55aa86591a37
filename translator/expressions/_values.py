"""Runtime values: what kind a value is, structural equality, ordering, text, plain JSON.

Values are plain Python (None, bool, int, float, str, lists, mappings) plus FEEL temporal values
and ``ExecutionView``. ``bool`` is never a number here, although Python says ``True == 1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeGuard

from translator.expressions._errors import EvaluationFailure
from translator.expressions._temporal import YearsMonths, format_duration, format_temporal


@dataclass
class VariableWrites:
    """What ``execution.setVariable(...)`` set during one evaluation (Camunda 7 listeners):
    ``variables`` propagate, ``local`` stay in the element's scope."""

    variables: dict[str, Any] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class ExecutionView:
    """Camunda's ``execution`` object: the context's ``execution`` mapping plus the variables,
    and, where variables may be set (a listener), where the writes go."""

    properties: Mapping[str, Any]
    variables: Mapping[str, Any] = field(repr=False)
    writes: VariableWrites | None = field(default=None, repr=False)

    def set(self, name: Any, value: Any, *, local: bool = False) -> None:
        if self.writes is None:
            raise EvaluationFailure(
                "execution.setVariable is only available in an execution listener"
            )
        if not isinstance(name, str) or not name:
            raise EvaluationFailure(f"a variable name must be text, not {name!r}")
        (self.writes.local if local else self.writes.variables)[name] = to_plain(value)


def lookup(mapping: Mapping[Any, Any], key: Any) -> Any:
    """``mapping.get(key)``; keys that cannot be map keys in JSON (lists, maps) find nothing."""
    return mapping.get(key) if key is None or isinstance(key, (str, int, float)) else None


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_list(value: Any) -> TypeGuard[list[Any] | tuple[Any, ...]]:
    return isinstance(value, (list, tuple))


def is_map(value: Any) -> TypeGuard[Mapping[Any, Any]]:
    return isinstance(value, Mapping)


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    ((list, tuple), "list"),
    (Mapping, "map"),
    (datetime, "date and time"),  # before date: datetime is a subclass of date
    (date, "date"),
    (time, "time"),
    (timedelta, "duration"),
    (YearsMonths, "years and months duration"),
    (ExecutionView, "execution"),
)
_ORDERED_KINDS = frozenset(
    {"number", "string", "date", "time", "date and time", "duration", "years and months duration"}
)


def kind(value: Any) -> str:
    """The kind of ``value`` as named in error messages (``"null"``, ``"number"``, ...)."""
    if value is None:
        return "null"
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return type(value).__name__


def equal(left: Any, right: Any) -> bool:
    """Structural equality; values of different kinds are never equal."""
    left_kind = kind(left)
    if left_kind != kind(right):
        return False
    if left_kind == "list":
        return len(left) == len(right) and all(map(equal, left, right))
    if left_kind == "map":
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    return bool(left == right)


def order(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 for comparable values of one kind; None when they cannot be ordered."""
    if kind(left) != kind(right) or kind(left) not in _ORDERED_KINDS:
        return None
    try:
        return -1 if left < right else (1 if left > right else 0)
    except TypeError:  # a zoned and a local date-time
        return None


def check_number(value: int | float) -> int | float:
    """Reject results JSON cannot carry (infinity, NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise EvaluationFailure("the result is not a finite number")
    return value


def to_plain(value: Any) -> Any:
    """``value`` as JSON-compatible Python: temporal values become ISO text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return check_number(value)
    if is_list(value):
        return [to_plain(item) for item in value]
    if is_map(value):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, ExecutionView):
        return to_plain(value.properties)
    if isinstance(value, (date, time)):
        return format_temporal(value)
    if isinstance(value, (timedelta, YearsMonths)):
        return format_duration(value)
    raise EvaluationFailure(f"a value of type {type(value).__name__} cannot be returned")


def java_text(value: Any) -> str:
    """Text as Java's ``toString`` writes it (JUEL and SpEL string conversion)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(check_number(value))
    if is_list(value):
        return "[" + ", ".join(java_text(item) for item in value) + "]"
    if is_map(value) or isinstance(value, ExecutionView):
        items = value.properties if isinstance(value, ExecutionView) else value
        return "{" + ", ".join(f"{key}={java_text(item)}" for key, item in items.items()) + "}"
    return str(to_plain(value))


def feel_text(value: Any, nested: bool = False) -> str:
    """Text as FEEL's ``string()`` writes it; strings inside lists and contexts are quoted."""
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"' if nested else value
    if is_list(value):
        return "[" + ", ".join(feel_text(item, nested=True) for item in value) + "]"
    if is_map(value):
        return (
            "{" + ", ".join(f"{key}:{feel_text(item, True)}" for key, item in value.items()) + "}"
        )
    return java_text(value)
