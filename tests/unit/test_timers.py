"""Timers on the time-skipping server: catch events, boundary events, event sub-processes.

The test server skips time only while no activity is outstanding, so the tests where a job is
pending while a timer fires use timers of a second or two of real time.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import Job, job_activity
from tests.helpers import deploy, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import chain, events, flow, model, service
from workflows import RESOLVE_INCIDENT_UPDATE, STATE_QUERY

OWN_TIME_SKIPPING_SERVER = True  # these tests move the clock


def timer(kind: str, value: str) -> str:
    tag = {"duration": "timeDuration", "date": "timeDate", "cycle": "timeCycle"}[kind]
    return (
        f"<bpmn:timerEventDefinition><bpmn:{tag}>{value}</bpmn:{tag}></bpmn:timerEventDefinition>"
    )


def boundary(element_id: str, attached_to: str, definition: str, interrupting: bool) -> str:
    return (
        f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}" '
        f'cancelActivity="{str(interrupting).lower()}">{definition}</bpmn:boundaryEvent>'
    )


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def completed_at(state: dict[str, Any], element_id: str) -> list[datetime]:
    return [moment(e["completed_at"]) for e in state["completed"] if e["element_id"] == element_id]


WAIT_30_DAYS = model(
    "wait-30-days",
    events("start", kind="startEvent"),
    f'<bpmn:intermediateCatchEvent id="wait">{timer("duration", "P30D")}'
    "</bpmn:intermediateCatchEvent>",
    events("end"),
    chain("start", "wait", "end"),
)


async def test_a_30_day_timer_completes_on_skipped_time(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(WAIT_30_DAYS)
    async with running_interpreter(time_skipping_env.client, task_queue):
        handle = await start_process(time_skipping_env.client, task_queue, "wait-30-days")
        await handle.result()
        state = await handle.query(STATE_QUERY)
    [started] = completed_at(state, "start")
    [waited] = completed_at(state, "wait")
    assert waited - started >= timedelta(days=30)


REMINDERS = model(
    "reminders",
    events("start", kind="startEvent"),
    service("work"),
    boundary("remind", "work", timer("cycle", "R3/PT1S"), interrupting=False),
    service("send_reminder"),
    events("end", "reminded"),
    chain("start", "work", "end"),
    chain("remind", "send_reminder", "reminded"),
)


async def test_a_non_interrupting_cycle_fires_exactly_its_repetitions_while_a_job_is_pending(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(REMINDERS)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"send_reminder": lambda job: {}}):
        handle = await start_process(time_skipping_env.client, task_queue, "reminders")
        await wait_for(lambda s: len(completed_at(s, "reminded")) == 3, handle)
        await asyncio.sleep(1.5)  # room for a fourth: none comes
        async with Worker(
            client, task_queue="work", activities=[job_activity("work", lambda job: {"ok": 1})]
        ):
            await handle.result()
        state = await handle.query(STATE_QUERY)
    fired = completed_at(state, "remind")
    assert len(fired) == 3
    assert completed_at(state, "end"), "the job's own path continued"


TIMEOUT = model(
    "timeout",
    events("start", kind="startEvent"),
    service("work"),
    boundary("too_slow", "work", timer("duration", "=timeout"), interrupting=True),
    events("end", "timed_out"),
    chain("start", "work", "end"),
    flow("too_slow", "timed_out"),
)


async def test_an_interrupting_timer_cancels_the_pending_job(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(TIMEOUT)
    async with running_interpreter(time_skipping_env.client, task_queue):
        handle = await start_process(
            time_skipping_env.client, task_queue, "timeout", timeout="PT1S"
        )
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert [e["element_id"] for e in state["completed"]][-2:] == ["too_slow", "timed_out"]
    assert {e["state"] for e in state["completed"] if e["element_id"] == "work"} == {"terminated"}


async def test_a_timer_value_that_is_not_a_duration_is_an_incident_naming_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(TIMEOUT)
    async with running_interpreter(time_skipping_env.client, task_queue, {"work": lambda j: {}}):
        handle = await start_process(
            time_skipping_env.client, task_queue, "timeout", timeout="one hour"
        )
        state = await wait_for(lambda s: s["incidents"], handle)
        incident = state["incidents"][0]
        assert incident["type"] == "EXTRACT_VALUE_ERROR"
        assert "too_slow" in incident["message"]
        assert "'one hour'" in incident["message"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {"incident_key": incident["key"], "variables": {"timeout": "PT5M"}},
        )
        await handle.result()


PROCESS_DEADLINE = model(
    "deadline",
    events("start", kind="startEvent"),
    service("work"),
    events("end"),
    chain("start", "work", "end"),
    '<bpmn:subProcess id="expired" triggeredByEvent="true">',
    f'<bpmn:startEvent id="deadline_start">{timer("duration", "PT2S")}</bpmn:startEvent>',
    service("escalate"),
    events("expired_end"),
    chain("deadline_start", "escalate", "expired_end"),
    "</bpmn:subProcess>",
)


async def test_an_interrupting_timer_event_sub_process_cancels_the_running_job(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(PROCESS_DEADLINE)
    started, release = asyncio.Event(), asyncio.Event()

    async def work(job: Job) -> dict[str, Any]:
        started.set()
        await release.wait()
        return {"late": True}

    jobs = {"work": work, "escalate": lambda job: {"escalated": True}}
    async with running_interpreter(time_skipping_env.client, task_queue, jobs):
        handle = await start_process(time_skipping_env.client, task_queue, "deadline")
        await asyncio.wait_for(started.wait(), 10)
        result = await handle.result()  # the 2-second deadline passes in real time
        release.set()  # the job's late result goes nowhere
        state = await handle.query(STATE_QUERY)
    assert result["escalated"] is True
    assert "late" not in result
    assert "end" not in [e["element_id"] for e in state["completed"]]
    assert {e["state"] for e in state["completed"] if e["element_id"] == "work"} == {"terminated"}
