"""A Kafka Task's response timeout (a boundary timer) and the response that comes too late:
it goes to the dead-letter topic, with the reason, instead of being kept or lost."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities import Job
from tests.helpers import PublishedRequests, deploy, running_interpreter, start_process
from tests.helpers.bpmn import service
from tests.helpers.models import kafka_task_process
from tests.unit.test_timers import boundary, timer
from workflows import KAFKA_RESPONSE_SIGNAL

OWN_TIME_SKIPPING_SERVER = True  # the test moves the clock


KAFKA_TASK_WITH_TIMEOUT = kafka_task_process(
    "kafka-timeout",
    boundary("too_late", "ask", timer("duration", "PT1H"), interrupting=True)
    + service("follow_up")
    + '<bpmn:endEvent id="followed_up" />',
    '<bpmn:sequenceFlow id="f3" sourceRef="too_late" targetRef="follow_up" />'
    '<bpmn:sequenceFlow id="f4" sourceRef="follow_up" targetRef="followed_up" />',
)


async def test_a_response_after_the_kafka_tasks_timeout_goes_to_the_dead_letter_topic(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(KAFKA_TASK_WITH_TIMEOUT)
    client = time_skipping_env.client
    published = PublishedRequests()
    following_up, finish = asyncio.Event(), asyncio.Event()

    async def follow_up(job: Job) -> dict[str, Any]:
        following_up.set()
        await finish.wait()
        return {"followedUp": True}

    async with running_interpreter(
        client, task_queue, {"follow_up": follow_up}, published.activity()
    ):
        handle = await start_process(client, task_queue, "kafka-timeout", n=1)
        # Awaiting the result lets the server skip the hour: no response comes in time.
        outcome = asyncio.ensure_future(handle.result())
        await asyncio.wait_for(following_up.wait(), 10)
        headers = published.requests[0]["headers"]
        late = {
            "correlation_id": headers["correlationId"],
            "headers": {"correlationId": headers["correlationId"], "source": "slow-service"},
            "body": {"rate": 1.1},
            "topic": "tsm-process-response",
        }
        await handle.signal(KAFKA_RESPONSE_SIGNAL, late)
        await handle.signal(KAFKA_RESPONSE_SIGNAL, late)  # re-delivered: dead-lettered once
        for _ in range(100):
            if len(published.requests) >= 2:
                break
            await asyncio.sleep(0.05)
        finish.set()
        result = await outcome
    assert result == {"n": 1, "followedUp": True}
    dead_letters = published.requests[1:]
    assert len(dead_letters) == 1
    (dead,) = dead_letters
    assert dead["topic"] == "tsm-process-response.DLT"
    assert dead["payload"] == {"rate": 1.1}
    assert dead["headers"]["source"] == "slow-service"
    assert "late response" in dead["headers"]["dlt-reason"]
    assert "'ask'" in dead["headers"]["dlt-reason"]
