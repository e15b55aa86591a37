"""The job handler every system runs: a no-op that also counts loop passes.

A job whose headers carry ``increment`` adds one to ``count`` (the loop model's counter);
any other job returns nothing. The same function serves the interpreter's jobs, the
hand-written workflows' activities and SpiffWorkflow's service tasks, through the job SDK
(``step``) or as a bare Temporal activity (``bare_step``, the job-worker workload's floor).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from temporalio import activity

from activities import Job
from bench._models import INCREMENT_HEADER


def step_result(variables: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any] | None:
    if INCREMENT_HEADER in headers:
        return {"count": int(variables.get("count", 0)) + 1}
    return None


async def step(job: Job) -> dict[str, Any] | None:
    """The job handler (async, so the SDK does not hand it to a thread)."""
    return step_result(job.variables, job.headers)


def bare_step(job_type: str) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]:
    """The same handler as a plain temporalio activity, reading the job input contract by
    hand: what a job worker written without our SDK does."""

    @activity.defn(name=job_type)
    async def run(payload: dict[str, Any]) -> dict[str, Any] | None:
        return step_result(payload["variables"], payload["headers"])

    return run
