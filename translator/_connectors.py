"""Load-time checks for tasks that run a built-in connector (Camunda 8 outbound connectors).

A connector task is a job task whose job type names a connector; it gets its inputs through
``zeebe:ioMapping`` and its result handling through task headers. What the model alone tells is
checked here, so a broken connector task is a ``TranslationError`` at deploy time; values that
come from expressions can only be checked when the task runs (the connector then fails the job
without retries, naming the input). Pure on purpose: names and rules, no HTTP client.

The checks are a registry keyed by job type, like the connectors themselves
(``activities.connectors``): a new connector adds one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lxml import etree

from translator._context import CompileContext
from translator._model import JobTask
from translator._namespaces import zeebe
from translator.expressions import ExpressionSyntaxError, compile_expression
from translator.expressions._temporal import parse_duration

REST_JOB_TYPE = "io.camunda:http-json:1"
"""Camunda 8's REST outbound connector (element templates ``io.camunda.connectors.HttpJson``)."""
REST_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
REST_AUTHENTICATION_TYPES = (
    "noAuth",
    "basic",
    "bearer",
    "apiKey",
    "oauth-client-credentials-flow",
)
REST_TIMEOUT_INPUTS = ("connectionTimeoutInSeconds", "readTimeoutInSeconds")

# Task headers every Camunda outbound connector understands.
RESULT_VARIABLE_HEADER = "resultVariable"
RESULT_EXPRESSION_HEADER = "resultExpression"
ERROR_EXPRESSION_HEADER = "errorExpression"
RETRY_BACKOFF_HEADER = "retryBackoff"

SECRET_PLACEHOLDER_START = "{{secrets."

_DYNAMIC = object()
"""The value of an input that an expression computes when the task runs."""

InputCheck = Callable[[CompileContext, etree._Element, JobTask], None]


def check_connector_task(ctx: CompileContext, element: etree._Element, task: JobTask) -> None:
    """Record the problems of a connector task; other job tasks are left alone."""
    check = CONNECTOR_CHECKS.get(task.job.type)
    if check is None:
        return
    _check_headers(ctx, element, task)
    check(ctx, element, task)


def _check_headers(ctx: CompileContext, element: etree._Element, task: JobTask) -> None:
    headers = task.job.headers
    for name in (RESULT_EXPRESSION_HEADER, ERROR_EXPRESSION_HEADER):
        text = headers.get(name, "").strip()
        if not text:
            continue
        try:
            compile_expression(text, "feel")
        except ExpressionSyntaxError as error:
            ctx.problem(element, f"task header {name!r} is not a valid FEEL expression: {error}")
    backoff = headers.get(RETRY_BACKOFF_HEADER, "").strip()
    if backoff and parse_retry_backoff(backoff) is None:
        ctx.problem(
            element,
            f"task header {RETRY_BACKOFF_HEADER!r} is {backoff!r}, not an ISO 8601 duration "
            "such as 'PT10S'",
        )


def _static(task: JobTask, target: str) -> Any:
    """The literal value mapped to ``target``; ``_DYNAMIC`` for an expression; None if absent."""
    for mapping in reversed(task.inputs):  # the last mapping of a target wins, as in Zeebe
        if mapping.target == target:
            ast = mapping.source.ast
            return getattr(ast, "value", None) if ast.kind == "constant" else _DYNAMIC
    return None


def _has_input(element: etree._Element, target: str) -> bool:
    """Whether the XML maps ``target`` (or a part of it); read from the XML so that a mapping
    whose expression did not compile is not also reported as missing."""
    prefix = target + "."
    targets = (entry.get("target", "").strip() for entry in element.iter(zeebe("input")))
    return any(t == target or t.startswith(prefix) for t in targets)


def _check_rest(ctx: CompileContext, element: etree._Element, task: JobTask) -> None:
    if not _has_input(element, "url"):
        ctx.problem(
            element,
            "REST connector task has no 'url' input: add "
            '<zeebe:input source="https://..." target="url"/> to its zeebe:ioMapping',
        )
    url = _static(task, "url")
    if isinstance(url, str) and not url.strip():
        ctx.problem(element, "REST connector input 'url' is empty: set the URL to call")
    elif isinstance(url, str) and not url.strip().startswith(
        ("http://", "https://", SECRET_PLACEHOLDER_START)
    ):
        ctx.problem(
            element, f"REST connector input 'url' is {url!r}: it must start with http(s)://"
        )
    method = _static(task, "method")
    if isinstance(method, str) and method.strip().upper() not in REST_METHODS:
        ctx.problem(
            element,
            f"REST connector input 'method' is {method!r}, not one of {', '.join(REST_METHODS)}",
        )
    auth = _static(task, "authentication.type")
    if isinstance(auth, str) and auth.strip() not in REST_AUTHENTICATION_TYPES:
        ctx.problem(
            element,
            f"REST connector input 'authentication.type' is {auth!r}, not one of "
            f"{', '.join(REST_AUTHENTICATION_TYPES)}",
        )
    for name in REST_TIMEOUT_INPUTS:
        value = _static(task, name)
        if value is not None and value is not _DYNAMIC and timeout_seconds(value) is None:
            ctx.problem(
                element,
                f"REST connector input {name!r} is {value!r}: give a number of seconds (0 or more)",
            )


def parse_retry_backoff(text: str) -> timedelta | None:
    """A ``retryBackoff`` (ISO 8601 days-time duration such as ``PT10S``); None if not one."""
    value = parse_duration(text.strip())
    return value if isinstance(value, timedelta) and value >= timedelta(0) else None


def timeout_seconds(value: Any) -> float | None:
    """A timeout input (``20``, ``"20"``, ``"2.5"``) as seconds; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if number >= 0 and number != float("inf") else None


CONNECTOR_CHECKS: dict[str, InputCheck] = {REST_JOB_TYPE: _check_rest}
