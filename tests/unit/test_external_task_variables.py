"""Camunda 7 typed variables to and from the job contract's plain JSON variables."""

from __future__ import annotations

from typing import Any

import pytest

from activities.external_tasks import ExternalTaskApiError, from_camunda, to_camunda


def typed(value: Any, type_name: str | None = None, **value_info: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": value, "valueInfo": value_info}
    if type_name is not None:
        entry["type"] = type_name
    return entry


def test_json_values_get_the_types_camunda_gives_them() -> None:
    variables = {
        "nothing": None,
        "flag": True,
        "count": 7,
        "negative": -(2**31),
        "big": 2**31,
        "amount": 12.5,
        "name": "Ada",
        "order": {"id": 7, "items": ["a", "b"]},
        "list": [1, 2],
    }
    assert to_camunda(variables) == {
        "nothing": typed(None, "Null"),
        "flag": typed(True, "Boolean"),
        "count": typed(7, "Integer"),
        "negative": typed(-(2**31), "Integer"),
        "big": typed(2**31, "Long"),
        "amount": typed(12.5, "Double"),
        "name": typed("Ada", "String"),
        "order": typed('{"id":7,"items":["a","b"]}', "Json"),
        "list": typed("[1,2]", "Json"),
    }


def test_json_text_keeps_non_ascii_characters() -> None:
    assert to_camunda({"city": {"name": "Zürich"}})["city"]["value"] == '{"name":"Zürich"}'


def test_a_round_trip_gives_back_the_same_variables() -> None:
    variables = {
        "nothing": None,
        "flag": False,
        "count": 3,
        "big": 2**40,
        "amount": 0.25,
        "name": "x",
        "order": {"nested": {"deep": [1, {"a": None}]}},
    }
    assert from_camunda(to_camunda(variables)) == variables


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (typed("text", "String"), "text"),
        (typed(5, "String"), "5"),
        (typed(True, "String"), "true"),
        (typed(42, "Integer"), 42),
        (typed("42", "Integer"), 42),
        (typed(42.0, "Integer"), 42),
        (typed(2**40, "Long"), 2**40),
        (typed(-7, "Short"), -7),
        (typed(1.5, "Double"), 1.5),
        (typed(2, "Double"), 2.0),
        (typed("2.5", "Double"), 2.5),
        (typed(True, "Boolean"), True),
        (typed("false", "Boolean"), False),
        (typed("anything", "Null"), None),
        (typed(None, "Integer"), None),
        (typed('{"a": [1, 2]}', "Json"), {"a": [1, 2]}),
        (typed({"a": 1}, "Json"), {"a": 1}),
        (typed('{"a": 1}', "Object", serializationDataFormat="application/json"), {"a": 1}),
        (
            typed(
                "rO0AB", "Object", serializationDataFormat="application/x-java-serialized-object"
            ),
            "rO0AB",
        ),
        (typed("<a/>", "Xml"), "<a/>"),
        (typed("2024-01-02T03:04:05.000+0000", "Date"), "2024-01-02T03:04:05.000+0000"),
        (typed("aGVsbG8=", "Bytes"), "aGVsbG8="),
        (typed({"any": "thing"}), {"any": "thing"}),
        (typed([1, 2], None), [1, 2]),
        ({"type": "String"}, None),
    ],
)
def test_typed_values_are_read_by_their_type(entry: dict[str, Any], expected: Any) -> None:
    assert from_camunda({"v": entry}) == {"v": expected}


@pytest.mark.parametrize("type_name", ["string", "STRING", "integer", "json", "boolean"])
def test_type_names_are_matched_without_regard_to_case(type_name: str) -> None:
    value = {"string": "s", "integer": 1, "json": "[]", "boolean": True}[type_name.lower()]
    assert from_camunda({"v": typed(value, type_name)}) != {}


def test_what_the_python_client_sends_is_accepted() -> None:
    """camunda-external-task-client-python3 wraps plain values as {"value": v}, untyped."""
    assert from_camunda({"ok": {"value": True}, "order": {"value": {"id": 1}}}) == {
        "ok": True,
        "order": {"id": 1},
    }


def test_no_variables_is_an_empty_object() -> None:
    assert from_camunda(None) == {}
    assert from_camunda({}) == {}


def test_an_unknown_type_is_refused_as_camunda_does() -> None:
    with pytest.raises(ExternalTaskApiError) as refused:
        from_camunda({"v": typed(1, "Money")})
    assert refused.value.status == 400
    assert refused.value.body() == {
        "type": "RestException",
        "message": "Unsupported value type 'Money'",
        "code": 0,
    }


@pytest.mark.parametrize(
    ("entry", "java_type"),
    [
        (typed("seven", "Integer"), "java.lang.Integer"),
        (typed(2**31, "Integer"), "java.lang.Integer"),
        (typed(40000, "Short"), "java.lang.Short"),
        (typed(1.5, "Long"), "java.lang.Long"),
        (typed(True, "Integer"), "java.lang.Integer"),
        (typed("yes", "Boolean"), "java.lang.Boolean"),
        (typed("NaN", "Double"), "java.lang.Double"),
        (typed({"a": 1}, "String"), "java.lang.String"),
        (typed("{not json", "Json"), "org.camunda.spin.json.SpinJsonNode"),
    ],
)
def test_a_value_that_does_not_fit_its_type_is_refused(
    entry: dict[str, Any], java_type: str
) -> None:
    with pytest.raises(ExternalTaskApiError) as refused:
        from_camunda({"v": entry})
    assert refused.value.status == 400
    assert refused.value.type == "InvalidRequestException"
    assert refused.value.message.startswith("Cannot convert value '")
    assert refused.value.message.endswith(f"to java type {java_type}")


@pytest.mark.parametrize("variables", [[1, 2], "text", {"v": 5}, {"v": [1]}])
def test_variables_that_are_not_typed_values_are_refused(variables: Any) -> None:
    with pytest.raises(ExternalTaskApiError) as refused:
        from_camunda(variables)
    assert refused.value.status == 400


def test_only_json_values_go_to_camunda() -> None:
    with pytest.raises(TypeError):
        to_camunda({"v": object()})
