"""Escalations on the time-skipping server: thrown by intermediate throw and end events,
caught up the scope chain by boundary events and event sub-processes, interrupting or not."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities import Job
from tests.helpers import deploy, running_interpreter, start_process
from tests.helpers.bpmn import chain, events, flow, model, service
from workflows import STATE_QUERY

ESCALATIONS = (
    '<bpmn:escalation id="esc_late" escalationCode="late" />'
    '<bpmn:escalation id="esc_other" escalationCode="other" />'
)


def throw(element_id: str, ref: str = "esc_late", kind: str = "intermediateThrowEvent") -> str:
    return (
        f'<bpmn:{kind} id="{element_id}">'
        f'<bpmn:escalationEventDefinition escalationRef="{ref}" /></bpmn:{kind}>'
    )


def boundary(element_id: str, attached_to: str, ref: str | None, interrupting: bool) -> str:
    reference = f' escalationRef="{ref}"' if ref else ""
    return (
        f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}" '
        f'cancelActivity="{str(interrupting).lower()}">'
        f"<bpmn:escalationEventDefinition{reference} /></bpmn:boundaryEvent>"
    )


def sub_process(*inner: str) -> str:
    return "\n".join(['<bpmn:subProcess id="sub">', *inner, "</bpmn:subProcess>"])


def path(state: dict[str, Any]) -> list[str]:
    return [element["element_id"] for element in state["completed"]]


def terminated(state: dict[str, Any]) -> set[str]:
    return {e["element_id"] for e in state["completed"] if e["state"] == "terminated"}


async def run(
    env: WorkflowEnvironment, task_queue: str, process_id: str, jobs: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    async with running_interpreter(env.client, task_queue, jobs):
        handle = await start_process(env.client, task_queue, process_id)
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    return result, state


async def test_a_non_interrupting_boundary_runs_next_to_the_sub_process_that_escalated(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        model(
            "escalate-non-interrupting",
            events("start", kind="startEvent"),
            sub_process(
                events("sub_start", kind="startEvent"),
                throw("escalate"),
                service("after_escalation"),
                events("sub_end"),
                chain("sub_start", "escalate", "after_escalation", "sub_end"),
            ),
            boundary("on_late", "sub", "esc_late", interrupting=False),
            service("notify"),
            events("done", "notified"),
            chain("start", "sub", "done"),
            chain("on_late", "notify", "notified"),
            extra=ESCALATIONS,
        )
    )
    jobs = {"after_escalation": lambda job: {"continued": True}, "notify": lambda job: {"told": 1}}
    result, state = await run(time_skipping_env, task_queue, "escalate-non-interrupting", jobs)
    assert result == {"continued": True, "told": 1}
    assert {"escalate", "after_escalation", "on_late", "notify", "notified", "done"} <= set(
        path(state)
    )
    assert not terminated(state)


async def test_an_interrupting_boundary_ends_the_sub_process_and_cancels_its_jobs(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        model(
            "escalate-interrupting",
            events("start", kind="startEvent"),
            sub_process(
                events("sub_start", kind="startEvent"),
                '<bpmn:parallelGateway id="fork" />',
                service("slow"),
                throw("escalate"),
                service("never"),
                events("sub_end", "slow_end"),
                chain("sub_start", "fork", "escalate", "never", "sub_end"),
                chain("fork", "slow", "slow_end"),
            ),
            boundary("on_late", "sub", "esc_late", interrupting=True),
            events("done", "escalated"),
            chain("start", "sub", "done"),
            chain("on_late", "escalated"),
            extra=ESCALATIONS,
        )
    )
    cancelled = asyncio.Event()

    async def slow(job: Job) -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    jobs = {"slow": slow, "never": lambda job: {"ran": "never"}}
    result, state = await run(time_skipping_env, task_queue, "escalate-interrupting", jobs)
    assert "ran" not in result
    assert path(state)[-2:] == ["on_late", "escalated"]
    assert {"sub", "slow", "escalate"} <= terminated(state)
    assert "never" not in path(state) and "done" not in path(state)


async def test_an_escalation_end_event_starts_a_non_interrupting_event_sub_process(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        model(
            "escalate-to-handler",
            events("start", kind="startEvent"),
            '<bpmn:parallelGateway id="fork" />',
            throw("escalate_end", kind="endEvent"),
            service("main_work"),
            events("main_end"),
            chain("start", "fork", "escalate_end"),
            chain("fork", "main_work", "main_end"),
            '<bpmn:subProcess id="handler" triggeredByEvent="true">'
            '<bpmn:startEvent id="handler_start" isInterrupting="false">'
            "<bpmn:escalationEventDefinition /></bpmn:startEvent>",
            service("handle"),
            events("handler_end"),
            chain("handler_start", "handle", "handler_end"),
            "</bpmn:subProcess>",
            extra=ESCALATIONS,
        )
    )
    jobs = {"main_work": lambda job: {"main": 1}, "handle": lambda job: {"handled": 1}}
    result, state = await run(time_skipping_env, task_queue, "escalate-to-handler", jobs)
    assert result == {"main": 1, "handled": 1}
    assert {"escalate_end", "handler", "handle", "main_work", "main_end"} <= set(path(state))


async def test_an_escalation_nothing_catches_lets_the_instance_go_on(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        model(
            "escalate-uncaught",
            events("start", kind="startEvent"),
            throw("escalate"),
            service("next"),
            events("end"),
            chain("start", "escalate", "next", "end"),
            extra=ESCALATIONS,
        )
    )
    result, state = await run(
        time_skipping_env, task_queue, "escalate-uncaught", {"next": lambda job: {"went_on": 1}}
    )
    assert result == {"went_on": 1}
    assert not state["incidents"]


async def test_a_boundary_naming_the_code_wins_over_a_catch_all(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        model(
            "escalate-by-code",
            events("start", kind="startEvent"),
            sub_process(
                events("sub_start", kind="startEvent"),
                throw("escalate", ref="esc_other"),
                events("sub_end"),
                chain("sub_start", "escalate", "sub_end"),
            ),
            boundary("catch_all", "sub", None, interrupting=True),
            boundary("on_late", "sub", "esc_late", interrupting=True),
            boundary("on_other", "sub", "esc_other", interrupting=True),
            events("done", "all_end", "late_end", "other_end"),
            chain("start", "sub", "done"),
            flow("catch_all", "all_end"),
            flow("on_late", "late_end"),
            flow("on_other", "other_end"),
            extra=ESCALATIONS,
        )
    )
    _, state = await run(time_skipping_env, task_queue, "escalate-by-code", {})
    assert path(state)[-2:] == ["on_other", "other_end"]


def call_activity(element_id: str, called: str) -> str:
    return (
        f'<bpmn:callActivity id="{element_id}"><bpmn:extensionElements>'
        f'<zeebe:calledElement processId="{called}" /></bpmn:extensionElements>'
        "</bpmn:callActivity>"
    )


ESCALATING_CHILD = model(
    "escalating-child",
    events("start", kind="startEvent"),
    throw("escalate"),
    service("child_work"),
    events("end"),
    chain("start", "escalate", "child_work", "end"),
    extra=ESCALATIONS,
)


async def test_a_called_process_escalates_to_a_non_interrupting_call_activity_boundary(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(ESCALATING_CHILD, "child.bpmn")
    deploy(
        model(
            "escalation-caller",
            events("start", kind="startEvent"),
            call_activity("call", "escalating-child"),
            boundary("on_late", "call", "esc_late", interrupting=False),
            service("notify"),
            events("done", "notified"),
            chain("start", "call", "done"),
            chain("on_late", "notify", "notified"),
            extra=ESCALATIONS,
        )
    )
    jobs = {"child_work": lambda job: {"child": 1}, "notify": lambda job: {"told": 1}}
    result, state = await run(time_skipping_env, task_queue, "escalation-caller", jobs)
    assert result == {"child": 1, "told": 1}
    assert {"on_late", "notify", "call", "done"} <= set(path(state))


async def test_an_interrupting_call_activity_boundary_cancels_the_escalating_child(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(ESCALATING_CHILD, "child.bpmn")
    deploy(
        model(
            "escalation-interrupted-caller",
            events("start", kind="startEvent"),
            call_activity("call", "escalating-child"),
            boundary("on_late", "call", None, interrupting=True),
            events("done", "escalated"),
            chain("start", "call", "done"),
            chain("on_late", "escalated"),
            extra=ESCALATIONS,
        )
    )
    ran: list[str] = []
    jobs = {"child_work": lambda job: ran.append(job.process_instance_id)}
    result, state = await run(time_skipping_env, task_queue, "escalation-interrupted-caller", jobs)
    assert result == {}
    assert ran == []  # the child stopped where it escalated
    assert path(state)[-2:] == ["on_late", "escalated"]
    assert "call" in terminated(state)
