"""Workload 6: jobs per second through our job SDK against a bare temporalio activity worker.

Both job workers run the bench's handler in a process of their own, with the same
concurrency limit, on a job type of their own; the same hand-written workflow (B's worker)
queues a batch of jobs for one of them at a time, so the only difference between the two
sides is the job worker: ``JobWorker`` (input parsing into ``Job``, the heartbeat guard, the
result wrapping) or an activity that reads the job input contract by hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities import job_activity
from bench import _baseline
from bench._config import Config
from bench._jobs import bare_step, step
from bench._live import Live
from bench._report import Section, fmt, ms, times
from bench._stats import interleaved, median, ratio
from bench._worker import BARE_JOB_TYPE, SDK_JOB_TYPE, WorkerProcess

TITLE = "6. Job workers: our SDK (JobWorker) vs a bare temporalio activity worker"
JOBS_PER_WORKFLOW = 100
"""Each batch is queued by several workflows of this many jobs, started at once."""
SIDES = {"SDK": ("sdk", SDK_JOB_TYPE), "bare": ("bare", BARE_JOB_TYPE)}


@dataclass(frozen=True)
class JobBatch:
    jobs: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_per_job(self) -> float:
        return self.cpu_seconds / self.jobs


async def job_batch(live: Live, worker: WorkerProcess, job_type: str, jobs: int) -> JobBatch:
    """Queue ``jobs`` jobs of ``job_type`` at once; time until every one is completed."""
    sizes = [JOBS_PER_WORKFLOW] * (jobs // JOBS_PER_WORKFLOW)
    if jobs % JOBS_PER_WORKFLOW:
        sizes.append(jobs % JOBS_PER_WORKFLOW)
    cpu_before = worker.cpu_seconds()
    began = time.perf_counter()
    handles = await asyncio.gather(
        *(
            live.client.start_workflow(
                _baseline.JOBS_WORKFLOW,
                {"job_type": job_type, "jobs": size},
                id=f"bench-jobs-{uuid.uuid4()}",
                task_queue=_baseline.TASK_QUEUE,
            )
            for size in sizes
        )
    )
    completed = sum(await asyncio.gather(*(handle.result() for handle in handles)))
    seconds = time.perf_counter() - began
    assert completed == jobs, f"{completed} of {jobs} jobs completed"
    return JobBatch(jobs, seconds, worker.cpu_seconds() - cpu_before)


JOB_INPUT = {
    "type": "t",
    "key": "wf/run/1",
    "process_instance_id": "wf",
    "bpmn_process_id": _baseline.JOBS_WORKFLOW,
    "element_id": "job_1",
    "element_instance_key": "1",
    "headers": {},
    "variables": {"i": 1},
    "retries": 3,
}
"""A job as B's workflow sends it (the job input contract)."""


async def wrapper_seconds(iterations: int, rounds: int = 5) -> dict[str, float]:
    """Per job, the two activities run in process with no server (``ActivityEnvironment``,
    whose own cost both sides pay): what the SDK's wrapper adds, free of the server's noise."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=timedelta(minutes=5))
    activities: dict[str, Callable[..., Awaitable[Any]]] = {
        "SDK": job_activity("t", step),
        "bare": bare_step("t"),
    }
    samples: dict[str, list[float]] = defaultdict(list)
    for _, side in interleaved(list(activities), rounds):
        began = time.perf_counter()
        for _ in range(iterations):
            await env.run(activities[side], JOB_INPUT)
        samples[side].append((time.perf_counter() - began) / iterations)
    return {side: median(values) for side, values in samples.items()}


async def run(live: Live, config: Config) -> Section:
    section = Section(TITLE)
    section.text(
        f"A batch of {config.job_batch} jobs is queued at once (by workflows of "
        f"{JOBS_PER_WORKFLOW} parallel jobs each, on B's worker) for one job worker process, "
        "which drains it with at most L jobs in hand; jobs/s is the batch over the time from "
        "the first start to the last result. The two job workers differ only in how the "
        "handler is wrapped: our `JobWorker` (target: SDK/bare ≥ 0.9) or a plain "
        "`@activity.defn` reading the job input by hand. CPU is the job worker process's "
        f"user+system time per job. Median of {config.job_repeats} interleaved batch(es) per "
        "side and L."
    )
    rows = []
    for limit in config.job_limits:
        results: dict[str, list[JobBatch]] = defaultdict(list)
        with ExitStack() as stack:
            workers = {
                side: stack.enter_context(
                    WorkerProcess(
                        system,
                        live.address,
                        live.state / "models",
                        live.state / f"worker-{system}-{limit}.log",
                        "--max-concurrent-jobs",
                        str(limit),
                    )
                )
                for side, (system, _) in SIDES.items()
            }
            for side, (_, job_type) in SIDES.items():  # warm-up, not measured
                await job_batch(live, workers[side], job_type, min(config.job_batch, 100))
            for _, side in interleaved(list(SIDES), config.job_repeats):
                results[side].append(
                    await job_batch(live, workers[side], SIDES[side][1], config.job_batch)
                )
        rate = {side: median([b.per_second for b in results[side]]) for side in SIDES}
        cpu = {side: median([b.cpu_per_job for b in results[side]]) for side in SIDES}
        rows.append(
            [
                limit,
                config.job_batch,
                fmt(rate["SDK"]),
                fmt(rate["bare"]),
                times(ratio(rate["SDK"], rate["bare"])),
                ms(cpu["SDK"]),
                ms(cpu["bare"]),
                times(ratio(cpu["SDK"], cpu["bare"])),
            ]
        )
        section.numbers[f"throughput_ratio_l{limit}"] = ratio(rate["SDK"], rate["bare"])
        section.numbers[f"cpu_ratio_l{limit}"] = ratio(cpu["SDK"], cpu["bare"])
        section.numbers[f"sdk_jobs_per_second_l{limit}"] = rate["SDK"]
    section.table(
        ["L", "jobs", "SDK jobs/s", "bare jobs/s", "SDK/bare", "SDK CPU", "bare CPU", "SDK/bare"],
        rows,
    )
    wrapper = await wrapper_seconds(config.job_batch * 10)
    section.text(
        "The same two activities run in this process with no server (Temporal's "
        "`ActivityEnvironment`, whose own cost both pay; median of 5 interleaved rounds of "
        f"{config.job_batch * 10} jobs): SDK {fmt(wrapper['SDK'] * 1e6)} µs per job, bare "
        f"{fmt(wrapper['bare'] * 1e6)} µs. The difference is all the SDK adds to a job; set it "
        "against the job worker CPU per job above."
    )
    section.numbers["wrapper_us_sdk"] = wrapper["SDK"] * 1e6
    section.numbers["wrapper_us_bare"] = wrapper["bare"] * 1e6
    return section
