"""The order process grown the way real ones do (processes/order-fulfilment.bpmn): a rejected
order caught by an error boundary event, an approval over Kafka that may never come (a 2-hour
boundary timer) and a payment message that may be late (a 3-day boundary timer). Time is
skipped: each test takes a fraction of a second."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from activities import Job
from bpmn_testing import BpmnTestContext

FULFILMENT = Path(__file__).resolve().parent / "processes" / "order-fulfilment.bpmn"


@pytest.fixture
def bpmn(bpmn: BpmnTestContext) -> BpmnTestContext:
    bpmn.deploy(FULFILMENT)

    @bpmn.job("check-order")
    def check_order(job: Job) -> dict[str, Any]:
        order = {name: job.variables[name] for name in ("orderId", "amount")}
        return {"approvalRequest": order}

    bpmn.job("send-confirmation").complete({"confirmed": True})
    bpmn.job("notify-customer").complete({"customerNotified": True})
    bpmn.job("escalate-order").complete({"escalated": True})
    return bpmn


async def test_a_paid_small_order_is_confirmed(bpmn: BpmnTestContext) -> None:
    instance = await bpmn.start("order-fulfilment", orderId=7, amount=40)
    await instance.assert_waiting_at("await_payment")

    await bpmn.publish_message("payment-received", 7, {"paidAmount": 40})

    await instance.assert_completed({"paidAmount": 40, "confirmed": True})
    await instance.assert_passed("amount_gateway", "merge_gateway", "await_payment", "order_done")


async def test_a_rejected_order_is_caught_by_the_error_boundary(bpmn: BpmnTestContext) -> None:
    bpmn.job("check-order").throw_error("ORDER_REJECTED", "blocked", {"reason": "blocked"})

    instance = await bpmn.start("order-fulfilment", orderId=8, amount=40)

    await instance.assert_completed({"reason": "blocked", "customerNotified": True})
    await instance.assert_passed("check_order", "order_rejected", "notify_rejection")
    await instance.assert_not_passed("amount_gateway")
    await bpmn.job("notify-customer").assert_received(headers={"template": "order-rejected"})


async def test_an_approval_that_never_comes_is_escalated_after_two_hours(
    bpmn: BpmnTestContext,
) -> None:
    instance = await bpmn.start("order-fulfilment", orderId=9, amount=5000, business_key="o-9")
    request = await instance.kafka_request("approve_order")
    assert request.key == "o-9" and request.payload == {"orderId": 9, "amount": 5000}

    await bpmn.skip("PT1H59M")
    await instance.assert_waiting_at("approve_order")
    moved = await bpmn.skip_to_next_timer()

    assert moved <= timedelta(minutes=1)
    await instance.assert_completed({"escalated": True})
    await instance.assert_passed("approve_order", "approval_overdue", "escalate_order")
    await instance.assert_not_passed("merge_gateway")


async def test_an_approved_order_that_is_never_paid_is_cancelled_after_three_days(
    bpmn: BpmnTestContext,
) -> None:
    instance = await bpmn.start("order-fulfilment", orderId=10, amount=5000)
    await instance.respond_kafka({"approved": True}, element_id="approve_order")
    await instance.assert_waiting_at("await_payment")

    await bpmn.skip("P3D")

    await instance.assert_completed({"approved": True, "customerNotified": True})
    await instance.assert_passed(
        "approve_order", "await_payment", "payment_overdue", "cancel_order"
    )
    await bpmn.job("notify-customer").assert_received(headers={"template": "payment-overdue"})
