"""The built-in activity that publishes a Kafka Task's request (acks=all, idempotent producer)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from temporalio import activity

from activities._connections import KafkaSettings
from workflows import KAFKA_PUBLISH_ACTIVITY, KafkaPublishRequest

logger = logging.getLogger(__name__)


class KafkaPublisher:
    """Owns one producer per worker, started lazily so an absent broker only fails Kafka Tasks."""

    def __init__(self, kafka: KafkaSettings | str) -> None:
        self._kafka = KafkaSettings(kafka) if isinstance(kafka, str) else kafka
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self._kafka.client_options(),
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=15000,
                )
                try:
                    await producer.start()
                except Exception:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def send(self, request: KafkaPublishRequest) -> dict[str, Any]:
        producer = await self._started_producer()
        metadata = await producer.send_and_wait(
            request.topic,
            value=json.dumps(request.payload).encode(),
            key=request.key.encode() if request.key is not None else None,
            headers=[(name, value.encode()) for name, value in request.headers.items()],
        )
        return {"topic": metadata.topic, "partition": metadata.partition, "offset": metadata.offset}

    @activity.defn(name=KAFKA_PUBLISH_ACTIVITY)
    async def publish(self, request: dict[str, Any]) -> dict[str, Any]:
        """Publish one request record; every retry carries the same correlationId."""
        parsed = KafkaPublishRequest.model_validate(request)
        try:
            return await self.send(parsed)
        except Exception as error:
            logger.warning("Publishing to %s failed (will retry): %s", parsed.topic, error)
            raise

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
