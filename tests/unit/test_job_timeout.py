"""The ``jobTimeout`` task header: a worker that stops heartbeating (crashed, or a worker in
another SDK that never heartbeats) loses the job after that long instead of five minutes."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.helpers import deploy, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import chain, events, model

HEADERS = '<zeebe:taskHeaders><zeebe:header key="jobTimeout" value="{value}" /></zeebe:taskHeaders>'


def with_timeout(process_id: str, value: str) -> str:
    return model(
        process_id,
        events("start", kind="startEvent"),
        '<bpmn:serviceTask id="slow"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="silent-job" retries="3" />'
        f"{HEADERS.format(value=value)}</bpmn:extensionElements></bpmn:serviceTask>",
        events("end"),
        chain("start", "slow", "end"),
    )


async def test_a_silent_worker_loses_the_job_after_the_headers_timeout(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(with_timeout("short-job-timeout", "PT1S"))
    client = time_skipping_env.client
    attempts: list[int] = []

    @activity.defn(name="silent-job")
    async def silent_job(job: dict[str, Any]) -> dict[str, Any]:
        attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            await asyncio.sleep(30)  # never heartbeats: as if the worker hung
        return {"attempt": activity.info().attempt}

    async with (
        running_interpreter(client, task_queue),
        Worker(client, task_queue="silent-job", activities=[silent_job]),
    ):
        handle = await start_process(client, task_queue, "short-job-timeout")
        result = await asyncio.wait_for(handle.result(), 20)
    assert result == {"attempt": 2}
    assert attempts == [1, 2]


async def test_a_job_timeout_that_is_not_a_duration_is_an_incident_naming_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(with_timeout("bad-job-timeout", "ten minutes"))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "bad-job-timeout")
        state = await wait_for(lambda s: s["incidents"], handle)
        await handle.terminate("test over")
    (incident,) = state["incidents"]
    assert incident["element_id"] == "slow"
    assert "jobTimeout" in incident["message"] and "'ten minutes'" in incident["message"]
