"""Kafka Task delivery guarantees at the issue's scale, on the real broker and dev server.

A responder that copies every request header onto its response (as a real one would; only
``correlationId`` is needed back) answers many waiting instances:

- 1,000 instances at once. The first requests are answered while the interpreter is frozen,
  so their responses are signalled before those instances reach their wait (early); then half
  are answered the moment their request appears, and the rest in random order. Every first
  response has a duplicate with another body, right behind it or shuffled in anywhere later.
- 500 responses (and 500 duplicates) published and in flight when the bridge process is
  SIGKILLed; a new bridge delivers the rest, and what it re-delivers changes nothing.

Every instance completes exactly once, with the first response's body; only records whose
instance had already finished reach the dead-letter topic. The broker and Temporal outages
are in test_kafka_outages.py, which shares the helpers below.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from activities import DLT_REASON_HEADER, ensure_topics
from tests.helpers.processes import log_count, paused, wait_for_log_count, worker_process

pytestmark = pytest.mark.integration

INSTANCES = 1_000
IN_FLIGHT = 500
FROZEN_ROUNDS = 8
"""Request batches answered while the interpreter is frozen, in the 1,000-instance test."""
DELIVERED = "Delivered response"
"""What the bridge logs for each signal Temporal accepted."""
DUPLICATE = {"answer": -1}
"""The body of every duplicate response: it must never become an instance's result."""
NOT_RUNNING = "process instance ... is not running"
"""The one dead-letter reason these tests expect (see ``reasons_of``)."""

KAFKA_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:receiveTask id="ask">
      <bpmn:extensionElements>
        <camunda:executionListener event="start" delegateExpression="#{{tsmKafkaTaskExecutor}}">
          <camunda:field name="requestTopic" stringValue="{request}" />
          <camunda:field name="responseTopic" stringValue="{response}" />
          <camunda:field name="payload" stringValue="#{{#variables.n}}" />
        </camunda:executionListener>
      </bpmn:extensionElements>
    </bpmn:receiveTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


@dataclass(frozen=True)
class KafkaScenario:
    """One deployed Kafka Task process with topics and a task queue of its own."""

    folder: Path
    process_id: str
    request_topic: str
    response_topic: str
    task_queue: str

    @property
    def dead_letter_topic(self) -> str:
        return self.response_topic + ".DLT"

    def workflow_id(self, n: int) -> str:
        return f"{self.process_id}-{n}"


async def kafka_scenario(
    tmp_path: Path, bootstrap: str, response_partitions: int = 1
) -> KafkaScenario:
    """Write the definitions folder and create the topics."""
    suffix = uuid.uuid4().hex[:8]
    scenario = KafkaScenario(
        folder=tmp_path / "defs",
        process_id=f"kafka-delivery-{suffix}",
        request_topic=f"it-request-{suffix}",
        response_topic=f"it-response-{suffix}",
        task_queue=f"delivery-{suffix}",
    )
    scenario.folder.mkdir()
    (scenario.folder / "kafka-delivery.bpmn").write_text(
        KAFKA_PROCESS.format(
            process_id=scenario.process_id,
            request=scenario.request_topic,
            response=scenario.response_topic,
        )
    )
    if response_partitions > 1:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            topic = NewTopic(scenario.response_topic, response_partitions, replication_factor=1)
            await admin.create_topics([topic])
        finally:
            await admin.close()
    topics = [scenario.request_topic, scenario.response_topic, scenario.dead_letter_topic]
    await ensure_topics(bootstrap, topics)
    return scenario


async def start_instances(
    client: Client, scenario: KafkaScenario, numbers: Iterable[int]
) -> list[WorkflowHandle[Any, Any]]:
    """Start one instance per number; instance n sends ``n`` and expects ``n * 2`` back."""
    return await asyncio.gather(
        *(
            client.start_workflow(
                scenario.process_id,
                {"n": n},
                id=scenario.workflow_id(n),
                task_queue=scenario.task_queue,
            )
            for n in numbers
        )
    )


def interpreter_only(
    scenario: KafkaScenario, log: Path, temporal_address: str, bootstrap: str
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """``worker.py --no-bridge`` on the scenario's task queue, as a process of its own."""
    return worker_process(
        scenario.folder,
        log,
        temporal_address,
        bootstrap,
        "--no-bridge",
        "--task-queue",
        scenario.task_queue,
    )


@contextmanager
def interpreter_and_bridge(
    scenario: KafkaScenario, logs: Path, temporal_address: str, bootstrap: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``worker.py --no-bridge`` and ``worker.py --bridge-only``, as two processes; yields the
    interpreter process and the bridge's log."""
    bridge_log = logs / "bridge.log"
    with (
        interpreter_only(
            scenario, logs / "interpreter.log", temporal_address, bootstrap
        ) as interpreter,
        worker_process(scenario.folder, bridge_log, temporal_address, bootstrap, "--bridge-only"),
    ):
        yield interpreter, bridge_log


def answer_to(request: ConsumerRecord) -> dict[str, int]:
    return {"answer": json.loads(request.value) * 2}


def shuffled_with_duplicates(
    requests: list[ConsumerRecord], rng: random.Random, duplicated: float = 1.0
) -> list[tuple[ConsumerRecord, dict[str, int]]]:
    """The answers to ``requests`` in random order; a ``duplicated`` share of them also get a
    duplicate, somewhere after the first response."""
    tokens = [*requests, *(r for r in requests if rng.random() < duplicated)]
    rng.shuffle(tokens)
    answered: set[int] = set()
    answers = []
    for request in tokens:
        n = json.loads(request.value)
        answers.append((request, DUPLICATE if n in answered else answer_to(request)))
        answered.add(n)
    return answers


class Responder:
    """Answers Kafka Tasks as a real consumer would: it reads the request topic and copies
    every header of a request onto the response it publishes (acks=all, idempotent, one
    producer, so responses land on the response topic in the order they are sent)."""

    def __init__(self, bootstrap: str, scenario: KafkaScenario) -> None:
        self.scenario = scenario
        # No consumer group: the position lives in this object, so a broker restart neither
        # loses nor repeats requests, and nothing waits for a group to form.
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=20,  # answer as fast as possible
        )
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )

    async def batches(
        self, count: int, timeout: float = 180.0
    ) -> AsyncIterator[list[ConsumerRecord]]:
        """The next ``count`` requests, in the batches they arrive in."""
        seen, deadline = 0, time.monotonic() + timeout
        while seen < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {seen} of {count} requests after {timeout:.0f} s")
            fetched = await self.consumer.getmany(timeout_ms=100)
            batch = [record for records in fetched.values() for record in records]
            if batch:
                seen += len(batch)
                yield batch

    async def collect(self, count: int, timeout: float = 180.0) -> list[ConsumerRecord]:
        return [record async for batch in self.batches(count, timeout) for record in batch]

    async def answer(self, request: ConsumerRecord, body: dict[str, Any]) -> None:
        """Publish a response to ``request`` (buffered; ``flush`` waits for the broker)."""
        # Keyed by the correlation: on a topic of several partitions, a response and its
        # duplicate then share one and keep their order.
        await self.producer.send(
            self.scenario.response_topic,
            json.dumps(body).encode(),
            key=dict(request.headers)["correlationId"],
            headers=list(request.headers),
        )

    async def answer_all(self, answers: list[tuple[ConsumerRecord, dict[str, int]]]) -> None:
        for request, body in answers:
            await self.answer(request, body)
        await self.producer.flush()


@asynccontextmanager
async def responder(bootstrap: str, scenario: KafkaScenario) -> AsyncIterator[Responder]:
    answering = Responder(bootstrap, scenario)
    await answering.producer.start()
    await answering.consumer.start()
    answering.consumer.assign([TopicPartition(scenario.request_topic, 0)])  # its one partition
    try:
        yield answering
    finally:
        await answering.consumer.stop()
        await answering.producer.stop()


def check_requests(requests: list[ConsumerRecord], scenario: KafkaScenario) -> None:
    """One request per instance, with the contract's headers and a correlationId of its own."""
    headers = [{name: value.decode() for name, value in r.headers} for r in requests]
    assert all(
        set(h) >= {"correlationId", "processInstanceId", "ownerType", "ownerId", "traceId"}
        for h in headers
    )
    assert [h["processInstanceId"] for h in headers] == [
        scenario.workflow_id(json.loads(r.value)) for r in requests
    ]
    assert len({h["processInstanceId"] for h in headers}) == len(requests)
    assert len({h["correlationId"] for h in headers}) == len(requests)


async def results(handles: list[WorkflowHandle[Any, Any]], timeout: float) -> list[int]:
    """Each instance's ``answer`` variable once it completed."""
    finished = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout)
    return [result["answer"] for result in finished]


async def dead_letters(bootstrap: str, topic: str, idle: float = 2.0) -> list[ConsumerRecord]:
    """Everything on a dead-letter topic, read until nothing new came for ``idle`` seconds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"dlt-reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        while fetched := await consumer.getmany(timeout_ms=int(idle * 1000)):
            found.extend(record for records in fetched.values() for record in records)
    finally:
        await consumer.stop()
    return found


def reasons_of(records: list[ConsumerRecord]) -> set[str]:
    """The dead-letter reasons, with the quoted instance id replaced by ``...``."""
    reasons = set()
    for record in records:
        reason = dict(record.headers)[DLT_REASON_HEADER].decode()
        reasons.add(reason.split("'")[0] + "..." + reason.split("'")[-1])
    return reasons


async def signalled_before_waiting(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the instance's history holds the response's signal before the workflow task
    that ran on from the publish (the one that reached the wait) completed."""
    events = [event.event_type for event in (await handle.fetch_history()).events]
    signalled = events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    published = events.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    waiting = events.index(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, published)
    return signalled < waiting


async def test_a_thousand_instances_answered_early_in_random_order_and_twice(
    dev_stack: Any, tmp_path: Path
) -> None:
    bootstrap, address = dev_stack.kafka_bootstrap, dev_stack.temporal_address
    scenario = await kafka_scenario(tmp_path, bootstrap)
    client = await Client.connect(address)
    rng = random.Random(1000)
    requests: list[ConsumerRecord] = []
    frozen: list[int] = []
    held: list[ConsumerRecord] = []
    with interpreter_and_bridge(scenario, tmp_path, address, bootstrap) as (interpreter, log):
        async with responder(bootstrap, scenario) as answering:
            # Started while the responder listens: it sees each request as soon as it is out.
            starting = asyncio.create_task(start_instances(client, scenario, range(INSTANCES)))
            rounds = 0
            async for batch in answering.batches(INSTANCES):
                requests.extend(batch)
                if rounds < FROZEN_ROUNDS:
                    # Early for certain: these instances cannot reach their wait before the
                    # bridge has signalled their responses (and a duplicate behind each).
                    rounds += 1
                    delivered = log_count(log, DELIVERED)
                    with paused(interpreter):
                        await answering.answer_all(
                            [(r, body) for r in batch for body in (answer_to(r), DUPLICATE)]
                        )
                        await asyncio.to_thread(
                            wait_for_log_count, log, DELIVERED, delivered + 2 * len(batch)
                        )
                    frozen.extend(json.loads(r.value) for r in batch)
                    continue
                for request in batch:
                    if rng.random() < 0.5:
                        await answering.answer_all(
                            [(request, answer_to(request)), (request, DUPLICATE)]
                        )
                    else:
                        held.append(request)
            handles = await starting
            await answering.answer_all(shuffled_with_duplicates(held, rng))
            check_requests(requests, scenario)
            answers = await results(handles, 240)

    assert answers == [n * 2 for n in range(INSTANCES)]
    early = await asyncio.gather(*(signalled_before_waiting(handles[n]) for n in frozen))
    # Most are; one that was out before its request was seen may have reached its wait.
    assert any(early), f"none of the {len(early)} frozen-round responses came early"
    letters = await dead_letters(bootstrap, scenario.dead_letter_topic)
    # No first response was dead-lettered: each found its instance running.
    assert all(json.loads(record.value) == DUPLICATE for record in letters)
    assert reasons_of(letters) <= {NOT_RUNNING}


async def test_bridge_killed_with_500_responses_in_flight(dev_stack: Any, tmp_path: Path) -> None:
    bootstrap, address = dev_stack.kafka_bootstrap, dev_stack.temporal_address
    scenario = await kafka_scenario(tmp_path, bootstrap)
    client = await Client.connect(address)
    with interpreter_only(scenario, tmp_path / "interpreter.log", address, bootstrap):
        async with responder(bootstrap, scenario) as answering:
            handles = await start_instances(client, scenario, range(IN_FLIGHT))
            requests = await answering.collect(IN_FLIGHT)
            check_requests(requests, scenario)
            first_log = tmp_path / "bridge-1.log"
            with worker_process(
                scenario.folder, first_log, address, bootstrap, "--bridge-only"
            ) as bridge:
                await answering.answer_all(shuffled_with_duplicates(requests, random.Random(500)))
                # All 1,000 records are on the topic; kill the bridge a few signals in.
                wait_for_log_count(first_log, DELIVERED, 20, bridge, timeout=60)
                bridge.send_signal(signal.SIGKILL)
                bridge.wait()
            delivered = log_count(first_log, DELIVERED)
            assert delivered < IN_FLIGHT, "the bridge was not killed mid-run"
            with worker_process(
                scenario.folder, tmp_path / "bridge-2.log", address, bootstrap, "--bridge-only"
            ):
                answers = await results(handles, 180)

    assert answers == [n * 2 for n in range(IN_FLIGHT)]
    letters = await dead_letters(bootstrap, scenario.dead_letter_topic)
    assert reasons_of(letters) <= {NOT_RUNNING}
