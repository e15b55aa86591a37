"""Camunda 7 external tasks on Temporal: a fetched task is a running activity attempt.

How a task travels:

1. ``fetchAndLock`` registers a waiting fetch on each of its topics. A topic's Temporal worker
   (task queue = topic = job type) polls only while such fetches want tasks (``_topics``).
2. The activity arrives in a dynamic activity, which hands it (with its task token) to a
   waiting fetch and calls ``activity.raise_complete_async()``: the attempt keeps running in
   Temporal while the client works on it.
3. While the task is locked, its *watchdog* heartbeats the attempt (every third of the job's
   heartbeat timeout, at most ``heartbeat_interval``), so the interpreter's job timeout does
   not fire, and notices cancellation (a boundary event interrupted the task): the task is then
   gone (404), as in Camunda.
4. ``complete``, ``failure`` and ``bpmnError`` finish the attempt through
   ``client.get_async_activity_handle(task_token=...)``: complete with the variables, or fail
   with exactly what this project's job SDK raises (``JobFailure`` / ``BpmnError``), so the
   interpreter retries, raises an incident or throws the BPMN error the same way.

Locks follow Camunda: when a lock expires the task is free again at once, for the next fetch
of any worker, without using up a retry, and the worker whose lock expired may still complete
it until another worker has locked it. A free task that no fetch takes within
``hold_timeout`` is handed back to Temporal (its attempt fails with the retryable error
``ExternalTaskReleased``, and Temporal schedules the next attempt, for any replica of this
service or any other worker of the job type); on its last attempt it is kept instead, so that
no incident is raised just because no client came. If this service dies, nobody heartbeats
its tasks and Temporal's heartbeat timeout hands them out again: a lost service is a Temporal
timeout, and delivery is at-least-once. On a clean stop, the tasks in hand are handed back at
once.

Retries: Camunda's clients send the retries left with ``failure``; ``0`` ends the job now with an
incident (a non-retryable ``JobFailure``), more retries the attempt after ``retryTimeout``. The
model's retries (the Temporal retry policy's maximum attempts) still bound the attempts: the
client can end retrying sooner, not later. Each expired-and-handed-back or released attempt
uses one attempt too, as a Temporal timeout would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import AsyncActivityCancelledError, AsyncActivityHandle, Client
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities._jobs import BpmnError, JobFailure
from activities.external_tasks._errors import Action, bad_request, engine_error, task_not_found
from activities.external_tasks._locks import FailureRecord, LockTable, TaskInHand, task_id_for
from activities.external_tasks._models import (
    BpmnErrorRequest,
    CompleteRequest,
    ExtendLockRequest,
    FailureRequest,
    FetchAndLockRequest,
    TopicRequest,
    worker_of,
)
from activities.external_tasks._topics import FetchWaiter, TopicPoller
from activities.external_tasks._variables import from_camunda

logger = logging.getLogger(__name__)

RELEASED_ERROR_TYPE = "ExternalTaskReleased"
"""Type of the retryable error with which a task this service gives back to Temporal fails."""


@dataclass(frozen=True)
class ExternalTaskConfig:
    """Settings of the external-task API; the defaults suit most uses."""

    base_path: str = "/engine-rest"
    """Where the REST API is served (Camunda's default)."""
    poll_grace: timedelta = timedelta(seconds=1)
    """A topic's Temporal worker stops polling this long after its last waiting fetch."""
    hold_timeout: timedelta = timedelta(seconds=30)
    """A free task (unlocked, expired, or arrived after its fetch answered) that no fetch takes
    within this time is handed back to Temporal (unless it is on its last attempt)."""
    heartbeat_interval: timedelta = timedelta(seconds=10)
    """Longest time between two heartbeats of a task in hand (also how soon a task cancelled in
    Temporal is noticed)."""
    wait_without_long_polling: timedelta = timedelta(seconds=1)
    """How long a fetch without ``asyncResponseTimeout`` waits: tasks are in Temporal's queue,
    not in a table here, so fetching means polling briefly."""
    max_polls_per_topic: int = 5
    """Polls in flight per topic at most (Temporal's ``max_concurrent_activity_task_polls``)."""


LockedTask = tuple[TaskInHand, TopicRequest]
"""A task locked by a fetch, with the topic options (variables filter...) it was fetched with."""


class ExternalTaskService:
    """The external-task operations on Temporal, without HTTP (``_api`` serves them)."""

    def __init__(
        self,
        client: Client,
        config: ExternalTaskConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._config = config or ExternalTaskConfig()
        self._table = LockTable(clock)
        self._topics: dict[str, TopicPoller] = {}
        self._watchdogs: dict[TaskInHand, asyncio.Task[None]] = {}
        self._activity = self._make_activity()
        self._closed = False

    @property
    def config(self) -> ExternalTaskConfig:
        return self._config

    def topic(self, name: str) -> TopicPoller:
        poller = self._topics.get(name)
        if poller is None:
            poller = self._topics[name] = TopicPoller(
                name,
                self._client,
                self._activity,
                self._claim,
                poll_grace=self._config.poll_grace,
                max_polls=self._config.max_polls_per_topic,
            )
        return poller

    # --- the REST operations ------------------------------------------------------------------

    async def fetch_and_lock(
        self, request: FetchAndLockRequest, connected: Callable[[], bool] = lambda: True
    ) -> list[LockedTask]:
        """Lock up to ``maxTasks`` tasks of the topics; wait up to ``asyncResponseTimeout``
        for the first one. Answers as soon as it has one (Camunda's long polling)."""
        request.check()
        topics = {topic.topic_name: topic for topic in request.topics or []}
        if self._closed or request.max_tasks <= 0 or not topics:
            return []
        waiter = FetchWaiter(str(request.worker_id), request.max_tasks, topics, connected)
        pollers = [self.topic(name) for name in topics]
        timeout_ms = request.async_response_timeout or 0
        timeout = timeout_ms / 1000 or self._config.wait_without_long_polling.total_seconds()
        try:
            for poller in pollers:
                poller.add_waiter(waiter)
            if not waiter.tasks:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.answered.wait(), timeout)
        except BaseException:
            self._close_waiter(waiter, pollers)
            self.unlock_all(waiter.tasks)
            raise
        self._close_waiter(waiter, pollers)
        return [(task, topics[task.topic]) for task in waiter.tasks]

    async def complete(self, task_id: str, request: CompleteRequest) -> None:
        """Complete the attempt with the variables (local variables merged over them)."""
        task = self._table.owned(task_id, worker_of(request), Action.COMPLETE)
        result = {**from_camunda(request.variables), **from_camunda(request.local_variables)}
        await self._finish(task, lambda handle: handle.complete(result))

    async def failure(self, task_id: str, request: FailureRequest) -> None:
        """Fail the attempt as a ``JobFailure``: retried after ``retryTimeout`` while
        ``retries`` > 0 (and the model allows), an incident at once with ``retries`` 0."""
        request.check()
        worker_id = worker_of(request)
        task = self._table.owned(task_id, worker_id, Action.FAILURE)
        record = FailureRecord(request.retries, request.message, request.error_details)
        backoff = timedelta(milliseconds=request.retry_timeout) if request.retry_timeout else None
        error = JobFailure(
            request.message or f"external task failure reported by worker '{worker_id}'",
            retries=request.retries,
            retry_backoff=backoff,
        ).to_application_error()
        await self._finish(
            task,
            lambda handle: handle.fail(error, last_heartbeat_details=[record.to_details()]),
            released=True,
        )

    async def bpmn_error(self, task_id: str, request: BpmnErrorRequest) -> None:
        """Throw a BPMN error at the task, caught by error boundary events."""
        worker_id = worker_of(request)
        if request.error_code is None:
            raise bad_request("errorCode is null")
        task = self._table.owned(task_id, worker_id, Action.BPMN_ERROR)
        variables = from_camunda(request.variables)
        error = BpmnError(request.error_code, request.error_message or "", variables)
        await self._finish(task, lambda handle: handle.fail(error.to_application_error()))

    def extend_lock(self, task_id: str, request: ExtendLockRequest) -> None:
        """A new lock deadline ``newDuration`` ms from now, for the worker holding the lock."""
        request.check()
        self._table.extend(task_id, worker_of(request), request.new_duration)

    def unlock(self, task_id: str) -> None:
        """Free the task for the next fetch (no worker check, as in Camunda)."""
        if self._table.is_released(task_id):
            return
        task = self._table.unlock(task_id)
        self.topic(task.topic).offer(task)

    def unlock_all(self, tasks: Sequence[TaskInHand]) -> None:
        """Free tasks locked for a fetch whose answer did not reach its client."""
        for task in tasks:
            if task in self._table and not task.finishing:
                self.unlock(task.id)

    def get(self, task_id: str) -> TaskInHand:
        """A task in this service's hands (tasks still queued in Temporal are not visible)."""
        return self._table.find(task_id)

    def now(self) -> float:
        return self._table.now()

    async def close(self) -> None:
        """Answer the waiting fetches, stop polling and hand every task in hand back."""
        self._closed = True
        await asyncio.gather(*(poller.close() for poller in self._topics.values()))
        watchdogs = list(self._watchdogs.values())
        self._watchdogs.clear()
        for watchdog in watchdogs:
            watchdog.cancel()
        await asyncio.gather(*watchdogs, return_exceptions=True)
        await asyncio.gather(
            *(
                self._hand_back(task, "the external task API stopped")
                for task in list(self._table)
                if not task.finishing
            ),
            return_exceptions=True,
        )

    # --- tasks arriving from Temporal ---------------------------------------------------------

    def _make_activity(self) -> Callable[..., Any]:
        @activity.defn(dynamic=True)
        async def take_external_task(args: Sequence[RawValue]) -> Any:
            """Any activity on a topic's task queue: hand it to a waiting fetch (or hold it),
            and leave the attempt running: the client completes it later."""
            info = activity.info()
            payload = activity.payload_converter().from_payload(args[0].payload) if args else None
            self._arrived(self._task_from(info, payload))
            activity.raise_complete_async()

        return take_external_task

    def _task_from(self, info: activity.Info, payload: Any) -> TaskInHand:
        policy = info.retry_policy
        max_attempts = policy.maximum_attempts if policy and policy.maximum_attempts > 0 else None
        interval = self._config.heartbeat_interval.total_seconds()
        if info.heartbeat_timeout:
            interval = min(interval, info.heartbeat_timeout.total_seconds() / 3)
        details = info.heartbeat_details[0] if info.heartbeat_details else None
        return TaskInHand(
            id=task_id_for(
                info.namespace, info.workflow_id or "", info.workflow_run_id or "", info.activity_id
            ),
            topic=info.task_queue,
            token=info.task_token,
            job=payload if isinstance(payload, dict) else {},
            attempt=info.attempt,
            max_attempts=max_attempts,
            created=info.scheduled_time,
            heartbeat_interval=max(interval, 0.1),
            failure=FailureRecord.from_details(details),
        )

    def _arrived(self, task: TaskInHand) -> None:
        replaced = self._table.add(task)
        if replaced is not None:
            self._drop(replaced)
        self._watchdogs[task] = asyncio.create_task(self._watch(task), name=f"lock:{task.id}")
        self.topic(task.topic).offer(task)

    def _claim(self, task: TaskInHand, waiter: FetchWaiter) -> None:
        lock_duration = waiter.topics[task.topic].lock_duration or 0
        self._table.lock(task, waiter.worker_id, lock_duration)
        waiter.tasks.append(task)
        waiter.answered.set()

    def _close_waiter(self, waiter: FetchWaiter, pollers: Sequence[TopicPoller]) -> None:
        waiter.open = False
        for poller in pollers:
            poller.remove_waiter(waiter)

    # --- finishing an attempt -----------------------------------------------------------------

    async def _finish(
        self,
        task: TaskInHand,
        send: Callable[[AsyncActivityHandle], Awaitable[None]],
        *,
        released: bool = False,
    ) -> None:
        """Send the outcome to Temporal. An attempt Temporal no longer knows (cancelled, timed
        out) is Camunda's 404; other errors leave the task as it was, for the client to retry."""
        task.finishing = True
        try:
            await send(self._client.get_async_activity_handle(task_token=task.token))
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                self._drop(task)
                raise task_not_found(task.id) from None
            task.finishing = False
            task.wake.set()
            raise engine_error(f"Temporal did not take the outcome: {error.message}") from None
        except BaseException:
            task.finishing = False
            task.wake.set()
            raise
        self._drop(task, released=released)

    def _drop(self, task: TaskInHand, *, released: bool = False) -> None:
        """The attempt left our hands: forget it everywhere, stop its watchdog."""
        self._table.remove(task, released=released)
        self.topic(task.topic).release(task)
        watchdog = self._watchdogs.pop(task, None)
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()

    async def _hand_back(self, task: TaskInHand, reason: str) -> None:
        """Fail the attempt with a retryable error, so Temporal offers the job again."""
        task.finishing = True
        handle = self._client.get_async_activity_handle(task_token=task.token)
        try:
            await handle.fail(
                ApplicationError(reason, type=RELEASED_ERROR_TYPE),
                last_heartbeat_details=[task.failure.to_details()],
            )
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                logger.warning("could not hand external task %s back: %s", task.id, error.message)
        finally:
            self._drop(task, released=True)

    # --- the watchdog: heartbeats, lock expiry, hand-back -------------------------------------

    async def _watch(self, task: TaskInHand) -> None:
        handle = self._client.get_async_activity_handle(task_token=task.token)
        table, hold = self._table, self._config.hold_timeout.total_seconds()
        next_beat = table.now() + task.heartbeat_interval
        while task in table:
            if not task.finishing:
                if table.expire_if_due(task):
                    logger.info(
                        "lock of external task %s (worker %r) expired; it is free again",
                        task.id,
                        task.worker_id,
                    )
                    self.topic(task.topic).offer(task)
                    continue
                held = task.held_since
                if held is not None and not task.is_last_attempt and table.now() >= held + hold:
                    await self._hand_back(task, f"no external task client fetched it in {hold:g} s")
                    return
            if table.now() >= next_beat:
                if not await self._heartbeat(task, handle):
                    return
                next_beat = table.now() + task.heartbeat_interval
                continue
            deadline = next_beat
            if not task.finishing:
                if task.held_since is None and task.lock_expires is not None:
                    deadline = min(deadline, task.lock_expires)
                elif task.held_since is not None and not task.is_last_attempt:
                    deadline = min(deadline, task.held_since + hold)
            task.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task.wake.wait(), max(deadline - table.now(), 0))

    async def _heartbeat(self, task: TaskInHand, handle: AsyncActivityHandle) -> bool:
        """Keep the attempt alive; False when it is gone (cancelled or unknown in Temporal)."""
        try:
            await handle.heartbeat(task.failure.to_details())
        except AsyncActivityCancelledError as cancelled:
            self._drop(task)
            if cancelled.details is None or cancelled.details.cancel_requested:
                with contextlib.suppress(RPCError):
                    await handle.report_cancellation()
            logger.info("external task %s was cancelled in Temporal; it is gone", task.id)
            return False
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                self._drop(task)
                logger.info("external task %s is no longer running in Temporal", task.id)
                return False
            logger.warning("heartbeat of external task %s failed: %s", task.id, error.message)
        return True
