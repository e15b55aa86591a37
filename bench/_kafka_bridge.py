"""Workload 7: Kafka Task round trips and correlations per second through the bridge, against
the floor: a raw aiokafka request/reply through the same echo responder plus one signal.

Ours is what ``worker.py`` runs: an interpreter worker (``worker.py --no-bridge``) whose
instances publish their request through the Kafka publish activity, and the correlation
bridge in a process of its own (``worker.py --bridge-only``). The floor produces the request
with a plain aiokafka producer (acks=all, idempotent, as our publisher) from this process, and
a plain consumer (bench/_kafka_peers.py) signals a workflow that only waits for the signal
(bench/_baseline.py, on B's worker). One echo responder answers both.

Every time is read from the same clocks on both sides: the request record's timestamp (its
producer's clock, in ms, copied into the response by the echo), the echo's clock when it read
the request, and the server's event times in the instance's history (signal accepted,
instance completed).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from activities import ensure_topics
from bench import _baseline
from bench._config import Config
from bench._kafka_peers import ECHO_NS_HEADER, READY, REQUEST_MS_HEADER
from bench._live import Live
from bench._models import KAFKA_TASK_PROCESS, kafka_task_model
from bench._report import Section, fmt, ms, times
from bench._stats import interleaved, median, percentile, ratio

TITLE = "7. Kafka bridge: round trips and correlations/s against aiokafka plus one signal"
TARGET_P50_RATIO = 1.2
TARGET_PER_SECOND = 1000.0
TASK_QUEUE = "bench-kafka"
SIDES = ("ours", "floor")
_ROOT = Path(__file__).resolve().parent.parent
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_T = TypeVar("_T")
_R = TypeVar("_R")
_START_CONCURRENCY = 100
"""Instances started (and histories fetched) at once when a batch is loaded."""


class Service:
    """A child process that says in its log when it is ready; its CPU time readable."""

    def __init__(
        self, name: str, argv: Sequence[str], log: Path, ready: str, env: dict[str, str]
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._log = log
        self._ready = ready
        self._env = {**os.environ, **env}
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Service:
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self._argv, stdout=log, stderr=subprocess.STDOUT, cwd=_ROOT, env=self._env
            )
        deadline = time.monotonic() + 90
        while self._ready not in self._log.read_text(errors="replace"):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"bench {self.name} did not start; see {self._log}")
            time.sleep(0.05)
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (all its threads)."""
        assert self._process is not None
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def __exit__(self, *exc_info: object) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


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

    def response(self, side: str) -> str:
        return self.ours_response if side == "ours" else self.floor_response


@dataclass(frozen=True)
class RoundTrip:
    """One correlation, in seconds since the epoch."""

    requested: float
    """The request record's timestamp (ms resolution)."""
    echoed: float
    signalled: float
    completed: float


@dataclass
class Rig:
    """Everything the workload runs, but the bridge and the floor consumer, which a
    throughput batch starts only once its responses wait in Kafka."""

    live: Live
    kafka: str
    topics: Topics
    models: Path
    interpreter: Service
    producer: AIOKafkaProducer
    """The floor's request producer (the publisher's settings)."""
    watcher: AIOKafkaConsumer
    """Reads end offsets, to know when every response of a batch is in Kafka."""

    def bridge(self, tag: str) -> Service:
        return _worker_py(
            self.live,
            self.models,
            self.kafka,
            f"bridge-{tag}",
            "--bridge-only",
            ready="Bridge listening on",
        )

    def floor_consumer(self, tag: str) -> Service:
        return Service(
            "floor consumer",
            [
                *(sys.executable, "-m", "bench._kafka_peers", "floor", "--kafka", self.kafka),
                *("--address", self.live.address, "--topic", self.topics.floor_response),
            ],
            self.live.state / f"kafka-floor-{tag}.log",
            READY,
            {},
        )

    def consumer(self, side: str, tag: str) -> Service:
        return self.bridge(tag) if side == "ours" else self.floor_consumer(tag)

    async def start(self, side: str, index: int) -> WorkflowHandle[Any, Any]:
        """Start one instance; the floor's request is produced once its workflow exists."""
        request = {"n": index}
        if side == "ours":
            return await self.live.client.start_workflow(
                KAFKA_TASK_PROCESS,
                {"request": request},
                id=f"bench-kafka-ours-{uuid.uuid4()}",
                task_queue=TASK_QUEUE,
            )
        workflow_id = f"bench-kafka-floor-{uuid.uuid4()}"
        handle = await self.live.client.start_workflow(
            _baseline.KAFKA_WAIT_WORKFLOW, {}, id=workflow_id, task_queue=_baseline.TASK_QUEUE
        )
        await self.producer.send_and_wait(
            self.topics.floor_request,
            json.dumps(request).encode(),
            headers=[("correlationId", workflow_id.encode())],
        )
        return handle

    async def end_offset(self, topic: str) -> int:
        partition = TopicPartition(topic, 0)
        offsets = await self.watcher.end_offsets([partition])
        return int(offsets[partition])


def _worker_py(live: Live, models: Path, kafka: str, name: str, *mode: str, ready: str) -> Service:
    """``worker.py`` as a user runs it, on the bench's server and broker."""
    return Service(
        name,
        [
            *(sys.executable, "worker.py", "--definitions", str(models), *mode),
            *("--task-queue", TASK_QUEUE, "--message-topic", "", "--no-connectors"),
        ],
        live.state / f"kafka-{name}.log",
        ready,
        {"TEMPORAL_ADDRESS": live.address, "KAFKA_BOOTSTRAP_SERVERS": kafka},
    )


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


async def _bounded(call: Callable[[_T], Awaitable[_R]], items: Iterable[_T]) -> list[_R]:
    """``call`` on every item, at most ``_START_CONCURRENCY`` at once."""
    gate = asyncio.Semaphore(_START_CONCURRENCY)

    async def one(item: _T) -> _R:
        async with gate:
            return await call(item)

    return await asyncio.gather(*(one(item) for item in items))


async def _until(condition: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _idle(cpu_seconds: Callable[[], float], timeout: float = 120) -> None:
    """Wait until a worker process has caught up (used under 2 % of a core for 0.5 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds()
        await asyncio.sleep(0.5)
        if cpu_seconds() - before < 0.01:
            return


@dataclass(frozen=True)
class Throughput:
    correlations: int
    per_second: float
    """Signals accepted per second, first to last, of a batch that waited in Kafka."""
    cpu_per_correlation: float
    """The consumer process's CPU time (the bridge's, or the floor consumer's)."""


async def throughput_batch(rig: Rig, side: str, size: int, tag: str) -> Throughput:
    """Load ``size`` waiting instances whose responses all wait in Kafka, then start the
    bridge (or the floor consumer) and time how fast it signals them."""
    topic = rig.topics.response(side)
    before = await rig.end_offset(topic)
    handles = await _bounded(functools.partial(rig.start, side), range(size))

    async def answered() -> bool:
        return await rig.end_offset(topic) >= before + size

    await _until(answered, f"{size} responses on {topic}", timeout=60 + size * 0.2)
    workflow_cpu = (
        rig.interpreter.cpu_seconds if side == "ours" else rig.live.workers["B"].cpu_seconds
    )
    await _idle(workflow_cpu)  # every instance waits: the consumer has the machine
    with rig.consumer(side, tag) as consumer:
        cpu_before = consumer.cpu_seconds()
        await asyncio.wait_for(
            asyncio.gather(*(handle.result() for handle in handles)), 60 + size * 0.2
        )
        cpu = consumer.cpu_seconds() - cpu_before
    trips = await _bounded(round_trip, handles)
    signals = [trip.signalled for trip in trips]
    span = max(signals) - min(signals)
    return Throughput(size, ratio(size - 1, span), cpu / size)


@contextmanager
def _processes(live: Live, kafka: str, topics: Topics) -> Iterator[tuple[Path, Service, Service]]:
    models = live.state / "kafka-models"
    models.mkdir(parents=True, exist_ok=True)
    for old in models.glob("*.bpmn"):
        old.unlink()
    kafka_task_model(topics.ours_request, topics.ours_response).write(models)
    echo = Service(
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
    interpreter = _worker_py(
        live, models, kafka, "interpreter", "--no-bridge", ready="Worker ready"
    )
    with echo, interpreter:
        yield models, echo, interpreter


async def run(live: Live, config: Config, kafka: str) -> Section:
    section = Section(TITLE)
    topics = Topics.fresh()
    await ensure_topics(kafka, [t for t in vars(topics).values()])
    # The floor's request producer has our publisher's settings (activities/_kafka_publish.py).
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    watcher = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await producer.start()
    await watcher.start()
    latencies: dict[str, list[RoundTrip]] = defaultdict(list)
    rates: dict[str, list[Throughput]] = defaultdict(list)
    try:
        with _processes(live, kafka, topics) as (models, _, interpreter):
            rig = Rig(live, kafka, topics, models, interpreter, producer, watcher)
            with ExitStack() as consumers:
                consumers.enter_context(rig.bridge("latency"))
                consumers.enter_context(rig.floor_consumer("latency"))
                for side in SIDES:  # warm-up, not measured: connections, group joins, caches
                    for index in range(3):
                        handle = await rig.start(side, index)
                        await asyncio.wait_for(handle.result(), 60)
                for _, side in interleaved(SIDES, config.repeats):
                    for index in range(config.bridge_round_trips):
                        handle = await rig.start(side, index)
                        await asyncio.wait_for(handle.result(), 60)
                        latencies[side].append(await round_trip(handle))
            for repeat, side in interleaved(SIDES, config.repeats):
                rates[side].append(
                    await throughput_batch(rig, side, config.bridge_batch, f"{side}-{repeat}")
                )
    finally:
        await producer.stop()
        await watcher.stop()
    _report(section, config, latencies, rates)
    return section


def _report(
    section: Section,
    config: Config,
    latencies: dict[str, list[RoundTrip]],
    rates: dict[str, list[Throughput]],
) -> None:
    section.text(
        "Ours: a BPMN instance whose tSM Kafka Task publishes its request through the publish "
        "activity (`worker.py --no-bridge`, aiokafka producer with acks=all, idempotent, "
        "linger 0); an echo responder answers on the response topic with the request's headers "
        "copied; the correlation bridge (`worker.py --bridge-only`) signals the instance, "
        "which completes. The floor: the same request produced by a plain aiokafka producer "
        "(same settings), the same echo responder, a plain aiokafka consumer that sends one "
        "Temporal signal to a workflow that only waits for it (and commits after Temporal "
        "accepted it, as the bridge does). One Kafka broker (KRaft, one partition per topic) "
        "and the dev server on this machine.",
        "Round trips run one at a time (no other instance in flight): "
        f"{config.bridge_round_trips} per side in each of {config.repeats} interleaved "
        "repeat(s), percentiles over all of them. Each leg is read from the same clocks on "
        "both sides: the request record's timestamp (when its producer sent it; ms "
        "resolution), the echo's clock when it read the request, the server's event times in "
        "the instance's history. Target: p50 request → completed, ours/floor ≤ 1.2.",
    )
    legs: dict[str, Callable[[RoundTrip], float]] = {
        "request → completed": lambda t: t.completed - t.requested,
        "request → signal accepted": lambda t: t.signalled - t.requested,
        "request → echo read it": lambda t: t.echoed - t.requested,
        "echo read it → signal accepted": lambda t: t.signalled - t.echoed,
        "signal accepted → completed": lambda t: t.completed - t.signalled,
    }
    rows = []
    for leg, measure in legs.items():
        p50 = {s: percentile([measure(t) for t in latencies[s]], 50) for s in SIDES}
        p99 = {s: percentile([measure(t) for t in latencies[s]], 99) for s in SIDES}
        rows.append(
            [
                leg,
                ms(p50["ours"]),
                ms(p50["floor"]),
                times(ratio(p50["ours"], p50["floor"])),
                ms(p99["ours"]),
                ms(p99["floor"]),
                times(ratio(p99["ours"], p99["floor"])),
            ]
        )
        if leg == "request → completed":
            section.numbers["p50_ratio"] = ratio(p50["ours"], p50["floor"])
            section.numbers["p99_ratio"] = ratio(p99["ours"], p99["floor"])
            for side in SIDES:
                section.numbers[f"{side}_p50_ms"] = p50[side] * 1000
                section.numbers[f"{side}_p99_ms"] = p99[side] * 1000
        if leg == "request → signal accepted":
            section.numbers["signal_p50_ratio"] = ratio(p50["ours"], p50["floor"])
    section.table(
        ["leg", "ours p50", "floor p50", "ours/floor", "ours p99", "floor p99", "ours/floor"],
        rows,
    )
    rate = {s: median([r.per_second for r in rates[s]]) for s in SIDES}
    cpu = {s: median([r.cpu_per_correlation for r in rates[s]]) for s in SIDES}
    section.text(
        f"Correlations per second: {config.bridge_batch} instances wait, their "
        f"{config.bridge_batch} responses already in Kafka, their workflow worker idle; then "
        "the bridge (or the floor consumer) starts, and the rate is the batch over the time "
        "from its first accepted signal to its last (the server's event times). CPU is the "
        f"consumer process's per correlation. Median of {config.repeats} interleaved batch(es) "
        "per side; target: ours ≥ 1,000/s."
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
