"""Long loops continue-as-new at a safe point with their state, far from history limits."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities import Job
from tests.helpers import deploy, running_interpreter
from tests.helpers.bpmn import chain, events, flow, model, service
from workflows import STATE_QUERY

ITERATIONS = 10_000

LOOP = model(
    "long-loop",
    events("start", kind="startEvent"),
    '<bpmn:exclusiveGateway id="again" default="again_done" />',
    service("tick"),
    events("done"),
    chain("start", "again"),
    flow("again", "tick", f"=count &lt; {ITERATIONS}"),
    flow("again", "done", flow_id="again_done"),
    chain("tick", "again"),
)


async def test_a_10000_iteration_loop_continues_as_new_with_its_state(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(LOOP)
    client = time_skipping_env.client

    def tick(job: Job) -> dict[str, Any]:
        return {"count": job.variables["count"] + 1}

    async with running_interpreter(
        client, task_queue, {"tick": tick}, continue_as_new_after_events=2_000
    ):
        handle = await client.start_workflow(
            "long-loop",
            {"count": 0, "businessKey": "loop-1"},
            id=f"loop-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
        history = await client.get_workflow_handle(handle.id).fetch_history()
    assert result["count"] == ITERATIONS
    assert result["businessKey"] == "loop-1"
    assert (
        state["completed_count"] == 2 * ITERATIONS + 3
    )  # start, (gateway, tick) * N, gateway, end
    assert len(state["completed"]) <= 1_000
    assert len(history.events) < 2_500, "the last run's history stays short"
    first = history.events[0].workflow_execution_started_event_attributes
    assert first.continued_execution_run_id, "the last run continued from an earlier one"
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


NESTED_LOOP = model(
    "nested-loop",
    events("start", kind="startEvent"),
    '<bpmn:subProcess id="outer">',
    events("outer_start", kind="startEvent"),
    '<bpmn:subProcess id="inner">',
    events("inner_start", kind="startEvent"),
    '<bpmn:exclusiveGateway id="again" default="again_done" />',
    service("tick"),
    events("inner_end"),
    chain("inner_start", "again"),
    flow("again", "tick", "=count &lt; 600"),
    flow("again", "inner_end", flow_id="again_done"),
    chain("tick", "again"),
    "</bpmn:subProcess>",
    events("outer_end"),
    chain("outer_start", "inner", "outer_end"),
    "</bpmn:subProcess>",
    '<bpmn:boundaryEvent id="too_long" attachedToRef="outer">'
    "<bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration>"
    "</bpmn:timerEventDefinition></bpmn:boundaryEvent>",
    events("done", "timed_out"),
    chain("start", "outer", "done"),
    chain("too_long", "timed_out"),
)


async def test_a_loop_inside_nested_sub_processes_continues_as_new_inside_them(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(NESTED_LOOP)
    client = time_skipping_env.client

    def tick(job: Job) -> dict[str, Any]:
        return {"count": job.variables["count"] + 1}

    async with running_interpreter(
        client, task_queue, {"tick": tick}, continue_as_new_after_events=300
    ):
        handle = await client.start_workflow(
            "nested-loop", {"count": 0}, id=f"nested-{uuid.uuid4()}", task_queue=task_queue
        )
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
        history = await client.get_workflow_handle(handle.id).fetch_history()
    assert result["count"] == 600
    completed = [e["element_id"] for e in state["completed"]]
    assert completed[-3:] == ["outer_end", "outer", "done"]
    assert completed.count("outer") == 1 and completed.count("inner") == 1
    assert "too_long" not in completed
    assert state["completed_count"] == 2 * 600 + 9
    first = history.events[0].workflow_execution_started_event_attributes
    assert first.continued_execution_run_id, "it continued as new inside the sub-processes"
    assert len(history.events) < 700


STANDARD_LOOP = model(
    "standard-loop",
    events("start", kind="startEvent"),
    '<bpmn:subProcess id="around">',
    events("around_start", kind="startEvent"),
    service(
        "tick",
        extra="<bpmn:standardLoopCharacteristics>"
        "<bpmn:loopCondition>=count &lt; 1500</bpmn:loopCondition>"
        "</bpmn:standardLoopCharacteristics>",
    ),
    events("around_end"),
    chain("around_start", "tick", "around_end"),
    "</bpmn:subProcess>",
    events("done"),
    chain("start", "around", "done"),
)


async def test_a_standard_loop_continues_as_new_between_iterations(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(STANDARD_LOOP)
    client = time_skipping_env.client
    counters: list[int] = []

    def tick(job: Job) -> dict[str, Any]:
        counters.append(job.variables["loopCounter"])
        return {"count": job.variables["count"] + 1}

    async with running_interpreter(
        client, task_queue, {"tick": tick}, continue_as_new_after_events=400
    ):
        handle = await client.start_workflow(
            "standard-loop", {"count": 0}, id=f"standard-{uuid.uuid4()}", task_queue=task_queue
        )
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
        history = await client.get_workflow_handle(handle.id).fetch_history()
    assert result["count"] == 1500
    assert counters == list(range(1, 1501)), "loopCounter goes on across runs"
    # start, around_start, 1,500 iterations and the loop itself, around_end, around, done.
    assert state["completed_count"] == 1506
    assert [e["element_id"] for e in state["completed"]][-3:] == ["around_end", "around", "done"]
    assert history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    assert len(history.events) < 600


SEQUENTIAL_ITEMS = model(
    "many-items",
    events("start", kind="startEvent"),
    service(
        "square",
        extra='<bpmn:multiInstanceLoopCharacteristics isSequential="true">'
        "<bpmn:extensionElements>"
        '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" '
        'outputCollection="squares" outputElement="=squared" />'
        "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>",
    ),
    events("done"),
    chain("start", "square", "done"),
)


async def test_a_sequential_multi_instance_continues_as_new_between_items(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(SEQUENTIAL_ITEMS)
    client = time_skipping_env.client
    seen: list[int] = []

    def square(job: Job) -> dict[str, Any]:
        seen.append(job.variables["loopCounter"])
        return {"squared": job.variables["item"] ** 2}

    async with running_interpreter(
        client, task_queue, {"square": square}, continue_as_new_after_events=400
    ):
        handle = await client.start_workflow(
            "many-items",
            {"items": list(range(1200))},
            id=f"items-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        result = await handle.result()
        history = await client.get_workflow_handle(handle.id).fetch_history()
    assert result["squares"] == [n * n for n in range(1200)]
    assert seen == list(range(1, 1201)), "each item once, in order, across runs"
    assert history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    assert len(history.events) < 600
