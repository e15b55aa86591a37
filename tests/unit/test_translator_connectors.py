"""Connector tasks checked at load time: what the model alone shows is a TranslationError."""

from __future__ import annotations

import pytest

import translator
from tests.helpers.connectors import rest_process
from translator import JobTask, TranslationError, compile_bytes

GOOD_INPUTS = {"url": "https://api.example.com/orders", "method": "GET"}


def compile_rest(inputs: dict[str, str], headers: dict[str, str] | None = None) -> JobTask:
    (definition,) = compile_bytes(rest_process("p", inputs, headers).encode(), "rest.bpmn")
    task = definition.nodes["call"]
    assert isinstance(task, JobTask)
    return task


def problems(inputs: dict[str, str], headers: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(TranslationError) as error:
        compile_rest(inputs, headers)
    assert all(p.element_id == "call" and p.line for p in error.value.problems)
    return [p.message for p in error.value.problems]


def test_a_complete_rest_task_compiles_to_a_job_of_the_connector_type() -> None:
    task = compile_rest(
        {
            **GOOD_INPUTS,
            "authentication.type": "bearer",
            "authentication.token": "{{secrets.API_TOKEN}}",
            "connectionTimeoutInSeconds": "20",
            "readTimeoutInSeconds": "=timeout",
        },
        {"resultExpression": "={id: response.body.id}", "retryBackoff": "PT5S"},
    )
    assert task.job.type == translator.REST_JOB_TYPE
    assert {m.target for m in task.inputs} >= {"url", "authentication.token"}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"method": "GET"}, "has no 'url' input"),
        ({"url": "  ", "method": "GET"}, "'url' is empty"),
        ({"url": "ftp://files", "method": "GET"}, "must start with http(s)://"),
        ({**GOOD_INPUTS, "method": "FETCH"}, "'method' is 'FETCH', not one of GET, POST"),
        ({**GOOD_INPUTS, "authentication.type": "kerberos"}, "'authentication.type'"),
        ({**GOOD_INPUTS, "readTimeoutInSeconds": "soon"}, "'readTimeoutInSeconds' is 'soon'"),
        ({**GOOD_INPUTS, "connectionTimeoutInSeconds": "=-1"}, "give a number of seconds"),
    ],
)
def test_static_inputs_are_checked(inputs: dict[str, str], expected: str) -> None:
    (message,) = problems(inputs)
    assert expected in message


@pytest.mark.parametrize(
    "inputs",
    [
        {"url": '=baseUrl + "/orders"', "method": "=verb"},
        {"url": "{{secrets.BASE_URL}}/orders", "method": "post"},
        {"url": '="{{secrets.BASE_URL}}/v1"', "method": "DELETE"},
    ],
)
def test_inputs_from_expressions_or_secrets_are_left_to_run_time(inputs: dict[str, str]) -> None:
    compile_rest(inputs)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"resultExpression": "={id: "}, "'resultExpression' is not a valid FEEL expression"),
        ({"errorExpression": "=bpmnError("}, "'errorExpression' is not a valid FEEL expression"),
        ({"retryBackoff": "5 seconds"}, "'retryBackoff' is '5 seconds', not an ISO 8601"),
    ],
)
def test_result_and_error_headers_are_checked(headers: dict[str, str], expected: str) -> None:
    (message,) = problems(GOOD_INPUTS, headers)
    assert expected in message


def test_all_problems_of_a_task_are_reported_together() -> None:
    messages = problems({"method": "SEND"}, {"retryBackoff": "soon"})
    assert len(messages) == 3


def test_a_broken_url_expression_is_reported_once() -> None:
    (message,) = problems({"url": "=baseUrl +", "method": "GET"})
    assert "input mapping 'url' is not a valid expression" in message


def test_other_job_types_are_not_checked() -> None:
    xml = rest_process("p", {}).replace(translator.REST_JOB_TYPE, "my-worker")
    compile_bytes(xml.encode(), "plain.bpmn")
