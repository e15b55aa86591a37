"""The Kafka correlation bridge: response records in, ``KAFKA_RESPONSE_SIGNAL`` signals out;
and BPMN messages in (records of the message topics), published to their mailboxes.

Guarantees (DESIGN.md, "Delivery guarantees"):
- an offset is committed only after Temporal accepted the signal (or the record went to the
  dead-letter topic), so a crash in between re-delivers and the workflow drops the duplicate;
- a record that cannot be routed (no or garbled correlationId, undecodable body, unknown or
  finished instance) goes to ``<topic>.DLT`` with the reason in the ``dlt-reason`` header;
- while Temporal is unreachable the bridge retries the same record (it never skips it);
- while Kafka is unreachable the bridge retries with backoff and logs; nothing else stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities._connections import KafkaSettings
from activities._kafka_topics import ensure_topics
from activities._messages import MessageError, message_publication, publish
from translator.expressions._temporal import parse_duration
from workflows import (
    DEFAULT_TASK_QUEUE,
    KAFKA_RESPONSE_SIGNAL,
    KafkaResponse,
    MessagePublication,
    workflow_id_of,
)
from workflows._contracts import DEFAULT_MESSAGE_TTL_SECONDS, DLT_REASON_HEADER, DLT_SUFFIX

logger = logging.getLogger(__name__)

CONSUMER_GROUP = "bpmn-correlation-bridge"


class UnroutableError(Exception):
    """A record that no instance can take; it belongs in the dead-letter topic."""


@dataclass(frozen=True)
class BridgeConfig:
    kafka: KafkaSettings
    topics: tuple[str, ...]
    message_topics: tuple[str, ...] = ()
    """Topics whose records are BPMN messages (see ``decode_message``)."""
    task_queue: str = DEFAULT_TASK_QUEUE
    """Where the message mailboxes run: the interpreter's task queue."""
    group_id: str = CONSUMER_GROUP
    dlt_suffix: str = DLT_SUFFIX
    max_backoff_seconds: float = 30.0
    fetch_max_wait_ms: int = 50
    """How long a fetch waits for records: aiokafka's 500 ms default delayed each response by
    up to that much whenever one of the topics was idle."""
    max_batch: int = 500
    """Records fetched and delivered together; their offsets are committed after all are."""
    max_in_flight: int = 500
    """Signals sent to Temporal at once (records of one correlation stay in order): with 64 the
    bridge did 540-1,060 correlations/s here, with 500 about 1,450/s."""


def decode_response(record: ConsumerRecord) -> KafkaResponse:
    """Turn a record into the signal payload, or raise UnroutableError saying why."""
    headers = {name: value.decode("utf-8", "replace") for name, value in record.headers or ()}
    correlation_id = headers.get("correlationId", "").strip()
    if not correlation_id:
        raise UnroutableError("no correlationId header")
    if workflow_id_of(correlation_id) is None:
        raise UnroutableError(f"correlationId {correlation_id!r} was not issued by this engine")
    try:
        body = json.loads(record.value) if record.value else {}
    except (ValueError, UnicodeDecodeError) as error:
        raise UnroutableError(f"body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise UnroutableError(f"body must be a JSON object, got {type(body).__name__}")
    return KafkaResponse(
        correlation_id=correlation_id,
        headers=headers,
        body=body,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )


def decode_message(record: ConsumerRecord) -> MessagePublication:
    """A message record: a JSON object ``{"name", "correlationKey", "variables",
    "timeToLive" (ISO 8601 duration or seconds), "messageId"}``."""
    try:
        body = json.loads(record.value) if record.value else None
    except (ValueError, UnicodeDecodeError) as error:
        raise UnroutableError(f"message is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise UnroutableError("a message record must be a JSON object")
    ttl = body.get("timeToLive", DEFAULT_MESSAGE_TTL_SECONDS)
    seconds = ttl if isinstance(ttl, int | float) else _duration_seconds(ttl)
    try:
        publication = message_publication(
            str(body.get("name") or ""),
            body.get("correlationKey"),
            body.get("variables"),
            timedelta(seconds=seconds),
            body.get("messageId"),
        )
    except MessageError as error:
        raise UnroutableError(str(error)) from None
    return publication


def _duration_seconds(text: object) -> float:
    duration = parse_duration(str(text))
    if not isinstance(duration, timedelta):
        raise UnroutableError(f"timeToLive {text!r} is not an ISO 8601 duration like 'PT10M'")
    return duration.total_seconds()


class CorrelationBridge:
    """One consumer group over every response topic in use."""

    def __init__(self, client: Client, config: BridgeConfig) -> None:
        self._client = client
        self._config = config
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def run(self) -> None:
        """Consume until cancelled, reconnecting with backoff whenever Kafka is unreachable."""
        if not self._config.topics and not self._config.message_topics:
            logger.info("No Kafka response or message topics in use; the bridge is idle")
            await asyncio.Event().wait()
        backoff = 1.0
        while True:
            try:
                await self._connect()
                backoff = 1.0
                logger.info("Bridge listening on %s", ", ".join(self._all_topics()))
                await self._consume()
            except asyncio.CancelledError:
                await self._disconnect()
                raise
            except Exception as error:
                await self._disconnect()
                logger.warning(
                    "Kafka at %s unreachable (%s); bridge retries in %.0f s",
                    self._config.kafka.bootstrap_servers,
                    error,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._config.max_backoff_seconds)

    def _all_topics(self) -> tuple[str, ...]:
        return (*self._config.topics, *self._config.message_topics)

    async def _connect(self) -> None:
        await ensure_topics(self._config.kafka, self._all_topics())
        options = self._config.kafka.client_options()
        self._producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=True)
        self._consumer = AIOKafkaConsumer(
            *self._all_topics(),
            **options,
            group_id=self._config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._config.fetch_max_wait_ms,
        )
        await self._producer.start()
        await self._consumer.start()

    async def _disconnect(self) -> None:
        for client in (self._consumer, self._producer):
            if client is not None:
                try:
                    await client.stop()
                except Exception as error:  # closing a broken connection may fail too
                    logger.debug("Ignoring error while closing Kafka client: %s", error)
        self._consumer = self._producer = None

    async def _consume(self) -> None:
        """Deliver fetched batches; commit a batch's offsets only once every record of it is
        delivered (a crash before that re-delivers the batch, and instances ignore what they
        already consumed)."""
        consumer = self._consumer
        assert consumer is not None
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=self._config.max_batch)
            if not batches:
                continue
            await self._deliver([record for part in batches.values() for record in part])
            await self._commit(consumer, {tp: part[-1].offset + 1 for tp, part in batches.items()})

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit what is still ours. A rebalance during the batch (a replica joined or died)
        may have moved partitions away: their new owner re-delivers from the last commit, and
        the instances drop what they already consumed, so this is no error to reconnect over
        (reconnecting would rebalance the group once more)."""
        assigned = consumer.assignment()
        kept = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        moved = [tp for tp in offsets if tp not in kept]
        try:
            if kept:
                await consumer.commit(kept)
        except (CommitFailedError, IllegalStateError):
            moved = list(offsets)
        if moved:
            logger.info(
                "The group rebalanced during a batch: %s not committed here; the new owner "
                "re-delivers from the last commit",
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in moved),
            )

    async def _deliver(self, records: list[ConsumerRecord]) -> None:
        """Deliver records concurrently, except that records of one correlation (or message
        records of one partition) go one after the other, in offset order: a duplicate never
        overtakes the response it duplicates."""
        lanes: dict[object, list[ConsumerRecord]] = defaultdict(list)
        for record in records:
            lanes[self._lane(record)].append(record)
        in_flight = asyncio.Semaphore(self._config.max_in_flight)

        async def deliver_lane(lane: list[ConsumerRecord]) -> None:
            for record in lane:
                async with in_flight:
                    await self.handle(record)

        async with asyncio.TaskGroup() as group:
            for lane in lanes.values():
                group.create_task(deliver_lane(lane))

    def _lane(self, record: ConsumerRecord) -> object:
        if record.topic in self._config.message_topics:
            return (record.topic, record.partition)
        for name, value in record.headers or ():
            if name == "correlationId":
                return ("correlation", bytes(value))
        return (record.topic, record.partition, record.offset)

    async def handle(self, record: ConsumerRecord) -> None:
        """Deliver one record (signal or dead letter); returns only when it is safe to commit."""
        try:
            if record.topic in self._config.message_topics:
                await self._publish_message(decode_message(record))
            else:
                await self._signal(decode_response(record))
        except UnroutableError as error:
            await self._dead_letter(record, str(error))

    async def _signal(self, response: KafkaResponse) -> None:
        workflow_id = workflow_id_of(response.correlation_id) or ""
        handle = self._client.get_workflow_handle(workflow_id)
        backoff = 1.0
        while True:
            try:
                await handle.signal(KAFKA_RESPONSE_SIGNAL, response.model_dump(mode="json"))
                logger.info("Delivered response %s to %s", response.correlation_id, workflow_id)
                return
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    raise UnroutableError(
                        f"process instance {workflow_id!r} is not running"
                    ) from None
                logger.warning("Temporal refused signal (%s); retrying in %.0f s", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._config.max_backoff_seconds)

    async def _publish_message(self, message: MessagePublication) -> None:
        backoff = 1.0
        while True:
            try:
                await publish(self._client, message, self._config.task_queue)
                logger.info("Published message %s (%s)", message.name, message.correlation_key)
                return
            except RPCError as error:
                logger.warning("Temporal refused message (%s); retrying in %.0f s", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._config.max_backoff_seconds)

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        assert self._producer is not None
        topic = record.topic + self._config.dlt_suffix
        headers = [*(record.headers or ()), (DLT_REASON_HEADER, reason.encode())]
        await self._producer.send_and_wait(
            topic, value=record.value, key=record.key, headers=headers
        )
        logger.warning("Dead-lettered %s@%s to %s: %s", record.topic, record.offset, topic, reason)
