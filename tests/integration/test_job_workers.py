"""The job-worker SDK's delivery guarantees on the real Temporal dev server.

Job workers run as real OS processes (tests/helpers/job_worker_process.py) where a test kills
or signals them, in this process otherwise; the interpreter runs in this process. Every
process model here is one service task between a start and an end event.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState, TimeoutType
from temporalio.client import Client, WorkflowHandle

import workflows._engine
from activities import Job, JobWorker
from tests.helpers import ROOT, deploy, running_interpreter, start_process
from tests.helpers.bpmn import chain, model
from tests.helpers.job_worker_process import READY, read_events

pytestmark = pytest.mark.integration

T = TypeVar("T")

SHORT_JOB_TIMEOUT = timedelta(seconds=2)
"""The job timeout of the crash test. A model cannot set its own job timeout yet (every job
gets the engine's 5 minutes, ``workflows._engine.JOB_TIMEOUT``), so that test patches it."""


def one_job_process(job_type: str, retries: int = 3) -> str:
    """Deploy a process whose only task is a job of ``job_type``; return its id."""
    process_id = f"{job_type}-process"
    deploy(
        model(
            process_id,
            '<bpmn:startEvent id="start" />',
            f'<bpmn:serviceTask id="work"><bpmn:extensionElements><zeebe:taskDefinition '
            f'type="{job_type}" retries="{retries}" /></bpmn:extensionElements>'
            "</bpmn:serviceTask>",
            '<bpmn:endEvent id="end" />',
            chain("start", "work", "end"),
        )
    )
    return process_id


@pytest.fixture
def address(dev_stack: Any) -> str:
    return str(dev_stack.temporal_address)


@pytest.fixture
async def client(address: str) -> Client:
    return await Client.connect(address)


@pytest.fixture
def job_type() -> str:
    return f"jw-{uuid.uuid4().hex[:12]}"


@contextmanager
def job_worker_process(
    address: str, job_type: str, events: Path, log: Path, *options: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run tests/helpers/job_worker_process.py until the block ends (then SIGKILL it if alive)."""
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.helpers.job_worker_process",
                "--address",
                address,
                "--job-type",
                job_type,
                "--events",
                str(events),
                *options,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert process.stdout is not None
        # An empty line: the process died before it was ready.
        assert process.stdout.readline().decode().strip() == READY, log.read_text()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def bounded(awaitables: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """``asyncio.gather`` with at most ``limit`` awaited at once, results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(awaitable: Awaitable[T]) -> T:
        async with semaphore:
            return await awaitable

    return await asyncio.gather(*(one(a) for a in awaitables))


def events_of(events: Path, event: str) -> list[dict[str, Any]]:
    return [line for line in read_events(events) if line["event"] == event]


async def run_until_done(worker: JobWorker, until_done: Awaitable[T]) -> T:
    """Run ``worker`` while ``until_done`` is awaited, then stop it gracefully."""
    running = asyncio.create_task(worker.run(handle_signals=False))
    try:
        return await until_done
    finally:
        worker.stop()
        await running


async def test_a_killed_workers_job_is_reassigned_after_the_job_timeout_and_completed_once(
    address: str,
    client: Client,
    task_queue: str,
    job_type: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `workflows` is passed through the sandbox: the interpreter sees the patched timeout.
    monkeypatch.setattr(workflows._engine, "JOB_TIMEOUT", SHORT_JOB_TIMEOUT)
    process_id = one_job_process(job_type)
    events = tmp_path / "events.jsonl"
    async with running_interpreter(client, task_queue):
        with job_worker_process(
            address, job_type, events, tmp_path / "first.log", "--sleep", "600"
        ) as first:
            handle = await start_process(client, task_queue, process_id)
            await until(lambda: bool(events_of(events, "start")), 20, "the first worker's start")
            first.send_signal(signal.SIGKILL)  # mid-job: its handler sleeps for 10 minutes
            assert first.wait(timeout=10) == -signal.SIGKILL
        killed = time.monotonic()
        with job_worker_process(
            address, job_type, events, tmp_path / "second.log", "--sleep", "0.1"
        ) as second:
            result = await asyncio.wait_for(handle.result(), 60)
        reassigned_within = time.monotonic() - killed

    starts, dones = events_of(events, "start"), events_of(events, "done")
    assert len({line["key"] for line in read_events(events)}) == 1
    assert [(s["pid"], s["attempt"]) for s in starts] == [(first.pid, 1), (second.pid, 2)]
    assert [d["pid"] for d in dones] == [second.pid]
    assert result["doneBy"] == second.pid
    assert SHORT_JOB_TIMEOUT.total_seconds() < reassigned_within < 30

    history = await handle.fetch_history()
    kinds = Counter(event.event_type for event in history.events)
    assert kinds[EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED] == 1
    assert kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED] == 1
    (started,) = [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert started.attempt == 2
    assert (
        started.last_failure.timeout_failure_info.timeout_type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
    )


async def test_a_slow_live_handler_keeps_its_job_past_the_job_timeout(
    client: Client, task_queue: str, job_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workflows._engine, "JOB_TIMEOUT", SHORT_JOB_TIMEOUT)
    process_id = one_job_process(job_type)
    attempts: list[int] = []
    worker = JobWorker(client)

    @worker.job(job_type)
    async def slow(job: Job) -> dict[str, Any]:
        attempts.append(job.attempt)
        await asyncio.sleep(3 * SHORT_JOB_TIMEOUT.total_seconds())  # the SDK heartbeats
        return {"attempt": job.attempt}

    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, process_id)
        result = await run_until_done(worker, asyncio.wait_for(handle.result(), 30))
    assert attempts == [1]
    assert result["attempt"] == 1


JOBS_QUEUED = 1000


async def test_a_thousand_jobs_queued_with_no_worker_are_all_completed_once_when_one_starts(
    client: Client, task_queue: str, job_type: str
) -> None:
    process_id = one_job_process(job_type)
    seen: Counter[str] = Counter()
    worker = JobWorker(client, max_concurrent_jobs=100)

    @worker.job(job_type)
    async def double(job: Job) -> dict[str, Any]:
        seen[job.key] += 1
        return {"doubled": job.variables["n"] * 2}

    async with running_interpreter(client, task_queue):
        began = time.monotonic()
        handles = await bounded(
            [start_process(client, task_queue, process_id, n=n) for n in range(JOBS_QUEUED)], 50
        )
        await every_job_queued(client, handles, job_type)
        queued = time.monotonic()
        results = await run_until_done(
            worker, bounded([handle.result() for handle in handles], 100)
        )
        drained = time.monotonic()

    assert len(seen) == JOBS_QUEUED
    assert set(seen.values()) == {1}
    assert sorted(result["doubled"] for result in results) == [2 * n for n in range(JOBS_QUEUED)]
    print(f"queued {JOBS_QUEUED} in {queued - began:.1f} s, drained in {drained - queued:.1f} s")


async def every_job_queued(
    client: Client, handles: Sequence[WorkflowHandle[Any, Any]], job_type: str
) -> None:
    """Wait until every instance's job is scheduled and waiting on the server (no worker).

    One instance at a time, in the order they were started (roughly the order the
    interpreter gets to them): few describe calls compete with the instances for the server.
    """
    deadline = time.monotonic() + 60
    for handle in handles:
        while not any(
            activity.activity_type.name == job_type
            and activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
            for activity in (await handle.describe()).raw_description.pending_activities
        ):
            if time.monotonic() > deadline:
                raise AssertionError(f"{handle.id}: its job is not scheduled within 60 s")
            await asyncio.sleep(0.1)


async def test_a_worker_never_holds_more_jobs_than_its_limit(
    client: Client, task_queue: str, job_type: str
) -> None:
    limit, jobs = 3, 24
    process_id = one_job_process(job_type)
    in_hand, peak = 0, 0
    worker = JobWorker(client, max_concurrent_jobs=limit)

    @worker.job(job_type)
    async def slow(job: Job) -> None:
        nonlocal in_hand, peak
        in_hand += 1
        peak = max(peak, in_hand)
        await asyncio.sleep(0.2)
        in_hand -= 1

    async with running_interpreter(client, task_queue):
        handles = [await start_process(client, task_queue, process_id) for _ in range(jobs)]
        await run_until_done(worker, asyncio.gather(*(h.result() for h in handles)))
    assert peak == limit


async def test_on_sigterm_a_worker_takes_no_new_jobs_and_finishes_those_it_holds(
    address: str, client: Client, task_queue: str, job_type: str, tmp_path: Path
) -> None:
    process_id = one_job_process(job_type)
    events = tmp_path / "events.jsonl"
    options = ("--sleep", "3", "--max-concurrent-jobs", "5")
    async with running_interpreter(client, task_queue):
        with job_worker_process(address, job_type, events, tmp_path / "w.log", *options) as worker:
            held = [await start_process(client, task_queue, process_id) for _ in range(3)]
            await until(lambda: len(events_of(events, "start")) == 3, 20, "three jobs in hand")
            worker.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await asyncio.sleep(1)  # it stopped polling at once; give the signal time to land
            later = [await start_process(client, task_queue, process_id) for _ in range(2)]
            exit_code = await asyncio.to_thread(worker.wait, 30)
            stopped_within = time.monotonic() - signalled
            held_results = await asyncio.gather(*(h.result() for h in held))
        # The jobs created after SIGTERM waited on the server for another worker.
        for handle in later:
            pending = (await handle.describe()).raw_description.pending_activities
            assert [a.state for a in pending] == [
                PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED
            ]
        other = JobWorker(client)
        other.job(job_type)(lambda job: {"doneBy": os.getpid()})
        later_results = await run_until_done(other, asyncio.gather(*(h.result() for h in later)))

    assert exit_code == 0, (tmp_path / "w.log").read_text()
    assert stopped_within < 10  # it waited for its jobs (3 s), not for the 30 s grace
    assert [r["doneBy"] for r in held_results] == [worker.pid] * 3
    assert len(events_of(events, "start")) == len(events_of(events, "done")) == 3
    assert [r["doneBy"] for r in later_results] == [os.getpid()] * 2


async def test_a_job_still_running_when_the_grace_ends_is_released_to_another_worker(
    address: str, client: Client, task_queue: str, job_type: str, tmp_path: Path
) -> None:
    process_id = one_job_process(job_type)
    events = tmp_path / "events.jsonl"
    options = ("--sleep", "600", "--shutdown-grace", "1")
    async with running_interpreter(client, task_queue):
        with job_worker_process(address, job_type, events, tmp_path / "w.log", *options) as worker:
            handle = await start_process(client, task_queue, process_id)
            await until(lambda: bool(events_of(events, "start")), 20, "the job in hand")
            worker.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            exit_code = await asyncio.to_thread(worker.wait, 30)
        other = JobWorker(client)
        other.job(job_type)(lambda job: {"doneBy": os.getpid(), "attempt": job.attempt})
        result = await run_until_done(other, asyncio.wait_for(handle.result(), 60))
        released_within = time.monotonic() - signalled

    print(f"released within {released_within:.1f} s")
    assert result == {"doneBy": os.getpid(), "attempt": 2}
    assert exit_code == 0, (tmp_path / "w.log").read_text()
    assert not events_of(events, "done")
    # Released at the end of the grace, not found by the 5-minute job timeout.
    assert released_within < 30
