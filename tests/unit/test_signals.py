"""Signals and message/signal start events on the time-skipping server: broadcast to every
waiting instance, thrown by a process, caught by catch events, boundaries and event
sub-processes, and starting the processes whose start event they trigger."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities import broadcast_signal, make_start_by_event, publish_message
from tests.helpers import deploy, problems_of, running_interpreter, start_process
from tests.helpers.bpmn import chain, events, model, service
from workflows import REGISTRY, STATE_QUERY, mailbox_id, signal_hub_id
from workflows._contracts import MessagePublication, StartByEventRequest

OWN_TIME_SKIPPING_SERVER = True
"""Hubs and started instances of these tests must not meet other modules' leftovers."""


def signal_definition(name: str) -> str:
    return f'<bpmn:signal id="sig_go" name="{name}" />'


@pytest.fixture
async def go(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[str]:
    """A signal name of the test's own, whose hub is gone when the test ends (an open hub
    holds on to its subscriptions, and to the time-skipping server's clock)."""
    name = f"go-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(RPCError):
        await time_skipping_env.client.get_workflow_handle(signal_hub_id(name)).terminate("done")


def signal_event(element_id: str, kind: str, extra: str = "") -> str:
    return (
        f'<bpmn:{kind} id="{element_id}"{extra}>'
        f'<bpmn:signalEventDefinition signalRef="sig_go" /></bpmn:{kind}>'
    )


def waiting_at(element_id: str) -> Any:
    return lambda state: any(e["element_id"] == element_id for e in state["active"])


async def subscribed(client: Client, signal: str, count: int) -> None:
    """Wait until ``count`` waits are registered at the signal's hub (signals are not
    buffered: a broadcast before that would rightly miss them)."""
    hub = client.get_workflow_handle(signal_hub_id(signal))
    for _ in range(200):
        try:
            if len((await hub.query(STATE_QUERY))["subscriptions"]) >= count:
                return
        except RPCError:
            pass  # not started yet
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} subscriptions to {signal!r} never arrived")


async def test_a_broadcast_reaches_every_waiting_instance_and_not_later_ones(
    time_skipping_env: WorkflowEnvironment, task_queue: str, go: str
) -> None:
    deploy(
        model(
            "wait-for-go",
            events("start", kind="startEvent"),
            signal_event("go", "intermediateCatchEvent"),
            events("end"),
            chain("start", "go", "end"),
            extra=signal_definition(go),
        )
    )
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        first = await start_process(client, task_queue, "wait-for-go")
        second = await start_process(client, task_queue, "wait-for-go")
        await subscribed(client, go, 2)
        await broadcast_signal(client, go, {"went": True}, task_queue=task_queue)
        assert await first.result() == {"went": True}
        assert await second.result() == {"went": True}
        late = await start_process(client, task_queue, "wait-for-go")
        await subscribed(client, go, 1)
        assert waiting_at("go")(await late.query(STATE_QUERY))  # signals are not buffered
        await late.terminate("test over")


async def test_a_thrown_signal_reaches_a_boundary_and_an_event_sub_process_of_its_instance(
    time_skipping_env: WorkflowEnvironment, task_queue: str, go: str
) -> None:
    deploy(
        model(
            "signal-itself",
            events("start", kind="startEvent"),
            '<bpmn:parallelGateway id="fork" />',
            service("wait_here"),
            signal_event("on_go", "boundaryEvent", ' attachedToRef="wait_here"'),
            events("interrupted", "never"),
            service("prepare"),
            signal_event("throw_go", "intermediateThrowEvent"),
            events("thrown"),
            chain("start", "fork", "wait_here", "never"),
            chain("on_go", "interrupted"),
            chain("fork", "prepare", "throw_go", "thrown"),
            '<bpmn:subProcess id="audit" triggeredByEvent="true">',
            signal_event("audit_start", "startEvent", ' isInterrupting="false"'),
            service("record"),
            events("audit_end"),
            chain("audit_start", "record", "audit_end"),
            "</bpmn:subProcess>",
            extra=signal_definition(go),
        )
    )
    client = time_skipping_env.client
    prepared = asyncio.Event()

    async def blocked(job: Any) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    async def prepare(job: Any) -> dict[str, Any]:
        await subscribed(client, go, 2)  # the boundary and the event sub-process
        prepared.set()
        return {"prepared": True}

    jobs = {"wait_here": blocked, "prepare": prepare, "record": lambda job: {"recorded": 1}}
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "signal-itself")
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    completed = [e["element_id"] for e in state["completed"]]
    assert result == {"prepared": True, "recorded": 1}
    assert {"on_go", "interrupted", "throw_go", "audit", "record"} <= set(completed)
    assert "never" not in completed


async def test_a_signal_start_event_starts_an_instance_per_broadcast(
    time_skipping_env: WorkflowEnvironment, task_queue: str, go: str
) -> None:
    deploy(
        model(
            "started-by-go",
            signal_event("start_on_go", "startEvent"),
            service("greet"),
            events("end"),
            chain("start_on_go", "greet", "end"),
            extra=signal_definition(go),
        )
    )
    greeted: list[dict[str, Any]] = []
    jobs = {"greet": lambda job: greeted.append(dict(job.variables))}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        await broadcast_signal(client, go, {"n": 1}, task_queue=task_queue)
        await broadcast_signal(client, go, {"n": 2}, task_queue=task_queue)
        await until(lambda: len(greeted) == 2)
    assert sorted(v["n"] for v in greeted) == [1, 2]


MESSAGE_STARTED = model(
    "started-by-order",
    '<bpmn:startEvent id="order_placed">'
    '<bpmn:messageEventDefinition messageRef="msg_order" /></bpmn:startEvent>',
    service("handle_order"),
    events("end"),
    chain("order_placed", "handle_order", "end"),
    extra='<bpmn:message id="msg_order" name="order-placed" />',
)


async def test_a_message_start_event_starts_one_instance_per_correlation_key_while_active(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(MESSAGE_STARTED)
    handled: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def handle_order(job: Any) -> dict[str, Any]:
        handled.append(dict(job.variables))
        await release.wait()
        return {"handled": True}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"handle_order": handle_order}):
        await publish_message(client, "order-placed", "o-1", {"n": 1}, task_queue=task_queue)
        await publish_message(client, "order-placed", "o-2", {"n": 2}, task_queue=task_queue)
        await until(lambda: len(handled) == 2)
        # o-1 is active: Zeebe's rule, the same key does not start a second instance.
        await publish_message(client, "order-placed", "o-1", {"n": 3}, task_queue=task_queue)
        first = client.get_workflow_handle("started-by-order/message/order-placed/o-1")
        await asyncio.sleep(0.5)
        release.set()
        assert await first.result() == {"n": 1, "handled": True}
        # Started with its version pinned and its memo set: nothing to record for either.
        kinds = {e.event_type for e in (await first.fetch_history()).events}
        assert EventType.EVENT_TYPE_MARKER_RECORDED not in kinds
        assert EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED not in kinds
        assert (await (await first.describe()).memo())["bpmnProcessId"] == "started-by-order"
        # Once it completed, the key starts a new instance.
        await publish_message(client, "order-placed", "o-1", {"n": 4}, task_queue=task_queue)
        await until(lambda: len(handled) == 3)
        # The third message started nothing: it waits, buffered, for a catch event on o-1.
        await client.get_workflow_handle(mailbox_id("order-placed", "o-1")).terminate("test over")
    assert sorted(v["n"] for v in handled) == [1, 2, 4]


async def until(condition: Any, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_correlate_answers_with_the_instance_it_reached_or_fails(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    from activities import MessageNotCorrelated, correlate_message
    from tests.helpers.models import CATCH_PAYMENT

    deploy(CATCH_PAYMENT)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        with pytest.raises(MessageNotCorrelated, match="no instance waits"):
            await correlate_message(client, "payment-received", "o-9", task_queue=task_queue)
        handle = await start_process(client, task_queue, "await-payment", orderId="o-9")
        mailbox = client.get_workflow_handle(mailbox_id("payment-received", "o-9"))
        await until_subscribed(mailbox)
        result = await correlate_message(
            client, "payment-received", "o-9", {"amount": 5}, task_queue=task_queue
        )
        assert result.workflow_id == handle.id and result.started == []
        assert (await handle.result())["amount"] == 5


async def until_subscribed(mailbox: Any) -> None:
    for _ in range(200):
        try:
            if (await mailbox.query(STATE_QUERY))["subscriptions"]:
                return
        except RPCError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the instance never subscribed")


async def test_a_retried_keyed_message_start_does_not_start_its_finished_instance_again(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The mailbox's start activity runs again when its workflow task failed after it ran. The
    instance it started may have finished by then, and a keyed message's workflow id may be
    used again once its instance ended (Zeebe: the key starts a new instance): the retry must
    see that this publication started it, and start nothing."""
    deploy(MESSAGE_STARTED)
    handled: list[dict[str, Any]] = []
    jobs = {"handle_order": lambda job: handled.append(dict(job.variables))}
    client = time_skipping_env.client
    start_by_event = make_start_by_event(client, REGISTRY)

    async def start(publication_id: str, n: int) -> list[str]:
        publication = MessagePublication(
            name="order-placed", correlation_key="o-9", variables={"n": n}
        )
        request = StartByEventRequest(
            trigger="message",
            publication=publication,
            publication_id=publication_id,
            task_queue=task_queue,
        )
        return await ActivityEnvironment().run(start_by_event, request.model_dump(mode="json"))

    async with running_interpreter(client, task_queue, jobs):
        started = await start("publication-1", 1)
        assert started == ["started-by-order/message/order-placed/o-9"]
        instance = client.get_workflow_handle(started[0])
        await instance.result()
        first_run = (await instance.describe()).run_id
        assert await start("publication-1", 1) == []  # the retry
        assert (await instance.describe()).run_id == first_run
        # Another publication with the key starts a new instance, its instance having ended.
        assert await start("publication-2", 2) == started
        await client.get_workflow_handle(started[0]).result()
    assert [v["n"] for v in handled] == [1, 2]


COMPUTED = signal_definition("=&quot;go-&quot; + suffix")
"""Zeebe parses a signal's name as it parses a message's: FEEL after ``=``."""


def through(process_id: str, event: str, signal: str) -> str:
    """A process that passes through one signal event ``go``."""
    start, end = events("start", kind="startEvent"), events("end")
    return model(process_id, start, event, end, chain("start", "go", "end"), extra=signal)


async def test_a_signal_name_may_be_computed_where_it_is_awaited_and_thrown(
    time_skipping_env: WorkflowEnvironment, task_queue: str, go: str
) -> None:
    catch = signal_event("go", "intermediateCatchEvent")
    deploy(through("wait-computed", catch, COMPUTED), "wait.bpmn")
    deploy(through("throw-computed", signal_event("go", "intermediateThrowEvent"), COMPUTED))
    suffix = go.removeprefix("go-")
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        waiter = await start_process(client, task_queue, "wait-computed", suffix=suffix)
        await subscribed(client, go, 1)  # the hub of the evaluated name
        thrower = await start_process(client, task_queue, "throw-computed", suffix=suffix)
        await thrower.result()
        assert await waiter.result() == {"suffix": suffix}


def test_a_signal_start_events_name_must_be_fixed() -> None:
    xml = model(
        "start-computed",
        signal_event("start", "startEvent"),
        events("end"),
        chain("start", "end"),
        extra=COMPUTED,
    )
    [problem] = problems_of(xml)
    assert problem.element_id == "start"
    assert "a signal start event's signal name" in problem.message


async def test_a_thrown_signal_carries_its_throw_events_input_mappings(
    time_skipping_env: WorkflowEnvironment, task_queue: str, go: str
) -> None:
    throw = (
        '<bpmn:intermediateThrowEvent id="go"><bpmn:extensionElements><zeebe:ioMapping>'
        '<zeebe:input source="=count * 2" target="restocked" /></zeebe:ioMapping>'
        '</bpmn:extensionElements><bpmn:signalEventDefinition signalRef="sig_go" />'
        "</bpmn:intermediateThrowEvent>"
    )
    catch = signal_event("go", "intermediateCatchEvent")
    deploy(through("wait-for-stock", catch, signal_definition(go)), "wait.bpmn")
    deploy(through("announce-stock", throw, signal_definition(go)))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        waiter = await start_process(client, task_queue, "wait-for-stock")
        await subscribed(client, go, 1)
        thrower = await start_process(client, task_queue, "announce-stock", count=21)
        assert await thrower.result() == {"count": 21}  # the mapping is the signal's, not its own
        assert await waiter.result() == {"restocked": 42}
