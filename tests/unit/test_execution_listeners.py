"""Zeebe execution listeners (``zeebe:executionListeners``): jobs an element waits for as it
starts (after its input mappings) and ends (after its output mappings), on the time-skipping
server with real job workers; and what the translator refuses, as Zeebe does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities import BpmnError, Job, publish_message
from tests.helpers import deploy, problems_of, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import chain, events, flow, io_mapping, model, service
from tests.helpers.models import PAYMENT
from worker import workflow_runner
from workflows import (
    COMPLETE_USER_TASK_UPDATE,
    RESOLVE_INCIDENT_UPDATE,
    STATE_QUERY,
    BpmnInterpreter,
)

OWN_TIME_SKIPPING_SERVER = True  # a timer waits


def listeners(*pairs: tuple[str, str], retries: int | None = None) -> str:
    """``(eventType, type)`` listeners, in order."""
    extra = "" if retries is None else f' retries="{retries}"'
    entries = "".join(
        f'<zeebe:executionListener eventType="{event}" type="{job_type}"{extra} />'
        for event, job_type in pairs
    )
    return f"<zeebe:executionListeners>{entries}</zeebe:executionListeners>"


def extended(tag: str, element_id: str, *parts: str, body: str = "") -> str:
    return (
        f'<bpmn:{tag} id="{element_id}"><bpmn:extensionElements>{"".join(parts)}'
        f"</bpmn:extensionElements>{body}</bpmn:{tag}>"
    )


class Recorder(dict[str, Job]):
    """Job handlers that remember the last job of each type they were given, in order."""

    def returning(self, result: dict[str, Any]) -> Callable[[Job], dict[str, Any]]:
        return self.around(lambda job: result)

    def around(self, handler: Callable[[Job], Any]) -> Callable[[Job], Any]:
        def handle(job: Job) -> Any:
            self[job.type] = job
            return handler(job)

        return handle


LISTENED = model(
    "listened",
    "<bpmn:extensionElements>"
    + listeners(("start", "process-start"), ("end", "process-end"))
    + "</bpmn:extensionElements>",
    extended("startEvent", "start", listeners(("end", "after-start"))),
    extended(
        "serviceTask",
        "work",
        '<zeebe:taskDefinition type="work" />',
        '<zeebe:taskHeaders><zeebe:header key="team" value="billing" /></zeebe:taskHeaders>',
        io_mapping({"doubled": "=amount * 2"}, {"workTotal": "=total"}),
        listeners(("start", "prepare"), ("end", "audit")),
    ),
    extended("exclusiveGateway", "route", listeners(("start", "decide"))),
    events("high", "low"),
    chain("start", "work", "route"),
    flow("route", "high", '=path = "high"'),
    flow("route", "low", '=path != "high"'),
)


async def test_listeners_run_in_order_and_their_variables_follow_zeebe(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(LISTENED)
    seen = Recorder()
    jobs = {
        "process-start": seen.returning({"fromProcessStart": 1}),
        "after-start": seen.returning({}),
        "prepare": seen.returning({"discount": 5}),
        "work": seen.around(
            lambda job: {"total": job.variables["doubled"] - job.variables["discount"]}
        ),
        "audit": seen.returning({"audited": True}),
        "decide": seen.returning({"path": "high"}),
        "process-end": seen.returning({"fromProcessEnd": 2}),
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened", amount=10)
        result = await asyncio.wait_for(handle.result(), 30)
    assert list(seen) == [
        "process-start",
        "after-start",
        "prepare",
        "work",
        "audit",
        "decide",
        "process-end",
    ]
    # A start listener runs after the input mappings; what it returns is local to the element.
    assert seen["prepare"].variables["doubled"] == 20
    assert seen["prepare"].listener_event_type == "start"
    assert seen["prepare"].element_id == "work"
    assert seen["prepare"].headers == {"team": "billing"}  # the element's headers too
    assert seen["work"].variables["discount"] == 5 and seen["work"].listener_event_type is None
    # An end listener runs after the output mappings and sees the element's locals.
    assert seen["audit"].variables["workTotal"] == 15
    assert seen["audit"].variables["discount"] == 5
    assert seen["audit"].listener_event_type == "end"
    assert seen["process-end"].variables["audited"] is True
    assert seen["process-end"].element_id == "listened"
    # End listener results propagate; start listener results of a task or gateway do not.
    assert result == {
        "amount": 10,
        "fromProcessStart": 1,
        "workTotal": 15,
        "audited": True,
        "fromProcessEnd": 2,
    }


SUB_PROCESS = model(
    "listened-sub",
    events("start", kind="startEvent"),
    extended(
        "subProcess",
        "sub",
        listeners(("start", "open-sub"), ("end", "close-sub")),
        body=events("sub_start", kind="startEvent")
        + extended("serviceTask", "inner", '<zeebe:taskDefinition type="inner" />')
        + events("sub_end")
        + chain("sub_start", "inner", "sub_end"),
    ),
    events("end"),
    chain("start", "sub", "end"),
)


async def test_a_sub_processs_start_listener_variables_are_its_own(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(SUB_PROCESS)
    seen = Recorder()
    jobs = {
        "open-sub": seen.returning({"batch": "b-1"}),
        "inner": seen.returning({"batch": "b-2", "innerDone": True}),
        "close-sub": seen.returning({"closed": True}),
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-sub")
        result = await asyncio.wait_for(handle.result(), 30)
    assert seen["inner"].variables["batch"] == "b-1"
    # The inner job updated the sub-process's own variable, which the end listener sees.
    closing = seen["close-sub"].variables
    assert closing["batch"] == "b-2" and closing["innerDone"] is True
    assert result == {"innerDone": True, "closed": True}


TIMED = model(
    "listened-timer",
    events("start", kind="startEvent"),
    extended(
        "intermediateCatchEvent",
        "wait",
        listeners(("start", "plan"), ("end", "after-wait")),
        body="<bpmn:timerEventDefinition><bpmn:timeDuration>=delay</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition>",
    ),
    events("end"),
    chain("start", "wait", "end"),
)


async def test_a_start_listener_computes_what_its_catch_event_waits_for(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(TIMED)
    jobs = {"plan": lambda job: {"delay": "PT2H"}, "after-wait": lambda job: {"waited": True}}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-timer")
        result = await asyncio.wait_for(handle.result(), 30)
        history = await handle.fetch_history()
    assert result == {"waited": True}  # the delay stayed local to the catch event
    (timer,) = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert timer == 2 * 3600


EACH = model(
    "listened-each",
    events("start", kind="startEvent"),
    extended(
        "serviceTask",
        "each",
        '<zeebe:taskDefinition type="multiply" />',
        listeners(("start", "set-factor"), ("end", "count")),
        body='<bpmn:multiInstanceLoopCharacteristics isSequential="false">'
        "<bpmn:extensionElements>"
        '<zeebe:loopCharacteristics inputCollection="=[1, 2, 3]" inputElement="item" '
        'outputCollection="products" outputElement="=product" />'
        "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>",
    ),
    events("end"),
    chain("start", "each", "end"),
)


async def test_a_multi_instance_activitys_listeners_run_around_each_instance(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(EACH)
    seen: list[tuple[str, int]] = []

    def set_factor(job: Job) -> dict[str, Any]:
        seen.append(("start", job.variables["item"]))
        return {"factor": 10 * job.variables["item"]}

    def count(job: Job) -> dict[str, Any]:
        seen.append(("end", job.variables["item"]))
        return {}

    jobs = {
        "set-factor": set_factor,
        "multiply": lambda job: {"product": job.variables["item"] * job.variables["factor"]},
        "count": count,
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-each")
        result = await asyncio.wait_for(handle.result(), 30)
    assert sorted(seen) == [
        ("end", 1),
        ("end", 2),
        ("end", 3),
        ("start", 1),
        ("start", 2),
        ("start", 3),
    ]
    assert result["products"] == [10, 40, 90]
    assert "factor" not in result


CAUGHT = model(
    "listened-boundary",
    events("start", kind="startEvent"),
    extended("serviceTask", "risky", '<zeebe:taskDefinition type="risky" />'),
    extended(
        "boundaryEvent",
        "caught",
        listeners(("end", "after-catch")),
        body='<bpmn:errorEventDefinition errorRef="failure" />',
    ).replace('id="caught"', 'id="caught" attachedToRef="risky"'),
    '<bpmn:subProcess id="slow">'
    + events("slow_start", kind="startEvent")
    + '<bpmn:intermediateCatchEvent id="two_hours"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    "</bpmn:intermediateCatchEvent>"
    + events("slow_end")
    + chain("slow_start", "two_hours", "slow_end")
    + "</bpmn:subProcess>",
    extended(
        "boundaryEvent",
        "reminder",
        listeners(("end", "remind")),
        body="<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition>",
    ).replace('id="reminder"', 'id="reminder" attachedToRef="slow" cancelActivity="false"'),
    events("end", "reminded"),
    chain("start", "risky"),
    chain("caught", "slow", "end"),
    chain("reminder", "reminded"),
    extra='<bpmn:error id="failure" errorCode="FAILED" />',
)


async def test_a_boundary_events_end_listeners_run_as_it_occurs(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CAUGHT)
    seen: list[str] = []

    def risky(job: Job) -> None:
        raise BpmnError("FAILED", "no")

    def after_catch(job: Job) -> dict[str, Any]:
        seen.append(job.element_id)
        return {"recovered": True}

    def remind(job: Job) -> dict[str, Any]:
        seen.append(job.element_id)
        return {"reminded": job.variables["recovered"]}

    jobs = {"risky": risky, "after-catch": after_catch, "remind": remind}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-boundary")
        result = await asyncio.wait_for(handle.result(), 30)
    assert seen == ["caught", "reminder"]
    assert result == {"recovered": True, "reminded": True}


HANDLED = model(
    "listened-handler",
    events("start", kind="startEvent"),
    extended("serviceTask", "risky", '<zeebe:taskDefinition type="risky" />'),
    events("end"),
    chain("start", "risky", "end"),
    extended(
        "subProcess",
        "on_failure",
        listeners(("start", "open-handler"), ("end", "close-handler")),
        body='<bpmn:startEvent id="failed"><bpmn:errorEventDefinition errorRef="failure" />'
        "</bpmn:startEvent>"
        + extended("serviceTask", "handle", '<zeebe:taskDefinition type="handle" />')
        + events("handled")
        + chain("failed", "handle", "handled"),
    ).replace('id="on_failure"', 'id="on_failure" triggeredByEvent="true"'),
    extra='<bpmn:error id="failure" errorCode="FAILED" />',
)


async def test_an_event_sub_process_runs_its_listeners(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(HANDLED)
    seen = Recorder()

    def risky(job: Job) -> None:
        raise BpmnError("FAILED", "no")

    jobs = {
        "risky": risky,
        "open-handler": seen.returning({"ticket": "t-1"}),
        "handle": seen.returning({}),
        "close-handler": seen.returning({"handled": True}),
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-handler")
        result = await asyncio.wait_for(handle.result(), 30)
    assert list(seen) == ["open-handler", "handle", "close-handler"]
    assert seen["handle"].variables["ticket"] == "t-1"
    assert seen["close-handler"].variables["ticket"] == "t-1"
    assert result == {"handled": True}  # the ticket was the event sub-process's own


FLAKY = model(
    "listened-flaky",
    events("start", kind="startEvent"),
    extended(
        "serviceTask",
        "work",
        '<zeebe:taskDefinition type="flaky-work" />',
        listeners(("start", "first-ok"), ("start", "flaky"), retries=1),
    ),
    events("end"),
    chain("start", "work", "end"),
)


async def test_a_failed_listener_is_an_incident_and_only_it_runs_again(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(FLAKY)
    calls: list[str] = []

    def first_ok(job: Job) -> None:
        calls.append("first-ok")

    def flaky(job: Job) -> None:
        calls.append("flaky")
        if not job.variables.get("fixed"):
            raise RuntimeError("audit service down")

    jobs = {"first-ok": first_ok, "flaky": flaky, "flaky-work": lambda job: {"done": True}}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-flaky")
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        (incident,) = state["incidents"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE, {"incident_key": incident["key"], "variables": {"fixed": 1}}
        )
        result = await asyncio.wait_for(handle.result(), 30)
    assert incident["type"] == "JOB_NO_RETRIES" and incident["element_id"] == "work"
    assert "start execution listener 'flaky'" in incident["message"]
    assert "audit service down" in incident["message"]
    assert calls == ["first-ok", "flaky", "flaky"]
    assert result["done"] is True


async def test_a_bpmn_error_from_a_listener_is_an_incident(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(FLAKY.replace("listened-flaky", "listened-error"))

    def reject(job: Job) -> None:
        raise BpmnError("NOPE", "no")

    jobs = {"first-ok": lambda job: None, "flaky": reject}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-error")
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        history = await handle.fetch_history()
        await handle.terminate("test over")
    (incident,) = state["incidents"]
    assert "threw a BPMN error, which an execution listener cannot" in incident["message"]
    await Replayer(workflows=[BpmnInterpreter], workflow_runner=workflow_runner()).replay_workflow(
        WorkflowHistory.from_json(history.workflow_id, history.to_json_dict())
    )


async def test_a_listened_history_replays(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(LISTENED)
    jobs: dict[str, Any] = {
        name: (lambda job: {}) for name in ("process-start", "after-start", "prepare", "audit")
    }
    jobs |= {
        "work": lambda job: {"total": 1},
        "decide": lambda job: {"path": "low"},
        "process-end": lambda job: {},
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened", amount=1)
        await asyncio.wait_for(handle.result(), 30)
        history = await handle.fetch_history()
    await Replayer(workflows=[BpmnInterpreter], workflow_runner=workflow_runner()).replay_workflow(
        history
    )


# --- the translator ---------------------------------------------------------------------------


def messages_of(xml: str) -> list[str]:
    return [problem.message for problem in problems_of(xml, "listeners.bpmn")]


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        (
            extended("startEvent", "start", listeners(("start", "x"))),
            "start execution listeners are not supported on start events",
        ),
        (
            extended("exclusiveGateway", "start_g", listeners(("end", "x"))),
            "end execution listeners are not supported on gateways",
        ),
        (
            extended("startEvent", "start", listeners(("end", "x"), ("end", "x"))),
            "two end execution listeners have the job type 'x'",
        ),
        (
            extended("startEvent", "start", listeners(("end", "=someType +"))),
            "end execution listener job type is not a valid expression: unexpected end",
        ),
        (
            extended("startEvent", "start", listeners(("finish", "x"))),
            "execution listener eventType 'finish' must be start or end",
        ),
        (
            extended("startEvent", "start", listeners(("end", ""))),
            "end execution listener has no job type",
        ),
        (
            extended(
                "startEvent",
                "start",
                '<zeebe:taskListeners><zeebe:taskListener eventType="complete" type="x" />'
                "</zeebe:taskListeners>",
            ),
            "zeebe:taskListeners (user task listeners) are not supported yet",
        ),
    ],
)
def test_the_translator_refuses_what_zeebe_refuses(element: str, expected: str) -> None:
    xml = model("refused", element, events("start_g", kind="parallelGateway"))
    if "start_g" in element:
        xml = model("refused", events("start", kind="startEvent"), element)
    assert any(expected in message for message in messages_of(xml))


@pytest.mark.parametrize(
    ("tag", "definition", "expected"),
    [
        ("endEvent", "error", "not supported on error end events"),
        ("intermediateThrowEvent", "escalation", "not supported on escalation throw events"),
    ],
)
def test_a_throwing_event_that_leaves_takes_no_end_listener(
    tag: str, definition: str, expected: str
) -> None:
    end = extended(
        tag, "fail", listeners(("end", "x")), body=f"<bpmn:{definition}EventDefinition />"
    )
    xml = model("refused", events("start", kind="startEvent"), end, chain("start", "fail"))
    assert any(expected in m for m in messages_of(xml))


# --- with the rest of the interpreter -----------------------------------------------------------


def looping(process_id: str, *, inside_sub_process: bool, rounds: int) -> str:
    """``rounds`` jobs in a loop (enough to continue as new), listened around the process or
    around a sub-process holding the loop."""
    loop = (
        events("loop_start", kind="startEvent")
        + '<bpmn:exclusiveGateway id="again" default="again_done" />'
        + service("tick")
        + events("loop_end")
        + chain("loop_start", "again")
        + flow("again", "tick", f"=count &lt; {rounds}")
        + flow("again", "loop_end", flow_id="again_done")
        + chain("tick", "again")
    )
    pair = listeners(("start", "open"), ("end", "close"))
    if not inside_sub_process:
        return model(process_id, f"<bpmn:extensionElements>{pair}</bpmn:extensionElements>", loop)
    return model(
        process_id,
        events("start", kind="startEvent"),
        extended("subProcess", "sub", pair, body=loop),
        events("end"),
        chain("start", "sub", "end"),
    )


@pytest.mark.parametrize("inside_sub_process", [False, True])
async def test_listeners_run_once_across_continue_as_new(
    time_skipping_env: WorkflowEnvironment, task_queue: str, inside_sub_process: bool
) -> None:
    process_id = f"listened-loop-{inside_sub_process}"
    deploy(looping(process_id, inside_sub_process=inside_sub_process, rounds=120))
    calls: list[tuple[str, Any]] = []

    def open_(job: Job) -> dict[str, Any]:
        calls.append(("open", job.variables.get("count")))
        return {"batch": "b-1"}

    def close(job: Job) -> dict[str, Any]:
        calls.append(("close", job.variables.get("batch")))
        return {"closed": True}

    jobs = {
        "tick": lambda job: {"count": job.variables["count"] + 1},
        "open": open_,
        "close": close,
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs, continue_as_new_after_events=200):
        handle = await start_process(client, task_queue, process_id, count=0)
        result = await asyncio.wait_for(handle.result(), 120)
        history = await handle.fetch_history()
    assert history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    assert calls == [("open", 0), ("close", "b-1")]
    assert result["count"] == 120 and result["closed"] is True


APPROVAL = model(
    "listened-approval",
    events("start", kind="startEvent"),
    extended("userTask", "approve", listeners(("start", "slow-start"))),
    events("end"),
    chain("start", "approve", "end"),
)


async def test_a_user_task_is_not_completed_before_its_start_listeners_are(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(APPROVAL)
    release, started = asyncio.Event(), asyncio.Event()

    async def slow_start(job: Job) -> dict[str, Any]:
        started.set()
        await release.wait()
        return {"assignee": "ann"}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"slow-start": slow_start}):
        handle = await start_process(client, task_queue, "listened-approval")
        await asyncio.wait_for(started.wait(), 30)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                COMPLETE_USER_TASK_UPDATE, {"element_id": "approve", "variables": {"early": 1}}
            )
        release.set()
        await wait_for(lambda s: "listener" not in s["active"][0]["details"], handle)
        await handle.execute_update(
            COMPLETE_USER_TASK_UPDATE, {"element_id": "approve", "variables": {"approved": 1}}
        )
        result = await asyncio.wait_for(handle.result(), 30)
    assert result == {"approved": 1}


STOPPED = model(
    "listened-terminate",
    events("start", kind="startEvent"),
    '<bpmn:parallelGateway id="fork" />',
    '<bpmn:intermediateCatchEvent id="forever"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>P30D</bpmn:timeDuration></bpmn:timerEventDefinition>"
    "</bpmn:intermediateCatchEvent>",
    events("never"),
    extended(
        "endEvent",
        "stop",
        listeners(("end", "after-stop")),
        body="<bpmn:terminateEventDefinition />",
    ),
    chain("start", "fork", "forever", "never"),
    flow("fork", "stop"),
)


async def test_a_terminate_end_event_completes_its_end_listeners_first(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(STOPPED)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"after-stop": lambda job: {"done": 1}}):
        handle = await start_process(client, task_queue, "listened-terminate")
        result = await asyncio.wait_for(handle.result(), 30)
    assert result == {"done": 1}


CHILD = model(
    "listened-child",
    events("start", kind="startEvent"),
    service("child_work"),
    events("end"),
    chain("start", "child_work", "end"),
)


@pytest.mark.parametrize("listened", [False, True])
async def test_a_call_activitys_child_variables_go_where_they_would_without_listeners(
    time_skipping_env: WorkflowEnvironment, task_queue: str, listened: bool
) -> None:
    deploy(CHILD)
    parts = [
        '<zeebe:calledElement processId="listened-child" propagateAllChildVariables="true" />',
        io_mapping({"x": "=seed"}),
        listeners(("start", "noop")) if listened else "",
    ]
    process_id = f"listened-parent-{listened}"
    deploy(
        model(
            process_id,
            events("start", kind="startEvent"),
            extended("callActivity", "call", *parts),
            events("end"),
            chain("start", "call", "end"),
        )
    )
    jobs = {"child_work": lambda job: {"x": job.variables["x"] * 2, "y": 1}, "noop": lambda job: {}}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, process_id, seed=21)
        result = await asyncio.wait_for(handle.result(), 30)
    assert result == {"seed": 21, "x": 42, "y": 1}


GATEWAY = model(
    "listened-gateway",
    events("start", kind="startEvent"),
    extended("eventBasedGateway", "which", listeners(("start", "pick-order"))),
    extended(
        "intermediateCatchEvent",
        "paid",
        listeners(("end", "paid-end")),
        body='<bpmn:messageEventDefinition messageRef="payment" />',
    ),
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


async def test_a_gateways_start_listener_sets_the_correlation_key_of_its_events(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(GATEWAY)
    order = f"order-{uuid.uuid4()}"
    jobs = {"pick-order": lambda job: {"orderId": order}, "paid-end": lambda job: {"done": 1}}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-gateway")
        await wait_for(lambda s: any(a["element_id"] == "paid" for a in s["active"]), handle)
        await publish_message(
            client, "payment-received", order, {"amount": 5}, task_queue=task_queue
        )
        result = await asyncio.wait_for(handle.result(), 30)
    assert result == {"amount": 5, "done": 1}  # the order id stayed the gateway's own


WAITING = model(
    "listened-waiting",
    events("start", kind="startEvent"),
    extended(
        "receiveTask",
        "wait_payment",
        listeners(("start", "before-wait"), ("end", "after-wait")),
        body="",
    ).replace('id="wait_payment"', 'id="wait_payment" messageRef="payment"'),
    '<bpmn:boundaryEvent id="too_late" attachedToRef="wait_payment">'
    "<bpmn:timerEventDefinition><bpmn:timeDuration>=limit</bpmn:timeDuration>"
    "</bpmn:timerEventDefinition></bpmn:boundaryEvent>",
    events("paid", "expired"),
    chain("start", "wait_payment", "paid"),
    chain("too_late", "expired"),
    extra=PAYMENT,
)


async def test_an_interrupted_element_skips_its_end_listeners_and_its_boundary_sees_its_locals(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(WAITING)
    seen = Recorder()
    jobs = {
        "before-wait": seen.returning({"orderId": "o-1", "limit": "PT3H"}),
        "after-wait": seen.returning({}),
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "listened-waiting")
        result = await asyncio.wait_for(handle.result(), 30)
        state = await handle.query(STATE_QUERY)
        history = await handle.fetch_history()
    assert list(seen) == ["before-wait"]
    (timer,) = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert timer == 3 * 3600  # the start listener's limit
    assert [e["element_id"] for e in state["completed"]][-2:] == ["too_late", "expired"]
    assert result == {}


PROCESS_LISTENED = model(
    "listened-process-incident",
    "<bpmn:extensionElements>"
    + listeners(("start", "load-settings"), retries=1)
    + "</bpmn:extensionElements>",
    events("start", kind="startEvent"),
    events("end"),
    chain("start", "end"),
)


async def test_a_process_listeners_incident_names_the_process(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(PROCESS_LISTENED)

    def load_settings(job: Job) -> dict[str, Any]:
        if not job.variables.get("configured"):
            raise RuntimeError("settings store down")
        return {"settings": "loaded"}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"load-settings": load_settings}):
        handle = await start_process(client, task_queue, "listened-process-incident")
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        (incident,) = state["incidents"]
        (active,) = state["active"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {"incident_key": incident["key"], "variables": {"configured": True}},
        )
        result = await asyncio.wait_for(handle.result(), 30)
    assert incident["element_id"] == "listened-process-incident"
    assert active["element_id"] == "listened-process-incident"
    assert active["details"] == {"listener": "start"}
    assert result == {"configured": True, "settings": "loaded"}
