"""The demo's order process (examples/processes/order-process.bpmn), tested the way a user tests
their models: the demo's own job workers answer the jobs, Kafka Tasks are answered without a
broker, and everything runs in-process on Temporal's time-skipping test server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpmn_testing import BpmnTestContext
from examples.workers import register

ORDER_PROCESS = Path(__file__).resolve().parents[1] / "processes" / "order-process.bpmn"


@pytest.fixture
def bpmn(bpmn: BpmnTestContext) -> BpmnTestContext:
    bpmn.deploy(ORDER_PROCESS)
    register(bpmn)  # type: ignore[arg-type]  # the demo's workers, on the test's job stubs
    return bpmn


async def test_a_small_order_takes_the_default_flow(bpmn: BpmnTestContext) -> None:
    instance = await bpmn.start("order-process", orderId=1001, amount=40, business_key="o-1001")

    await instance.assert_completed({"checked": True, "confirmation": "sent by email"})
    await instance.assert_passed(
        "order_received",
        "check_order",
        "amount_gateway",
        "merge_gateway",
        "send_confirmation",
        "order_done",
    )
    await instance.assert_not_passed("approve_order")
    await bpmn.job("check-order").assert_received(
        variables={"orderId": 1001, "amount": 40}, headers={"policy": "standard"}, times=1
    )
    await bpmn.job("send-confirmation").assert_received(headers={"channel": "email"})


async def test_a_large_order_is_approved_over_kafka(bpmn: BpmnTestContext) -> None:
    instance = await bpmn.start("order-process", orderId=1002, amount=2500, business_key="o-1002")

    request = await instance.kafka_request("approve_order")
    assert (request.topic, request.key) == ("tsm-process-request", "o-1002")
    assert request.payload == {"orderId": 1002, "amount": 2500}
    assert request.headers["ownerType"] == "order-process"
    assert request.headers["processInstanceId"] == instance.id

    await instance.respond_kafka({"approved": True, "approvedBy": "a test"})

    await instance.assert_completed({"approved": True, "approvedBy": "a test"})
    await instance.assert_passed("amount_gateway", "approve_order", "merge_gateway")


async def test_a_bpmn_error_nothing_catches_is_an_incident(bpmn: BpmnTestContext) -> None:
    bpmn.job("check-order").throw_error("ORDER_REJECTED", "the customer is blocked")

    instance = await bpmn.start("order-process", orderId=1003, amount=40)

    incident = await instance.assert_incident(
        "check_order", "ORDER_REJECTED", type="UNHANDLED_ERROR_EVENT"
    )
    assert "the customer is blocked" in incident.message
    await instance.assert_not_passed("send_confirmation")


async def test_an_operator_resolves_the_incident_of_a_failing_job(bpmn: BpmnTestContext) -> None:
    bpmn.job("check-order").fail("inventory service down")
    instance = await bpmn.start("order-process", orderId=1004, amount=40)
    await instance.assert_incident("check_order", "inventory service down", type="JOB_NO_RETRIES")

    bpmn.job("check-order").complete({"checked": "by hand"})
    await instance.resolve_incident("check_order", {"note": "retried after the outage"})

    await instance.assert_completed({"checked": "by hand", "note": "retried after the outage"})
