"""The FEEL built-in functions (a practical subset of DMN 1.3 plus Zeebe's common extras).

Each function checks its arguments and raises ``InvalidArgument`` where FEEL answers null, so a
function never fails an evaluation because of the values it was given. Regular-expression
functions (``matches``, ``replace``, ``split``) are left out: their cost cannot be bounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
)
from typing import Any, TypeVar

from translator.expressions import _temporal
from translator.expressions._values import (
    equal,
    feel_text,
    is_list,
    is_map,
    is_number,
    kind,
    order,
)

T = TypeVar("T")


class InvalidArgument(Exception):
    """A function got an argument it cannot use; FEEL makes the call null."""


@dataclass(frozen=True)
class Builtin:
    """A built-in function; ``needs_clock`` ones get the evaluation's ``now`` first."""

    impl: Callable[..., Any]
    min_args: int
    max_args: int | None
    needs_clock: bool = False


# --- argument checks -------------------------------------------------------------------------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgument
    return value


def _number(value: Any) -> int | float:
    if not is_number(value):
        raise InvalidArgument
    return value


def _integer(value: Any) -> int:
    number = _number(value)
    if number != int(number):
        raise InvalidArgument
    return int(number)


def _list(value: Any) -> list[Any]:
    if not is_list(value):
        raise InvalidArgument
    return list(value)


def _items(args: Sequence[Any]) -> list[Any]:
    """``f([a, b])`` and ``f(a, b)`` mean the same for the aggregate functions."""
    return _list(args[0]) if len(args) == 1 and is_list(args[0]) else list(args)


def _numbers(args: Sequence[Any]) -> list[int | float]:
    return [_number(item) for item in _items(args)]


# --- strings ---------------------------------------------------------------------------------


def _substring(text: Any, start: Any, length: Any = None) -> str:
    string, first = _string(text), _integer(start)
    begin = first - 1 if first > 0 else len(string) + first
    if first == 0 or not 0 <= begin <= len(string):
        raise InvalidArgument
    return string[begin:] if length is None else string[begin : begin + _integer(length)]


def _substring_before(text: Any, match: Any) -> str:
    text, match = _string(text), _string(match)
    found = text.find(match)
    return text[:found] if found >= 0 else ""


def _substring_after(text: Any, match: Any) -> str:
    text, match = _string(text), _string(match)
    found = text.find(match)
    return text[found + len(match) :] if found >= 0 else ""


def _string_join(items: Any, delimiter: Any = "") -> str:
    texts = [_string(item) for item in _list(items) if item is not None]
    return _string(delimiter if delimiter is not None else "").join(texts)


def _to_string(value: Any) -> str | None:
    return None if value is None else feel_text(value)


def _to_number(text: Any) -> int | float | None:
    text = _string(text).strip()
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        return None


# --- numbers ---------------------------------------------------------------------------------


def _rounding(mode: str) -> Callable[[Any, Any], int | float]:
    def rounded(number: Any, scale: Any = 0) -> int | float:
        places = _integer(scale)
        if abs(places) > 100:
            raise InvalidArgument
        try:
            result = Decimal(repr(_number(number))).quantize(Decimal(1).scaleb(-places), mode)
        except InvalidOperation:
            raise InvalidArgument from None
        return int(result) if places <= 0 or result == result.to_integral_value() else float(result)

    return rounded


def _modulo(dividend: Any, divisor: Any) -> int | float:
    if _number(divisor) == 0:
        raise InvalidArgument
    return _number(dividend) % _number(divisor)  # Python's sign rule is FEEL's


def _sqrt(number: Any) -> float:
    if _number(number) < 0:
        raise InvalidArgument
    return math.sqrt(number)


# --- lists -----------------------------------------------------------------------------------


def _sum(*args: Any) -> int | float | None:
    numbers = _numbers(args)
    return sum(numbers) if numbers else None


def _mean(*args: Any) -> int | float | None:
    numbers = _numbers(args)
    if not numbers:
        return None
    total = sum(numbers)
    return total // len(numbers) if total % len(numbers) == 0 else total / len(numbers)


def _extreme(sign: int) -> Callable[..., Any]:
    def pick(*args: Any) -> Any:
        items = _items(args)
        best = items[0] if items else None
        for item in items[1:]:
            found = order(item, best)
            if found is None:
                raise InvalidArgument
            best = item if found == sign else best
        return best

    return pick


def _all(*args: Any) -> bool | None:
    items = _items(args)
    if any(item is False for item in items):
        return False
    return True if all(item is True for item in items) else None


def _any(*args: Any) -> bool | None:
    items = _items(args)
    if any(item is True for item in items):
        return True
    return False if all(item is False for item in items) else None


def _list_contains(items: Any, element: Any) -> bool:
    return any(_same(item, element) for item in _list(items))


def _same(left: Any, right: Any) -> bool:
    return (left is None and right is None) or equal(left, right)


def _distinct_values(items: Any) -> list[Any]:
    seen: set[Hashable] = set()
    distinct: list[Any] = []
    for item in _list(items):
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            distinct.append(item)
    return distinct


def _identity(value: Any) -> Hashable:
    """A hashable stand-in equal exactly when FEEL calls the values equal (keeps
    ``distinct values`` linear rather than comparing every pair)."""
    if is_list(value):
        return ("list", tuple(_identity(item) for item in value))
    if is_map(value):
        return ("map", frozenset((key, _identity(item)) for key, item in value.items()))
    if isinstance(value, Hashable):
        return (kind(value), value)  # the kind keeps true apart from 1
    return ("other", id(value))


def _concatenate(*lists: Any) -> list[Any]:
    return [item for part in lists for item in (part if is_list(part) else [part])]


def _flatten(items: Any) -> list[Any]:
    flat: list[Any] = []
    pending = [iter(_list(items))]
    while pending:  # iterative, so hostile nesting cannot overflow the stack
        for item in pending[-1]:
            if is_list(item):
                pending.append(iter(item))
                break
            flat.append(item)
        else:
            pending.pop()
    return flat


def _sublist(items: Any, start: Any, length: Any = None) -> list[Any]:
    values, first = _list(items), _integer(start)
    begin = first - 1 if first > 0 else len(values) + first
    if first == 0 or not 0 <= begin < len(values):
        raise InvalidArgument
    return values[begin:] if length is None else values[begin : begin + _integer(length)]


def _index_of(items: Any, match: Any) -> list[int]:
    return [position for position, item in enumerate(_list(items), 1) if _same(item, match)]


# --- contexts --------------------------------------------------------------------------------


def _get_value(context: Any, key: Any) -> Any:
    if not is_map(context):
        raise InvalidArgument
    return context.get(_string(key))


def _get_entries(context: Any) -> list[dict[str, Any]]:
    if not is_map(context):
        raise InvalidArgument
    return [{"key": key, "value": value} for key, value in context.items()]


# --- connector errors (Camunda's errorExpression functions) -----------------------------------
# They only build a context; the connector runtime reads ``errorType`` and acts on it.


def _bpmn_error(code: Any, message: Any, variables: Any = None) -> dict[str, Any]:
    if variables is not None and not is_map(variables):
        raise InvalidArgument
    return {
        "errorType": "bpmnError",
        "code": _string(code),
        "message": _string(message),
        "variables": dict(variables or {}),
    }


def _job_error(
    message: Any, variables: Any = None, retries: Any = None, retry_backoff: Any = None
) -> dict[str, Any]:
    if variables is not None and not is_map(variables):
        raise InvalidArgument
    if retry_backoff is not None and not isinstance(retry_backoff, timedelta):
        raise InvalidArgument
    return {
        "errorType": "jobError",
        "message": _string(message),
        "variables": dict(variables or {}),
        "retries": None if retries is None else _integer(retries),
        "retryBackoff": retry_backoff,
    }


# --- dates and times -------------------------------------------------------------------------


def _parsed(value: Any, parse: Callable[[str], T | None]) -> T:
    found = parse(_string(value))
    if found is None:
        raise InvalidArgument
    return found


def _date(value: Any, month: Any = None, day: Any = None) -> date:
    if month is not None or day is not None:
        try:
            return date(_integer(value), _integer(month), _integer(day))
        except ValueError:
            raise InvalidArgument from None
    if isinstance(value, date):  # a date and time keeps its date
        return value.date() if isinstance(value, datetime) else value
    return _parsed(value, _temporal.parse_date)


def _time(value: Any, minute: Any = None, second: Any = None) -> time:
    if minute is not None or second is not None:
        try:
            return time(_integer(value), _integer(minute), _integer(second or 0))
        except ValueError:
            raise InvalidArgument from None
    if isinstance(value, datetime):
        return value.timetz()
    return _parsed(value, _temporal.parse_time)


def _date_and_time(value: Any, at: Any = None) -> datetime:
    if at is None:
        return _parsed(value, _temporal.parse_date_time)
    if not isinstance(value, date) or not isinstance(at, time):
        raise InvalidArgument
    return datetime.combine(value, at)


def _duration(value: Any) -> timedelta | _temporal.YearsMonths:
    found = _temporal.parse_duration(_string(value))
    if found is None:
        raise InvalidArgument
    return found


def _day_of_week(value: Any) -> str:
    if not isinstance(value, date):
        raise InvalidArgument
    return value.strftime("%A")


def _month_of_year(value: Any) -> str:
    if not isinstance(value, date):
        raise InvalidArgument
    return value.strftime("%B")


def _now(clock: datetime) -> datetime:
    return clock


def _today(clock: datetime) -> date:
    return clock.date()


def _not(value: Any) -> bool | None:
    return not value if isinstance(value, bool) else None


FUNCTIONS: dict[str, Builtin] = {
    # strings
    "string length": Builtin(lambda s: len(_string(s)), 1, 1),
    "upper case": Builtin(lambda s: _string(s).upper(), 1, 1),
    "lower case": Builtin(lambda s: _string(s).lower(), 1, 1),
    "trim": Builtin(lambda s: _string(s).strip(), 1, 1),
    "substring": Builtin(_substring, 2, 3),
    "substring before": Builtin(_substring_before, 2, 2),
    "substring after": Builtin(_substring_after, 2, 2),
    "contains": Builtin(lambda s, m: _string(m) in _string(s), 2, 2),
    "starts with": Builtin(lambda s, m: _string(s).startswith(_string(m)), 2, 2),
    "ends with": Builtin(lambda s, m: _string(s).endswith(_string(m)), 2, 2),
    "string join": Builtin(_string_join, 1, 2),
    "string": Builtin(_to_string, 1, 1),
    "number": Builtin(_to_number, 1, 1),
    # numbers
    "abs": Builtin(lambda n: abs(_number(n)), 1, 1),
    "floor": Builtin(_rounding(ROUND_FLOOR), 1, 2),
    "ceiling": Builtin(_rounding(ROUND_CEILING), 1, 2),
    "decimal": Builtin(_rounding(ROUND_HALF_EVEN), 2, 2),
    "round half up": Builtin(_rounding(ROUND_HALF_UP), 1, 2),
    "round half down": Builtin(_rounding(ROUND_HALF_DOWN), 1, 2),
    "round up": Builtin(_rounding(ROUND_UP), 1, 2),
    "round down": Builtin(_rounding(ROUND_DOWN), 1, 2),
    "modulo": Builtin(_modulo, 2, 2),
    "sqrt": Builtin(_sqrt, 1, 1),
    "odd": Builtin(lambda n: _integer(n) % 2 == 1, 1, 1),
    "even": Builtin(lambda n: _integer(n) % 2 == 0, 1, 1),
    # lists
    "count": Builtin(lambda items: len(_list(items)), 1, 1),
    "sum": Builtin(_sum, 1, None),
    "mean": Builtin(_mean, 1, None),
    "min": Builtin(_extreme(-1), 1, None),
    "max": Builtin(_extreme(1), 1, None),
    "all": Builtin(_all, 1, None),
    "any": Builtin(_any, 1, None),
    "list contains": Builtin(_list_contains, 2, 2),
    "append": Builtin(lambda items, *more: [*_list(items), *more], 1, None),
    "concatenate": Builtin(_concatenate, 1, None),
    "distinct values": Builtin(_distinct_values, 1, 1),
    "flatten": Builtin(_flatten, 1, 1),
    "reverse": Builtin(lambda items: _list(items)[::-1], 1, 1),
    "sublist": Builtin(_sublist, 2, 3),
    "index of": Builtin(_index_of, 2, 2),
    "is empty": Builtin(lambda items: not _list(items), 1, 1),
    # contexts
    "get value": Builtin(_get_value, 2, 2),
    "get entries": Builtin(_get_entries, 1, 1),
    # booleans
    "not": Builtin(_not, 1, 1),
    # connector error expressions (Camunda)
    "bpmnError": Builtin(_bpmn_error, 2, 3),
    "jobError": Builtin(_job_error, 1, 4),
    # dates and times
    "date": Builtin(_date, 1, 3),
    "time": Builtin(_time, 1, 3),
    "date and time": Builtin(_date_and_time, 1, 2),
    "duration": Builtin(_duration, 1, 1),
    "day of week": Builtin(_day_of_week, 1, 1),
    "month of year": Builtin(_month_of_year, 1, 1),
    "now": Builtin(_now, 0, 0, needs_clock=True),
    "today": Builtin(_today, 0, 0, needs_clock=True),
}

SPECIAL_FORMS: dict[str, tuple[int, int]] = {"is defined": (1, 1)}
"""Functions the evaluator implements itself: they look at the argument's expression."""


def arity(name: str) -> tuple[int, int | None] | None:
    """(minimum, maximum or None) arguments of a known function, else None."""
    if name in SPECIAL_FORMS:
        return SPECIAL_FORMS[name]
    builtin = FUNCTIONS.get(name)
    return None if builtin is None else (builtin.min_args, builtin.max_args)


def describe_arity(least: int, most: int | None) -> str:
    """``"no arguments"``, ``"1 argument"``, ``"2 to 3 arguments"``, ``"at least 1 argument"``."""
    if most is None:
        return f"at least {least} argument" + ("s" if least != 1 else "")
    if least == most:
        return {0: "no arguments", 1: "1 argument"}.get(least, f"{least} arguments")
    return f"{least} to {most} arguments"


FUNCTION_WORDS = max(len(name.split()) for name in (*FUNCTIONS, *SPECIAL_FORMS))
"""The longest function name in words (the parser matches multi-word names greedily)."""
