"""The Java methods JUEL and SpEL expressions may call (``name.toUpperCase()``, ``list.size()``).

Only a fixed list of side-effect-free methods exists; anything else is a clear evaluation error,
never a lookup on a Python object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from translator.expressions._errors import EvaluationFailure
from translator.expressions._functions import describe_arity
from translator.expressions._values import (
    ExecutionView,
    equal,
    is_number,
    java_text,
    kind,
    lookup,
)


@dataclass(frozen=True)
class Method:
    """A callable method: its implementation gets the target first, then the arguments."""

    impl: Callable[..., Any]
    min_args: int
    max_args: int


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise EvaluationFailure(f"expected a string argument, got {kind(value)}")
    return value


def _position(value: Any, size: int, end_allowed: bool = False) -> int:
    """A Java index argument, checked against ``size`` as Java would."""
    if not is_number(value) or value != int(value):
        raise EvaluationFailure(f"expected a whole number as index, got {kind(value)}")
    index = int(value)
    if not 0 <= index < size + end_allowed:
        raise EvaluationFailure(f"index {index} is out of range for size {size}")
    return index


def _substring(text: str, begin: Any, end: Any = None) -> str:
    start = _position(begin, len(text), end_allowed=True)
    stop = len(text) if end is None else _position(end, len(text), end_allowed=True)
    if stop < start:
        raise EvaluationFailure(f"substring end {stop} is before its start {start}")
    return text[start:stop]


def _index_of(items: list[Any], match: Any) -> int:
    return next((i for i, item in enumerate(items) if equal(item, match)), -1)


_COMMON = {
    "toString": Method(java_text, 0, 0),
    "equals": Method(equal, 1, 1),
}
_STRING = {
    "length": Method(len, 0, 0),
    "isEmpty": Method(lambda s: not s, 0, 0),
    "isBlank": Method(lambda s: not s.strip(), 0, 0),
    "toUpperCase": Method(str.upper, 0, 0),
    "toLowerCase": Method(str.lower, 0, 0),
    "trim": Method(str.strip, 0, 0),
    "contains": Method(lambda s, m: _text(m) in s, 1, 1),
    "startsWith": Method(lambda s, m: s.startswith(_text(m)), 1, 1),
    "endsWith": Method(lambda s, m: s.endswith(_text(m)), 1, 1),
    "indexOf": Method(lambda s, m: s.find(_text(m)), 1, 1),
    "lastIndexOf": Method(lambda s, m: s.rfind(_text(m)), 1, 1),
    "substring": Method(_substring, 1, 2),
    "charAt": Method(lambda s, i: s[_position(i, len(s))], 1, 1),
    "concat": Method(lambda s, m: s + _text(m), 1, 1),
    "replace": Method(lambda s, old, new: s.replace(_text(old), _text(new)), 2, 2),
    "equalsIgnoreCase": Method(lambda s, m: isinstance(m, str) and s.lower() == m.lower(), 1, 1),
}
_LIST = {
    "size": Method(len, 0, 0),
    "isEmpty": Method(lambda items: not items, 0, 0),
    "contains": Method(lambda items, m: _index_of(items, m) >= 0, 1, 1),
    "indexOf": Method(_index_of, 1, 1),
    "get": Method(lambda items, i: items[_position(i, len(items))], 1, 1),
}
_MAP = {
    "size": Method(len, 0, 0),
    "isEmpty": Method(lambda items: not items, 0, 0),
    "containsKey": Method(lambda items, key: any(equal(key, k) for k in items), 1, 1),
    "get": Method(lookup, 1, 1),
    "keySet": Method(lambda items: list(items), 0, 0),
    "values": Method(lambda items: list(items.values()), 0, 0),
}
_NUMBER = {
    "intValue": Method(int, 0, 0),
    "longValue": Method(int, 0, 0),
    "doubleValue": Method(float, 0, 0),
}
_EXECUTION = {
    "getVariable": Method(lambda view, name: view.variables.get(_text(name)), 1, 1),
    "hasVariable": Method(lambda view, name: _text(name) in view.variables, 1, 1),
    "getVariables": Method(lambda view: dict(view.variables), 0, 0),
    "setVariable": Method(lambda view, name, value: view.set(name, value), 2, 2),
    "setVariableLocal": Method(lambda view, name, value: view.set(name, value, local=True), 2, 2),
    "setVariables": Method(lambda view, values: _set_all(view, values), 1, 1),
}


def _set_all(view: ExecutionView, values: Any) -> None:
    if not isinstance(values, Mapping):
        raise EvaluationFailure("execution.setVariables takes a map of variables")
    for name, value in values.items():
        view.set(name, value)


_BY_KIND: dict[str, dict[str, Method]] = {
    "string": _STRING,
    "list": _LIST,
    "map": _MAP,
    "number": _NUMBER,
    "execution": _EXECUTION,
}


def _getter(view: ExecutionView, name: str) -> Method | None:
    """``execution.getProcessBusinessKey()`` reads the ``processBusinessKey`` property."""
    if not name.startswith("get") or len(name) < 4:
        return None
    prop = name[3].lower() + name[4:]
    return Method(lambda target: target.properties.get(prop), 0, 0)


def is_known_method(name: str) -> bool:
    """Whether some value here has a method ``name`` (a Java bean's methods never do)."""
    return any(name in table for table in (*_BY_KIND.values(), _COMMON)) or (
        name.startswith("get") and len(name) > 3
    )


def call_method(target: Any, name: str, args: list[Any]) -> Any:
    """``target.name(*args)`` if it is one of the allowed methods."""
    target_kind = kind(target)
    method = _BY_KIND.get(target_kind, {}).get(name) or _COMMON.get(name)
    if method is None and isinstance(target, ExecutionView):
        method = _getter(target, name)
    if method is None:
        raise EvaluationFailure(f"method '{name}' is not available on {target_kind}")
    if not method.min_args <= len(args) <= method.max_args:
        expected = describe_arity(method.min_args, method.max_args)
        raise EvaluationFailure(f"method '{name}' takes {expected}, got {len(args)}")
    return method.impl(target, *args)
