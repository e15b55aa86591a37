"""Zeebe's message intermediate throw and end events are jobs, exactly like send tasks."""

from __future__ import annotations

from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities import Job
from tests.helpers import deploy, running_interpreter, start_process
from tests.helpers.bpmn import chain, events, io_mapping, model

MESSAGE = '<bpmn:message id="m" name="order-news" />'


def message_event(element_id: str, kind: str, job_type: str, io: str = "") -> str:
    return (
        f'<bpmn:{kind} id="{element_id}"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}" />{io}</bpmn:extensionElements>'
        f'<bpmn:messageEventDefinition messageRef="m" /></bpmn:{kind}>'
    )


NOTIFYING = model(
    "notify-and-announce",
    events("start", kind="startEvent"),
    message_event(
        "notify",
        "intermediateThrowEvent",
        "notify",
        io_mapping(inputs={"id": "=orderId"}, outputs={"notified": "=sent"}),
    ),
    message_event("announce", "endEvent", "announce"),
    chain("start", "notify", "announce"),
    extra=MESSAGE,
)


async def test_message_throw_and_end_events_run_their_jobs(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(NOTIFYING)
    received: list[tuple[str, dict[str, Any]]] = []

    def notify(job: Job) -> dict[str, Any]:
        received.append((job.element_id, dict(job.variables)))
        return {"sent": True, "leaked": "not mapped"}

    def announce(job: Job) -> dict[str, Any]:
        received.append((job.element_id, dict(job.variables)))
        return {"announced": True}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"notify": notify, "announce": announce}):
        handle = await start_process(client, task_queue, "notify-and-announce", orderId=7)
        result = await handle.result()
    assert received == [
        ("notify", {"orderId": 7, "id": 7}),
        ("announce", {"orderId": 7, "notified": True}),
    ]
    assert result == {"orderId": 7, "notified": True, "announced": True}
