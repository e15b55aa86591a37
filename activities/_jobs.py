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
import builtins
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from workflows import BPMN_ERROR_TYPE, BpmnErrorDetails, JobInput

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
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
    listener_event_type: str | None = None
    """``start`` or ``end`` on an execution listener's job (Zeebe's ``listenerEventType``)."""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def variables_as(self, model: builtins.type[ModelT]) -> ModelT:
        """The variables as a pydantic model, for typed access (``pydantic.ValidationError``
        when they do not fit, which fails the attempt like any exception)."""
        return model.model_validate(self.variables)

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
            listener_event_type=parsed.listener_event_type,
            raw=dict(payload),
        )


def job_activity(job_type: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
    """Wrap a handler as the Temporal activity for ``job_type``."""
    is_async = inspect.iscoroutinefunction(handler)

    @activity.defn(name=job_type)
    async def run_job(payload: dict[str, Any]) -> dict[str, Any] | None:
        info = activity.info()
        job = Job.from_input(payload, attempt=info.attempt)
        heartbeat = _Heartbeat(info.heartbeat_timeout) if info.heartbeat_timeout else None
        try:
            if is_async:
                result: JobResult = await handler(job)  # type: ignore[misc]
            else:
                result = await _call_in_thread(handler, job)
        except (BpmnError, JobFailure) as error:
            raise error.to_application_error() from None
        finally:
            if heartbeat is not None:
                heartbeat.stop()
        return None if result is None else dict(result)

    return run_job


async def _call_in_thread(handler: Handler, job: Job) -> JobResult:
    """Run a plain function in a thread, so the loop (and heartbeats) keep going."""
    result = await asyncio.to_thread(handler, job)
    if inspect.isawaitable(result):
        return await result
    return result


class _Heartbeat:
    """Heartbeats every third of the heartbeat timeout until stopped.

    The first beat comes after a third of the timeout, not at once: a job that finishes sooner
    (most do) costs no heartbeat call. A timer on the loop, not a task, so a short job pays no
    extra turns of the event loop either; the timer runs in a copy of the activity's context,
    where ``activity.heartbeat`` finds the job.
    """

    __slots__ = ("_interval", "_loop", "_timer")

    def __init__(self, timeout: timedelta) -> None:
        self._loop = asyncio.get_running_loop()
        self._interval = timeout.total_seconds() / 3
        self._timer = self._loop.call_later(self._interval, self._beat)

    def _beat(self) -> None:
        activity.heartbeat()
        self._timer = self._loop.call_later(self._interval, self._beat)

    def stop(self) -> None:
        self._timer.cancel()


class JobWorker:
    """Serves any number of job types from one process, one Temporal worker per type.

    Backpressure: a worker holds at most ``max_concurrent_jobs`` jobs of each type; it asks the
    server for more only when one of them is done, so the rest stay queued on the server for
    this or any other worker of the type.

    Graceful shutdown: ``run()`` returns on SIGTERM or SIGINT (or ``stop()``). The worker stops
    asking for jobs at once and gives the jobs in hand ``shutdown_grace`` to finish; those still
    running then are cancelled and their attempt fails, so the server hands the job to another
    worker (it uses up one retry, like any failed attempt).
    """

    def __init__(
        self,
        client: Client,
        *,
        max_concurrent_jobs: int = 10,
        shutdown_grace: timedelta = timedelta(seconds=30),
    ) -> None:
        """Args:
        client: a connected Temporal client.
        max_concurrent_jobs: jobs in hand per job type at most (Temporal's
            ``max_concurrent_activities`` of that type's worker).
        shutdown_grace: on shutdown, how long jobs in hand may take to finish before they
            are cancelled (and retried elsewhere).
        """
        if max_concurrent_jobs < 1:
            raise ValueError(f"max_concurrent_jobs must be at least 1, not {max_concurrent_jobs}")
        self._client = client
        self._max_concurrent_jobs = max_concurrent_jobs
        self._shutdown_grace = shutdown_grace
        self._handlers: dict[str, Handler] = {}
        self._stopping: asyncio.Event | None = None

    def job(self, job_type: str) -> Callable[[Handler], Handler]:
        """Decorator: register ``handler`` for ``job_type``; the function stays as it was."""

        def register(handler: Handler) -> Handler:
            self._handlers[job_type] = handler
            return handler

        return register

    def workers(self) -> list[Worker]:
        """One Temporal worker per registered job type, to run alongside other workers."""
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

    async def run(self, *, handle_signals: bool = True) -> None:
        """Take jobs until stopped; then stop taking jobs and let the jobs in hand finish.

        Stopped by SIGTERM or SIGINT (if ``handle_signals`` and this runs in the main thread),
        by ``stop()``, or by cancelling the task running it. It returns (or, when cancelled,
        raises ``CancelledError``) once the jobs in hand are finished or, after
        ``shutdown_grace``, cancelled. A worker that fails (say, the server refuses it) stops
        the others, and its error is raised.
        """
        if self._stopping is not None:
            raise RuntimeError("this JobWorker is already running")
        if not self._handlers:
            raise ValueError("no job types registered: decorate a handler with @worker.job(type)")
        stopping = self._stopping = asyncio.Event()
        workers = self.workers()
        running = [asyncio.create_task(worker.run()) for worker in workers]
        signals = _on_stop_signals(self._on_signal) if handle_signals else []
        stop_requested = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait([*running, stop_requested], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_requested.cancel()
            loop = asyncio.get_running_loop()
            for signum in signals:
                loop.remove_signal_handler(signum)
            logger.info(
                "job worker stopping: no new jobs; jobs in hand have %ss to finish",
                self._shutdown_grace.total_seconds(),
            )
            await asyncio.gather(*(worker.shutdown() for worker in workers))
            outcomes = await asyncio.gather(*running, return_exceptions=True)
            # Temporal's core finishes its last calls into Python just after a worker that
            # cancelled jobs at the end of the grace has shut down; a process exiting before
            # that aborts in interpreter teardown (temporalio/sdk-python#300).
            await asyncio.sleep(SETTLE_SECONDS)
            self._stopping = None
            logger.info("job worker stopped")
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome

    def stop(self) -> None:
        """Ask a running ``run()`` to shut down gracefully (safe to call more than once)."""
        if self._stopping is not None:
            self._stopping.set()

    def _on_signal(self, signum: signal.Signals) -> None:
        logger.info("job worker received %s", signum.name)
        self.stop()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
SETTLE_SECONDS = 0.2


def _on_stop_signals(callback: Callable[[signal.Signals], None]) -> list[signal.Signals]:
    """Call ``callback`` on SIGTERM/SIGINT; the signals it could be installed for (only the main
    thread's loop on Unix can)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, callback, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(signum)
    return installed
