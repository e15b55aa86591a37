"""The tasks this service holds: which worker has locked each, and until when.

A task in hand is one running Temporal activity attempt whose task token this service keeps
(asynchronous completion). It is either *locked* by a worker until a deadline, or *held*
(unlocked): waiting for the next fetch, after an ``unlock``, after its lock expired, or because
it arrived when the fetch it was polled for had already answered.

The rules are Camunda 7's: only the worker holding the lock may complete, fail, throw a BPMN
error or extend it; an expired lock keeps its worker id, so that worker may still complete the
task until another worker locks it (Camunda does the same); an unlocked task is locked by
``null``; extending an expired lock is refused. This module is pure (no Temporal, no I/O): the
clock is injected, so the rules are unit-tested.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from activities.external_tasks._errors import Action, lock_expired, task_not_found

TASK_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "bpmn-temporal:camunda-external-task")
"""Task ids are uuid5 in this namespace of the activity's identity, so they are stable across
attempts of one job (as a Camunda external task id is across its retries) and URL-safe."""

RELEASED_MEMORY = 10_000
"""How many released task ids are remembered, to answer "locked by worker 'null'" for them."""


def task_id_for(namespace: str, workflow_id: str, run_id: str, activity_id: str) -> str:
    """The external task id of an activity: the same for every attempt of it."""
    return str(uuid.uuid5(TASK_ID_NAMESPACE, f"{namespace}/{workflow_id}/{run_id}/{activity_id}"))


@dataclass(frozen=True)
class FailureRecord:
    """What the client reported with its last ``failure``: carried to the next attempt in the
    activity's heartbeat details, so a refetched task shows its ``retries`` and ``errorMessage``
    as Camunda's does (``retries`` is null until a client has reported a failure)."""

    retries: int | None = None
    error_message: str | None = None
    error_details: str | None = None

    def to_details(self) -> dict[str, Any]:
        return {
            "retries": self.retries,
            "errorMessage": self.error_message,
            "errorDetails": self.error_details,
        }

    @classmethod
    def from_details(cls, details: Any) -> FailureRecord:
        """Read the first heartbeat detail of the previous attempt; anything else is no record."""
        if not isinstance(details, dict):
            return cls()
        retries = details.get("retries")
        message = details.get("errorMessage")
        error_details = details.get("errorDetails")
        return cls(
            retries=retries if isinstance(retries, int) and not isinstance(retries, bool) else None,
            error_message=message if isinstance(message, str) else None,
            error_details=error_details if isinstance(error_details, str) else None,
        )


@dataclass(eq=False)
class TaskInHand:
    """One activity attempt held by this service, and its lock (mutable: it is the lock)."""

    id: str
    topic: str
    token: bytes
    job: dict[str, Any]
    """The job's input (the job wire contract), or ``{}`` when the input is not an object."""
    attempt: int
    max_attempts: int | None
    """The retry policy's maximum attempts; ``None`` when unlimited or unknown."""
    created: datetime
    heartbeat_interval: float
    failure: FailureRecord = field(default_factory=FailureRecord)
    worker_id: str | None = None
    lock_expires: float | None = None
    """Epoch seconds; stays set after the lock expired (Camunda keeps it), cleared by unlock."""
    held_since: float | None = None
    """Epoch seconds since when the task is held (unlocked or expired); ``None`` while locked."""
    finishing: bool = False
    """A complete/failure/bpmnError is on its way to Temporal: nothing else may touch it."""
    wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set when the lock changes, so the task's watchdog recomputes its next deadline."""

    @property
    def is_last_attempt(self) -> bool:
        return self.max_attempts is not None and self.attempt >= self.max_attempts

    def locked_at(self, now: float) -> bool:
        return self.held_since is None and self.lock_expires is not None and now < self.lock_expires

    @property
    def variables(self) -> dict[str, Any]:
        variables = self.job.get("variables")
        return dict(variables) if isinstance(variables, dict) else {}

    @property
    def headers(self) -> dict[str, str]:
        headers = self.job.get("headers")
        return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


class LockTable:
    """Every task in hand by id, with Camunda's rules for who may do what to it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tasks: dict[str, TaskInHand] = {}
        self._released: OrderedDict[str, None] = OrderedDict()

    def now(self) -> float:
        return self._clock()

    def __contains__(self, task: object) -> bool:
        return isinstance(task, TaskInHand) and self._tasks.get(task.id) is task

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[TaskInHand]:
        return iter(list(self._tasks.values()))

    def add(self, task: TaskInHand) -> TaskInHand | None:
        """Take a newly arrived attempt in hand, held; returns the entry it replaces (an older
        attempt of the same task that Temporal already gave up on), if any."""
        replaced = self._tasks.get(task.id)
        self._tasks[task.id] = task
        self._released.pop(task.id, None)
        task.held_since = self.now()
        return replaced

    def is_released(self, task_id: str) -> bool:
        return task_id in self._released

    def find(self, task_id: str) -> TaskInHand:
        task = self._tasks.get(task_id)
        if task is None or task.finishing:
            raise task_not_found(task_id)
        return task

    def lock(self, task: TaskInHand, worker_id: str, duration_ms: int) -> None:
        task.worker_id = worker_id
        task.lock_expires = self.now() + duration_ms / 1000
        task.held_since = None
        task.wake.set()

    def expire_if_due(self, task: TaskInHand) -> bool:
        """Turn a lock whose time is up into a held task (keeping its worker id)."""
        if task.held_since is not None or task.lock_expires is None:
            return False
        now = self.now()
        if now < task.lock_expires:
            return False
        task.held_since = now
        task.wake.set()
        return True

    def owned(self, task_id: str, worker_id: str, action: Action) -> TaskInHand:
        """The task, if ``worker_id`` may act on it: Camunda only checks the worker id here (an
        expired lock still belongs to its worker until another one locks the task).

        Raises:
            ExternalTaskApiError: 404 if unknown, 400 if another worker (or none) holds it.
        """
        if task_id in self._released:
            raise action.refused(task_id, worker_id, None)
        task = self.find(task_id)
        if task.worker_id != worker_id:
            raise action.refused(task_id, worker_id, task.worker_id)
        return task

    def extend(self, task_id: str, worker_id: str, new_duration_ms: int) -> TaskInHand:
        """``extendLock``: a new deadline ``new_duration_ms`` from now, for a lock not expired."""
        task = self.owned(task_id, worker_id, Action.EXTEND_LOCK)
        now = self.now()
        if not task.locked_at(now):
            raise lock_expired(int(now * 1000))
        self.lock(task, worker_id, new_duration_ms)
        return task

    def unlock(self, task_id: str) -> TaskInHand:
        """``unlock``: no worker holds the task any more (no worker check, as in Camunda)."""
        task = self.find(task_id)
        task.worker_id = None
        task.lock_expires = None
        task.held_since = self.now()
        task.wake.set()
        return task

    def remove(self, task: TaskInHand, *, released: bool = False) -> None:
        """The attempt left our hands: finished (then its id is unknown), or handed back to
        Temporal (``released``: until its next attempt arrives, it is locked by nobody)."""
        if self._tasks.get(task.id) is task:
            del self._tasks[task.id]
        task.wake.set()
        if released:
            self._released[task.id] = None
            while len(self._released) > RELEASED_MEMORY:
                self._released.popitem(last=False)
