"""Creating the topics we consume before subscribing: a consumer of a missing topic would only
notice it after its next metadata refresh (minutes), so responses would wait that long."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from activities._connections import KafkaSettings

logger = logging.getLogger(__name__)


async def ensure_topics(kafka: KafkaSettings | str, topics: Iterable[str]) -> None:
    """Create any of ``topics`` that do not exist (1 partition, replication 1 if new)."""
    settings = KafkaSettings(kafka) if isinstance(kafka, str) else kafka
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(topics) - existing)
        if missing:
            # Created concurrently by someone else is what we wanted too.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, num_partitions=1, replication_factor=1) for name in missing]
                )
            logger.info("Created Kafka topics %s", ", ".join(missing))
    finally:
        await admin.close()
