"""Several bridge replicas share the response partitions through the consumer group, on the
real broker and dev server; when one dies, another takes over its partitions and nothing is
lost.

Two ``worker.py --bridge-only`` processes consume a response topic of four partitions (the
responder keys each response by its correlation id, so responses spread over all four while a
response and its duplicate stay in order). Both deliver some of
the first half of the responses; then one is SIGKILLed and the other delivers the rest once
the group gave it the dead one's partitions. Every instance completes once, with its first
response's body.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from temporalio.client import Client

from activities import BridgeConfig, KafkaSettings
from tests.helpers.processes import log_count, worker_process
from tests.integration.test_kafka_delivery import (
    DELIVERED,
    NOT_RUNNING,
    check_requests,
    dead_letters,
    interpreter_only,
    kafka_scenario,
    reasons_of,
    responder,
    results,
    shuffled_with_duplicates,
    start_instances,
)

pytestmark = pytest.mark.integration

INSTANCES = 200
PARTITIONS = 4


async def wait_for_group_members(bootstrap: str, members: int, timeout: float = 90.0) -> None:
    """Until the bridges' consumer group is stable with exactly ``members`` members (a member
    killed by an earlier test stays in the group until its session times out)."""
    group = BridgeConfig(KafkaSettings(bootstrap), topics=()).group_id
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = time.monotonic() + timeout
    seen: object = None
    try:
        while time.monotonic() < deadline:
            [described] = await admin.describe_consumer_groups([group])
            [(_, _, state, _, _, listed, *_)] = described.groups
            seen = (state, len(listed))
            if seen == ("Stable", members):
                return
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise AssertionError(f"group {group} not stable with {members} members: {seen}")


async def test_two_bridge_replicas_share_partitions_and_one_takes_over_from_the_other(
    dev_stack: Any, tmp_path: Path
) -> None:
    bootstrap, address = dev_stack.kafka_bootstrap, dev_stack.temporal_address
    scenario = await kafka_scenario(tmp_path, bootstrap, response_partitions=PARTITIONS)
    client = await Client.connect(address)
    logs = [tmp_path / "bridge-a.log", tmp_path / "bridge-b.log"]
    bridge = [scenario.folder, address, bootstrap, "--bridge-only"]
    with interpreter_only(scenario, tmp_path / "interpreter.log", address, bootstrap):
        async with responder(bootstrap, scenario) as answering:
            handles = await start_instances(client, scenario, range(INSTANCES))
            requests = await answering.collect(INSTANCES)
            check_requests(requests, scenario)
            first, second = requests[: INSTANCES // 2], requests[INSTANCES // 2 :]
            with worker_process(bridge[0], logs[1], *bridge[1:]):
                with worker_process(bridge[0], logs[0], *bridge[1:]) as doomed:
                    await wait_for_group_members(bootstrap, 2)
                    await answering.answer_all(shuffled_with_duplicates(first, random.Random(2)))
                    await results([handles[json.loads(r.value)] for r in first], 120)
                    shares = [log_count(log, DELIVERED) for log in logs]
                    doomed.send_signal(signal.SIGKILL)
                    doomed.wait()
                await answering.answer_all(shuffled_with_duplicates(second, random.Random(3)))
                answers = await results(handles, 180)

    assert all(share > 0 for share in shares), f"one replica delivered nothing: {shares}"
    assert answers == [n * 2 for n in range(INSTANCES)]
    letters = await dead_letters(bootstrap, scenario.dead_letter_topic)
    assert reasons_of(letters) <= {NOT_RUNNING}
