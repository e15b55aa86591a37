"""What a connector's response becomes, per the task headers every Camunda connector reads.

- ``resultVariable``: the whole response is stored in this variable.
- ``resultExpression``: a FEEL expression over the response (``response.body.id``, or the
  response's fields directly: ``body.id``) whose context's entries become variables.
- ``errorExpression``: a FEEL expression evaluated after every call; ``bpmnError(code,
  message)`` throws a BPMN error (caught by error boundary events), ``jobError(message, ...)``
  fails the job, null carries on. On a successful call it sees the response (and the job's
  variables); on a failed one ``error`` (``code``: the HTTP status as text, ``message``,
  ``response``), so ``if error.code = "404" then bpmnError("NOT_FOUND", error.message) else
  null`` turns a 404 into a business error.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from activities._jobs import BpmnError, JobFailure
from activities.connectors._errors import ConnectorError
from translator import (
    ERROR_EXPRESSION_HEADER,
    RESULT_EXPRESSION_HEADER,
    RESULT_VARIABLE_HEADER,
    parse_retry_backoff,
)
from translator.expressions import (
    EvaluationContext,
    Expression,
    ExpressionError,
    compile_expression,
    evaluate,
)


def result_variables(headers: Mapping[str, str], response: Any) -> dict[str, Any]:
    """The variables a successful call sets: ``resultVariable`` and ``resultExpression``."""
    variables: dict[str, Any] = {}
    name = headers.get(RESULT_VARIABLE_HEADER, "").strip()
    if name:
        variables[name] = response
    result = _evaluate(headers, RESULT_EXPRESSION_HEADER, _response_context(response))
    if result is None:
        return variables
    if not isinstance(result, dict):
        raise ConnectorError(
            f"task header {RESULT_EXPRESSION_HEADER!r} returned {type(result).__name__}; "
            "it must return a context such as {orderId: response.body.id}",
            retryable=False,
        )
    return {**variables, **result}


def check_response(headers: Mapping[str, str], variables: Mapping[str, Any], response: Any) -> None:
    """Raise what ``errorExpression`` makes of a successful call, if anything."""
    _raise_declared_error(headers, {**variables, **_response_context(response)})


def check_failure(
    headers: Mapping[str, str], variables: Mapping[str, Any], failure: ConnectorError
) -> None:
    """Raise what ``errorExpression`` makes of a failed call, if anything."""
    error = {"code": failure.code, "message": failure.message, "response": failure.response}
    _raise_declared_error(headers, {**variables, "error": error})


def _response_context(response: Any) -> dict[str, Any]:
    fields = dict(response) if isinstance(response, Mapping) else {}
    return {**fields, "response": response}


def _raise_declared_error(headers: Mapping[str, str], context: Mapping[str, Any]) -> None:
    declared = _evaluate(headers, ERROR_EXPRESSION_HEADER, context)
    if declared is None or declared == {}:
        return
    if not isinstance(declared, dict):
        raise _bad_error_result(declared)
    kind = declared.get("errorType", "bpmnError" if "code" in declared else None)
    variables = declared.get("variables") or {}
    message = declared.get("message") or ""
    if kind == "bpmnError" and isinstance(declared.get("code"), str) and declared["code"]:
        raise BpmnError(declared["code"], str(message), variables)
    if kind == "jobError":
        backoff = declared.get("retryBackoff")
        raise JobFailure(
            str(message) or "errorExpression raised a job error",
            retries=0 if declared.get("retries") == 0 else None,
            retry_backoff=parse_retry_backoff(backoff) if isinstance(backoff, str) else None,
        )
    raise _bad_error_result(declared)


def _bad_error_result(value: Any) -> ConnectorError:
    return ConnectorError(
        f"task header {ERROR_EXPRESSION_HEADER!r} returned {value!r}; it must return "
        "bpmnError(code, message), jobError(message) or null",
        retryable=False,
    )


def _evaluate(headers: Mapping[str, str], header: str, context: Mapping[str, Any]) -> Any:
    source = headers.get(header, "").strip()
    if not source:
        return None
    try:
        return evaluate(_compiled(source), context, EvaluationContext(now=datetime.now(UTC)))
    except ExpressionError as error:
        raise ConnectorError(f"task header {header!r} failed: {error}", retryable=False) from None


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Expression:
    return compile_expression(source, "feel")
