"""Job handlers registered per test: the job-worker SDK's decorator, a plain function, or a
canned answer (complete, fail, throw a BPMN error, hold); every job received is recorded."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from activities import BpmnError, Job, JobFailure
from bpmn_testing._errors import ProcessAssertionError

JobResult = Mapping[str, Any] | None
Handler = Callable[[Job], Awaitable[JobResult] | JobResult]
H = TypeVar("H", bound=Handler)

HOLD_BACKOFF = timedelta(days=1000)
"""How long a held job waits before its next attempt. Temporal's time-skipping test server
moves its clock only while no activity is outstanding, and a job waiting for a retry is not
outstanding: so a held job lets timers (a boundary timer on it, say) fire on skipped time."""
HOLD_MESSAGE = "held by the test (bpmn.job(...).hold()): no answer"

POLL_INTERVAL = 0.02


class JobStub:
    """What the test's job worker does with the jobs of one type, and the jobs it received.

    ``bpmn.job("check-order")`` returns the stub of a job type. Use it as the job-worker SDK's
    decorator, or give it a canned answer::

        @bpmn.job("check-order")
        def check_order(job: Job) -> dict:
            return {"checked": True}

        bpmn.job("send-confirmation").complete({"sent": True})
        bpmn.job("charge-card").throw_error("CARD_DECLINED", "insufficient funds")
        bpmn.job("reserve-stock").fail("warehouse down")        # an incident at once
        bpmn.job("ship").hold()                                   # never answered

    A job type without a handler is not taken at all: the instance waits at the task (and
    time cannot be skipped while it does; ``hold`` frees the clock).
    """

    def __init__(
        self, job_type: str, on_change: Callable[[], None], default_timeout: float = 5.0
    ) -> None:
        self.job_type = job_type
        self.default_timeout = default_timeout
        self.jobs: list[Job] = []
        """Every job (every attempt) this test's worker received, in order."""
        self._handler: Handler | None = None
        self._held = False
        self._on_change = on_change

    def __repr__(self) -> str:
        return f"JobStub({self.job_type!r}, {len(self.jobs)} received)"

    @property
    def answers(self) -> bool:
        """True once the test said what to do with these jobs (a handler, or ``hold``)."""
        return self._handler is not None

    @property
    def held(self) -> bool:
        return self._held

    @property
    def last(self) -> Job:
        """The latest job received (an AssertionError if none was)."""
        if not self.jobs:
            raise ProcessAssertionError(f"no job of type {self.job_type!r} was received")
        return self.jobs[-1]

    def __call__(self, handler: H) -> H:
        """Register ``handler`` (async or plain, as for ``JobWorker.job``); returns it as it
        was. It returns the variables to complete with (or None), or raises ``BpmnError``,
        ``JobFailure`` or any exception (a failed attempt)."""
        self._set(handler, held=False)
        return handler

    def complete(self, variables: Mapping[str, Any] | None = None) -> JobStub:
        """Complete every job of this type with ``variables``."""
        answer = dict(variables or {})
        self._set(lambda job: dict(answer), held=False)
        return self

    def fail(
        self,
        message: str,
        *,
        retries: int | None = 0,
        retry_backoff: timedelta | None = None,
    ) -> JobStub:
        """Fail every attempt with ``message``. ``retries=0`` (the default) raises the
        incident at once; ``None`` keeps the model's retries (retried in real time)."""

        def failing(job: Job) -> JobResult:
            raise JobFailure(message, retries=retries, retry_backoff=retry_backoff)

        self._set(failing, held=False)
        return self

    def throw_error(
        self, code: str, message: str = "", variables: Mapping[str, Any] | None = None
    ) -> JobStub:
        """Throw a BPMN error with ``code`` from every job of this type."""

        def throwing(job: Job) -> JobResult:
            raise BpmnError(code, message, variables)

        self._set(throwing, held=False)
        return self

    def hold(self) -> JobStub:
        """Take the jobs but never answer them, without holding the test server's clock.

        Each attempt fails with a retry backoff of ``HOLD_BACKOFF``, so the job stays active
        while time is skipped: what a test of a boundary timer on a slow task needs. The
        task must allow at least two attempts (Zeebe's default is 3): with ``retries="1"``
        the first attempt is the last, and the instance raises an incident."""

        def holding(job: Job) -> JobResult:
            raise JobFailure(HOLD_MESSAGE, retry_backoff=HOLD_BACKOFF)

        self._set(holding, held=True)
        return self

    async def dispatch(self, job: Job) -> JobResult:
        """The test worker's entry point: record the job, then answer it."""
        self.jobs.append(job)
        handler = self._handler
        if handler is None:  # cannot happen: the worker starts once a handler is set
            raise JobFailure(f"no handler for job type {self.job_type!r}", retries=0)
        if inspect.iscoroutinefunction(handler):
            result: Any = await handler(job)
        else:
            result = await asyncio.to_thread(handler, job)
            if inspect.isawaitable(result):
                result = await result
        return None if result is None else dict(result)

    async def assert_received(
        self,
        *,
        variables: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Wait until a job of this type was received whose variables and headers include
        ``variables`` and ``headers`` (and, with ``times``, exactly that many were); returns
        the latest matching job. On failure the message lists every job received."""
        __tracebackhide__ = True
        timeout = self.default_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            matching = [job for job in self.jobs if _matches(job, variables, headers)]
            if matching and (times is None or len(self.jobs) == times):
                return matching[-1]
            if loop.time() > deadline:
                raise ProcessAssertionError(self._not_received(variables, headers, times, timeout))
            await asyncio.sleep(POLL_INTERVAL)

    def _not_received(
        self,
        variables: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        times: int | None,
        timeout: float,
    ) -> str:
        wanted = []
        if variables is not None:
            wanted.append(f"variables including {_render(variables)}")
        if headers is not None:
            wanted.append(f"headers including {_render(headers)}")
        if times is not None:
            wanted.append(f"{times} time(s)")
        lines = [
            f"no job of type {self.job_type!r} was received"
            + (" with " + " and ".join(wanted) if wanted else "")
            + f" within {timeout:g} s; received {len(self.jobs)}:"
        ]
        lines.extend(
            f"  - {job.element_id} of {job.process_instance_id} (attempt {job.attempt}): "
            f"variables {_render(job.variables)}, headers {_render(job.headers)}"
            for job in self.jobs
        )
        if not self.answers:
            lines.append(
                f"  (this test has no handler for {self.job_type!r}: "
                f"bpmn.job({self.job_type!r}).complete(...) or a decorated function)"
            )
        return "\n".join(lines)

    def _set(self, handler: Handler, *, held: bool) -> None:
        self._handler = handler
        self._held = held
        self._on_change()


def _matches(
    job: Job, variables: Mapping[str, Any] | None, headers: Mapping[str, str] | None
) -> bool:
    return _includes(job.variables, variables) and _includes(job.headers, headers)


def _includes(actual: Mapping[str, Any], expected: Mapping[str, Any] | None) -> bool:
    if expected is None:
        return True
    return all(name in actual and actual[name] == value for name, value in expected.items())


def _render(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, default=str)
