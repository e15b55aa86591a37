"""BPMN flow semantics on the time-skipping server: scopes, errors, multi-instance, inclusive
gateways, script and user tasks, call activities, terminate, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from temporalio.client import (
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import translator
from activities import BpmnError, Job
from tests.helpers import deploy, problems_of, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import (
    chain,
    error,
    error_boundary,
    events,
    flow,
    io_mapping,
    model,
    service,
)
from workflows import (
    CANCEL_UPDATE,
    COMPLETE_USER_TASK_UPDATE,
    RESOLVE_INCIDENT_UPDATE,
    STATE_QUERY,
)


def path(state: Mapping[str, Any]) -> list[str]:
    return [element["element_id"] for element in state["completed"]]


def terminated(state: Mapping[str, Any]) -> set[str]:
    return {e["element_id"] for e in state["completed"] if e["state"] == "terminated"}


async def run_to_end(
    env: WorkflowEnvironment,
    task_queue: str,
    process_id: str,
    jobs: Mapping[str, Callable[..., Any]],
    **variables: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    client = env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, process_id, **variables)
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    return result, state


async def blocked_forever(job: Job) -> dict[str, Any]:
    await asyncio.Event().wait()
    return {}


# --- scopes and errors ---------------------------------------------------------------------------

SUB_PROCESS_WITH_ERROR_BOUNDARY = model(
    "sub-error",
    events("start", kind="startEvent"),
    '<bpmn:subProcess id="sub">',
    events("sub_start", kind="startEvent"),
    service("work", io=io_mapping(inputs={"local_amount": "=amount + 1"})),
    events("sub_end"),
    chain("sub_start", "work", "sub_end"),
    "</bpmn:subProcess>",
    error_boundary("on_error", "sub"),
    events("done", "handled"),
    chain("start", "sub", "done"),
    flow("on_error", "handled"),
)


async def test_an_error_inside_a_sub_process_is_caught_by_its_boundary_event(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(SUB_PROCESS_WITH_ERROR_BOUNDARY)
    seen: list[dict[str, Any]] = []

    def work(job: Job) -> dict[str, Any]:
        seen.append(job.variables)
        raise BpmnError("BOOM", "no luck", variables={"why": "out of stock"})

    result, state = await run_to_end(
        time_skipping_env, task_queue, "sub-error", {"work": work}, amount=1
    )
    assert seen[0]["local_amount"] == 2
    assert path(state)[-2:] == ["on_error", "handled"]
    assert {"work", "sub"} <= terminated(state)
    assert result["why"] == "out of stock"
    assert "local_amount" not in result, "input mappings are local to the task"


ERROR_EVENT_SUB_PROCESS = model(
    "error-esp",
    events("start", kind="startEvent"),
    '<bpmn:parallelGateway id="fork" />',
    service("slow"),
    service("fail"),
    events("end_slow", "end_fail"),
    chain("start", "fork", "slow", "end_slow"),
    chain("fork", "fail", "end_fail"),
    '<bpmn:subProcess id="on_error" triggeredByEvent="true">',
    '<bpmn:startEvent id="error_start"><bpmn:errorEventDefinition errorRef="e1" />'
    "</bpmn:startEvent>",
    service("compensate"),
    events("esp_end"),
    chain("error_start", "compensate", "esp_end"),
    "</bpmn:subProcess>",
    extra=error("e1", "FAILED"),
)


async def test_an_error_event_sub_process_interrupts_the_scope_and_cancels_its_jobs(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(ERROR_EVENT_SUB_PROCESS)

    def fail(job: Job) -> dict[str, Any]:
        raise BpmnError("FAILED", "payment declined")

    jobs = {"slow": blocked_forever, "fail": fail, "compensate": lambda job: {"compensated": True}}
    result, state = await run_to_end(time_skipping_env, task_queue, "error-esp", jobs)
    assert result["compensated"] is True
    assert "slow" in terminated(state)
    assert path(state)[-3:] == ["compensate", "esp_end", "on_error"]
    assert "end_slow" not in path(state)


# --- multi-instance ------------------------------------------------------------------------------


def multi_instance(sequential: bool = False, completion: str | None = None) -> str:
    condition = (
        f"<bpmn:completionCondition>{completion}</bpmn:completionCondition>" if completion else ""
    )
    loop = (
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
        "<bpmn:extensionElements>"
        '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" '
        'outputCollection="results" outputElement="=squared" />'
        f"</bpmn:extensionElements>{condition}</bpmn:multiInstanceLoopCharacteristics>"
    )
    return model(
        "mi-" + ("seq" if sequential else "par") + ("-early" if completion else ""),
        events("start", kind="startEvent"),
        service("square", extra=loop),
        events("end"),
        chain("start", "square", "end"),
    )


async def test_parallel_multi_instance_with_a_failing_item_resumes_after_the_incident(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(multi_instance())
    attempts: list[int] = []

    def square(job: Job) -> dict[str, Any]:
        item = job.variables["item"]
        attempts.append(item)
        if item == 2 and attempts.count(2) == 1:
            raise RuntimeError("flaky backend")
        return {"squared": item * item}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"square": square}):
        handle = await start_process(client, task_queue, "mi-par", items=[1, 2, 3])
        state = await wait_for(lambda s: s["incidents"], handle)
        incident = state["incidents"][0]
        assert incident["element_id"] == "square"
        assert "flaky backend" in incident["message"]
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, {"incident_key": incident["key"]})
        result = await handle.result()
    assert result["results"] == [1, 4, 9]
    assert "squared" not in result, "each item's output element stays local to the item"
    assert "item" not in result


async def test_sequential_multi_instance_runs_items_in_order(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(multi_instance(sequential=True))
    order: list[int] = []

    def square(job: Job) -> dict[str, Any]:
        order.append(job.variables["loopCounter"])
        return {"squared": job.variables["item"] ** 2}

    result, _ = await run_to_end(
        time_skipping_env, task_queue, "mi-seq", {"square": square}, items=[3, 4, 5]
    )
    assert order == [1, 2, 3]
    assert result["results"] == [9, 16, 25]


async def test_a_completion_condition_cancels_the_remaining_instances(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(multi_instance(completion="=numberOfCompletedInstances &gt;= 2"))

    async def square(job: Job) -> dict[str, Any]:
        if job.variables["item"] > 2:
            await asyncio.Event().wait()
        return {"squared": job.variables["item"] ** 2}

    result, state = await run_to_end(
        time_skipping_env, task_queue, "mi-par-early", {"square": square}, items=[1, 2, 3, 4]
    )
    assert result["results"] == [1, 4, None, None]
    states = [e["state"] for e in state["completed"] if e["element_id"] == "square"]
    assert states.count("terminated") == 2


async def test_a_multi_instance_collection_that_is_not_a_list_is_an_incident(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(multi_instance(sequential=True))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"square": lambda job: {"squared": 0}}):
        handle = await start_process(client, task_queue, "mi-seq", items="oops")
        state = await wait_for(lambda s: s["incidents"], handle)
        incident = state["incidents"][0]
        assert incident["type"] == "EXTRACT_VALUE_ERROR"
        assert "expected a list" in incident["message"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE, {"incident_key": incident["key"], "variables": {"items": [2]}}
        )
        assert (await handle.result())["results"] == [0]


# --- inclusive gateway ---------------------------------------------------------------------------

INCLUSIVE = model(
    "inclusive",
    events("start", kind="startEvent"),
    '<bpmn:inclusiveGateway id="fork" />',
    '<bpmn:subProcess id="sub_a">',
    events("a_start", kind="startEvent"),
    service("a"),
    events("a_end"),
    chain("a_start", "a", "a_end"),
    "</bpmn:subProcess>",
    service("b"),
    service("c"),
    '<bpmn:inclusiveGateway id="join" />',
    service("after"),
    events("end"),
    flow("start", "fork"),
    flow("fork", "sub_a", "=wantA"),
    flow("fork", "b", "=wantB"),
    flow("fork", "c", "=wantC"),
    chain("sub_a", "join"),
    chain("b", "join"),
    chain("c", "join"),
    chain("join", "after", "end"),
)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [({"wantA": True, "wantB": False, "wantC": True}, ["a", "c"]), ({"wantB": True}, ["b"])],
)
async def test_an_inclusive_join_after_a_sub_process_waits_only_for_taken_branches(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    wanted: dict[str, bool],
    expected: list[str],
) -> None:
    deploy(INCLUSIVE)
    ran: list[str] = []

    def handler(name: str) -> Callable[[Job], dict[str, Any]]:
        def run(job: Job) -> dict[str, Any]:
            ran.append(name)
            return {}

        return run

    variables = {"wantA": False, "wantB": False, "wantC": False, **wanted}
    jobs = {name: handler(name) for name in ("a", "b", "c", "after")}
    _, state = await run_to_end(time_skipping_env, task_queue, "inclusive", jobs, **variables)
    assert sorted(ran[:-1]) == expected
    assert ran[-1] == "after"
    assert path(state).count("join") == 1
    assert path(state).count("end") == 1


# --- script and user tasks -----------------------------------------------------------------------

SCRIPT_AND_USER_TASK = model(
    "approval",
    events("start", kind="startEvent"),
    '<bpmn:scriptTask id="total"><bpmn:extensionElements>'
    '<zeebe:script expression="=sum(for line in lines return line.price)" '
    'resultVariable="total" /></bpmn:extensionElements></bpmn:scriptTask>',
    '<bpmn:userTask id="approve"><bpmn:extensionElements>'
    '<zeebe:assignmentDefinition assignee="=owner" candidateGroups="sales, finance" />'
    "</bpmn:extensionElements></bpmn:userTask>",
    events("end"),
    chain("start", "total", "approve", "end"),
)


async def test_a_user_task_is_completed_by_the_update(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(SCRIPT_AND_USER_TASK)
    client = time_skipping_env.client
    lines = [{"price": 10}, {"price": 32}]
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "approval", lines=lines, owner="ann")
        state = await wait_for(lambda s: s["active"], handle)
        assert state["variables"]["total"] == 42
        [active] = state["active"]
        assert active["element_id"] == "approve"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(COMPLETE_USER_TASK_UPDATE, {"element_id": "total"})
        assert "no active user task 'total'" in str(refused.value.cause)
        key = await handle.execute_update(
            COMPLETE_USER_TASK_UPDATE, {"element_id": "approve", "variables": {"ok": True}}
        )
        assert key == active["key"]
        result = await handle.result()
    assert result["ok"] is True


async def test_a_user_task_is_a_job_with_its_assignment_in_headers(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(SCRIPT_AND_USER_TASK)
    received: list[Job] = []

    def task_list(job: Job) -> dict[str, Any]:
        received.append(job)
        return {"ok": "from the task list"}

    jobs = {"io.camunda.zeebe:userTask": task_list}
    result, _ = await run_to_end(
        time_skipping_env, task_queue, "approval", jobs, lines=[], owner="bob"
    )
    assert result["ok"] == "from the task list"
    headers = received[0].headers
    assert headers["io.camunda.zeebe:assignee"] == "bob"
    assert "sales" in headers["io.camunda.zeebe:candidateGroups"]


# --- call activities -----------------------------------------------------------------------------

CHILD = model(
    "child",
    events("start", kind="startEvent"),
    service("child_work"),
    events("end"),
    chain("start", "child_work", "end"),
)
PARENT = model(
    "parent",
    events("start", kind="startEvent"),
    '<bpmn:callActivity id="call"><bpmn:extensionElements>'
    '<zeebe:calledElement processId="child" propagateAllChildVariables="true" />'
    "</bpmn:extensionElements></bpmn:callActivity>",
    error_boundary("child_failed", "call", "e1"),
    events("end", "failed_end"),
    chain("start", "call", "end"),
    flow("child_failed", "failed_end"),
    extra=error("e1", "CHILD_ERROR"),
)


async def test_a_call_activity_passes_variables_in_and_out(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CHILD)
    deploy(PARENT)

    def child_work(job: Job) -> dict[str, Any]:
        return {"doubled": job.variables["x"] * 2}

    result, state = await run_to_end(
        time_skipping_env, task_queue, "parent", {"child_work": child_work}, x=21
    )
    assert result["doubled"] == 42
    assert path(state)[-1] == "end"


async def test_a_bpmn_error_of_the_child_is_caught_by_the_call_activity_boundary(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CHILD)
    deploy(PARENT)

    def child_work(job: Job) -> dict[str, Any]:
        raise BpmnError("CHILD_ERROR", "the child gave up")

    _, state = await run_to_end(
        time_skipping_env, task_queue, "parent", {"child_work": child_work}, x=1
    )
    assert path(state)[-2:] == ["child_failed", "failed_end"]


async def test_a_child_incident_is_resolved_in_the_child_and_the_parent_continues(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CHILD)
    deploy(PARENT)
    calls: list[int] = []

    def child_work(job: Job) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database down")
        return {"done": True}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"child_work": child_work}):
        parent = await start_process(client, task_queue, "parent", x=1)
        parent_state = await wait_for(lambda s: s["active"], parent)
        child_id = parent_state["active"][0]["details"]["child_workflow_id"]
        child = client.get_workflow_handle(child_id)
        child_state = await wait_for(lambda s: s["incidents"], child)
        assert "database down" in child_state["incidents"][0]["message"]
        await child.execute_update(
            RESOLVE_INCIDENT_UPDATE, {"incident_key": child_state["incidents"][0]["key"]}
        )
        assert (await parent.result())["done"] is True


async def test_a_call_to_an_unknown_process_is_an_incident_on_the_call_activity(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    unknown = PARENT.replace('processId="child"', 'processId="=childName"').replace(
        'id="parent"', 'id="parent-dynamic"'
    )
    deploy(unknown)
    deploy(CHILD)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"child_work": lambda job: {}}):
        handle = await start_process(
            client, task_queue, "parent-dynamic", childName="no-such-process"
        )
        state = await wait_for(lambda s: s["incidents"], handle)
        incident = state["incidents"][0]
        assert incident["type"] == "CALLED_ELEMENT_FAILED"
        assert "no-such-process" in incident["message"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {"incident_key": incident["key"], "variables": {"childName": "child"}},
        )
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert path(state)[-1] == "end"


# --- terminate and cancel ------------------------------------------------------------------------

TERMINATE = model(
    "terminate",
    events("start", kind="startEvent"),
    '<bpmn:parallelGateway id="fork" />',
    service("slow"),
    events("slow_end"),
    '<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition /></bpmn:endEvent>',
    chain("start", "fork", "slow", "slow_end"),
    chain("fork", "stop"),
)


async def test_a_terminate_end_event_ends_the_process_and_its_other_tokens(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(TERMINATE)
    _, state = await run_to_end(
        time_skipping_env, task_queue, "terminate", {"slow": blocked_forever}
    )
    assert "slow" in terminated(state)
    assert "slow_end" not in path(state)
    assert "stop" in path(state) and "stop" not in terminated(state)  # it completed, as in Zeebe


CANCELABLE = model(
    "cancelable",
    events("start", kind="startEvent"),
    service("slow"),
    events("end"),
    chain("start", "slow", "end"),
)


async def test_the_cancel_update_cancels_running_jobs_and_ends_the_instance(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CANCELABLE)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"slow": blocked_forever}):
        handle = await start_process(client, task_queue, "cancelable")
        await wait_for(lambda s: s["active"], handle)
        await handle.execute_update(CANCEL_UPDATE, {"reason": "customer withdrew"})
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        state = await handle.query(STATE_QUERY)
    assert isinstance(failure.value.cause, CancelledError)
    assert state["status"] == "canceled"
    assert "slow" in terminated(state)
    with pytest.raises(RPCError, match=r"not found|completed"):  # a closed workflow takes none
        await handle.execute_update(CANCEL_UPDATE, {"reason": "again"})


# --- variables reaching a job, loops ------------------------------------------------------------

FETCH = model(
    "fetch",
    events("start", kind="startEvent"),
    service(
        "lean",
        io='<zeebe:taskHeaders><zeebe:header key="fetchVariables" value="orderId" />'
        "</zeebe:taskHeaders>" + io_mapping(inputs={"total": "=amount * 2"}),
    ),
    events("end"),
    chain("start", "lean", "end"),
)


async def test_a_fetch_variables_header_keeps_other_variables_out_of_the_job(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(FETCH)
    seen: list[dict[str, Any]] = []

    def lean(job: Job) -> dict[str, Any]:
        seen.append(job.variables)
        return {}

    await run_to_end(
        time_skipping_env, task_queue, "fetch", {"lean": lean}, orderId=1, amount=2, blob="x" * 999
    )
    assert seen == [{"orderId": 1, "total": 4}]


STANDARD_LOOP = model(
    "standard-loop",
    events("start", kind="startEvent"),
    service(
        "poll",
        extra='<bpmn:standardLoopCharacteristics loopMaximum="5">'
        "<bpmn:loopCondition>=not(ready)</bpmn:loopCondition>"
        "</bpmn:standardLoopCharacteristics>",
    ),
    events("end"),
    chain("start", "poll", "end"),
)


async def test_a_standard_loop_repeats_until_its_condition_fails(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(STANDARD_LOOP)
    counters: list[int] = []

    def poll(job: Job) -> dict[str, Any]:
        counters.append(job.variables["loopCounter"])
        return {"ready": len(counters) == 3}

    result, _ = await run_to_end(
        time_skipping_env, task_queue, "standard-loop", {"poll": poll}, ready=False
    )
    assert counters == [1, 2, 3]
    assert result["ready"] is True


async def test_a_none_throw_events_outputs_see_its_inputs_which_stay_local(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Zeebe: a none intermediate throw event's input mappings are its local variables."""
    throw = (
        '<bpmn:intermediateThrowEvent id="compute"><bpmn:extensionElements>'
        + io_mapping(inputs={"net": "=gross - 10"}, outputs={"total": "=net * 2"})
        + "</bpmn:extensionElements></bpmn:intermediateThrowEvent>"
    )
    deploy(
        model(
            "none-throw",
            events("start", kind="startEvent"),
            throw,
            events("end"),
            chain("start", "compute", "end"),
        )
    )
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "none-throw", gross=30)
        assert await handle.result() == {"gross": 30, "total": 40}


def mapped(tag: str, element_id: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    """``<bpmn:{tag}>`` carrying Zeebe input and output mappings (not closed)."""
    return (
        f'<bpmn:{tag} id="{element_id}"><bpmn:extensionElements>'
        f"{io_mapping(inputs=inputs, outputs=outputs)}</bpmn:extensionElements>"
    )


async def test_tasks_sub_processes_and_start_events_apply_their_mappings(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Zeebe applies variable mappings on every flow node: a plain task that only maps, a
    sub-process whose inputs are its own variables, a start event's outputs."""
    deploy(
        model(
            "mapped-everywhere",
            mapped("startEvent", "start", {}, {"received": "=gross"}) + "</bpmn:startEvent>",
            mapped("task", "net", {"fee": "=10"}, {"net": "=gross - fee"}) + "</bpmn:task>",
            mapped("subProcess", "sub", {"limit": "=net * 2"}, {"doubled": "=limit"}),
            events("sub_start", kind="startEvent"),
            service("check"),
            events("sub_end"),
            chain("sub_start", "check", "sub_end"),
            "</bpmn:subProcess>",
            events("end"),
            chain("start", "net", "sub", "end"),
        )
    )
    seen: list[dict[str, Any]] = []

    def check(job: Job) -> dict[str, Any]:
        seen.append(dict(job.variables))
        return {"checked": True}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"check": check}):
        handle = await start_process(client, task_queue, "mapped-everywhere", gross=30)
        result = await handle.result()
    assert seen == [{"gross": 30, "received": 30, "net": 20, "limit": 40}]
    # fee and limit stayed local to their elements; checked propagated past the sub-process
    assert result == {"gross": 30, "received": 30, "net": 20, "doubled": 40, "checked": True}


@pytest.mark.parametrize(
    ("element", "message"),
    [
        (
            mapped("exclusiveGateway", "x", {"a": "=1"}, {}) + "</bpmn:exclusiveGateway>",
            "input mappings are not supported on exclusiveGateway elements",
        ),
        (
            mapped("endEvent", "x", {}, {"a": "=1"}) + "</bpmn:endEvent>",
            "output mappings are not supported on endEvent elements",
        ),
        (
            mapped("intermediateCatchEvent", "x", {"a": "=1"}, {})
            + "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration>"
            "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
            "input mappings are not supported on intermediateCatchEvent elements",
        ),
    ],
)
def test_mappings_nothing_would_apply_are_refused(element: str, message: str) -> None:
    xml = model("unmapped", events("start", kind="startEvent"), element, chain("start", "x"))
    [problem] = problems_of(xml)
    assert problem.element_id == "x"
    assert message in problem.message


LINKED = model(
    "linked",
    events("start", kind="startEvent"),
    service("before"),
    '<bpmn:intermediateThrowEvent id="jump"><bpmn:linkEventDefinition name="page2" />'
    "</bpmn:intermediateThrowEvent>",
    '<bpmn:intermediateCatchEvent id="landing"><bpmn:linkEventDefinition name="page2" />'
    "</bpmn:intermediateCatchEvent>",
    service("after"),
    events("end"),
    chain("start", "before", "jump"),
    chain("landing", "after", "end"),
)


async def test_a_link_throw_event_goes_on_at_its_catch_event(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(LINKED)
    ran: list[str] = []
    jobs = {name: (lambda job, name=name: ran.append(name)) for name in ("before", "after")}
    async with running_interpreter(time_skipping_env.client, task_queue, jobs):
        handle = await start_process(time_skipping_env.client, task_queue, "linked")
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert ran == ["before", "after"]
    path = [e["element_id"] for e in state["completed"]]
    assert path == ["start", "before", "jump", "landing", "after", "end"]


THROWN = {
    "signal": '<bpmn:signalEventDefinition signalRef="sig" />',
    "escalation": '<bpmn:escalationEventDefinition escalationRef="esc" />',
    "link": '<bpmn:linkEventDefinition name="on" />',
}
LISTENER = (
    '<zeebe:executionListeners><zeebe:executionListener eventType="start" type="on_start" />'
    "</zeebe:executionListeners>"
)
DEFINITIONS = '<bpmn:signal id="sig" name="ping" /><bpmn:escalation id="esc" escalationCode="UP" />'


@pytest.mark.parametrize(
    ("kind", "listened"),
    [(kind, False) for kind in sorted(THROWN)] + [("escalation", True), ("link", True)],
)
async def test_a_throw_events_output_mappings_apply_once_it_has_thrown(
    time_skipping_env: WorkflowEnvironment, task_queue: str, kind: str, listened: bool
) -> None:
    landing = (
        '<bpmn:intermediateCatchEvent id="landing"><bpmn:linkEventDefinition name="on" />'
        "</bpmn:intermediateCatchEvent>"
    )
    xml = model(
        f"throw-{kind}",
        events("start", kind="startEvent"),
        '<bpmn:intermediateThrowEvent id="throw"><bpmn:extensionElements>'
        + io_mapping({"local": "=n + 1"}, {"thrown": "=local * 10"})
        + (LISTENER if listened else "")
        + f"</bpmn:extensionElements>{THROWN[kind]}</bpmn:intermediateThrowEvent>",
        landing if kind == "link" else "",
        events("end"),
        chain("start", "throw") + chain("landing" if kind == "link" else "throw", "end"),
        extra=DEFINITIONS,
    )
    deploy(xml)
    jobs = {"on_start": lambda job: None}
    async with running_interpreter(time_skipping_env.client, task_queue, jobs):
        handle = await start_process(time_skipping_env.client, task_queue, f"throw-{kind}", n=1)
        assert await handle.result() == {"n": 1, "thrown": 20}


CAMUNDA_7_LOOP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="c7-loop" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="pick" camunda:type="external" camunda:topic="pick">
      <bpmn:multiInstanceLoopCharacteristics isSequential="true"
          camunda:collection="${items}" camunda:elementVariable="item">
        <bpmn:completionCondition>${nrOfCompletedInstances == 2}</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pick" />
    <bpmn:sequenceFlow id="f2" sourceRef="pick" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


async def test_a_camunda_7_multi_instance_has_camunda_7s_counters(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(CAMUNDA_7_LOOP)
    seen: list[tuple[Any, ...]] = []

    def pick(job: Job) -> None:
        v = job.variables
        seen.append((v["item"], v["loopCounter"], v["nrOfInstances"], v["nrOfCompletedInstances"]))

    async with running_interpreter(time_skipping_env.client, task_queue, {"pick": pick}):
        handle = await start_process(
            time_skipping_env.client, task_queue, "c7-loop", items=["a", "b", "c"]
        )
        await handle.result()
    # loopCounter counts from 0; the condition ends the loop after two of the three.
    assert seen == [("a", 0, 3, 0), ("b", 1, 3, 1)]


def failing_sub_process(catch_outputs: dict[str, str] | None) -> str:
    outputs = (
        f"<bpmn:extensionElements>{io_mapping(None, catch_outputs)}</bpmn:extensionElements>"
        if catch_outputs
        else ""
    )
    return model(
        "error-variables",
        events("start", kind="startEvent"),
        '<bpmn:subProcess id="work">'
        + events("work_start", kind="startEvent")
        + '<bpmn:endEvent id="out_of_stock"><bpmn:extensionElements>'
        + io_mapping({"reason": "=&quot;stock &quot; + sku"})
        + '</bpmn:extensionElements><bpmn:errorEventDefinition errorRef="e" /></bpmn:endEvent>'
        + chain("work_start", "out_of_stock")
        + "</bpmn:subProcess>",
        f'<bpmn:boundaryEvent id="failed" attachedToRef="work">{outputs}'
        '<bpmn:errorEventDefinition errorRef="e" /></bpmn:boundaryEvent>',
        events("end", "handled"),
        chain("start", "work", "end"),
        flow("failed", "handled"),
        extra='<bpmn:error id="e" errorCode="OUT_OF_STOCK" />',
    )


@pytest.mark.parametrize(
    ("catch_outputs", "expected"),
    [
        (None, {"sku": "A-7", "reason": "stock A-7"}),
        ({"why": "=reason"}, {"sku": "A-7", "why": "stock A-7"}),
    ],
)
async def test_an_error_end_events_input_mappings_are_the_errors_variables(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    catch_outputs: dict[str, str] | None,
    expected: dict[str, Any],
) -> None:
    """They reach its catch event: merged as they are, or through its output mappings."""
    deploy(failing_sub_process(catch_outputs))
    async with running_interpreter(time_skipping_env.client, task_queue):
        client = time_skipping_env.client
        handle = await start_process(client, task_queue, "error-variables", sku="A-7")
        assert await handle.result() == expected


@pytest.mark.parametrize(
    ("characteristics", "counters"),
    [
        ("<bpmn:loopCardinality>3</bpmn:loopCardinality>", None),
        ("<bpmn:loopCardinality>${3}</bpmn:loopCardinality>", "camunda"),
        ("<bpmn:loopCardinality>=3</bpmn:loopCardinality>", None),
    ],
)
def test_only_a_camunda_7_multi_instance_gets_camunda_7s_counters(
    characteristics: str, counters: str | None
) -> None:
    xml = model(
        "counted",
        events("start", kind="startEvent"),
        service(
            "task",
            extra=f"<bpmn:multiInstanceLoopCharacteristics>{characteristics}"
            "</bpmn:multiInstanceLoopCharacteristics>",
        ),
        events("end"),
        chain("start", "task", "end"),
    )
    [definition] = translator.compile_bytes(xml.encode(), "counted.bpmn")
    node = definition.nodes["task"]
    assert isinstance(node, translator.MultiInstanceActivity)
    assert node.multi_instance.counters == counters
