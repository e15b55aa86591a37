"""The job-worker SDK: handlers for job types, run as Temporal activities.

A job is one activity whose type and task queue are the job type (see the job wire contract),
so a worker here is a Temporal worker per job type::

    worker = JobWorker(client)

    @worker.job("check-order")
    async def check_order(job: Job) -> dict:
        return {"approved": job.variables["amount"] < 1000}

    await worker.run()

Return a dict to complete with variables, raise ``BpmnError`` to throw a BPMN error, raise any
other exception to fail the attempt (retried per the model's ``retries``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from workflows import BPMN_ERROR_TYPE, BpmnErrorDetails, JobInput

JobResult = Mapping[str, Any] | None
Handler = Callable[["Job"], Awaitable[JobResult] | JobResult]


class BpmnError(Exception):
    """Raise from a handler to throw a BPMN error, caught by error boundary events."""

    def __init__(self, code: str, message: str = "", variables: Mapping[str, Any] | None = None):
        super().__init__(message or code)
        self.code = code
        self.message = message
        self.variables = dict(variables or {})

    def to_application_error(self) -> ApplicationError:
        details = BpmnErrorDetails(code=self.code, message=self.message, variables=self.variables)
        return ApplicationError(
            self.message or self.code,
            details.model_dump(mode="json"),
            type=BPMN_ERROR_TYPE,
            non_retryable=True,
        )


@dataclass(frozen=True)
class Job:
    """One job as a handler sees it."""

    type: str
    key: str
    process_instance_id: str
    bpmn_process_id: str
    element_id: str
    variables: dict[str, Any]
    headers: dict[str, str]
    retries: int
    attempt: int = 1
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def retries_left(self) -> int:
        """Retries remaining after this attempt fails, as Zeebe counts them."""
        return max(self.retries - self.attempt, 0)

    @classmethod
    def from_input(cls, payload: Mapping[str, Any], attempt: int = 1) -> Job:
        parsed = JobInput.model_validate(payload)
        return cls(
            type=parsed.type,
            key=parsed.key,
            process_instance_id=parsed.process_instance_id,
            bpmn_process_id=parsed.bpmn_process_id,
            element_id=parsed.element_id,
            variables=dict(parsed.variables),
            headers=dict(parsed.headers),
            retries=parsed.retries,
            attempt=attempt,
            raw=dict(payload),
        )


def job_activity(job_type: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
    """Wrap a handler as the Temporal activity for ``job_type``."""

    @activity.defn(name=job_type)
    async def run_job(payload: dict[str, Any]) -> dict[str, Any] | None:
        job = Job.from_input(payload, attempt=activity.info().attempt)
        try:
            result = handler(job)
            if inspect.isawaitable(result):
                result = await result
        except BpmnError as error:
            raise error.to_application_error() from None
        return None if result is None else dict(result)

    return run_job


class JobWorker:
    """Serves any number of job types from one process, one Temporal worker per type."""

    def __init__(self, client: Client, *, max_concurrent_jobs: int = 10) -> None:
        self._client = client
        self._max_concurrent_jobs = max_concurrent_jobs
        self._handlers: dict[str, Handler] = {}

    def job(self, job_type: str) -> Callable[[Handler], Handler]:
        """Decorator: register ``handler`` for ``job_type``; the function stays as it was."""

        def register(handler: Handler) -> Handler:
            self._handlers[job_type] = handler
            return handler

        return register

    def workers(self) -> list[Worker]:
        return [
            Worker(
                self._client,
                task_queue=job_type,
                activities=[job_activity(job_type, handler)],
                max_concurrent_activities=self._max_concurrent_jobs,
            )
            for job_type, handler in self._handlers.items()
        ]

    async def run(self) -> None:
        """Take jobs until cancelled; on cancel, stop polling and finish jobs in hand."""
        workers = self.workers()
        await asyncio.gather(*(worker.run() for worker in workers))
