"""The job-worker SDK as activities: results, BPMN errors, failures, heartbeats."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities import BpmnError, Job, JobFailure, JobWorker, job_activity
from tests.helpers import ORDER_PROCESS, deploy, running_interpreter, wait_for

JOB_INPUT = {
    "type": "t",
    "key": "k1",
    "process_instance_id": "wf-1",
    "bpmn_process_id": "p",
    "element_id": "task",
    "element_instance_key": "3",
    "headers": {"h": "v"},
    "variables": {"x": 1},
    "retries": 3,
}


def environment(
    heartbeat_timeout: timedelta | None = None, attempt: int = 1
) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=heartbeat_timeout, attempt=attempt)
    return env


async def test_a_handler_sees_the_job_and_its_result_completes_it() -> None:
    seen: list[Job] = []

    def handler(job: Job) -> dict[str, Any]:
        seen.append(job)
        return {"y": job.variables["x"] + 1}

    result = await environment(attempt=2).run(job_activity("t", handler), JOB_INPUT)
    assert result == {"y": 2}
    (job,) = seen
    assert (job.key, job.element_id, job.headers, job.attempt) == ("k1", "task", {"h": "v"}, 2)
    assert job.retries_left == 1


async def test_a_bpmn_error_follows_the_wire_contract() -> None:
    async def handler(job: Job) -> None:
        raise BpmnError("NO_STOCK", "out of stock", {"missing": 2})

    with pytest.raises(ApplicationError) as raised:
        await environment().run(job_activity("t", handler), JOB_INPUT)
    error = raised.value
    assert (error.type, error.non_retryable) == ("BpmnError", True)
    assert error.details[0] == {
        "code": "NO_STOCK",
        "message": "out of stock",
        "variables": {"missing": 2},
    }


async def test_a_job_failure_can_stop_retries_or_set_a_backoff() -> None:
    def no_more(job: Job) -> None:
        raise JobFailure("card declined", retries=0)

    def later(job: Job) -> None:
        raise JobFailure("rate limited", retry_backoff=timedelta(seconds=30))

    with pytest.raises(ApplicationError) as stop:
        await environment().run(job_activity("t", no_more), JOB_INPUT)
    assert stop.value.non_retryable and stop.value.message == "card declined"
    with pytest.raises(ApplicationError) as backoff:
        await environment().run(job_activity("t", later), JOB_INPUT)
    assert not backoff.value.non_retryable
    assert backoff.value.next_retry_delay == timedelta(seconds=30)


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_slow_live_handler_heartbeats_to_keep_its_job(kind: str) -> None:
    beats: list[float] = []
    env = environment(heartbeat_timeout=timedelta(seconds=0.3))
    env.on_heartbeat = lambda *details: beats.append(time.monotonic())

    async def slow_async(job: Job) -> dict[str, Any]:
        await asyncio.sleep(0.5)
        return {}

    def slow_sync(job: Job) -> dict[str, Any]:
        time.sleep(0.5)  # a blocking handler runs in a thread: heartbeats go on
        return {}

    handler = slow_async if kind == "async" else slow_sync
    await env.run(job_activity("t", handler), JOB_INPUT)
    assert len(beats) >= 3


async def test_job_failure_without_retries_raises_an_incident_at_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(ORDER_PROCESS)
    attempts: list[int] = []

    def declined(job: Job) -> None:
        attempts.append(job.attempt)
        raise JobFailure("card declined", retries=0)

    client = time_skipping_env.client
    jobs = {"check-order": declined, "send-confirmation": lambda job: {}}
    async with running_interpreter(client, task_queue, jobs):
        handle = await client.start_workflow(
            "order-process", {"amount": 1}, id=f"jf-{uuid.uuid4()}", task_queue=task_queue
        )
        state = await wait_for(lambda s: s["incidents"], handle)
        await handle.terminate()
    assert attempts == [1]
    assert "card declined" in state["incidents"][0]["message"]


async def test_a_standalone_job_runs_without_a_process(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    from temporalio.client import WorkflowFailureError

    from activities import run_standalone_job

    def render(job: Job) -> dict[str, Any]:
        if job.variables.get("fail"):
            raise BpmnError("BAD_TEMPLATE")
        return {"pdf": f"invoice-{job.variables['n']}.pdf", "via": job.headers["via"]}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"render-pdf": render}):
        result = await run_standalone_job(
            client, "render-pdf", {"n": 5}, headers={"via": "test"}, task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await run_standalone_job(client, "render-pdf", {"fail": True}, task_queue=task_queue)
    assert result == {"pdf": "invoice-5.pdf", "via": "test"}
    assert "BAD_TEMPLATE" in str(failure.value.cause.cause)


async def test_a_fast_handler_sends_no_heartbeat() -> None:
    beats: list[float] = []
    env = environment(heartbeat_timeout=timedelta(seconds=0.3))
    env.on_heartbeat = lambda *details: beats.append(time.monotonic())
    await env.run(job_activity("t", lambda job: {}), JOB_INPUT)
    assert beats == []


async def test_variables_can_be_read_as_a_pydantic_model() -> None:
    class Order(BaseModel):
        x: int
        note: str = "none"

    seen: list[Order] = []

    def handler(job: Job) -> None:
        seen.append(job.variables_as(Order))

    await environment().run(job_activity("t", handler), JOB_INPUT)
    assert seen == [Order(x=1)]


async def test_a_worker_needs_a_job_type_and_a_positive_limit(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    with pytest.raises(ValueError, match="max_concurrent_jobs"):
        JobWorker(time_skipping_env.client, max_concurrent_jobs=0)
    with pytest.raises(ValueError, match="no job types"):
        await JobWorker(time_skipping_env.client).run()


async def test_stop_lets_the_jobs_in_hand_finish_before_run_returns(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    from activities import run_standalone_job

    client = time_skipping_env.client
    job_type = f"stop-{uuid.uuid4()}"
    started, release = asyncio.Event(), asyncio.Event()
    worker = JobWorker(client)

    @worker.job(job_type)
    async def held(job: Job) -> dict[str, Any]:
        started.set()
        await release.wait()
        return {"finished": True}

    async with running_interpreter(client, task_queue):
        job = asyncio.create_task(run_standalone_job(client, job_type, task_queue=task_queue))
        running = asyncio.create_task(worker.run(handle_signals=False))
        await asyncio.wait_for(started.wait(), 10)
        worker.stop()
        await asyncio.sleep(0.3)
        assert not running.done()  # waiting for the job in hand
        release.set()
        await asyncio.wait_for(running, 10)
        assert await asyncio.wait_for(job, 10) == {"finished": True}
