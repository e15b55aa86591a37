"""Workload 7: Kafka Task round trips and correlations per second through the bridge, against
the floor: a raw aiokafka request/reply through the same echo responder plus one signal.

Ours is what ``worker.py`` runs: an interpreter worker (``worker.py --no-bridge``) whose
instances publish their request through the Kafka publish activity, and the correlation
bridge in a process of its own (``worker.py --bridge-only``). The floor produces the request
with a plain aiokafka producer (acks=all, idempotent, as our publisher) from this process, and
a plain consumer (bench/_kafka_peers.py) signals a workflow that only waits for the signal
(bench/_baseline.py, in a worker of its own). One echo responder answers both.

Every time is read from the same clocks on both sides: the request record's timestamp (its
producer's clock, in ms, copied into the response by the echo), the echo's clock when it read
the request, and the server's event times in the instance's history (signal accepted,
instance completed).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from activities import BridgeConfig, KafkaSettings, ensure_topics
from bench import _baseline
from bench._config import Config
from bench._kafka_peers import ECHO_NS_HEADER, FLOOR_GROUP, READY, REQUEST_MS_HEADER
from bench._live import Live
from bench._models import KAFKA_TASK_PROCESS, kafka_task_model
from bench._report import Section, fmt, ms, times
from bench._stats import interleaved, median, percentile, ratio
from bench._worker import READY as WORKER_READY
from bench._worker import terminate

TITLE = "7. Kafka bridge: round trips and correlations/s against aiokafka plus one signal"
TARGET_P50_RATIO = 1.2
TARGET_PER_SECOND = 1000.0
TASK_QUEUE = "bench-kafka"
SIDES = ("ours", "floor")
_ROOT = Path(__file__).resolve().parent.parent
_T = TypeVar("_T")
_R = TypeVar("_R")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_WAITING_HISTORY_LENGTH = 4
"""Started, task scheduled, started, completed: the floor's workflow waits for its signal."""
_START_CONCURRENCY = 100
"""Instances started (and histories fetched) at once when a batch is loaded."""


class Service:
    """A child process that says in its log when it is ready; its CPU time readable. It can
    be stopped and started again (``with`` does both)."""

    def __init__(
        self, name: str, argv: Sequence[str], log: Path, ready: str, env: dict[str, str]
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._log = log
        self._ready = ready
        self._env = {**os.environ, **env}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:  # a restart appends
            offset = log.tell()
            self._process = subprocess.Popen(
                self._argv, stdout=log, stderr=subprocess.STDOUT, cwd=_ROOT, env=self._env
            )
        deadline = time.monotonic() + 90
        while self._ready not in self._log.read_bytes()[offset:].decode(errors="replace"):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"bench {self.name} did not start; see {self._log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        terminate(self._process)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (all its threads, ended ones too)."""
        assert self._process is not None
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Topics:
    ours_request: str
    ours_response: str
    floor_request: str
    floor_response: str

    @classmethod
    def fresh(cls) -> Topics:
        """Topics of this run only: nothing left over from an earlier run is read."""
        run = uuid.uuid4().hex[:8]
        return cls(
            f"bench-kafka-request-{run}",
            f"bench-kafka-response-{run}",
            f"bench-floor-request-{run}",
            f"bench-floor-response-{run}",
        )


@dataclass(frozen=True)
class RoundTrip:
    """One correlation, in seconds since the epoch."""

    requested: float
    """The request record's timestamp (ms resolution)."""
    echoed: float
    signalled: float
    completed: float


@dataclass(frozen=True)
class Side:
    """Ours or the floor: what starts an instance, what runs its workflow, what consumes
    its responses."""

    name: str
    response_topic: str
    group_id: str
    workflows: Service
    """The workflow worker: the interpreter (``worker.py --no-bridge``) or the floor's."""
    consumer: Service
    """The bridge (``worker.py --bridge-only``) or the floor's plain consumer."""
    start: Callable[[int], Awaitable[WorkflowHandle[Any, Any]]]
    """Start one instance, whose request is on its way once this returns."""


class Kafka:
    """This process's Kafka clients: the floor's request producer (our publisher's
    settings) and an admin client that reads end and committed offsets."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )
        self._watcher = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)

    async def __aenter__(self) -> Kafka:
        await self.producer.start()
        await self._watcher.start()
        await self._admin.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.producer.stop()
        await self._watcher.stop()
        await self._admin.close()

    async def end_offset(self, topic: str) -> int:
        partition = TopicPartition(topic, 0)
        return int((await self._watcher.end_offsets([partition]))[partition])

    async def committed(self, group_id: str, topic: str) -> int:
        partition = TopicPartition(topic, 0)
        offsets = await self._admin.list_consumer_group_offsets(group_id, partitions=[partition])
        found = offsets.get(partition)
        return -1 if found is None else int(found.offset)


async def round_trip(handle: WorkflowHandle[Any, Any]) -> RoundTrip:
    """The four moments of one correlation, from the instance's history."""
    signalled = completed = None
    headers: dict[str, str] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            if signalled is None:
                signalled = event.event_time.ToNanoseconds() / 1e9
                payload = event.workflow_execution_signaled_event_attributes.input.payloads[0]
                headers = json.loads(payload.data)["headers"]
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            completed = event.event_time.ToNanoseconds() / 1e9
    assert signalled is not None and completed is not None, f"{handle.id} did not complete"
    return RoundTrip(
        requested=int(headers[REQUEST_MS_HEADER]) / 1e3,
        echoed=int(headers[ECHO_NS_HEADER]) / 1e9,
        signalled=signalled,
        completed=completed,
    )


async def closed_loop(side: Side, instances: int, concurrency: int) -> list[RoundTrip]:
    """``instances`` round trips, ``concurrency`` in flight at once."""
    remaining = iter(range(instances))
    handles: list[WorkflowHandle[Any, Any]] = []

    async def lane() -> None:
        for index in remaining:
            handle = await side.start(index)
            await asyncio.wait_for(handle.result(), 60)
            handles.append(handle)

    await asyncio.gather(*(lane() for _ in range(min(concurrency, instances))))
    return await _bounded(round_trip, handles)


async def _idle_cpu(consumer: Service, config: Config) -> float:
    """The share of a core ``consumer`` uses while no record comes (its fetches of idle
    topics: the bridge's come every ``fetch_max_wait_ms``), to a clock tick over the window."""
    seconds = 1.0 if config.quick else 10.0
    before = consumer.cpu_seconds()
    await asyncio.sleep(seconds)
    return (consumer.cpu_seconds() - before) / seconds


async def _bounded(call: Callable[[_T], Awaitable[_R]], items: Iterable[_T]) -> list[_R]:
    """``call`` on every item, at most ``_START_CONCURRENCY`` at once."""
    gate = asyncio.Semaphore(_START_CONCURRENCY)

    async def one(item: _T) -> _R:
        async with gate:
            return await call(item)

    return await asyncio.gather(*(one(item) for item in items))


async def _until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


async def _idle(process: Service, timeout: float = 120) -> None:
    """Wait until a worker process has caught up (used under 2 % of a core for 0.5 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = process.cpu_seconds()
        await asyncio.sleep(0.5)
        if process.cpu_seconds() - before < 0.01:
            return


@dataclass(frozen=True)
class Throughput:
    correlations: int
    per_second: float
    """Signals accepted per second, first to last, of a batch that waited in Kafka."""
    cpu_per_correlation: float
    """The consumer process's CPU time (the bridge's, or the floor consumer's)."""


async def throughput_batch(kafka: Kafka, side: Side, size: int) -> Throughput:
    """Load ``size`` waiting instances whose responses all wait in Kafka; stop their workflow
    worker; start the bridge (or the floor consumer) and time how fast it signals them."""
    topic = side.response_topic
    before = await kafka.end_offset(topic)
    handles = await _bounded(side.start, range(size))

    async def answered() -> bool:
        return await kafka.end_offset(topic) >= before + size

    async def consumed() -> bool:
        return await kafka.committed(side.group_id, topic) >= before + size

    limit = 60 + size * 0.2
    await _until(answered, f"{size} responses on {topic}", limit)
    await _idle(side.workflows)  # every instance waits
    # Nothing but the consumer runs now (the server accepts the signals; the workflow tasks
    # they schedule wait for the worker's return): this is the consumer's own rate.
    side.workflows.stop()
    try:
        with side.consumer as consumer:
            cpu_before = consumer.cpu_seconds()
            await _until(consumed, f"{side.consumer.name} to commit {size} responses", limit)
            cpu = consumer.cpu_seconds() - cpu_before
    finally:
        side.workflows.start()
    await asyncio.wait_for(asyncio.gather(*(handle.result() for handle in handles)), limit)
    trips = await _bounded(round_trip, handles)
    signals = [trip.signalled for trip in trips]
    return Throughput(size, ratio(size - 1, max(signals) - min(signals)), cpu / size)


def _worker_py(live: Live, models: Path, kafka: str, name: str, *mode: str, ready: str) -> Service:
    """``worker.py`` as a user runs it, on the bench's server and broker (so the bridge also
    consumes the default message topic, ``bpmn-messages``)."""
    return Service(
        name,
        [
            *(sys.executable, "worker.py", "--definitions", str(models), *mode),
            *("--task-queue", TASK_QUEUE, "--no-connectors"),
        ],
        live.state / f"kafka-{name}.log",
        ready,
        {"TEMPORAL_ADDRESS": live.address, "KAFKA_BOOTSTRAP_SERVERS": kafka},
    )


def _sides(live: Live, kafka: Kafka, topics: Topics, models: Path) -> dict[str, Side]:
    bootstrap = kafka.bootstrap

    async def start_ours(index: int) -> WorkflowHandle[Any, Any]:
        return await live.client.start_workflow(
            KAFKA_TASK_PROCESS,
            {"request": {"n": index}},
            id=f"bench-kafka-ours-{uuid.uuid4()}",
            task_queue=TASK_QUEUE,
        )

    async def start_floor(index: int) -> WorkflowHandle[Any, Any]:
        workflow_id = f"bench-kafka-floor-{uuid.uuid4()}"
        handle = await live.client.start_workflow(
            _baseline.KAFKA_WAIT_WORKFLOW,
            {},
            id=workflow_id,
            task_queue=_baseline.KAFKA_WAIT_TASK_QUEUE,
        )

        # The request goes out once the workflow waits (its first workflow task completed),
        # as ours goes out of an instance that waits for the publish activity.
        async def waiting() -> bool:
            return (await handle.describe()).history_length >= _WAITING_HISTORY_LENGTH

        await _until(waiting, f"{workflow_id} to wait", timeout=60, interval=0.002)
        await kafka.producer.send_and_wait(
            topics.floor_request,
            json.dumps({"n": index}).encode(),
            headers=[("correlationId", workflow_id.encode())],
        )
        return handle

    floor_workflows = Service(
        "floor workflow worker",
        [sys.executable, "-m", "bench._worker", "--system", "wait", "--address", live.address],
        live.state / "kafka-floor-workflows.log",
        WORKER_READY,
        {},
    )
    floor_consumer = Service(
        "floor consumer",
        [
            *(sys.executable, "-m", "bench._kafka_peers", "floor", "--kafka", bootstrap),
            *("--address", live.address, "--topic", topics.floor_response),
        ],
        live.state / "kafka-floor-consumer.log",
        READY,
        {},
    )
    return {
        "ours": Side(
            "ours",
            topics.ours_response,
            BridgeConfig(KafkaSettings(bootstrap), ()).group_id,
            _worker_py(live, models, bootstrap, "interpreter", "--no-bridge", ready="Worker ready"),
            _worker_py(
                live, models, bootstrap, "bridge", "--bridge-only", ready="Bridge listening"
            ),
            start_ours,
        ),
        "floor": Side(
            "floor",
            topics.floor_response,
            FLOOR_GROUP,
            floor_workflows,
            floor_consumer,
            start_floor,
        ),
    }


def _echo(live: Live, kafka: str, topics: Topics) -> Service:
    return Service(
        "echo",
        [
            *(sys.executable, "-m", "bench._kafka_peers", "echo", "--kafka", kafka),
            *("--pair", f"{topics.ours_request}={topics.ours_response}"),
            *("--pair", f"{topics.floor_request}={topics.floor_response}"),
        ],
        live.state / "kafka-echo.log",
        READY,
        {},
    )


async def run(live: Live, config: Config, bootstrap: str) -> Section:
    section = Section(TITLE)
    topics = Topics.fresh()
    await ensure_topics(bootstrap, list(vars(topics).values()))
    models = live.state / "kafka-models"
    shutil.rmtree(models, ignore_errors=True)
    kafka_task_model(topics.ours_request, topics.ours_response).write(models)
    latencies: dict[tuple[int, str], list[RoundTrip]] = defaultdict(list)
    rates: dict[str, list[Throughput]] = defaultdict(list)
    async with Kafka(bootstrap) as kafka:
        sides = _sides(live, kafka, topics, models)
        with ExitStack() as running:
            running.enter_context(_echo(live, bootstrap, topics))
            for side in sides.values():
                running.enter_context(side.workflows)
            with ExitStack() as consumers:
                for side in sides.values():
                    consumers.enter_context(side.consumer)
                for side in sides.values():  # warm-up, not measured: connections, caches
                    for index in range(3):
                        await asyncio.wait_for((await side.start(index)).result(), 60)
                for concurrency in config.bridge_concurrencies:
                    for _, name in interleaved(SIDES, config.repeats):
                        latencies[concurrency, name].extend(
                            await closed_loop(sides[name], config.bridge_round_trips, concurrency)
                        )
                idle = {
                    name: await _idle_cpu(side.consumer, config) for name, side in sides.items()
                }
            for _, name in interleaved(SIDES, config.repeats):
                rates[name].append(await throughput_batch(kafka, sides[name], config.bridge_batch))
    _report(section, config, latencies, idle, rates)
    return section


def _bridge_settings() -> str:
    defaults = BridgeConfig(KafkaSettings(""), ())
    names = ("fetch_max_wait_ms", "max_batch", "max_in_flight")
    return ", ".join(f"`{name}` {getattr(defaults, name, 'n/a')}" for name in names)


def _report(
    section: Section,
    config: Config,
    latencies: dict[tuple[int, str], list[RoundTrip]],
    idle: dict[str, float],
    rates: dict[str, list[Throughput]],
) -> None:
    section.text(
        "Ours: a BPMN instance whose tSM Kafka Task publishes its request through the publish "
        "activity (`worker.py --no-bridge`, aiokafka producer with acks=all, idempotent, linger"
        " 0); an echo responder answers on the response topic with the request's headers "
        "copied; the correlation bridge (`worker.py --bridge-only`, which also consumes the "
        "default message topic) signals the instance, which completes. The floor: the same "
        "request produced by a plain aiokafka producer (same settings), the same echo "
        "responder, a plain aiokafka consumer that sends one Temporal signal to a workflow that"
        " only waits for it (and commits after Temporal accepted it, as the bridge does). One "
        "Kafka broker (KRaft, one partition per topic) and the dev server on this machine.",
        f"C round trips in flight at once, closed loop, {config.bridge_round_trips} per side "
        f"and C in each of {config.repeats} interleaved repeat(s); percentiles over all of "
        "them. Each leg is read from the same clocks on both sides: the request record's "
        "timestamp (when its producer sent it; ms resolution), the echo's clock when it read "
        "the request, the server's event times in the instance's history. Targets: p50 ours/"
        f"floor ≤ {TARGET_P50_RATIO} at C = 1, request → signal accepted (the request/reply "
        "through the bridge) and request → completed (with the workflow's part).",
    )
    legs: dict[str, Callable[[RoundTrip], float]] = {
        "request → completed": lambda t: t.completed - t.requested,
        "request → signal accepted": lambda t: t.signalled - t.requested,
        "request → echo read it": lambda t: t.echoed - t.requested,
        "echo read it → signal accepted": lambda t: t.signalled - t.echoed,
        "signal accepted → completed": lambda t: t.completed - t.signalled,
    }
    keys = {"request → completed": "completed", "request → signal accepted": "signal"}
    rows = []
    for concurrency in config.bridge_concurrencies:
        for leg, measure in legs.items():
            trips = {s: [measure(t) for t in latencies[concurrency, s]] for s in SIDES}
            p50 = {s: percentile(trips[s], 50) for s in SIDES}
            p99 = {s: percentile(trips[s], 99) for s in SIDES}
            rows.append(
                [
                    concurrency,
                    leg,
                    ms(p50["ours"]),
                    ms(p50["floor"]),
                    times(ratio(p50["ours"], p50["floor"])),
                    ms(p99["ours"]),
                    ms(p99["floor"]),
                    times(ratio(p99["ours"], p99["floor"])),
                ]
            )
            if leg in keys:
                key = f"{keys[leg]}_c{concurrency}"
                section.numbers[f"{key}_p50_ratio"] = ratio(p50["ours"], p50["floor"])
                section.numbers[f"{key}_p99_ratio"] = ratio(p99["ours"], p99["floor"])
                for side in SIDES:
                    section.numbers[f"{key}_{side}_p50_ms"] = p50[side] * 1000
                    section.numbers[f"{key}_{side}_p99_ms"] = p99[side] * 1000
    section.table(
        ["C", "leg", "ours p50", "floor p50", "ours/floor", "ours p99", "floor p99", "ours/floor"],
        rows,
    )
    section.text(
        f"Idle (no record coming), the bridge process used {fmt(idle['ours'] * 100)} % of a "
        f"core, the floor consumer {fmt(idle['floor'] * 100)} %. The bridge's settings in this "
        f"run (`BridgeConfig`'s defaults, which `worker.py` uses): {_bridge_settings()}; "
        "aiokafka's `fetch_min_bytes` 1 for every consumer and linger 0 for every producer."
    )
    section.numbers["ours_idle_cpu_percent"] = idle["ours"] * 100
    section.numbers["floor_idle_cpu_percent"] = idle["floor"] * 100
    rate = {s: median([r.per_second for r in rates[s]]) for s in SIDES}
    cpu = {s: median([r.cpu_per_correlation for r in rates[s]]) for s in SIDES}
    section.text(
        f"Correlations per second: {config.bridge_batch} instances wait, their "
        f"{config.bridge_batch} responses already in Kafka; their workflow worker is stopped "
        "(the server accepts signals without it, and the workflows' work is not what is "
        "measured here), then the bridge (or the floor consumer) starts and runs alone until "
        "it has committed the batch. The rate is the batch over the time from its first "
        "accepted signal to its last (the server's event times); CPU is the consumer "
        f"process's, from ready to committed, per correlation. Median of {config.repeats} "
        "interleaved batch(es) per side; target: ours ≥ 1,000/s."
    )
    section.table(
        ["responses", "ours /s", "floor /s", "ours/floor", "ours CPU", "floor CPU", "ours/floor"],
        [
            [
                config.bridge_batch,
                fmt(rate["ours"]),
                fmt(rate["floor"]),
                times(ratio(rate["ours"], rate["floor"])),
                ms(cpu["ours"]),
                ms(cpu["floor"]),
                times(ratio(cpu["ours"], cpu["floor"])),
            ]
        ],
    )
    section.numbers["ours_per_second"] = rate["ours"]
    section.numbers["floor_per_second"] = rate["floor"]
    section.numbers["per_second_ratio"] = ratio(rate["ours"], rate["floor"])
    section.numbers["ours_cpu_ms"] = cpu["ours"] * 1000
    section.numbers["floor_cpu_ms"] = cpu["floor"] * 1000
