"""Kafka Tasks across outages of the broker and of Temporal, on real servers: nothing is lost.

- The test stack's Kafka broker is stopped and started again (``Stack.restart``) while
  responses flow through the bridge and new instances try to publish their requests.
- A bridge and interpreter pointed at a Temporal dev server of their own that goes away:
  the bridge keeps retrying the record in hand and commits nothing until Temporal is back.

Helpers (scenario, responder, checks) are shared with test_kafka_delivery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from temporalio.client import Client

from activities import BridgeConfig, KafkaSettings
from stack import Stack
from tests.conftest import TEST_STACK_PORTS, TEST_STACK_ROOT
from tests.helpers.processes import log_count, wait_for_log_count
from tests.integration.test_kafka_delivery import (
    DELIVERED,
    DUPLICATE,
    NOT_RUNNING,
    check_requests,
    dead_letters,
    interpreter_and_bridge,
    kafka_scenario,
    reasons_of,
    responder,
    results,
    shuffled_with_duplicates,
    start_instances,
)

pytestmark = pytest.mark.integration

WAITING = 300
"""Instances waiting for their response when the broker goes down."""
STARTED_DURING_OUTAGE = 30
"""Instances started while the broker is down: their requests must get out once it is back."""
TEMPORAL_OUTAGE_INSTANCES = 100
REFUSED = "Temporal refused signal"
"""What the bridge logs each time a signal fails for want of Temporal, before it retries."""


def _free_ports(count: int) -> list[int]:
    """Ports the kernel reports free right now (all held at once, so they are distinct)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


async def committed_offset(bootstrap: str, topic: str) -> int | None:
    """The bridge's consumer group's committed offset on partition 0 of ``topic``."""
    group = BridgeConfig(KafkaSettings(bootstrap), topics=()).group_id
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    committed = offsets.get(TopicPartition(topic, 0))
    return committed.offset if committed is not None and committed.offset >= 0 else None


async def test_broker_restarted_mid_run_loses_nothing(dev_stack: Any, tmp_path: Path) -> None:
    test_stack = Stack(TEST_STACK_ROOT, **TEST_STACK_PORTS)
    if test_stack.status(["kafka"])[0].pid is None:
        # Only a broker this stack started can be stopped and started again; a foreign one
        # on the port (someone's own Kafka) is left alone. `make test` always starts its own.
        pytest.skip(
            "another Kafka answers on the test stack's port: this test restarts the broker and "
            "only restarts one the test stack started itself"
        )
    bootstrap, address = dev_stack.kafka_bootstrap, dev_stack.temporal_address
    scenario = await kafka_scenario(tmp_path, bootstrap)
    client = await Client.connect(address)
    rng = random.Random(9092)
    with interpreter_and_bridge(scenario, tmp_path, address, bootstrap) as (_, log):
        async with responder(bootstrap, scenario) as answering:
            handles = await start_instances(client, scenario, range(WAITING))
            requests = await answering.collect(WAITING)
            answers = shuffled_with_duplicates(requests, rng, duplicated=0.2)
            half = len(answers) // 2
            await answering.answer_all(answers[:half])
            # Responses are flowing: stop the broker under the bridge's feet.
            await asyncio.to_thread(wait_for_log_count, log, DELIVERED, 10)
            await asyncio.to_thread(test_stack.stop, ["kafka"])
            # Half the instances still wait for answers not yet sent, and more start now.
            more = asyncio.create_task(
                start_instances(client, scenario, range(WAITING, WAITING + STARTED_DURING_OUTAGE))
            )
            await asyncio.sleep(2)  # their publishes fail and are retried
            await asyncio.to_thread(test_stack.start, ["kafka"])
            handles += await more
            await answering.answer_all(answers[half:])
            late = await answering.collect(STARTED_DURING_OUTAGE)
            check_requests(requests + late, scenario)
            await answering.answer_all(shuffled_with_duplicates(late, rng, duplicated=0))
            answers_by_instance = await results(handles, 180)
            assert log_count(log, "Unable connect") >= 1, "the bridge lost the broker, came back"

    assert answers_by_instance == [n * 2 for n in range(WAITING + STARTED_DURING_OUTAGE)]
    assert reasons_of(await dead_letters(bootstrap, scenario.dead_letter_topic)) <= {NOT_RUNNING}


async def test_temporal_unreachable_pauses_the_bridge_and_loses_nothing(
    dev_stack: Any, tmp_path: Path
) -> None:
    bootstrap = dev_stack.kafka_bootstrap
    temporal_port, ui_port = _free_ports(2)
    own = Stack(tmp_path / "own-stack", temporal_port=temporal_port, temporal_ui_port=ui_port)
    address = (await asyncio.to_thread(own.start, ["temporal"])).temporal_address
    try:
        scenario = await kafka_scenario(tmp_path, bootstrap)
        client = await Client.connect(address)
        with interpreter_and_bridge(scenario, tmp_path, address, bootstrap) as (_, log):
            async with responder(bootstrap, scenario) as answering:
                handles = await start_instances(client, scenario, range(TEMPORAL_OUTAGE_INSTANCES))
                requests = await answering.collect(TEMPORAL_OUTAGE_INSTANCES)
                check_requests(requests, scenario)
                await asyncio.to_thread(own.stop, ["temporal"])
                await answering.answer_all(shuffled_with_duplicates(requests, random.Random(7)))
                # The bridge holds the first response, retrying it, and commits nothing.
                await asyncio.to_thread(wait_for_log_count, log, REFUSED, 1, timeout=60)
                assert log_count(log, DELIVERED) == 0
                assert await committed_offset(bootstrap, scenario.response_topic) in (None, 0)
                await asyncio.to_thread(own.start, ["temporal"])
                answers = await results(handles, 180)
    finally:
        await asyncio.to_thread(own.stop)

    assert answers == [n * 2 for n in range(TEMPORAL_OUTAGE_INSTANCES)]
    letters = await dead_letters(bootstrap, scenario.dead_letter_topic)
    # No first response was dead-lettered: a refused signal is retried, never given up on.
    assert all(json.loads(record.value) == DUPLICATE for record in letters)
    assert reasons_of(letters) <= {NOT_RUNNING}
