"""The job-worker SDK: handlers for job types, run as Temporal activities.

A job is one activity whose type and task queue are the job type (see the job wire contract),
so a worker here is a Temporal worker per job type::

    worker = JobWorker(client)

    @worker.job("check-order")
    async def check_order(job: Job) -> dict:
        return {"approved": job.variables["amount"] < 1000}

    await worker.run()

Return a dict to complete with variables, raise ``BpmnError`` to throw a BPMN error, raise
``JobFailure`` (or any other exception) to fail the attempt, retried per the model's ``retries``.

Delivery is at-least-once: a job whose worker stops heartbeating (it crashed) is given to
another worker after the job timeout, so a handler may see the same ``key`` twice. While a
handler runs, the SDK heartbeats for it, so a slow but live handler keeps its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
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


class JobFailure(Exception):
    """Raise from a handler to fail the job with a message a operator reads in the incident.

    Args:
        message: why it failed.
        retries: ``0`` stops retrying now (the instance raises an incident at once); ``None``
            keeps the model's remaining retries.
        retry_backoff: wait this long before the next attempt.
    """

    def __init__(
        self, message: str, *, retries: int | None = None, retry_backoff: timedelta | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retries = retries
        self.retry_backoff = retry_backoff

    def to_application_error(self) -> ApplicationError:
        return ApplicationError(
            self.message,
            type="JobFailure",
            non_retryable=self.retries == 0,
            next_retry_delay=self.retry_backoff,
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
            async with _heartbeating():
                result = await _call(handler, job)
        except (BpmnError, JobFailure) as error:
            raise error.to_application_error() from None
        return None if result is None else dict(result)

    return run_job


async def _call(handler: Handler, job: Job) -> JobResult:
    """Await async handlers; run plain functions in a thread so heartbeats keep going."""
    if inspect.iscoroutinefunction(handler):
        return await handler(job)  # type: ignore[no-any-return]
    result = await asyncio.to_thread(handler, job)
    if inspect.isawaitable(result):
        return await result
    return result


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat at a third of the heartbeat timeout while the block runs."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(timeout.total_seconds() / 3)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)


class JobWorker:
    """Serves any number of job types from one process, one Temporal worker per type."""

    def __init__(
        self,
        client: Client,
        *,
        max_concurrent_jobs: int = 10,
        shutdown_grace: timedelta = timedelta(seconds=30),
    ) -> None:
        """Args:
        client: a connected Temporal client.
        max_concurrent_jobs: jobs in hand per job type at most (backpressure: the rest stay
            queued on the server for this or another worker).
        shutdown_grace: on shutdown, how long jobs in hand may take to finish before they
            are cancelled (and retried elsewhere).
        """
        self._client = client
        self._max_concurrent_jobs = max_concurrent_jobs
        self._shutdown_grace = shutdown_grace
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
                graceful_shutdown_timeout=self._shutdown_grace,
            )
            for job_type, handler in self._handlers.items()
        ]

    async def run(self) -> None:
        """Take jobs until cancelled; then stop polling and let jobs in hand finish."""
        workers = self.workers()
        running = [asyncio.create_task(worker.run()) for worker in workers]
        try:
            await asyncio.gather(*running)
        except asyncio.CancelledError:
            await asyncio.gather(*(worker.shutdown() for worker in workers))
            raise
