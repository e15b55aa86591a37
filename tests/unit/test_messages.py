"""Message correlation through per-key mailboxes, on the time-skipping server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities import MessageError, publish_message
from tests.helpers import deploy, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import chain, events, flow, model, service
from tests.helpers.models import CATCH_PAYMENT, PAYMENT
from workflows import RESOLVE_INCIDENT_UPDATE, STATE_QUERY, mailbox_id

OWN_TIME_SKIPPING_SERVER = True  # these tests move the clock


def path(state: dict[str, Any]) -> list[str]:
    return [element["element_id"] for element in state["completed"]]


# The tests that move the clock come first: on a fresh server nothing holds time back.


async def test_an_expired_message_is_not_correlated(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CATCH_PAYMENT)
    client = time_skipping_env.client
    order = str(uuid.uuid4())
    async with running_interpreter(client, task_queue):
        await publish_message(
            client,
            "payment-received",
            order,
            {"stale": True},
            time_to_live=timedelta(minutes=1),
            task_queue=task_queue,
        )
        mailbox = client.get_workflow_handle(mailbox_id("payment-received", order))
        await wait_for(lambda state: state["messages"], mailbox)  # buffered: its TTL runs
        await time_skipping_env.sleep(timedelta(minutes=2))
        handle = await start_process(
            time_skipping_env.client, task_queue, "await-payment", orderId=order
        )
        await wait_for(lambda s: s["active"], handle)
        await publish_message(client, "payment-received", order, {}, task_queue=task_queue)
        assert "stale" not in await handle.result()


GIVE_UP = model(
    "pay-or-give-up",
    events("start", kind="startEvent"),
    '<bpmn:receiveTask id="paid" messageRef="payment" />',
    '<bpmn:boundaryEvent id="too_late" attachedToRef="paid"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    "</bpmn:boundaryEvent>",
    events("end", "given_up"),
    chain("start", "paid", "end"),
    flow("too_late", "given_up"),
    extra=PAYMENT,
)


async def test_a_wait_interrupted_just_before_the_end_leaves_no_subscription(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The unsubscribe runs before the instance completes, not never."""
    deploy(GIVE_UP)
    client = time_skipping_env.client
    order = str(uuid.uuid4())
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "pay-or-give-up", orderId=order)
        await handle.result()
        assert path(await handle.query(STATE_QUERY))[-1] == "given_up"
        mailbox = client.get_workflow_handle(mailbox_id("payment-received", order))
        await wait_for(lambda state: not state["subscriptions"], mailbox)


GATEWAY = model(
    "pay-or-expire",
    events("start", kind="startEvent"),
    '<bpmn:eventBasedGateway id="which" />',
    '<bpmn:intermediateCatchEvent id="paid">'
    '<bpmn:messageEventDefinition messageRef="payment" /></bpmn:intermediateCatchEvent>',
    '<bpmn:intermediateCatchEvent id="expired"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition>"
    "</bpmn:intermediateCatchEvent>",
    events("paid_end", "expired_end"),
    chain("start", "which"),
    flow("which", "paid"),
    flow("which", "expired"),
    chain("paid", "paid_end"),
    chain("expired", "expired_end"),
    extra=PAYMENT,
)


@pytest.mark.parametrize("pay", [True, False])
async def test_the_first_event_after_an_event_based_gateway_wins(
    time_skipping_env: WorkflowEnvironment, task_queue: str, pay: bool
) -> None:
    deploy(GATEWAY)
    client = time_skipping_env.client
    order = str(uuid.uuid4())
    async with running_interpreter(client, task_queue):
        handle = await start_process(
            time_skipping_env.client, task_queue, "pay-or-expire", orderId=order
        )
        await wait_for(lambda s: s["active"], handle)
        if pay:
            await publish_message(
                client, "payment-received", order, {"amount": 7}, task_queue=task_queue
            )
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    assert path(state)[-2:] == (["paid", "paid_end"] if pay else ["expired", "expired_end"])
    assert ("amount" in result) is pay


async def test_a_message_published_before_the_subscription_is_correlated(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CATCH_PAYMENT)
    client = time_skipping_env.client
    order = str(uuid.uuid4())
    async with running_interpreter(client, task_queue):
        await publish_message(
            client, "payment-received", order, {"amount": 42}, task_queue=task_queue
        )
        handle = await start_process(
            time_skipping_env.client, task_queue, "await-payment", orderId=order
        )
        result = await handle.result()
    assert result["amount"] == 42


async def test_two_messages_with_the_same_id_are_correlated_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CATCH_PAYMENT)
    client = time_skipping_env.client
    order = str(uuid.uuid4())
    async with running_interpreter(client, task_queue):
        for attempt in (1, 2):
            await publish_message(
                client,
                "payment-received",
                order,
                {"attempt": attempt},
                message_id="pay-1",
                task_queue=task_queue,
            )
        first = await start_process(
            time_skipping_env.client, task_queue, "await-payment", orderId=order
        )
        assert (await first.result())["attempt"] == 1
        second = await start_process(
            time_skipping_env.client, task_queue, "await-payment", orderId=order
        )
        state = await wait_for(lambda s: s["active"], second)
        assert state["active"][0]["element_id"] == "paid"
        await publish_message(
            client, "payment-received", order, {"attempt": 3}, task_queue=task_queue
        )
        assert (await second.result())["attempt"] == 3


async def test_a_missing_correlation_key_is_an_incident_then_correlates(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CATCH_PAYMENT)
    client = time_skipping_env.client
    order = str(uuid.uuid4())
    async with running_interpreter(client, task_queue):
        handle = await start_process(time_skipping_env.client, task_queue, "await-payment")
        state = await wait_for(lambda s: s["incidents"], handle)
        incident = state["incidents"][0]
        assert incident["element_id"] == "paid"
        assert "correlation key" in incident["message"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {"incident_key": incident["key"], "variables": {"orderId": order}},
        )
        await publish_message(client, "payment-received", order, {"ok": 1}, task_queue=task_queue)
        assert (await handle.result())["ok"] == 1


async def test_publishing_without_a_correlation_key_is_refused(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    with pytest.raises(MessageError, match="needs a correlation key"):
        await publish_message(time_skipping_env.client, "payment-received", None)  # type: ignore[arg-type]


BOUNDARY = model(
    "cancel-on-message",
    events("start", kind="startEvent"),
    service("ship"),
    '<bpmn:boundaryEvent id="cancelled" attachedToRef="ship">'
    '<bpmn:messageEventDefinition messageRef="cancel" /></bpmn:boundaryEvent>',
    events("shipped", "stopped"),
    chain("start", "ship", "shipped"),
    flow("cancelled", "stopped"),
    extra=(
        '<bpmn:message id="cancel" name="order-cancelled"><bpmn:extensionElements>'
        '<zeebe:subscription correlationKey="=orderId" /></bpmn:extensionElements></bpmn:message>'
    ),
)


async def test_a_message_boundary_event_interrupts_the_pending_job(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(BOUNDARY)
    client = time_skipping_env.client
    order = str(uuid.uuid4())
    async with running_interpreter(client, task_queue):  # no worker for "ship": it stays pending
        handle = await start_process(
            time_skipping_env.client, task_queue, "cancel-on-message", orderId=order
        )
        await wait_for(lambda s: s["active"], handle)
        await publish_message(
            client, "order-cancelled", order, {"reason": "customer"}, task_queue=task_queue
        )
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    assert result["reason"] == "customer"
    assert path(state)[-2:] == ["cancelled", "stopped"]


CAMUNDA_7_RECEIVE = model(
    "c7-receive",
    events("start", kind="startEvent"),
    '<bpmn:receiveTask id="confirmed" messageRef="confirmation" />',
    events("end"),
    chain("start", "confirmed", "end"),
    extra='<bpmn:message id="confirmation" name="order-confirmed" />',
)


@pytest.mark.parametrize("business_key", ["order-42", None])
async def test_a_message_without_a_correlation_key_correlates_by_business_key_or_instance(
    time_skipping_env: WorkflowEnvironment, task_queue: str, business_key: str | None
) -> None:
    """Camunda 7 models name no correlation key: Camunda 7 correlates by the business key
    (processInstanceBusinessKey), else by the instance (processInstanceId)."""
    deploy(CAMUNDA_7_RECEIVE)
    client = time_skipping_env.client
    variables = {"businessKey": business_key} if business_key else {}
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "c7-receive", **variables)
        await wait_for(lambda s: s["active"], handle)
        key = business_key or handle.id
        await publish_message(client, "order-confirmed", key, {"ok": 1}, task_queue=task_queue)
        assert (await asyncio.wait_for(handle.result(), 30))["ok"] == 1
