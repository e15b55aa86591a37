"""Camunda 7 external-task clients against the real Temporal dev server: no mocks.

The interpreter runs in-process, the external-task API on a free port, and the unmodified PyPI
client ``camunda-external-task-client-python3`` (synchronous, on ``requests``) in a thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from activities.external_tasks import RELEASED_ERROR_TYPE, ExternalTaskApi, ExternalTaskConfig
from tests.helpers import deploy, running_interpreter, start_process, wait_for

with warnings.catch_warnings():
    # The client declares pydantic v1-style validators, which pydantic 2 warns about.
    warnings.simplefilter("ignore", DeprecationWarning)
    from camunda.external_task.external_task import ExternalTask, TaskResult
    from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound

pytestmark = pytest.mark.integration

CONFIG = ExternalTaskConfig(
    poll_grace=timedelta(seconds=0.5),
    heartbeat_interval=timedelta(seconds=0.5),
    hold_timeout=timedelta(seconds=1.5),
)


def order_model(process_id: str, prefix: str) -> str:
    """Three external tasks; the charge has an error boundary event for CARD_DECLINED."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:error id="declined" errorCode="CARD_DECLINED" />
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="validate" camunda:type="external" camunda:topic="{prefix}-validate" />
    <bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="{prefix}-charge" />
    <bpmn:boundaryEvent id="on_declined" attachedToRef="charge">
      <bpmn:errorEventDefinition errorRef="declined"
          camunda:errorCodeVariable="errorCode" camunda:errorMessageVariable="errorMessage" />
    </bpmn:boundaryEvent>
    <bpmn:serviceTask id="ship" camunda:type="external" camunda:topic="{prefix}-ship" />
    <bpmn:endEvent id="shipped" />
    <bpmn:endEvent id="not_shipped" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="validate" />
    <bpmn:sequenceFlow id="f2" sourceRef="validate" targetRef="charge" />
    <bpmn:sequenceFlow id="f3" sourceRef="charge" targetRef="ship" />
    <bpmn:sequenceFlow id="f4" sourceRef="ship" targetRef="shipped" />
    <bpmn:sequenceFlow id="f5" sourceRef="on_declined" targetRef="not_shipped" />
  </bpmn:process>
</bpmn:definitions>
"""


def one_task_model(process_id: str, topic: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def timer_boundary_model(process_id: str, prefix: str) -> str:
    """A task interrupted by a timer after one second; the process goes on with another."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="{prefix}-work" />
    <bpmn:boundaryEvent id="too_slow" attachedToRef="work">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:serviceTask id="after" camunda:type="external" camunda:topic="{prefix}-after" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="too_slow" targetRef="after" />
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


class Stack:
    def __init__(self, client: Client, task_queue: str, api: ExternalTaskApi) -> None:
        self.client = client
        self.task_queue = task_queue
        self.api = api
        self.http = httpx.AsyncClient(base_url=api.base_url, timeout=30)

    def one_task_process(self) -> tuple[str, str]:
        """Deploy a process with one external task on a fresh topic: (process id, topic)."""
        name = f"et-{uuid.uuid4().hex[:12]}"
        deploy(one_task_model(name, f"{name}-work"))
        return name, f"{name}-work"

    async def start(self, process_id: str, **variables: Any) -> WorkflowHandle[Any, Any]:
        return await start_process(self.client, self.task_queue, process_id, **variables)

    async def fetch(
        self, worker: str, topic: str, lock_ms: int = 10_000, wait_ms: int = 5_000, **extra: Any
    ) -> list[dict[str, Any]]:
        topic_request = {"topicName": topic, "lockDuration": lock_ms, **extra}
        response = await self.http.post(
            "/external-task/fetchAndLock",
            json={
                "workerId": worker,
                "maxTasks": 1,
                "asyncResponseTimeout": wait_ms,
                "topics": [topic_request],
            },
        )
        assert response.status_code == 200, response.text
        tasks: list[dict[str, Any]] = response.json()
        return tasks

    async def post(self, task_id: str, action: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"/external-task/{task_id}/{action}", json=body)


@pytest.fixture(scope="module")
async def stack(dev_stack: Any) -> AsyncIterator[Stack]:
    client = await Client.connect(dev_stack.temporal_address)
    task_queue = f"bpmn-et-{uuid.uuid4()}"
    async with (
        running_interpreter(client, task_queue),
        ExternalTaskApi(client, "127.0.0.1", 0, config=CONFIG) as api,
    ):
        stack = Stack(client, task_queue, api)
        yield stack
        await stack.http.aclose()


@asynccontextmanager
async def camunda_worker(
    base_url: str, topics: list[str], action: Callable[[ExternalTask], TaskResult]
) -> AsyncIterator[None]:
    """The PyPI client fetching and executing in a thread, as its ``subscribe`` loop does
    (``subscribe`` itself never returns, so the loop is repeated here with a stop flag)."""
    worker = ExternalTaskWorker(
        worker_id=f"py-{uuid.uuid4().hex[:8]}",
        base_url=base_url,
        config={"maxTasks": 1, "lockDuration": 10_000, "asyncResponseTimeout": 1_000},
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                worker.fetch_and_execute(topics, action)
            except NoExternalTaskFound:
                pass
            except Exception as error:  # the client raises plain Exceptions for HTTP errors
                errors.append(error)
                time.sleep(0.1)

    thread = threading.Thread(target=loop, name="camunda-client", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # Joined off the event loop: the thread's last fetch is answered by the loop.
        await asyncio.to_thread(thread.join, 10)
    assert not errors, errors


# --- the unmodified Camunda client ------------------------------------------------------------


def order_action(prefix: str, seen: dict[str, list[str]]) -> Callable[[ExternalTask], TaskResult]:
    def action(task: ExternalTask) -> TaskResult:
        topic = task.get_topic_name()
        seen.setdefault(topic, []).append(task.get_task_id())
        if topic == f"{prefix}-validate":
            if len(seen[topic]) == 1:
                return task.failure("inventory is down", "Traceback ...", 3, 200)
            return task.complete({"valid": True, "order": {"items": [1, 2]}})
        if topic == f"{prefix}-charge":
            if task.get_variable("amount") > 100:
                return task.bpmn_error("CARD_DECLINED", "card declined", {"reason": "limit"})
            return task.complete({"charged": True, "receipt": "R-1"})
        return task.complete({"shipped": True}, {"carrier": "DHL"})

    return action


async def test_the_camunda_client_drives_a_process_with_a_retried_failure(stack: Stack) -> None:
    process_id, prefix = f"et-order-{uuid.uuid4().hex[:8]}", f"et-{uuid.uuid4().hex[:8]}"
    deploy(order_model(process_id, prefix))
    seen: dict[str, list[str]] = {}
    topics = [f"{prefix}-validate", f"{prefix}-charge", f"{prefix}-ship"]
    async with camunda_worker(stack.api.base_url, topics, order_action(prefix, seen)):
        handle = await stack.start(process_id, amount=50, customer="Ada")
        result = await asyncio.wait_for(handle.result(), 30)
    assert result == {
        "amount": 50,
        "customer": "Ada",
        "valid": True,
        "order": {"items": [1, 2]},
        "charged": True,
        "receipt": "R-1",
        "shipped": True,
        "carrier": "DHL",
    }
    # The failed task came back (a new attempt) under the same id, as Camunda's would.
    validate = seen[f"{prefix}-validate"]
    assert len(validate) == 2 and validate[0] == validate[1]


async def test_a_bpmn_error_from_the_camunda_client_is_caught_by_the_boundary_event(
    stack: Stack,
) -> None:
    process_id, prefix = f"et-order-{uuid.uuid4().hex[:8]}", f"et-{uuid.uuid4().hex[:8]}"
    deploy(order_model(process_id, prefix))
    seen: dict[str, list[str]] = {}
    topics = [f"{prefix}-validate", f"{prefix}-charge", f"{prefix}-ship"]
    async with camunda_worker(stack.api.base_url, topics, order_action(prefix, seen)):
        handle = await stack.start(process_id, amount=500)
        result = await asyncio.wait_for(handle.result(), 30)
    assert result["errorCode"] == "CARD_DECLINED"
    assert result["errorMessage"] == "card declined"
    assert result["reason"] == "limit"
    assert "shipped" not in result and f"{prefix}-ship" not in seen
    state = await handle.query("state")
    completed = [entry["element_id"] for entry in state["completed"]]
    assert "on_declined" in completed and completed[-1] == "not_shipped"


async def test_a_failure_with_no_retries_left_raises_an_incident(stack: Stack) -> None:
    process_id, topic = stack.one_task_process()

    def action(task: ExternalTask) -> TaskResult:
        return task.failure("cannot reach the ERP", "ConnectionError ...", 0, 0)

    async with camunda_worker(stack.api.base_url, [topic], action):
        handle = await stack.start(process_id)
        state = await wait_for(lambda s: s["incidents"], handle, timeout=15)
    (incident,) = state["incidents"]
    assert incident["type"] == "JOB_NO_RETRIES"
    assert incident["element_id"] == "work"
    assert "cannot reach the ERP" in incident["message"]
    assert state["status"] == "active"


# --- the REST API directly: Camunda's answers -------------------------------------------------


async def test_requests_for_an_unknown_task_are_camundas_404(stack: Stack) -> None:
    expected = {
        "type": "RestException",
        "message": "External task with id nope does not exist",
        "code": 0,
    }
    for action, body in [
        ("complete", {"workerId": "w"}),
        ("failure", {"workerId": "w", "retries": 1}),
        ("bpmnError", {"workerId": "w", "errorCode": "E"}),
        ("extendLock", {"workerId": "w", "newDuration": 1000}),
        ("unlock", {}),
    ]:
        response = await stack.post("nope", action, **body)
        assert (response.status_code, response.json()) == (404, expected), action
    response = await stack.http.get("/external-task/nope")
    assert (response.status_code, response.json()) == (404, expected)


async def test_a_fetched_task_looks_like_camundas(stack: Stack) -> None:
    process_id, topic = stack.one_task_process()
    handle = await stack.start(process_id, amount=12.5, count=3, businessKey="BK-1", tags=["a"])
    (task,) = await stack.fetch("w", topic, variables=["amount", "tags", "businessKey"])
    assert task["topicName"] == topic
    assert task["workerId"] == "w"
    assert task["activityId"] == "work"
    assert task["processInstanceId"] == handle.id
    assert task["processDefinitionKey"] == process_id
    assert task["businessKey"] == "BK-1"
    assert task["retries"] is None and task["errorMessage"] is None
    assert task["variables"] == {
        "amount": {"type": "Double", "value": 12.5, "valueInfo": {}},
        "tags": {"type": "Json", "value": '["a"]', "valueInfo": {}},
        "businessKey": {"type": "String", "value": "BK-1", "valueInfo": {}},
    }
    lock_ends = time.strptime(task["lockExpirationTime"][:19], "%Y-%m-%dT%H:%M:%S")
    assert task["lockExpirationTime"].endswith("+0000") and lock_ends
    got = await stack.http.get(f"/external-task/{task['id']}")
    assert got.status_code == 200 and got.json()["workerId"] == "w"
    done = await stack.post(
        task["id"], "complete", workerId="w", variables={"total": {"value": "42", "type": "Long"}}
    )
    assert done.status_code == 204
    result = await asyncio.wait_for(handle.result(), 10)
    assert result["total"] == 42
    again = await stack.post(task["id"], "complete", workerId="w")
    assert again.status_code == 404


async def test_locks_follow_camundas_rules(stack: Stack) -> None:
    process_id, topic = stack.one_task_process()
    handle = await stack.start(process_id)
    (task,) = await stack.fetch("a", topic, lock_ms=1_000)
    task_id = task["id"]

    wrong = await stack.post(task_id, "complete", workerId="b")
    assert wrong.status_code == 400
    assert wrong.json() == {
        "type": "RestException",
        "message": f"External Task {task_id} cannot be completed by worker 'b'. "
        "It is locked by worker 'a'.",
        "code": 0,
    }
    wrong = await stack.post(task_id, "failure", workerId="b", retries=1)
    assert wrong.json()["message"].startswith(f"Failure of External Task {task_id} cannot be")
    wrong = await stack.post(task_id, "bpmnError", workerId="b", errorCode="E")
    assert wrong.json()["message"].startswith(f"Bpmn error of External Task {task_id} cannot")
    wrong = await stack.post(task_id, "extendLock", workerId="b", newDuration=1_000)
    assert wrong.json()["message"] == (
        f"The lock of the External Task {task_id} cannot be extended by worker 'b'. "
        "It is locked by worker 'a'."
    )

    # extendLock: a new deadline from now; then the lock expires.
    assert (
        await stack.post(task_id, "extendLock", workerId="a", newDuration=800)
    ).status_code == 204
    await asyncio.sleep(1.2)
    expired = await stack.post(task_id, "extendLock", workerId="a", newDuration=1_000)
    assert expired.status_code == 400
    assert expired.json()["type"] == "RestException"
    assert expired.json()["message"].startswith(
        "Cannot extend a lock that expired: lockExpirationTime is not greater than or equal to "
    )

    # An expired task is free again at once (same attempt, no retry used up)...
    (again,) = await stack.fetch("c", topic)
    assert again["id"] == task_id and again["workerId"] == "c"
    stale = await stack.post(task_id, "complete", workerId="a")
    assert stale.status_code == 400
    assert stale.json()["message"].endswith("It is locked by worker 'c'.")

    # ...and so is an unlocked one.
    assert (await stack.post(task_id, "unlock")).status_code == 204
    (unlocked,) = await stack.fetch("d", topic)
    assert unlocked["id"] == task_id

    # A failure with retries hands the attempt back to Temporal; the next attempt shows what the
    # client reported, with the message capped at 666 characters as Camunda does.
    failed = await stack.post(
        task_id,
        "failure",
        workerId="d",
        errorMessage="x" * 700,
        errorDetails="stack trace",
        retries=2,
        retryTimeout=100,
    )
    assert failed.status_code == 204
    released = await stack.post(task_id, "complete", workerId="d")
    assert released.status_code == 400
    assert released.json()["message"].endswith("It is locked by worker 'null'.")
    (retried,) = await stack.fetch("e", topic)
    assert retried["id"] == task_id
    assert retried["retries"] == 2
    assert retried["errorMessage"] == "x" * 666
    assert retried["errorDetails"] == "stack trace"
    assert (await stack.post(task_id, "complete", workerId="e")).status_code == 204
    await asyncio.wait_for(handle.result(), 10)


async def test_no_task_is_taken_from_temporal_while_no_fetch_waits(stack: Stack) -> None:
    process_id, topic = stack.one_task_process()
    # A fetch that found nothing: the topic's worker polled while it waited, then stopped.
    assert await stack.fetch("w", topic, wait_ms=200) == []
    await asyncio.sleep(CONFIG.poll_grace.total_seconds() + 0.3)
    assert not stack.api.service.topic(topic).polling
    handle = await stack.start(process_id)
    await asyncio.sleep(1.0)
    (pending,) = (await handle.describe()).raw_description.pending_activities
    assert pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED

    (task,) = await stack.fetch("w", topic)
    (pending,) = (await handle.describe()).raw_description.pending_activities
    assert pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    assert pending.attempt == 1
    assert (await stack.post(task["id"], "complete", workerId="w")).status_code == 204
    await asyncio.wait_for(handle.result(), 10)


async def test_a_free_task_nobody_fetches_is_handed_back_to_temporal(stack: Stack) -> None:
    process_id, topic = stack.one_task_process()
    handle = await stack.start(process_id)
    (task,) = await stack.fetch("w", topic)
    assert (await stack.post(task["id"], "unlock")).status_code == 204
    assert [held.id for held in stack.api.service.topic(topic).held()] == [task["id"]]
    # After hold_timeout the attempt fails with a retryable error: the job is queued again in
    # Temporal, for any worker, and this service no longer holds it.
    await asyncio.sleep(CONFIG.hold_timeout.total_seconds() + 0.5)
    assert stack.api.service.topic(topic).held() == []
    (pending,) = (await handle.describe()).raw_description.pending_activities
    assert pending.last_failure.application_failure_info.type == RELEASED_ERROR_TYPE
    (again,) = await stack.fetch("w", topic)
    assert again["id"] == task["id"] and again["retries"] is None
    (pending,) = (await handle.describe()).raw_description.pending_activities
    assert pending.attempt == 2
    assert (await stack.post(again["id"], "complete", workerId="w")).status_code == 204
    await asyncio.wait_for(handle.result(), 10)


async def test_a_task_interrupted_by_a_boundary_event_is_gone(stack: Stack) -> None:
    """Camunda deletes a task whose activity a boundary event interrupts: 404 from then on.
    Here the job's activity is cancelled, which the task's next heartbeat learns."""
    name = f"et-{uuid.uuid4().hex[:12]}"
    deploy(timer_boundary_model(name, name))
    handle = await stack.start(name)
    (task,) = await stack.fetch("w", f"{name}-work")
    deadline = time.monotonic() + 10
    while (await stack.http.get(f"/external-task/{task['id']}")).status_code != 404:
        assert time.monotonic() < deadline, "the cancellation was not noticed"
        await asyncio.sleep(0.1)
    assert (await stack.post(task["id"], "complete", workerId="w")).status_code == 404
    (after,) = await stack.fetch("w", f"{name}-after")
    assert after["activityId"] == "after"
    assert (await stack.post(after["id"], "complete", workerId="w")).status_code == 204
    await asyncio.wait_for(handle.result(), 10)


async def test_bad_requests_are_refused_as_camunda_does(stack: Stack) -> None:
    too_long = await stack.http.post(
        "/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 1,
            "asyncResponseTimeout": 1_800_001,
            "topics": [{"topicName": "t", "lockDuration": 1}],
        },
    )
    assert too_long.status_code == 400
    assert too_long.json() == {
        "type": "InvalidRequestException",
        "message": "The asynchronous response timeout cannot be set to a value greater than "
        "1800000 milliseconds",
        "code": 0,
    }
    filtered = await stack.http.post(
        "/external-task/fetchAndLock",
        json={
            "workerId": "w",
            "maxTasks": 1,
            "topics": [{"topicName": "t", "lockDuration": 1, "businessKey": "BK"}],
        },
    )
    assert filtered.status_code == 400 and "businessKey" in filtered.json()["message"]
    no_worker = await stack.http.post("/external-task/fetchAndLock", json={"maxTasks": 1})
    assert no_worker.status_code == 400
    not_json = await stack.http.post(
        "/external-task/fetchAndLock",
        content=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and not_json.json()["type"] == "InvalidRequestException"
    # Nothing to fetch (maxTasks 0) is an empty answer at once, as in Camunda.
    empty = await stack.http.post(
        "/external-task/fetchAndLock",
        json={"workerId": "w", "maxTasks": 0, "topics": [{"topicName": "t", "lockDuration": 1}]},
    )
    assert (empty.status_code, empty.json()) == (200, [])
