"""Camunda 7's typed variables, to and from the plain JSON variables of the job contract.

Camunda's REST API carries variables as ``{"name": {"value": ..., "type": ..., "valueInfo": {}}}``.

To a client (fetched tasks), each JSON value gets the type Camunda would give it:

=============================  ==========================================================
``null``                       ``Null``
``true`` / ``false``           ``Boolean``
an integer                     ``Integer`` (32 bits), else ``Long``
any other number               ``Double``
a string                       ``String``
an object or a list            ``Json``, the value being the JSON text (Camunda Spin's type)
=============================  ==========================================================

From a client (complete, bpmnError), values are read by their type, as Camunda's REST layer
does: ``String``, ``Integer``/``Long``/``Short``, ``Double``, ``Boolean`` (numbers and booleans
may also come as text), ``Null``; ``Json`` and ``Object`` with ``serializationDataFormat``
``application/json`` are parsed into JSON values; ``Xml``, ``Date``, ``Bytes`` and ``File`` keep
their value as it came (text); an untyped value is taken as it is. Type names are matched
without regard to case. An unknown type or a value
that does not fit its type is refused with Camunda's 400 and message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from activities.external_tasks._errors import ExternalTaskApiError, bad_request, invalid_request

JSON_DATA_FORMAT = "application/json"

_INTEGER_RANGE = (-(2**31), 2**31 - 1)
_RANGES = {"integer": _INTEGER_RANGE, "short": (-(2**15), 2**15 - 1), "long": (-(2**63), 2**63 - 1)}
_JAVA_TYPES = {
    "string": "java.lang.String",
    "integer": "java.lang.Integer",
    "long": "java.lang.Long",
    "short": "java.lang.Short",
    "double": "java.lang.Double",
    "boolean": "java.lang.Boolean",
    "json": "org.camunda.spin.json.SpinJsonNode",
    "object": "java.lang.Object",
}
_KEPT_AS_IS = {"xml", "date", "bytes", "file"}


def to_camunda(variables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Plain JSON variables as Camunda typed variables."""
    return {name: to_camunda_value(value) for name, value in variables.items()}


def to_camunda_value(value: Any) -> dict[str, Any]:
    """One JSON value as a Camunda typed value."""
    if value is None:
        return _typed(None, "Null")
    if isinstance(value, bool):
        return _typed(value, "Boolean")
    if isinstance(value, int):
        low, high = _INTEGER_RANGE
        return _typed(value, "Integer" if low <= value <= high else "Long")
    if isinstance(value, float):
        return _typed(value, "Double")
    if isinstance(value, str):
        return _typed(value, "String")
    if isinstance(value, Mapping | list | tuple):
        return _typed(json.dumps(value, separators=(",", ":"), ensure_ascii=False), "Json")
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def from_camunda(variables: Any) -> dict[str, Any]:
    """Camunda typed variables (a JSON object, or null) as plain JSON variables.

    Raises:
        ExternalTaskApiError: 400, as Camunda answers an unknown type or a value that does not
            fit its type.
    """
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise invalid_request("variables must be a JSON object of typed values")
    return {str(name): from_camunda_value(str(name), typed) for name, typed in variables.items()}


def from_camunda_value(name: str, typed: Any) -> Any:
    """One Camunda typed value (``{"value": ..., "type": ..., "valueInfo": {...}}``) as JSON."""
    if not isinstance(typed, Mapping):
        raise invalid_request(
            f"variable {name!r} must be an object with 'value' and 'type', not {typed!r}"
        )
    value = typed.get("value")
    type_name = typed.get("type")
    if type_name is None or type_name == "":
        return value
    if not isinstance(type_name, str):
        raise bad_request(f"Unsupported value type '{type_name}'")
    kind = type_name.lower()
    if kind not in _JAVA_TYPES and kind not in _KEPT_AS_IS and kind != "null":
        raise bad_request(f"Unsupported value type '{type_name}'")
    if kind == "null" or value is None:
        return None
    if kind in _KEPT_AS_IS:
        return value
    try:
        return _convert(kind, value, typed.get("valueInfo"))
    except (ValueError, TypeError):
        raise _cannot_convert(value, type_name, kind) from None


def _convert(kind: str, value: Any, value_info: Any) -> Any:
    """Raises ValueError/TypeError when ``value`` does not fit ``kind`` (or ``kind`` is unknown)."""
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise TypeError(kind)
    if kind in _RANGES:
        number = _integer(value)
        low, high = _RANGES[kind]
        if not low <= number <= high:
            raise ValueError(kind)
        return number
    if kind == "double":
        if isinstance(value, bool):
            raise TypeError(kind)
        real = float(value)
        if not math.isfinite(real):
            raise ValueError(kind)
        return real
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeError(kind)
    if kind == "json":
        return json.loads(value) if isinstance(value, str) else value
    if kind == "object":
        data_format = (
            value_info.get("serializationDataFormat") if isinstance(value_info, dict) else None
        )
        if data_format == JSON_DATA_FORMAT and isinstance(value, str):
            return json.loads(value)
        return value
    raise AssertionError(f"no conversion for {kind}")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(type(value).__name__)


def _cannot_convert(value: Any, type_name: str, kind: str) -> ExternalTaskApiError:
    return invalid_request(
        f"Cannot convert value '{value}' of type '{type_name}' to java type {_JAVA_TYPES[kind]}"
    )


def _typed(value: Any, type_name: str) -> dict[str, Any]:
    return {"value": value, "type": type_name, "valueInfo": {}}
