"""Kafka Task delivery guarantees under load and crashes, on the real broker and dev server.

Many instances wait at once; a consumer answers in random order and sends duplicates; the
bridge process is SIGKILLed mid-run and restarted. Every instance must complete exactly once,
with the first response it was sent.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from temporalio.client import Client

from activities import ensure_topics
from tests.helpers.processes import worker_process

pytestmark = pytest.mark.integration

INSTANCES = 200

KAFKA_ONLY_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="kafka-delivery" isExecutable="true">
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


async def collect_requests(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"responder-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(120):
            async for record in consumer:
                records.append(record)
                if len(records) == count:
                    return records
    finally:
        await consumer.stop()
    return records


async def test_every_instance_completes_exactly_once_across_a_bridge_crash(
    dev_stack: Any, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    request_topic, response_topic = f"it-request-{suffix}", f"it-response-{suffix}"
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "kafka-delivery.bpmn").write_text(
        KAFKA_ONLY_PROCESS.format(request=request_topic, response=response_topic)
    )
    bootstrap, address = dev_stack.kafka_bootstrap, dev_stack.temporal_address
    await ensure_topics(bootstrap, [request_topic, response_topic])
    queue = f"delivery-{suffix}"
    client = await Client.connect(address)

    with worker_process(
        folder,
        tmp_path / "interpreter.log",
        address,
        bootstrap,
        "--no-bridge",
        "--task-queue",
        queue,
    ):
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    "kafka-delivery", {"n": n}, id=f"delivery-{suffix}-{n}", task_queue=queue
                )
                for n in range(INSTANCES)
            )
        )
        requests = await collect_requests(bootstrap, request_topic, INSTANCES)
        assert len(requests) == INSTANCES
        random.Random(7).shuffle(requests)

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()

        async def answer(batch: list[Any]) -> None:
            for record in batch:
                n = json.loads(record.value)
                await producer.send(
                    response_topic,
                    json.dumps({"answer": n * 2}).encode(),
                    headers=list(record.headers),
                )
                # A duplicate with another body: it must never win.
                await producer.send(
                    response_topic,
                    json.dumps({"answer": -1}).encode(),
                    headers=list(record.headers),
                )
            await producer.flush()

        half = INSTANCES // 2
        try:
            bridge_log = tmp_path / "bridge-1.log"
            with worker_process(folder, bridge_log, address, bootstrap, "--bridge-only") as bridge:
                await answer(requests[:half])
                await asyncio.sleep(1.0)
                bridge.send_signal(signal.SIGKILL)  # mid-run, with records in flight
                bridge.wait()
            await answer(requests[half:])
            with worker_process(
                folder, tmp_path / "bridge-2.log", address, bootstrap, "--bridge-only"
            ):
                results = await asyncio.wait_for(
                    asyncio.gather(*(handle.result() for handle in handles)), 180
                )
        finally:
            await producer.stop()

    assert [result["answer"] for result in results] == [n * 2 for n in range(INSTANCES)]
