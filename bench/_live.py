"""Runs on the live dev server: closed-loop batches, history sizes, CPU per system."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from bench._stats import median
from bench._systems import SYSTEMS, System, write_models
from bench._worker import WorkerProcess


@dataclass
class Live:
    """A connected client and one running worker process per system."""

    client: Client
    workers: Mapping[str, WorkerProcess]
    address: str
    """The dev server's, for workloads that start worker processes of their own."""
    state: Path
    """The bench's state folder (logs go there)."""


@contextmanager
def worker_processes(address: str, state: Path) -> Iterator[dict[str, WorkerProcess]]:
    models = state / "models"
    write_models(models)
    with ExitStack() as stack:
        yield {
            system.key: stack.enter_context(
                WorkerProcess(
                    system.key.lower(), address, models, state / f"worker-{system.key}.log"
                )
            )
            for system in SYSTEMS
        }


@dataclass(frozen=True)
class HistorySize:
    events: int
    bytes: int
    types: Counter[str] = field(default_factory=Counter)
    """Events by type, to say where two histories differ."""


async def history_size(handle: WorkflowHandle[Any, Any]) -> HistorySize:
    history = await handle.fetch_history()
    types = Counter(
        EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in history.events
    )
    return HistorySize(
        len(history.events), sum(event.ByteSize() for event in history.events), types
    )


def extra_events(a: HistorySize, b: HistorySize) -> str:
    """The event types ``a`` has more of than ``b``, as ``TYPE ×n, ...``."""
    extra = a.types - b.types
    return ", ".join(f"{name} ×{count}" for name, count in sorted(extra.items())) or "none"


@dataclass(frozen=True)
class Batch:
    """One closed-loop batch: ``instances`` run with at most ``concurrency`` in flight."""

    instances: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    history: HistorySize

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds

    @property
    def cpu_per_instance(self) -> float:
        return self.cpu_seconds / self.instances


async def closed_loop(
    live: Live,
    system: System,
    workflow_type: str,
    variables: dict[str, Any],
    *,
    instances: int,
    concurrency: int,
) -> Batch:
    """Keep ``concurrency`` instances in flight until ``instances`` have completed."""
    worker = live.workers[system.key]
    remaining = iter(range(instances))
    latencies: list[float] = []
    handles: list[WorkflowHandle[Any, Any]] = []

    async def lane() -> None:
        for _ in remaining:
            began = time.perf_counter()
            handle = await system.start(live.client, workflow_type, dict(variables))
            await handle.result()
            latencies.append(time.perf_counter() - began)
            handles.append(handle)

    cpu_before = worker.cpu_seconds()
    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, instances))))
    seconds = time.perf_counter() - began
    cpu = worker.cpu_seconds() - cpu_before
    # Outside the timed window: every instance of a batch has the same shape, so two suffice.
    sizes = [await history_size(handle) for handle in (handles[0], handles[-1])]
    history = HistorySize(
        events=int(median([s.events for s in sizes])),
        bytes=int(median([s.bytes for s in sizes])),
        types=sizes[-1].types,
    )
    return Batch(instances, seconds, latencies, cpu, history)
