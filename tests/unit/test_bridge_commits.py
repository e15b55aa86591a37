"""The bridge's commit step when the consumer group rebalanced during a batch: it commits
what is still assigned to it, skips what moved, and goes on consuming (no reconnect, which
would rebalance the group again). The real group behaviour is in
tests/integration/test_kafka_replicas.py; this pins the branch a test there cannot time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from activities import BridgeConfig, CorrelationBridge, KafkaSettings

OURS = TopicPartition("responses", 0)
MOVED = TopicPartition("responses", 1)


def record(tp: TopicPartition, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, None, b"{}", None, 2, 2, [])


class RebalancedConsumer:
    """Hands out one batch over two partitions; by the time it is delivered, the group has
    given ``MOVED`` to another replica. The next fetch ends the test."""

    def __init__(self, commit_error: Exception | None = None) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.fetches = 0
        self._commit_error = commit_error

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]:
        self.fetches += 1
        if self.fetches > 1:
            raise asyncio.CancelledError
        return {OURS: [record(OURS, 7), record(OURS, 8)], MOVED: [record(MOVED, 3)]}

    def assignment(self) -> set[TopicPartition]:
        return {OURS}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self._commit_error is not None:
            raise self._commit_error
        self.commits.append(offsets)


class RecordingBridge(CorrelationBridge):
    def __init__(self, consumer: RebalancedConsumer) -> None:
        super().__init__(None, BridgeConfig(KafkaSettings("unused:9092"), ("responses",)))  # type: ignore[arg-type]
        self._consumer = consumer  # type: ignore[assignment]
        self.delivered: list[tuple[int, int]] = []

    async def handle(self, record: ConsumerRecord[Any, Any]) -> None:
        self.delivered.append((record.partition, record.offset))


async def consume_one_batch(consumer: RebalancedConsumer) -> RecordingBridge:
    bridge = RecordingBridge(consumer)
    with pytest.raises(asyncio.CancelledError):
        await bridge._consume()
    return bridge


async def test_offsets_of_partitions_still_assigned_are_committed_and_moved_ones_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = RebalancedConsumer()
    with caplog.at_level(logging.INFO, logger="activities._bridge"):
        bridge = await consume_one_batch(consumer)
    assert sorted(bridge.delivered) == [(0, 7), (0, 8), (1, 3)]
    assert consumer.commits == [{OURS: 9}]
    assert consumer.fetches == 2, "it went on consuming"
    assert "responses[1] not committed here" in caplog.text


async def test_a_commit_refused_because_the_group_moved_on_does_not_stop_consuming(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = RebalancedConsumer(CommitFailedError("membership changed"))
    with caplog.at_level(logging.INFO, logger="activities._bridge"):
        await consume_one_batch(consumer)
    assert consumer.fetches == 2
    assert "responses[0], responses[1] not committed here" in caplog.text
