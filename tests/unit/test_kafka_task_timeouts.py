"""A Kafka Task's response timeout (a boundary timer) and the response that comes too late:
it goes to the dead-letter topic, with the reason, instead of being kept or lost; a response
left unmapped by the interruption is not kept either."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities import Job
from tests.helpers import PublishedRequests, deploy, running_interpreter, start_process
from tests.helpers.bpmn import service
from tests.helpers.models import kafka_task_process
from tests.unit.test_timers import boundary, timer
from workflows import KAFKA_RESPONSE_SIGNAL, STATE_QUERY, workflow_id_of

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


INTERRUPTED_KAFKA_TASK = kafka_task_process(
    "interrupted-kafka-task",
    extra_elements=(
        '<bpmn:boundaryEvent id="too_slow" attachedToRef="ask"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:boundaryEvent>"
        '<bpmn:intermediateCatchEvent id="next_day"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition>"
        '</bpmn:intermediateCatchEvent><bpmn:endEvent id="given_up" />'
    ),
    extra_flows=(
        '<bpmn:sequenceFlow id="f3" sourceRef="too_slow" targetRef="next_day" />'
        '<bpmn:sequenceFlow id="f4" sourceRef="next_day" targetRef="given_up" />'
    ),
).replace(
    "</camunda:executionListener>",
    "</camunda:executionListener><camunda:inputOutput>"
    '<camunda:outputParameter name="ratio">${status.length() / divisor}</camunda:outputParameter>'
    "</camunda:inputOutput>",
)


async def test_a_response_left_unmapped_by_an_interruption_is_not_carried_on(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The Kafka Task's output mapping fails (an incident), then its boundary timer ends it:
    the response it received is dropped, not carried into the next run."""
    deploy(INTERRUPTED_KAFKA_TASK)
    client = time_skipping_env.client
    published = PublishedRequests()

    async def answer_at_once(request: dict[str, Any]) -> None:
        correlation_id = request["headers"]["correlationId"]
        handle = client.get_workflow_handle(workflow_id_of(correlation_id) or "")
        body = {"status": "done"}
        await handle.signal(KAFKA_RESPONSE_SIGNAL, {"correlation_id": correlation_id, "body": body})

    published.on_publish = answer_at_once
    async with running_interpreter(
        client, task_queue, {}, published.activity(), continue_as_new_after_events=20
    ):
        handle = await client.start_workflow(
            "interrupted-kafka-task", {"n": 1}, id=f"kafka-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.result()
        state = await handle.query(STATE_QUERY)
        history = await client.get_workflow_handle(handle.id).fetch_history()
    assert [e["element_id"] for e in state["completed"]][-3:] == [
        "too_slow",
        "next_day",
        "given_up",
    ]
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "it continued as new after the interruption"
    options = json.loads(started.input.payloads[1].data)
    continuation = options["continuation"]
    [correlation_id] = [r["headers"]["correlationId"] for r in published.requests]
    assert correlation_id in continuation["consumed_correlations"]
    assert continuation["responses"] == []
