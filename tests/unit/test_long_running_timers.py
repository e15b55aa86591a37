"""Timers and conditions across continue-as-new: a sub-process's boundary timer keeps its due
time when the loop inside continues as new; repeating non-interrupting events do not start over."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers import deploy, running_interpreter
from tests.helpers.bpmn import chain, events, flow, model, service
from tests.unit.test_timers import timer
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


def ticking(inside: str = "") -> str:
    """A sub-process ``ticks``: every 20 seconds ``inc`` adds one to ``n``, until 30."""
    return (
        '<bpmn:subProcess id="ticks">'
        + events("ticks_start", kind="startEvent")
        + timer_catch("wait", "PT20S")
        + service("inc")
        + '<bpmn:exclusiveGateway id="enough" default="again" />'
        + events("ticks_end")
        + chain("ticks_start", "wait", "inc", "enough")
        + flow("enough", "ticks_end", "=n &gt;= 30")
        + flow("enough", "wait", flow_id="again")
        + inside
        + "</bpmn:subProcess>"
    )


def timer_catch(element_id: str, duration: str) -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{element_id}">{timer("duration", duration)}'
        "</bpmn:intermediateCatchEvent>"
    )


def noting(trigger: str) -> str:
    """A non-interrupting event sub-process: ``note`` each time ``trigger`` occurs."""
    return (
        '<bpmn:subProcess id="on_trigger" triggeredByEvent="true">'
        f'<bpmn:startEvent id="triggered" isInterrupting="false">{trigger}</bpmn:startEvent>'
        + service("note")
        + events("noted")
        + chain("triggered", "note", "noted")
        + "</bpmn:subProcess>"
    )


CONDITION = (
    "<bpmn:conditionalEventDefinition><bpmn:condition>=n &gt;= 3</bpmn:condition>"
    "</bpmn:conditionalEventDefinition>"
)
TWICE = timer("cycle", "R2/PT1M")


def on_ticks(trigger: str) -> str:
    return (
        f'<bpmn:boundaryEvent id="on_trigger" attachedToRef="ticks" cancelActivity="false">'
        f"{trigger}</bpmn:boundaryEvent>"
        + service("note")
        + events("noted")
        + flow("on_trigger", "note")
        + flow("note", "noted")
    )


OCCURRING = {
    "conditional event sub-process": (ticking(noting(CONDITION)), 1),
    "timer cycle event sub-process": (ticking(noting(TWICE)), 2),
    "conditional boundary event": (ticking() + on_ticks(CONDITION), 1),
    "timer cycle boundary event": (ticking() + on_ticks(TWICE), 2),
}


@pytest.mark.parametrize("case", sorted(OCCURRING))
async def test_repeating_non_interrupting_events_do_not_start_over_when_continuing_as_new(
    time_skipping_env: WorkflowEnvironment, task_queue: str, case: str
) -> None:
    """A spent timer cycle stays spent and a condition that held must turn false before it
    occurs again, also in the next run."""
    inner, times = OCCURRING[case]
    deploy(
        model(
            "repeating",
            events("start", kind="startEvent"),
            inner,
            events("end"),
            chain("start", "ticks", "end"),
        )
    )
    notes: list[int] = []
    jobs = {
        "inc": lambda job: {"n": job.variables["n"] + 1},
        "note": lambda job: notes.append(job.variables["n"]),
    }
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs, continue_as_new_after_events=40):
        handle = await client.start_workflow(
            "repeating", {"n": 0}, id=f"repeating-{uuid.uuid4()}", task_queue=task_queue
        )
        assert (await handle.result())["n"] == 30
        history = await client.get_workflow_handle(handle.id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "it continued as new"
    assert len(notes) == times, notes
