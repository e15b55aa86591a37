"""REST connector tasks in running processes: the interpreter on the time-skipping server, the
connector runtime as worker.py runs it, and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.connectors import ConnectorRuntime
from tests.helpers import deploy, running_interpreter, wait_for
from tests.helpers.connectors import (
    HttpServer,
    Received,
    Reply,
    http_server,
    readable_history,
    rest_process,
)
from workflows import RESOLVE_INCIDENT_UPDATE, STATE_QUERY

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
COMPLETE_USER_TASKS = (
    CORPUS / "camunda-community-hub__camunda-8-examples__payment-example-process-application"
    "__complete-usertasks__complete-user-tasks.bpmn"
)
TOKEN = "s3cr3t-7d1e9b40aa"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with http_server() as running:
        yield running


@asynccontextmanager
async def running_with_connectors(client: Client, task_queue: str) -> AsyncIterator[None]:
    """The interpreter plus the built-in connector workers, secrets from the environment."""
    runtime = ConnectorRuntime(client)
    async with running_interpreter(client, task_queue), AsyncExitStack() as stack:
        for worker in runtime.workers():
            await stack.enter_async_context(worker)
        try:
            yield
        finally:
            await runtime.aclose()


async def start(
    client: Client, task_queue: str, process_id: str, variables: dict[str, Any]
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        process_id, variables, id=f"{process_id}-{uuid.uuid4()}", task_queue=task_queue
    )


def completed_ids(state: dict[str, Any]) -> list[str]:
    return [element["element_id"] for element in state["completed"]]


async def test_a_rest_task_calls_the_api_and_maps_the_response(
    time_skipping_env: WorkflowEnvironment, task_queue: str, server: HttpServer
) -> None:
    server.route("POST", "/orders", Reply(201, {"id": "o-1", "total": 42}))
    deploy(
        rest_process(
            "rest-post",
            {
                "url": '=baseUrl + "/orders"',
                "method": "POST",
                "headers": '={"X-Request": "r-" + string(orderNo)}',
                "body": "={item: item, quantity: 2}",
            },
            {"resultExpression": "={orderId: response.body.id, total: body.total}"},
        )
    )
    client = time_skipping_env.client
    async with running_with_connectors(client, task_queue):
        handle = await start(
            client, task_queue, "rest-post", {"baseUrl": server.url, "item": "pen", "orderNo": 5}
        )
        result = await handle.result()
    assert (result["orderId"], result["total"]) == ("o-1", 42)
    assert "url" not in result and "body" not in result  # inputs stay local to the task
    (request,) = server.received("/orders")
    assert request.json() == {"item": "pen", "quantity": 2}
    assert request.headers["x-request"] == "r-5"


async def test_a_404_is_an_incident_at_once_with_status_and_body(
    time_skipping_env: WorkflowEnvironment, task_queue: str, server: HttpServer
) -> None:
    server.route("GET", "/orders/9", Reply(404, {"error": "no order 9"}))
    deploy(rest_process("rest-404", {"url": "=baseUrl + path", "method": "GET"}, retries=3))
    client = time_skipping_env.client
    async with running_with_connectors(client, task_queue):
        handle = await start(
            client, task_queue, "rest-404", {"baseUrl": server.url, "path": "/orders/9"}
        )
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        await handle.terminate("test over")
    (incident,) = state["incidents"]
    assert incident["type"] == "JOB_NO_RETRIES" and incident["element_id"] == "call"
    assert f"HTTP 404 Not Found from GET {server.url}/orders/9" in incident["message"]
    assert "no order 9" in incident["message"]
    assert len(server.received("/orders/9")) == 1  # not retried


async def test_a_500_is_retried_and_the_retry_succeeds(
    time_skipping_env: WorkflowEnvironment, task_queue: str, server: HttpServer
) -> None:
    answers = iter([Reply(500, "database restarting"), Reply(200, {"stock": 3})])
    server.route("GET", "/stock", lambda _request: next(answers))
    deploy(
        rest_process(
            "rest-retry",
            {"url": '=baseUrl + "/stock"'},
            {"resultVariable": "stockResponse", "retryBackoff": "PT0S"},
            retries=3,
        )
    )
    client = time_skipping_env.client
    async with running_with_connectors(client, task_queue):
        handle = await start(client, task_queue, "rest-retry", {"baseUrl": server.url})
        result = await handle.result()
    assert result["stockResponse"]["status"] == 200
    assert result["stockResponse"]["body"] == {"stock": 3}
    assert len(server.received("/stock")) == 2


async def test_a_slow_response_hits_the_read_timeout_and_raises_an_incident(
    time_skipping_env: WorkflowEnvironment, task_queue: str, server: HttpServer
) -> None:
    server.route("GET", "/slow", Reply(200, {}, hold=threading.Event()))
    inputs = {"url": '=baseUrl + "/slow"', "readTimeoutInSeconds": "1"}
    deploy(rest_process("rest-slow", inputs, retries=1))
    client = time_skipping_env.client
    async with running_with_connectors(client, task_queue):
        handle = await start(client, task_queue, "rest-slow", {"baseUrl": server.url})
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        await handle.terminate("test over")
    message = state["incidents"][0]["message"]
    assert "no response within 1.0 s (readTimeoutInSeconds)" in message


async def test_a_bpmn_error_from_the_error_expression_is_caught_by_the_boundary_event(
    time_skipping_env: WorkflowEnvironment, task_queue: str, server: HttpServer
) -> None:
    server.route("GET", "/customers/3", Reply(404, {"detail": "customer 3 is unknown"}))
    deploy(
        rest_process(
            "rest-error",
            {"url": '=baseUrl + "/customers/3"'},
            {
                "errorExpression": '=if error.code = "404" then bpmnError("NOT_FOUND", '
                "error.response.body.detail, {lookupFailed: true}) else null"
            },
            catch_error="NOT_FOUND",
        )
    )
    client = time_skipping_env.client
    async with running_with_connectors(client, task_queue):
        handle = await start(client, task_queue, "rest-error", {"baseUrl": server.url})
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    assert completed_ids(state) == ["start", "call", "on_error", "caught"]
    assert state["incidents"] == []
    assert result["lookupFailed"] is True


async def test_a_secret_reaches_the_api_but_never_the_history(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    server: HttpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BPMN_SECRET_API_TOKEN", TOKEN)

    def echo(request: Received) -> Reply:
        # An API that echoes the credentials it got, failing the first time: the worst case.
        status = 500 if len(server.received("/me")) == 1 else 200
        seen = {"authorization": request.headers.get("authorization"), "query": request.query}
        return Reply(status, seen)

    server.route("GET", "/me", echo)
    deploy(
        rest_process(
            "rest-secret",
            {
                "url": '=baseUrl + "/me"',
                "headers": '={"Authorization": "Bearer {{secrets.API_TOKEN}}"}',
                "queryParameters": '={"key": "{{secrets.API_TOKEN}}"}',
            },
            {"resultVariable": "me"},
            retries=1,
        )
    )
    client = time_skipping_env.client
    async with running_with_connectors(client, task_queue):
        handle = await start(client, task_queue, "rest-secret", {"baseUrl": server.url})
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        incident = state["incidents"][0]
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, {"incident_key": incident["key"]})
        result = await handle.result()
        history = readable_history((await handle.fetch_history()).to_json_dict())
    received = server.received("/me")
    assert [r.headers["authorization"] for r in received] == [f"Bearer {TOKEN}"] * 2
    assert received[0].query == {"key": [TOKEN]}
    assert "HTTP 500" in incident["message"] and TOKEN not in incident["message"]
    assert result["me"]["body"]["authorization"] == "Bearer {{secrets.API_TOKEN}}"
    assert "HTTP 500" in history
    assert '"authorization":"Bearer {{secrets.API_TOKEN}}"' in history  # payloads decoded
    assert TOKEN not in history


async def test_the_corpus_model_completing_user_tasks_runs_unchanged(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    server: HttpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Camunda's payment example: OAuth client credentials, secrets in URLs, a static JSON
    body, resultExpression over a list, and a sequential multi-instance REST task."""
    if not COMPLETE_USER_TASKS.exists():
        pytest.skip("the shared corpus is not here")
    secrets = {
        "KEYCLOAK_TOKEN_URL": f"{server.url}/token",
        "PAYMENT_CLIENT_ID": "payment",
        "PAYMENT_CLIENT_SECRET": TOKEN,
        "TASKLIST_BASE_URL": server.url,
        "GATEWAY_REST_URL": server.url,
    }
    for name, value in secrets.items():
        monkeypatch.setenv(f"BPMN_SECRET_{name}", value)
    server.route("POST", "/token", Reply(200, {"access_token": "at-9", "expires_in": 60}))
    server.route("POST", "/v1/tasks/search", Reply(200, [{"id": "11"}, {"id": "12"}]))
    for task_id in ("11", "12"):
        server.route("POST", f"/v2/user-tasks/{task_id}/completion", Reply(204))
    deploy(COMPLETE_USER_TASKS)
    client = time_skipping_env.client
    async with running_with_connectors(client, task_queue):
        handle = await start(client, task_queue, "CompleteTasksProcess", {})
        result = await handle.result()
        history = readable_history((await handle.fetch_history()).to_json_dict())
    assert result["taskList"] == ["11", "12"]
    (search,) = server.received("/v1/tasks/search")
    assert search.json() == {
        "state": "CREATED",
        "sort": [{"field": "creationTime", "order": "DESC"}],
    }
    assert search.headers["authorization"] == "Bearer at-9"
    completions = [r.path for r in server.requests if r.path.startswith("/v2/")]
    assert completions == ["/v2/user-tasks/11/completion", "/v2/user-tasks/12/completion"]
    assert server.received(completions[0])[0].json() == {"variables": {"errorResolved": False}}
    assert TOKEN not in history
