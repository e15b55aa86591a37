"""The job handler every system runs: a no-op that also counts loop passes.

A job whose headers carry ``increment`` adds one to ``count`` (the loop model's counter);
any other job returns nothing. The same function serves the interpreter's jobs, the
hand-written workflows' activities and SpiffWorkflow's service tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from activities import Job
from bench._models import INCREMENT_HEADER


def step_result(variables: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any] | None:
    if INCREMENT_HEADER in headers:
        return {"count": int(variables.get("count", 0)) + 1}
    return None


async def step(job: Job) -> dict[str, Any] | None:
    """The job handler (async, so the SDK does not hand it to a thread)."""
    return step_result(job.variables, job.headers)
