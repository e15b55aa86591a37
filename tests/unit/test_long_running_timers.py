"""A sub-process's boundary timer keeps its due time when the loop inside continues as new."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from tests.helpers import deploy, running_interpreter
from tests.helpers.bpmn import chain, events, flow, model
from workflows import STATE_QUERY

OWN_TIME_SKIPPING_SERVER = True  # the test moves the clock

POLLING = model(
    "poll-for-a-day",
    events("start", kind="startEvent"),
    '<bpmn:subProcess id="polling">',
    events("poll_start", kind="startEvent"),
    '<bpmn:intermediateCatchEvent id="hourly"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    "</bpmn:intermediateCatchEvent>",
    '<bpmn:exclusiveGateway id="ready" default="not_yet" />',
    events("poll_end"),
    chain("poll_start", "hourly", "ready"),
    flow("ready", "poll_end", "=false"),
    flow("ready", "hourly", flow_id="not_yet"),
    "</bpmn:subProcess>",
    '<bpmn:boundaryEvent id="gave_up" attachedToRef="polling">'
    "<bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration>"
    "</bpmn:timerEventDefinition></bpmn:boundaryEvent>",
    events("done", "timed_out"),
    chain("start", "polling", "done"),
    chain("gave_up", "timed_out"),
)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_boundary_timer_fires_on_time_across_continue_as_new_inside_its_scope(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(POLLING)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, continue_as_new_after_events=40):
        handle = await client.start_workflow(
            "poll-for-a-day", {}, id=f"poll-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.result()
        state = await handle.query(STATE_QUERY)
        history = await client.get_workflow_handle(handle.id).fetch_history()
    completed = {e["element_id"]: e for e in state["completed"]}
    assert "timed_out" in completed and "done" not in completed
    hourly = [e for e in state["completed"] if e["element_id"] == "hourly"]
    started = moment(hourly[0]["completed_at"]) - timedelta(hours=1)
    fired = moment(completed["gave_up"]["completed_at"])
    # Neither restarted nor lost by continue-as-new (the hourly timer starts a moment later).
    assert abs(fired - started - timedelta(days=1)) < timedelta(seconds=1)
    assert history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
