"""Creating a job without a process and awaiting its result (Zeebe's "task queue" mode)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from temporalio.client import Client

from workflows import DEFAULT_TASK_QUEUE, STANDALONE_JOB_WORKFLOW, StandaloneJobRequest


async def run_standalone_job(
    client: Client,
    job_type: str,
    variables: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    retries: int = 3,
    job_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> Any:
    """Create a job of ``job_type`` and wait for a worker to complete it.

    The job queues until a worker of that type takes it, retries like a process job, and
    returns the worker's result. A BPMN error or exhausted retries raise
    ``temporalio.client.WorkflowFailureError`` carrying the job's failure. ``job_id`` makes the
    call idempotent (it is the workflow id, default: a new uuid).

    ``task_queue`` is where worker.py runs (the interpreter's queue), not the job type's.
    """
    request = StandaloneJobRequest(
        type=job_type, variables=dict(variables or {}), headers=dict(headers or {}), retries=retries
    )
    return await client.execute_workflow(
        STANDALONE_JOB_WORKFLOW,
        request.model_dump(mode="json"),
        id=job_id or f"job-{job_type}-{uuid.uuid4()}",
        task_queue=task_queue,
    )
