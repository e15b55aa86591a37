"""Standalone jobs: a job of some type with variables and no process (Zeebe's "task queue"
mode). One tiny workflow per job, so the job gets the same retries, timeouts and durability."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows._contracts import BPMN_ERROR_TYPE, JobInput, StandaloneJobRequest

STANDALONE_JOB_WORKFLOW = "bpmn.standalone-job"
STANDALONE_JOB_TIMEOUT = timedelta(minutes=5)


@workflow.defn(name=STANDALONE_JOB_WORKFLOW)
class StandaloneJobWorkflow:
    """Runs one job; its result is the job's result, its failure the job's failure."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> Any:
        parsed = StandaloneJobRequest.model_validate(request)
        info = workflow.info()
        job_input = JobInput(
            type=parsed.type,
            key=f"{info.workflow_id}/{info.run_id}",
            process_instance_id=info.workflow_id,
            bpmn_process_id="",
            element_id="",
            element_instance_key="",
            headers=parsed.headers,
            variables=parsed.variables,
            retries=parsed.retries,
        )
        return await workflow.execute_activity(
            parsed.type,
            job_input.model_dump(mode="json", exclude_none=True),
            task_queue=parsed.task_queue or parsed.type,
            start_to_close_timeout=timedelta(days=7),
            heartbeat_timeout=STANDALONE_JOB_TIMEOUT,
            retry_policy=RetryPolicy(
                maximum_attempts=max(parsed.retries, 1),
                non_retryable_error_types=[BPMN_ERROR_TYPE],
            ),
        )
