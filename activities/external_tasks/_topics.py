"""One topic: the fetches waiting for its tasks, and the Temporal worker that polls for them.

Demand-bounded polling. A Temporal worker polls eagerly: left alone it would take activities
from the task queue whenever it has a free slot, and they would then sit in this service
without any client to work on them, invisible to other replicas and to workers in other SDKs.
So a topic's worker gets its activity slots from ``DemandSlots``, a custom slot supplier that
grants a slot (and so lets the worker poll once) only while the fetches waiting for the topic
want more tasks than there are polls in flight. With no fetch waiting, the worker does not
poll at all. When the last waiting fetch has gone, polls already in flight may still return a
task: the worker is shut down ``poll_grace`` later (which cancels its polls, and Temporal keeps
the tasks queued), and a task that arrives in between is *held* for the next fetch of the
topic (see the service for how long).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import (
    CustomSlotSupplier,
    FixedSizeSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
    Worker,
    WorkerTuner,
)

from activities.external_tasks._locks import TaskInHand
from activities.external_tasks._models import TopicRequest

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class FetchWaiter:
    """A ``fetchAndLock`` request waiting for tasks (long polling)."""

    worker_id: str
    max_tasks: int
    topics: Mapping[str, TopicRequest]
    connected: Callable[[], bool] = lambda: True
    """False once the HTTP client has gone: no task is given to it then."""
    tasks: list[TaskInHand] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    open: bool = True

    @property
    def wanted(self) -> int:
        """Tasks to poll for on its behalf: none once it has one (it answers at once then)."""
        return self.max_tasks if self.open and not self.tasks else 0

    def accepts(self) -> bool:
        return self.open and len(self.tasks) < self.max_tasks and self.connected()


Claim = Callable[[TaskInHand, FetchWaiter], None]
"""Lock a task for a waiting fetch (the service's part: the lock table, the answer)."""


class TopicPoller:
    """The waiting fetches, the held tasks and the demand-driven Temporal worker of one topic."""

    def __init__(
        self,
        topic: str,
        client: Client,
        activity: Callable[..., Any],
        claim: Claim,
        *,
        poll_grace: timedelta,
        max_polls: int,
    ) -> None:
        self.topic = topic
        self._client = client
        self._activity = activity
        self._claim = claim
        self._poll_grace = poll_grace
        self._max_polls = max_polls
        self._waiters: list[FetchWaiter] = []
        self._held: dict[str, TaskInHand] = {}
        self._changed = asyncio.Event()
        self._worker: Worker | None = None
        self._slots: DemandSlots | None = None
        self._running: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closed = False

    # --- demand -------------------------------------------------------------------------------

    def demand(self) -> int:
        return sum(waiter.wanted for waiter in self._waiters)

    @property
    def polls_in_flight(self) -> int:
        return self._slots.granted if self._slots is not None else 0

    @property
    def polling(self) -> bool:
        return self._worker is not None

    def held(self) -> list[TaskInHand]:
        return list(self._held.values())

    def add_waiter(self, waiter: FetchWaiter) -> None:
        """A fetch starts waiting: it first gets held tasks, then polls are made for the rest."""
        for task in list(self._held.values()):
            if not waiter.accepts():
                break
            del self._held[task.id]
            self._claim(task, waiter)
        if waiter.wanted and not self._closed:
            self._waiters.append(waiter)
            self._start_polling()
            self.notify_changed()

    def remove_waiter(self, waiter: FetchWaiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        self.notify_changed()
        if not self.demand():
            self._schedule_stop()

    def offer(self, task: TaskInHand) -> None:
        """A task is free (just arrived, unlocked or its lock expired): the first waiting fetch
        that can take it locks it; otherwise it is held for the next fetch."""
        for waiter in self._waiters:
            if waiter.accepts():
                self._held.pop(task.id, None)
                self._claim(task, waiter)
                self.notify_changed()
                return
        self._held[task.id] = task

    def release(self, task: TaskInHand) -> None:
        """The task left our hands (finished, handed back, cancelled): forget it if held."""
        self._held.pop(task.id, None)

    # --- the Temporal worker ------------------------------------------------------------------

    async def wait_for_demand(self, slots: DemandSlots) -> None:
        """Block until the waiting fetches want more tasks than ``slots`` has polls out."""
        while self._worker is None or slots is not self._slots or slots.granted >= self.demand():
            changed = self._changed
            await changed.wait()

    def notify_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _start_polling(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._worker is not None:
            return
        slots = DemandSlots(self)
        try:
            worker = Worker(
                self._client,
                task_queue=self.topic,
                activities=[self._activity],
                tuner=WorkerTuner.create_composite(
                    workflow_supplier=FixedSizeSlotSupplier(1),
                    activity_supplier=slots,
                    local_activity_supplier=FixedSizeSlotSupplier(1),
                    nexus_supplier=FixedSizeSlotSupplier(1),
                ),
                max_concurrent_activity_task_polls=self._max_polls,
                disable_eager_activity_execution=True,
            )
        except Exception:
            logger.exception("could not create the Temporal worker for topic %r", self.topic)
            return
        self._worker, self._slots = worker, slots
        self._running = asyncio.create_task(self._run(worker), name=f"external-task:{self.topic}")
        logger.debug("topic %r: polling Temporal", self.topic)

    async def _run(self, worker: Worker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the Temporal worker for topic %r stopped", self.topic)
        finally:
            if self._worker is worker:
                self._worker = self._slots = None
                self._running = None

    def _schedule_stop(self) -> None:
        if self._worker is None or self._idle_timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(self._poll_grace.total_seconds(), self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        self._idle_timer = None
        if self.demand() or self._worker is None:
            return
        stopping = asyncio.create_task(self._stop())
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)

    async def _stop(self) -> None:
        worker, running = self._worker, self._running
        self._worker = self._slots = None
        self._running = None
        self.notify_changed()
        if worker is None:
            return
        logger.debug("topic %r: no fetch waiting, polling stopped", self.topic)
        with contextlib.suppress(Exception):
            await worker.shutdown()
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)

    async def close(self) -> None:
        """Answer the waiting fetches with what they have and stop polling."""
        self._closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for waiter in list(self._waiters):
            waiter.answered.set()
        await self._stop()
        await asyncio.gather(*self._stopping, return_exceptions=True)


class DemandSlots(CustomSlotSupplier):
    """Activity slots for one topic's worker, granted only while fetches want tasks.

    Temporal's worker reserves a slot before every poll, so slots granted = polls in flight
    (plus activities being handed over, which takes no time: they complete asynchronously).
    ``release_slot`` and ``mark_slot_used`` are called from the SDK's own threads, so they
    only schedule work on the event loop.
    """

    def __init__(self, topic: TopicPoller) -> None:
        self._topic = topic
        self._loop = asyncio.get_running_loop()
        self.granted = 0

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        await self._topic.wait_for_demand(self)
        self.granted += 1
        return SlotPermit()

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        return None  # never take eagerly dispatched activities: no fetch asked for them

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        pass

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        self._loop.call_soon_threadsafe(self._released)

    def _released(self) -> None:
        self.granted -= 1
        self._topic.notify_changed()
