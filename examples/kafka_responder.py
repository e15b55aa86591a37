"""An external system answering Kafka Tasks (tSM contract): ``python -m examples.kafka_responder``.

It reads requests from ``tsm-process-request`` and answers on ``tsm-process-response`` with
the request's headers copied (only ``correlationId`` is required) and a JSON body.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]

from activities import ensure_topics

logger = logging.getLogger("examples.kafka_responder")

REQUEST_TOPIC = "tsm-process-request"
RESPONSE_TOPIC = "tsm-process-response"


def answer(payload: dict[str, Any]) -> dict[str, Any]:
    """The business logic: approve orders up to 10,000."""
    amount = payload.get("amount") or 0
    return {"approved": amount <= 10_000, "approvedBy": "kafka-responder"}


async def respond_forever(bootstrap: str) -> None:
    await ensure_topics(bootstrap, [REQUEST_TOPIC, RESPONSE_TOPIC])
    consumer = AIOKafkaConsumer(
        REQUEST_TOPIC,
        bootstrap_servers=bootstrap,
        group_id="example-order-approver",
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        async for record in consumer:
            headers = dict(record.headers or ())
            payload = json.loads(record.value or b"{}")
            logger.info("Request %s: %s", headers.get("correlationId", b"?").decode(), payload)
            await producer.send_and_wait(
                RESPONSE_TOPIC,
                json.dumps(answer(payload)).encode(),
                key=record.key,
                headers=list(headers.items()),
            )
    finally:
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(respond_forever(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")))
