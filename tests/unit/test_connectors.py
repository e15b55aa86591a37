"""The connector runtime and the REST connector without Temporal: inputs, secrets, result and
error headers, and real HTTP calls to a server on 127.0.0.1 (tests/helpers/connectors.py)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from activities import BpmnError, Job, JobFailure
from activities.connectors import (
    BUILTIN_CONNECTORS,
    REST_JOB_TYPE,
    ConnectorInputError,
    ConnectorInputs,
    EnvironmentSecrets,
    RestConnector,
    SecretResolver,
    connector_handler,
    nest,
)
from activities.connectors.rest import RestRequest
from tests.helpers.connectors import HttpServer, Received, Reply, http_server

TOKEN = "tok-3f9a1c77e2"
SECRETS = EnvironmentSecrets({"BPMN_SECRET_API_TOKEN": TOKEN, "BPMN_SECRET_HOST": "127.0.0.1"})


def inputs(variables: dict[str, Any], secrets: EnvironmentSecrets = SECRETS) -> ConnectorInputs:
    return ConnectorInputs(variables, SecretResolver(secrets))


def job(variables: dict[str, Any], headers: dict[str, str] | None = None) -> Job:
    return Job(
        type=REST_JOB_TYPE,
        key="k-1",
        process_instance_id="wf-1",
        bpmn_process_id="p",
        element_id="call",
        variables=variables,
        headers=headers or {},
        retries=3,
    )


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with http_server() as running:
        yield running


@pytest.fixture
async def rest() -> AsyncIterator[RestConnector]:
    connector = RestConnector()
    yield connector
    await connector.aclose()


async def run(
    connector: RestConnector, variables: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return await connector_handler(connector, SECRETS)(job(variables, headers))  # type: ignore[no-any-return, misc]


# --- inputs -----------------------------------------------------------------------------------


def test_the_registry_serves_the_rest_job_type() -> None:
    assert BUILTIN_CONNECTORS[REST_JOB_TYPE].create is RestConnector


def test_dotted_input_targets_nest_like_zeebe_and_leave_the_job_alone() -> None:
    auth = {"type": "basic"}
    variables = {"authentication": auth, "authentication.username": "ada", "a.b.c": 1}
    assert nest(variables) == {
        "authentication": {"type": "basic", "username": "ada"},
        "a": {"b": {"c": 1}},
    }
    assert auth == {"type": "basic"}


def test_secrets_are_resolved_on_read_and_kept_as_placeholders_in_raw() -> None:
    given = inputs(
        {"url": "http://{{secrets.HOST}}:1/x", "headers": {"X": "{{ secrets.API_TOKEN }}"}}
    )
    assert given.get("url") == "http://127.0.0.1:1/x"
    assert given.raw("url") == "http://{{secrets.HOST}}:1/x"
    assert given.get("headers") == {"X": TOKEN}


def test_a_missing_secret_names_the_input_and_where_to_set_it() -> None:
    with pytest.raises(ConnectorInputError) as error:
        inputs({"url": "{{secrets.BASE_URL}}/x"}).get("url")
    assert "input 'url' uses secret 'BASE_URL', which is not set" in str(error.value)
    assert "BPMN_SECRET_BASE_URL" in str(error.value)


def test_the_secret_prefix_is_configurable() -> None:
    camunda_style = EnvironmentSecrets({"BPMN_SECRETS_PREFIX": "", "TOKEN": "t"})
    assert camunda_style.lookup("TOKEN") == "t"
    assert EnvironmentSecrets({"TOKEN": "t"}).lookup("TOKEN") is None


def test_redaction_replaces_every_resolved_secret_with_its_placeholder() -> None:
    resolver = SecretResolver(SECRETS)
    resolver.resolve("Bearer {{secrets.API_TOKEN}}", "headers")
    echoed = {"auth": f"Bearer {TOKEN}", TOKEN: [TOKEN]}
    assert resolver.redact(echoed) == {
        "auth": "Bearer {{secrets.API_TOKEN}}",
        "{{secrets.API_TOKEN}}": ["{{secrets.API_TOKEN}}"],
    }


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "input 'url' is not set"),
        ({"url": None}, "input 'url' is not set"),
        ({"url": "not a url"}, "input 'url' is 'not a url': it must start with http(s)://"),
        ({"url": "http://h/x", "method": "FETCH"}, "input 'method' is 'FETCH', not one of"),
        ({"url": "http://h/x", "readTimeoutInSeconds": "soon"}, "'readTimeoutInSeconds' is"),
        ({"url": "http://h/x", "headers": [1]}, "input 'headers' must be a context"),
        ({"url": "http://h/x", "authentication": {"type": "basic"}}, "'authentication.username'"),
        ({"url": "http://h/x", "authentication.type": "kerberos"}, "'authentication.type' is"),
    ],
)
def test_bad_inputs_from_expressions_name_the_input(
    variables: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConnectorInputError) as error:
        RestRequest.from_inputs(inputs(variables))
    assert expected in str(error.value)


def test_a_request_from_camunda_template_inputs() -> None:
    request = RestRequest.from_inputs(
        inputs(
            {
                "url": "https://api.example.com/orders",
                "method": "post",
                "headers": '{"Accept": "application/json"}',
                "queryParameters": {"page": 2, "tags": ["a", "b"], "skip": None},
                "connectionTimeoutInSeconds": "5",
                "readTimeoutInSeconds": 0,
                "body": {"id": 1, "note": None},
                "ignoreNullValues": "true",
            }
        )
    )
    assert request.method == "POST"
    assert request.headers == {"Accept": "application/json"}
    assert request.params == {"page": "2", "tags": ["a", "b"]}
    assert (request.connect_timeout, request.read_timeout) == (5.0, None)
    assert request.body == {"id": 1}


# --- calls against a real HTTP server ---------------------------------------------------------


async def test_a_get_with_query_headers_and_a_result_expression(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("GET", "/orders/7", Reply(200, {"id": 7, "state": "open"}, {"X-Trace": "t1"}))
    result = await run(
        rest,
        {
            "url": f"{server.url}/orders/7",
            "method": "GET",
            "queryParameters": {"expand": "items"},
            "headers": {"Accept": "application/json"},
        },
        {
            "resultVariable": "order",
            "resultExpression": "={state: body.state, code: response.status}",
        },
    )
    assert result["state"] == "open" and result["code"] == 200
    assert result["order"]["body"] == {"id": 7, "state": "open"}
    assert result["order"]["headers"]["X-Trace"] == "t1"
    (request,) = server.received("/orders/7")
    assert (
        request.query == {"expand": ["items"]} and request.headers["accept"] == "application/json"
    )


async def test_a_post_sends_json_and_forms_as_their_content_type_says(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("POST", "/json", Reply(201, {"created": True}))
    server.route("POST", "/form", Reply(200, "ok"))
    await run(rest, {"url": f"{server.url}/json", "method": "POST", "body": {"a": [1, 2]}})
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    url = f"{server.url}/form"
    body = {"a": 1, "b": "x y"}
    result = await run(
        rest,
        {"url": url, "method": "POST", "headers": form_headers, "body": body},
        {"resultVariable": "r"},
    )
    (sent_json,) = server.received("/json")
    assert sent_json.json() == {"a": [1, 2]}
    assert sent_json.headers["content-type"] == "application/json"
    assert server.received("/form")[0].body == b"a=1&b=x+y"
    assert result["r"]["body"] == "ok"


async def test_a_4xx_fails_at_once_with_status_and_body(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("GET", "/missing", Reply(404, {"error": "no order 7"}))
    with pytest.raises(JobFailure) as failure:
        await run(rest, {"url": f"{server.url}/missing"})
    assert failure.value.retries == 0
    message = failure.value.message
    assert message.startswith(f"HTTP 404 Not Found from GET {server.url}/missing")
    assert "no order 7" in message


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_and_throttling_leave_the_job_to_its_retries(
    server: HttpServer, rest: RestConnector, status: int
) -> None:
    server.route("GET", "/flaky", Reply(status, "busy", {"Retry-After": "7"}))
    with pytest.raises(JobFailure) as failure:
        await run(rest, {"url": f"{server.url}/flaky"}, {"retryBackoff": "PT30S"})
    assert failure.value.retries is None
    assert failure.value.retry_backoff == timedelta(seconds=7)  # the server's wish wins
    assert f"HTTP {status}" in failure.value.message


async def test_retry_backoff_header_sets_the_delay_of_a_network_failure(
    rest: RestConnector,
) -> None:
    with http_server() as gone:
        url = f"{gone.url}/x"
    with pytest.raises(JobFailure) as failure:
        await run(rest, {"url": url}, {"retryBackoff": "PT30S"})
    assert failure.value.retries is None and failure.value.retry_backoff == timedelta(seconds=30)
    assert "ConnectError" in failure.value.message


async def test_a_slow_response_hits_the_read_timeout(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("GET", "/slow", Reply(200, {}, hold=threading.Event()))
    with pytest.raises(JobFailure) as failure:
        await run(rest, {"url": f"{server.url}/slow", "readTimeoutInSeconds": "0.2"})
    assert failure.value.retries is None
    assert "no response within 0.2 s (readTimeoutInSeconds)" in failure.value.message


async def test_error_expression_turns_a_response_into_a_bpmn_error(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("GET", "/order", Reply(200, {"state": "blocked", "reason": "fraud check"}))
    headers = {
        "errorExpression": '=if body.state = "blocked" then '
        'bpmnError("ORDER_BLOCKED", body.reason, {state: body.state}) else null',
        "resultVariable": "order",
    }
    with pytest.raises(BpmnError) as error:
        await run(rest, {"url": f"{server.url}/order"}, headers)
    assert (error.value.code, error.value.message) == ("ORDER_BLOCKED", "fraud check")
    assert error.value.variables == {"state": "blocked"}


async def test_error_expression_sees_a_failed_call_as_error(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("GET", "/order", Reply(404, {"detail": "gone"}))
    headers = {
        "errorExpression": '=if error.code = "404" then '
        'bpmnError("NOT_FOUND", error.response.body.detail) else null'
    }
    with pytest.raises(BpmnError) as error:
        await run(rest, {"url": f"{server.url}/order"}, headers)
    assert (error.value.code, error.value.message) == ("NOT_FOUND", "gone")


async def test_job_error_from_the_error_expression_fails_the_job(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("GET", "/order", Reply(200, {"ready": False}))
    headers = {"errorExpression": '=if body.ready then null else jobError("not ready", {}, 0)'}
    with pytest.raises(JobFailure) as failure:
        await run(rest, {"url": f"{server.url}/order"}, headers)
    assert (failure.value.message, failure.value.retries) == ("not ready", 0)


def echo_authorization(request: Received) -> Reply:
    return Reply(500, f"bad token {request.headers.get('authorization')}")


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"type": "bearer", "token": "{{secrets.API_TOKEN}}"}, f"Bearer {TOKEN}"),
        ({"type": "basic", "username": "ada", "password": "pw"}, "Basic YWRhOnB3"),
    ],
)
async def test_secrets_reach_the_api_and_nothing_else(
    server: HttpServer, rest: RestConnector, auth: dict[str, str], expected: str
) -> None:
    server.route("GET", "/echo", echo_authorization)
    with pytest.raises(JobFailure) as failure:
        await run(rest, {"url": f"{server.url}/echo", "authentication": auth})
    assert server.received("/echo")[0].headers["authorization"] == expected
    assert TOKEN not in failure.value.message


async def test_api_key_in_the_query_and_oauth_client_credentials(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("POST", "/token", Reply(200, {"access_token": "at-1", "expires_in": 300}))
    server.route("GET", "/data", Reply(200, {"ok": True}))
    oauth = {
        "type": "oauth-client-credentials-flow",
        "oauthTokenEndpoint": f"{server.url}/token",
        "clientId": "client",
        "clientSecret": "{{secrets.API_TOKEN}}",
        "scopes": "read",
        "clientAuthentication": "credentialsBody",
    }
    for _ in range(2):  # the second call reuses the token
        await run(rest, {"url": f"{server.url}/data", "authentication": oauth})
    api_key = {"type": "apiKey", "apiKeyLocation": "query", "name": "key", "value": "k1"}
    await run(rest, {"url": f"{server.url}/data", "authentication": api_key})
    (token_request,) = server.received("/token")
    assert token_request.body.decode() == (
        f"grant_type=client_credentials&scope=read&client_id=client&client_secret={TOKEN}"
    )
    first, second, third = server.received("/data")
    assert first.headers["authorization"] == second.headers["authorization"] == "Bearer at-1"
    assert third.query == {"key": ["k1"]}


async def test_a_result_expression_that_is_not_a_context_fails_without_retries(
    server: HttpServer, rest: RestConnector
) -> None:
    server.route("GET", "/n", Reply(200, 3))
    with pytest.raises(JobFailure) as failure:
        await run(rest, {"url": f"{server.url}/n"}, {"resultExpression": "=body"})
    assert failure.value.retries == 0
    assert "'resultExpression' returned int" in failure.value.message
