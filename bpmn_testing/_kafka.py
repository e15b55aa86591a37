"""Kafka without a broker: a stand-in for the built-in publish activity that records what would
have been published, and responses sent through the signal the correlation bridge sends."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client

from workflows import (
    KAFKA_PUBLISH_ACTIVITY,
    KAFKA_RESPONSE_SIGNAL,
    KafkaPublishRequest,
    KafkaResponse,
    workflow_id_of,
)

logger = logging.getLogger(__name__)

CORRELATION_ID_HEADER = "correlationId"

Body = Mapping[str, Any] | None
Responder = Body | Callable[["KafkaRecord"], Body]


@dataclass(frozen=True)
class KafkaRecord:
    """One record the process would have published (a Kafka Task's request, or a Kafka send
    task's message)."""

    topic: str
    key: str | None
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    offset: int = 0

    @property
    def correlation_id(self) -> str | None:
        """The ``correlationId`` header of a Kafka Task's request (None for a send task)."""
        return self.headers.get(CORRELATION_ID_HEADER)

    @property
    def process_instance_id(self) -> str | None:
        return self.headers.get("processInstanceId")


class FakeKafka:
    """Replaces the Kafka publish activity for one test (``bpmn.kafka``).

    ``records`` holds every publish in order. Answer a Kafka Task with
    ``await instance.respond_kafka({...})``, ``await bpmn.kafka.respond(record, {...})``, or
    answer every request on a topic as it is published with ``auto_respond``.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self.records: list[KafkaRecord] = []
        self._responders: dict[str, Responder] = {}

    def published(self, topic: str | None = None) -> list[KafkaRecord]:
        """The records published so far (on ``topic``, if given)."""
        return [r for r in self.records if topic is None or r.topic == topic]

    def auto_respond(self, topic: str, body: Responder) -> None:
        """Answer every request published on ``topic`` at once: with ``body``, or with what
        ``body(record)`` returns (None: no answer to that one)."""
        self._responders[topic] = body

    async def respond(
        self,
        record: KafkaRecord,
        body: Body = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send the response to ``record``'s correlation, as the bridge would after reading
        a response record: the ``bpmn.kafka_response`` signal to the waiting instance."""
        correlation_id = record.correlation_id
        if not correlation_id:
            raise ValueError(
                f"the record on {record.topic!r} has no correlationId header: only Kafka "
                "Tasks wait for a response"
            )
        workflow_id = workflow_id_of(correlation_id)
        if workflow_id is None:
            raise ValueError(f"correlationId {correlation_id!r} was not issued by this engine")
        response = KafkaResponse(
            correlation_id=correlation_id,
            headers={**(headers or {}), CORRELATION_ID_HEADER: correlation_id},
            body=dict(body or {}),
        )
        handle = self._client.get_workflow_handle(workflow_id)
        await handle.signal(KAFKA_RESPONSE_SIGNAL, response.model_dump(mode="json"))

    def activity(self) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
        """The activity registered under the built-in publish activity's name."""

        @activity.defn(name=KAFKA_PUBLISH_ACTIVITY)
        async def publish(request: dict[str, Any]) -> dict[str, Any]:
            parsed = KafkaPublishRequest.model_validate(request)
            record = KafkaRecord(
                topic=parsed.topic,
                key=parsed.key,
                payload=parsed.payload,
                headers=dict(parsed.headers),
                offset=len(self.records),
            )
            self.records.append(record)
            responder = self._responders.get(record.topic)
            if responder is not None and record.correlation_id:
                body = responder(record) if callable(responder) else responder
                if body is not None:
                    await self.respond(record, body)
            return {"topic": record.topic, "partition": 0, "offset": record.offset}

        return publish
