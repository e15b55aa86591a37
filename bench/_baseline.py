"""System B: hand-written Temporal workflows doing what the bench models do, as a floor.

Each calls the same job handler as the interpreter does, with the same wire payload (the job
input contract), the same activity options and the same task-queue-per-job-type layout, so
that A/B isolates what the generic interpreter costs over code written for one process.
This is workflow code: deterministic, no I/O, no side effects at import.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

JOB_TYPE = "bench-b-step"
TASK_QUEUE = "bench-b"
CHAIN_WORKFLOW = "bench-b-chain"
LOOP_WORKFLOW = "bench-b-loop"
FANOUT_WORKFLOW = "bench-b-fanout"
JOBS_WORKFLOW = "bench-b-jobs"
KAFKA_WAIT_WORKFLOW = "bench-b-kafka-wait"
KAFKA_WAIT_SIGNAL = "bench.kafka_response"
KAFKA_WAIT_TASK_QUEUE = "bench-kafka-wait"
"""The Kafka bridge workload runs its floor's workflow in a worker of its own, which it stops
while it measures how fast signals are accepted (as it stops the interpreter's)."""

# The interpreter's job activity options (workflows/_interpreter.py), so both sides ask the
# server for the same thing.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=["BpmnError"],
)


class _Jobs:
    """Calls jobs the way the job wire contract describes them."""

    def __init__(self, job_type: str = JOB_TYPE) -> None:
        self._job_type = job_type
        self._next_key = 0

    async def run(
        self, element_id: str, variables: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        self._next_key += 1
        info = workflow.info()
        payload = {
            "type": self._job_type,
            "key": f"{info.workflow_id}/{info.run_id}/{self._next_key}",
            "process_instance_id": info.workflow_id,
            "bpmn_process_id": info.workflow_type,
            "element_id": element_id,
            "element_instance_key": str(self._next_key),
            "headers": headers or {},
            "variables": variables,
            "retries": 3,
        }
        result = await workflow.execute_activity(
            self._job_type,
            payload,
            task_queue=self._job_type,
            start_to_close_timeout=timedelta(days=7),
            heartbeat_timeout=timedelta(minutes=5),
            retry_policy=_RETRY,
        )
        return result or {}


@workflow.defn(name=CHAIN_WORKFLOW)
class ChainWorkflow:
    """``tasks`` jobs in a row (the chain model)."""

    @workflow.run
    async def run(self, variables: dict[str, Any]) -> dict[str, Any]:
        jobs = _Jobs()
        for index in range(int(variables["tasks"])):
            variables.update(await jobs.run(f"task_{index + 1}", dict(variables)))
        return variables


@workflow.defn(name=LOOP_WORKFLOW)
class LoopWorkflow:
    """The loop model written by hand: ten jobs per pass, a choice, a parallel pair."""

    @workflow.run
    async def run(self, variables: dict[str, Any]) -> dict[str, Any]:
        jobs = _Jobs()

        async def step(element_id: str, headers: dict[str, str] | None = None) -> None:
            variables.update(await jobs.run(element_id, dict(variables), headers))

        async def pair(first: str, second: str) -> None:
            await step(first)
            await step(second)

        while True:
            await step("t1", {"increment": "true"})
            await step("t2")
            if variables["count"] * 2 <= variables["loops"]:
                await pair("a1", "a2")
            else:
                await pair("b1", "b2")
            await asyncio.gather(pair("p1", "p2"), pair("q1", "q2"))
            await step("t9")
            await step("t10")
            if not variables["count"] < variables["loops"]:
                return variables


@workflow.defn(name=FANOUT_WORKFLOW)
class FanOutWorkflow:
    """One job per element of ``items``, all at once (a parallel multi-instance)."""

    @workflow.run
    async def run(self, variables: dict[str, Any]) -> dict[str, Any]:
        jobs = _Jobs()
        await asyncio.gather(
            # Each job gets its item only, as the BPMN model's fetchVariables header asks.
            *(jobs.run("each", {"item": item}) for item in variables["items"])
        )
        return variables


@workflow.defn(name=JOBS_WORKFLOW)
class JobsWorkflow:
    """Load for the job-worker workload: ``jobs`` jobs of ``job_type``, all at once."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> int:
        jobs = _Jobs(str(request["job_type"]))
        count = int(request["jobs"])
        await asyncio.gather(*(jobs.run(f"job_{i}", {"i": i}) for i in range(count)))
        return count


@workflow.defn(name=KAFKA_WAIT_WORKFLOW)
class KafkaWaitWorkflow:
    """The Kafka bridge workload's floor: waits for one response signal and returns it.
    Not in ``WORKFLOWS``: it runs in a worker of its own (``KAFKA_WAIT_TASK_QUEUE``)."""

    def __init__(self) -> None:
        self._response: dict[str, Any] | None = None

    @workflow.signal(name=KAFKA_WAIT_SIGNAL)
    def response(self, payload: dict[str, Any]) -> None:
        if self._response is None:
            self._response = payload

    @workflow.run
    async def run(self, variables: dict[str, Any]) -> dict[str, Any]:
        await workflow.wait_condition(lambda: self._response is not None)
        assert self._response is not None
        return self._response


WORKFLOWS = [ChainWorkflow, LoopWorkflow, FanOutWorkflow, JobsWorkflow]
