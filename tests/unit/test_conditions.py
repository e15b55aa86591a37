"""Conditional events (Camunda 7): catch events, boundary events and event sub-processes wait
until their condition holds, re-evaluated whenever the instance's variables change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities import Job, StartConditionError, evaluate_start_conditions
from tests.helpers import deploy, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import chain, condition, conditionally_started, events, model, service
from workflows import SET_VARIABLES_UPDATE, STATE_QUERY


def waiting_at(element_id: str) -> Any:
    return lambda state: any(e["element_id"] == element_id for e in state["active"])


def path(state: dict[str, Any]) -> list[str]:
    return [e["element_id"] for e in state["completed"]]


async def test_a_conditional_catch_event_waits_until_its_condition_holds(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        model(
            "wait-for-approval",
            events("start", kind="startEvent"),
            f'<bpmn:intermediateCatchEvent id="approved">{condition("=approved = true")}'
            "</bpmn:intermediateCatchEvent>",
            events("end"),
            chain("start", "approved", "end"),
        )
    )
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "wait-for-approval", approved=False)
        await wait_for(waiting_at("approved"), handle)
        await handle.execute_update(SET_VARIABLES_UPDATE, {"note": "unrelated"})
        assert waiting_at("approved")(await handle.query(STATE_QUERY))
        await handle.execute_update(SET_VARIABLES_UPDATE, {"approved": True})
        result = await handle.result()
    assert result == {"approved": True, "note": "unrelated"}


async def test_a_conditional_boundary_interrupts_and_an_event_sub_process_runs_per_change(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        model(
            "cancel-when-asked",
            events("start", kind="startEvent"),
            service("work"),
            '<bpmn:boundaryEvent id="withdrawn" attachedToRef="work">'
            f"{condition('=withdrawn = true')}</bpmn:boundaryEvent>",
            events("done", "cancelled"),
            chain("start", "work", "done"),
            chain("withdrawn", "cancelled"),
            '<bpmn:subProcess id="on_priority" triggeredByEvent="true">'
            '<bpmn:startEvent id="priority_start" isInterrupting="false">'
            f"{condition('=priority &gt; 5')}</bpmn:startEvent>",
            service("page"),
            events("paged"),
            chain("priority_start", "page", "paged"),
            "</bpmn:subProcess>",
        )
    )
    cancelled = asyncio.Event()
    pages: list[int] = []

    async def work(job: Job) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    def page(job: Job) -> dict[str, Any]:
        pages.append(job.variables["priority"])
        return {}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"work": work, "page": page}):
        handle = await start_process(client, task_queue, "cancel-when-asked", priority=1)
        await wait_for(waiting_at("work"), handle)
        await handle.execute_update(SET_VARIABLES_UPDATE, {"priority": 7})
        await wait_for(lambda s: path(s).count("paged") == 1, handle)
        await handle.execute_update(SET_VARIABLES_UPDATE, {"priority": 9})  # still true
        await handle.execute_update(SET_VARIABLES_UPDATE, {"priority": 2})
        await handle.execute_update(SET_VARIABLES_UPDATE, {"priority": 8})  # true again
        await wait_for(lambda s: path(s).count("paged") == 2, handle)
        await handle.execute_update(SET_VARIABLES_UPDATE, {"withdrawn": True})
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert pages == [7, 8], "once per change to true"
    assert path(state)[-2:] == ["withdrawn", "cancelled"]
    assert "done" not in path(state)
    await asyncio.wait_for(cancelled.wait(), 5)


async def test_evaluating_start_conditions_starts_the_processes_whose_condition_holds(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Camunda 7's evaluateStartConditions: each process whose conditional start event holds
    on the variables starts with them; the others do not."""
    big = deploy(conditionally_started("big-order", "${amount &gt; 100}"))[0]
    small = deploy(conditionally_started("small-order", "=amount &lt;= 100"))[0]
    handled: list[str] = []
    jobs = {
        "big-order-handle": lambda job: handled.append("big") or {"handled": True},
        "small-order-handle": lambda job: handled.append("small") or {"handled": True},
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        [started] = await evaluate_start_conditions(
            client, [big, small], {"amount": 150}, task_queue=task_queue
        )
        assert await started.result() == {"amount": 150, "handled": True}
        assert (
            await evaluate_start_conditions(
                client, [big, small], {"amount": 5}, process_id="big-order", task_queue=task_queue
            )
            == []
        )
    assert handled == ["big"]


async def test_start_conditions_that_cannot_decide_start_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    broken = deploy(conditionally_started("broken-condition", "=for i in 1..n return i"))[0]
    plain = deploy(model("plain", events("s", kind="startEvent"), events("e"), chain("s", "e")))[0]
    client = time_skipping_env.client
    with pytest.raises(StartConditionError, match="start event 'when' of 'broken-condition'"):
        await evaluate_start_conditions(client, [broken], {})
    with pytest.raises(StartConditionError, match="has no conditional start event"):
        await evaluate_start_conditions(client, [plain], {"n": 1})
