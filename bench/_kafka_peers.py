"""The Kafka bridge workload's other processes: the echo responder and the floor's consumer.

``python -m bench._kafka_peers echo --kafka HOST:PORT --pair REQUEST=RESPONSE ...`` answers
every record of each request topic on its response topic, with the request's headers copied
(as a tSM responder must), a JSON object body wrapping the request's, and two headers of its
own that the workload reads back from the instance's history: when the request was produced
(the record's timestamp) and when the echo received it.

``python -m bench._kafka_peers floor --kafka HOST:PORT --address HOST:PORT --topic T`` is the
floor the bridge is measured against: a plain aiokafka consumer that sends one Temporal signal
per response to the workflow its ``correlationId`` names, committing offsets only after
Temporal accepted the signals (the bridge's at-least-once guarantee), and nothing else: no
decoding checks, no dead-letter topic. It signals a whole fetched batch at once.

Both write ``READY`` to stderr (their log) once their consumer has its partitions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from temporalio.client import Client

from activities import ensure_topics
from bench._baseline import KAFKA_WAIT_SIGNAL

READY = "bench kafka peer ready"
REQUEST_MS_HEADER = "benchRequestMs"
"""Set by the echo: the request record's timestamp (when its producer sent it), in ms."""
ECHO_NS_HEADER = "benchEchoNs"
"""Set by the echo: when it received the request, in ns since the epoch."""
ECHO_GROUP = "bench-echo"
FLOOR_GROUP = "bench-floor"


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    """Set once the group gave this consumer its partitions (one per topic here)."""

    def __init__(self, partitions: int) -> None:
        self.event = asyncio.Event()
        self._partitions = partitions

    async def on_partitions_revoked(self, revoked: object) -> None:
        self.event.clear()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if len(assigned) >= self._partitions:
            self.event.set()


async def _subscribe(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> None:
    """Start ``consumer`` on ``topics``; return once it has their partitions."""
    assigned = _Assigned(len(topics))
    consumer.subscribe(list(topics), listener=assigned)
    await consumer.start()
    await asyncio.wait_for(assigned.event.wait(), 60)


async def echo(kafka: str, pairs: dict[str, str]) -> None:
    await ensure_topics(kafka, [*pairs, *pairs.values()])
    # The responder's settings are aiokafka's defaults, as a plain service would use them,
    # with acks=all. One consumer per request topic: a consumer of several partitions may
    # hold a record of one of them behind a fetch that waits on the others.
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    consumers = {
        request: AIOKafkaConsumer(
            bootstrap_servers=kafka,
            group_id=f"{ECHO_GROUP}-{request}",
            auto_offset_reset="earliest",
        )
        for request in pairs
    }
    await producer.start()

    async def answer(consumer: AIOKafkaConsumer, response_topic: str) -> None:
        async for record in consumer:
            received = time.time_ns()
            body = json.loads(record.value) if record.value else None
            headers = [
                *(record.headers or ()),
                (REQUEST_MS_HEADER, str(record.timestamp).encode()),
                (ECHO_NS_HEADER, str(received).encode()),
            ]
            # Enqueued, not awaited: the next request is read while this one is sent.
            await producer.send(
                response_topic,
                json.dumps({"echo": body}).encode(),
                key=record.key,
                headers=headers,
            )

    try:
        for request, consumer in consumers.items():
            await _subscribe(consumer, [request])
        print(READY, file=sys.stderr, flush=True)
        await asyncio.gather(
            *(answer(consumer, pairs[request]) for request, consumer in consumers.items())
        )
    finally:
        for consumer in consumers.values():
            await consumer.stop()
        await producer.stop()


def _signal_payload(record: ConsumerRecord) -> tuple[str, dict[str, Any]]:
    headers = {name: value.decode() for name, value in record.headers or ()}
    return headers["correlationId"], {
        "headers": headers,
        "body": json.loads(record.value) if record.value else {},
    }


async def floor(kafka: str, address: str, topic: str) -> None:
    await ensure_topics(kafka, [topic])
    client = await Client.connect(address)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        group_id=FLOOR_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )

    async def deliver(record: ConsumerRecord) -> None:
        workflow_id, payload = _signal_payload(record)
        await client.get_workflow_handle(workflow_id).signal(KAFKA_WAIT_SIGNAL, payload)

    try:
        await _subscribe(consumer, [topic])
        print(READY, file=sys.stderr, flush=True)
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for partition, records in batches.items():
                await asyncio.gather(*(deliver(record) for record in records))
                await consumer.commit(
                    {TopicPartition(partition.topic, partition.partition): records[-1].offset + 1}
                )
    finally:
        await consumer.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._kafka_peers")
    parser.add_argument("role", choices=["echo", "floor"])
    parser.add_argument("--kafka", required=True, help="bootstrap servers")
    parser.add_argument("--address", help="Temporal (floor)")
    parser.add_argument("--topic", help="the response topic (floor)")
    parser.add_argument(
        "--pair", action="append", default=[], metavar="REQUEST=RESPONSE", help="(echo)"
    )
    args = parser.parse_args(argv)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        if args.role == "echo":
            await echo(args.kafka, dict(pair.split("=", 1) for pair in args.pair))
        else:
            await floor(args.kafka, args.address, args.topic)

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(run())


if __name__ == "__main__":
    main()
