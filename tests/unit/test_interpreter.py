"""The interpreter on Temporal's time-skipping test server, with job handlers from our SDK."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities import BpmnError, Job
from tests.helpers import (
    ORDER_PROCESS,
    PublishedRequests,
    deploy,
    running_interpreter,
    wait_for,
)
from workflows import (
    KAFKA_RESPONSE_SIGNAL,
    RESOLVE_INCIDENT_UPDATE,
    SET_VARIABLES_UPDATE,
    STATE_QUERY,
    workflow_id_of,
)

deploy(ORDER_PROCESS)


def order_jobs(received: list[Job]) -> dict[str, Any]:
    def check_order(job: Job) -> dict[str, Any]:
        received.append(job)
        return {
            "checked": True,
            "approvalRequest": {
                "orderId": job.variables["orderId"],
                "amount": job.variables["amount"],
            },
        }

    async def send_confirmation(job: Job) -> dict[str, Any]:
        received.append(job)
        return {"confirmationSent": job.headers["channel"]}

    return {"check-order": check_order, "send-confirmation": send_confirmation}


async def start_order(client: Client, task_queue: str, **variables: Any) -> Any:
    return await client.start_workflow(
        "order-process", variables, id=f"order-{uuid.uuid4()}", task_queue=task_queue
    )


async def test_small_order_takes_the_default_flow(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    received: list[Job] = []
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, order_jobs(received)):
        handle = await start_order(client, task_queue, orderId=7, amount=40, businessKey="B-7")
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    assert result["confirmationSent"] == "email"
    assert result["checked"] is True
    assert [c["element_id"] for c in state["completed"]] == [
        "order_received",
        "check_order",
        "amount_gateway",
        "merge_gateway",
        "send_confirmation",
        "order_done",
    ]
    assert state["status"] == "completed" and state["active"] == [] and state["incidents"] == []
    check = received[0]
    assert (check.type, check.element_id, check.bpmn_process_id) == (
        "check-order",
        "check_order",
        "order-process",
    )
    assert check.process_instance_id == handle.id
    assert check.headers == {"policy": "standard"}
    assert check.retries == 3 and received[1].retries == 5
    assert check.variables == {"orderId": 7, "amount": 40, "businessKey": "B-7"}
    assert check.key != received[1].key


async def test_large_order_waits_for_the_kafka_response(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    published = PublishedRequests()
    async with running_interpreter(client, task_queue, order_jobs([]), published.activity()):
        handle = await start_order(client, task_queue, orderId=8, amount=500, businessKey="B-8")
        state = await wait_for(lambda s: s["awaiting_correlations"], handle)
        request = published.requests[0]
        headers = request["headers"]
        assert request["topic"] == "tsm-process-request"
        assert request["key"] == "B-8"
        assert request["payload"] == {"orderId": 8, "amount": 500}
        assert set(headers) == {
            "correlationId",
            "processInstanceId",
            "ownerType",
            "ownerId",
            "traceId",
        }
        assert headers["processInstanceId"] == handle.id
        assert headers["ownerType"] == "order-process" and headers["ownerId"] == "B-8"
        assert workflow_id_of(headers["correlationId"]) == handle.id
        assert state["awaiting_correlations"] == [headers["correlationId"]]
        assert [a["element_id"] for a in state["active"]] == ["approve_order"]

        response = {"correlation_id": headers["correlationId"], "body": {"approved": True}}
        await handle.signal(KAFKA_RESPONSE_SIGNAL, response)
        # A redelivered response changes nothing.
        await handle.signal(KAFKA_RESPONSE_SIGNAL, {**response, "body": {"approved": False}})
        result = await handle.result()
    assert result["approved"] is True
    assert result["confirmationSent"] == "email"


async def test_a_response_faster_than_the_wait_is_kept(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    published = PublishedRequests()

    async def answer_at_once(request: dict[str, Any]) -> None:
        correlation_id = request["headers"]["correlationId"]
        handle = client.get_workflow_handle(workflow_id_of(correlation_id) or "")
        await handle.signal(
            KAFKA_RESPONSE_SIGNAL, {"correlation_id": correlation_id, "body": {"fast": 1}}
        )

    published.on_publish = answer_at_once
    async with running_interpreter(client, task_queue, order_jobs([]), published.activity()):
        handle = await start_order(client, task_queue, orderId=9, amount=900)
        result = await handle.result()
    assert result["fast"] == 1
    assert published.requests[0]["headers"]["ownerId"] == handle.id


async def test_exhausted_retries_raise_an_incident_that_an_operator_resolves(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    attempts: list[int] = []

    def flaky_check(job: Job) -> dict[str, Any]:
        attempts.append(job.attempt)
        if not job.variables.get("fixed"):
            raise RuntimeError("inventory service down")
        return {"checked": True}

    jobs = {**order_jobs([]), "check-order": flaky_check}
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_order(client, task_queue, orderId=10, amount=5)
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        incident = state["incidents"][0]
        assert incident["type"] == "JOB_NO_RETRIES"
        assert incident["element_id"] == "check_order"
        assert "inventory service down" in incident["message"]
        assert attempts == [1, 2, 3]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE, {"incident_key": incident["key"], "variables": {"fixed": True}}
        )
        result = await handle.result()
    assert result["checked"] is True and result["fixed"] is True


async def test_an_uncaught_bpmn_error_is_an_incident(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client

    def reject(job: Job) -> None:
        raise BpmnError("ORDER_REJECTED", "customer is blocked")

    jobs = {**order_jobs([]), "check-order": reject}
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_order(client, task_queue, orderId=11, amount=5)
        state = await wait_for(lambda s: s["incidents"], handle)
        await handle.terminate("test over")
    incident = state["incidents"][0]
    assert incident["type"] == "UNHANDLED_ERROR_EVENT"
    assert "ORDER_REJECTED" in incident["message"]


GATEWAY_WITHOUT_DEFAULT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="gateway-no-default" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:exclusiveGateway id="route" />
    <bpmn:endEvent id="big" />
    <bpmn:endEvent id="small" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="route" />
    <bpmn:sequenceFlow id="f_big" sourceRef="route" targetRef="big">
      <bpmn:conditionExpression>=amount &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="route" targetRef="small">
      <bpmn:conditionExpression>=amount &lt;= 10</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


async def test_no_matching_condition_waits_for_fixed_variables(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(GATEWAY_WITHOUT_DEFAULT)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await client.start_workflow(
            "gateway-no-default", {"amount": 50}, id=f"gw-{uuid.uuid4()}", task_queue=task_queue
        )
        state = await wait_for(lambda s: s["incidents"], handle)
        incident = state["incidents"][0]
        assert incident["type"] == "CONDITION_NOT_MATCHED"
        await handle.execute_update(SET_VARIABLES_UPDATE, {"amount": 5})
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, {"incident_key": incident["key"]})
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert state["completed"][-1]["element_id"] == "small"


async def test_unknown_process_id_fails_listing_the_deployed_ones(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await client.start_workflow(
            "no-such-process", {}, id=f"x-{uuid.uuid4()}", task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    message = str(failure.value.cause)
    assert "no-such-process" in message and "order-process" in message


async def test_input_must_be_a_json_object(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await client.start_workflow(
            "order-process", [1, 2], id=f"x-{uuid.uuid4()}", task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "JSON object" in str(failure.value.cause)


async def test_a_zeebe_kafka_send_task_publishes_its_mapped_variables(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    from tests.helpers.models import KAFKA_SEND_TASK

    deploy(KAFKA_SEND_TASK.replace("{topic}", "order-events"))
    client = time_skipping_env.client
    published = PublishedRequests()
    async with running_interpreter(client, task_queue, publish_activity=published.activity()):
        handle = await client.start_workflow(
            "kafka-send",
            {"orderId": 3, "amount": 21, "secret": "x"},
            id=f"ks-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        result = await handle.result()
    (request,) = published.requests
    assert request["topic"] == "order-events" and request["key"] == "orders"
    assert request["payload"] == {"id": 3, "doubled": 42}
    assert request["headers"]["processInstanceId"] == handle.id
    assert request["headers"]["jobKey"].startswith(handle.id)
    assert result == {"orderId": 3, "amount": 21, "secret": "x"}


@pytest.mark.parametrize(
    ("code", "expected_path"),
    [
        (None, ["start", "reserve", "reserved"]),
        ("NO_STOCK", ["start", "reserve", "on_no_stock", "backordered"]),
        ("OTHER", ["start", "reserve", "on_any_error", "failed"]),
    ],
)
async def test_error_boundary_events_catch_by_code_then_catch_all(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    code: str | None,
    expected_path: list[str],
) -> None:
    from tests.helpers.models import ERROR_BOUNDARIES

    deploy(ERROR_BOUNDARIES)

    def reserve(job: Job) -> dict[str, Any]:
        if code:
            raise BpmnError(code, "cannot reserve", {"missing": 3})
        return {"reservation": "r-1"}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"reserve": reserve}):
        handle = await client.start_workflow(
            "error-boundaries", {}, id=f"eb-{uuid.uuid4()}", task_queue=task_queue
        )
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    assert [c["element_id"] for c in state["completed"]] == expected_path
    assert state["incidents"] == []
    if code:
        assert state["completed"][1]["state"] == "terminated"
        assert result["missing"] == 3
    if code == "NO_STOCK":
        assert (result["errorCode"], result["errorMessage"]) == ("NO_STOCK", "cannot reserve")
