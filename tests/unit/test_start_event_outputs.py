"""Output mappings of start events with a trigger, on the time-skipping server: they pick from
the variables of the message, signal or error that started the process or event sub-process,
and only what they map reaches its scope (Zeebe)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

import translator
from activities import BpmnError, Job, publish_message
from tests.helpers import deploy, problems_of, running_interpreter, start_process
from tests.helpers.bpmn import chain, error, events, io_mapping, model, service
from workflows import RESOLVE_INCIDENT_UPDATE, STATE_QUERY

OWN_TIME_SKIPPING_SERVER = True
"""The started instances and mailboxes of these tests must not meet other modules'."""


def message_start(element_id: str, io: str, extra: str = "") -> str:
    return (
        f'<bpmn:startEvent id="{element_id}"{extra}><bpmn:extensionElements>{io}'
        '</bpmn:extensionElements><bpmn:messageEventDefinition messageRef="msg_order" />'
        "</bpmn:startEvent>"
    )


ORDER_MESSAGE = '<bpmn:message id="msg_order" name="mapped-order-placed" />'

MAPPED_MESSAGE_START = model(
    "mapped-order",
    message_start("order_placed", io_mapping(outputs={"total": "=order.total * 2"})),
    service("handle_order"),
    events("end"),
    chain("order_placed", "handle_order", "end"),
    extra=ORDER_MESSAGE,
)


def test_a_triggered_start_event_keeps_its_output_mappings() -> None:
    [definition] = translator.compile_bytes(MAPPED_MESSAGE_START.encode(), "m.bpmn")
    start = definition.nodes["order_placed"]
    assert isinstance(start, translator.TriggeredStartEvent)
    assert start.outputs is not None
    assert [(m.target, str(m.source)) for m in start.outputs] == [("total", "=order.total * 2")]


def test_a_triggered_start_event_without_mappings_keeps_none() -> None:
    """None, not empty: the content hash of such models stays what it was."""
    xml = MAPPED_MESSAGE_START.replace(io_mapping(outputs={"total": "=order.total * 2"}), "")
    [definition] = translator.compile_bytes(xml.encode(), "m.bpmn")
    start = definition.nodes["order_placed"]
    assert isinstance(start, translator.TriggeredStartEvent) and start.outputs is None


def test_input_mappings_on_a_triggered_start_event_are_refused() -> None:
    xml = model(
        "inputs-on-start",
        message_start("order_placed", io_mapping(inputs={"x": "=1"})),
        events("end"),
        chain("order_placed", "end"),
        extra=ORDER_MESSAGE,
    )
    [problem] = problems_of(xml)
    assert problem.element_id == "order_placed"
    assert "input mappings are not supported on startEvent" in problem.message


async def test_a_message_start_events_outputs_pick_from_the_message(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(MAPPED_MESSAGE_START)
    seen: list[dict[str, Any]] = []
    client = time_skipping_env.client
    jobs = {"handle_order": lambda job: seen.append(dict(job.variables))}
    async with running_interpreter(client, task_queue, jobs):
        variables = {"order": {"total": 21}, "noise": True}
        await publish_message(
            client, "mapped-order-placed", "o-1", variables, task_queue=task_queue
        )
        for _ in range(600):
            if seen:
                break
            await asyncio.sleep(0.05)
    # Only what the mapping made reached the process: not the message's own variables.
    assert seen == [{"total": 42}]


ERROR_WITH_MAPPED_HANDLER = model(
    "mapped-error-handler",
    events("start", kind="startEvent"),
    service("charge"),
    events("end"),
    chain("start", "charge", "end"),
    '<bpmn:subProcess id="on_error" triggeredByEvent="true">',
    '<bpmn:startEvent id="error_start"><bpmn:extensionElements>'
    + io_mapping(outputs={"reason": "=&quot;declined: &quot; + why"})
    + '</bpmn:extensionElements><bpmn:errorEventDefinition errorRef="e1" /></bpmn:startEvent>',
    service("notify"),
    events("esp_end"),
    chain("error_start", "notify", "esp_end"),
    "</bpmn:subProcess>",
    extra=error("e1", "DECLINED"),
)


async def test_an_event_sub_process_start_maps_the_errors_variables(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(ERROR_WITH_MAPPED_HANDLER)
    notified: list[dict[str, Any]] = []

    def charge(job: Job) -> dict[str, Any]:
        raise BpmnError("DECLINED", "card declined", {"why": "expired", "card": "4111"})

    jobs = {"charge": charge, "notify": lambda job: notified.append(dict(job.variables))}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "mapped-error-handler", amount=5)
        result = await handle.result()
    assert notified == [{"amount": 5, "reason": "declined: expired"}]
    assert result == {"amount": 5, "reason": "declined: expired"}


async def test_a_failing_start_mapping_is_an_incident_that_maps_again_once_resolved(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The trigger's variables are kept until the mapping applied: the retry still sees them.
    A ``for`` range over a variable not set yet fails the mapping."""
    failing = "=for i in 1..tries return &quot;declined: &quot; + why"
    xml = ERROR_WITH_MAPPED_HANDLER.replace("=&quot;declined: &quot; + why", failing)
    deploy(xml.replace("mapped-error-handler", "mapped-error-incident"))

    def charge(job: Job) -> dict[str, Any]:
        raise BpmnError("DECLINED", "card declined", {"why": "expired"})

    jobs = {"charge": charge, "notify": lambda job: {}}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "mapped-error-incident")
        for _ in range(600):
            state = await handle.query(STATE_QUERY)
            if state["incidents"]:
                break
            await asyncio.sleep(0.05)
        [incident] = state["incidents"]
        assert (incident["type"], incident["element_id"]) == (
            "EXPRESSION_EVALUATION_FAILED",
            "error_start",
        )
        resolution = {"incident_key": incident["key"], "variables": {"tries": 2}}
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, resolution)
        result = await handle.result()
    assert result["reason"] == ["declined: expired", "declined: expired"]
    assert "why" not in result


@pytest.mark.parametrize("trigger", ["signal", "timer"])
def test_other_triggered_starts_accept_outputs(trigger: str) -> None:
    definition = {
        "signal": '<bpmn:signalEventDefinition signalRef="s" />',
        "timer": "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition>",
    }[trigger]
    xml = model(
        f"{trigger}-mapped",
        '<bpmn:startEvent id="go"><bpmn:extensionElements>'
        + io_mapping(outputs={"started": "=true"})
        + f"</bpmn:extensionElements>{definition}</bpmn:startEvent>",
        events("end"),
        chain("go", "end"),
        extra='<bpmn:signal id="s" name="go" />',
    )
    if trigger == "timer":  # a process-level timer start needs a date or cycle
        xml = xml.replace(
            "timeDuration>PT1M</bpmn:timeDuration", "timeCycle>R1/PT1M</bpmn:timeCycle"
        )
    [definition_ir] = translator.compile_bytes(xml.encode(), "m.bpmn")
    start = definition_ir.nodes["go"]
    assert isinstance(start, translator.TriggeredStartEvent) and start.outputs


async def test_an_incident_fix_reaches_the_triggers_variables(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The error's variables shadow the process's while the start event maps them: the
    variables given when resolving the incident reach them too."""
    failing = "=for i in 1..why.count return i"
    xml = ERROR_WITH_MAPPED_HANDLER.replace("=&quot;declined: &quot; + why", failing)
    deploy(xml.replace("mapped-error-handler", "mapped-error-shadowed"))

    def charge(job: Job) -> dict[str, Any]:
        raise BpmnError("DECLINED", "card declined", {"why": {"count": "many"}})

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"charge": charge, "notify": lambda j: {}}):
        handle = await start_process(client, task_queue, "mapped-error-shadowed")
        for _ in range(600):
            state = await handle.query(STATE_QUERY)
            if state["incidents"]:
                break
            await asyncio.sleep(0.05)
        [incident] = state["incidents"]
        resolution = {"incident_key": incident["key"], "variables": {"why": {"count": 2}}}
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, resolution)
        result = await handle.result()
    assert result["reason"] == [1, 2]


def test_a_version_tag_does_not_change_the_content_hash() -> None:
    [plain] = translator.compile_bytes(MAPPED_MESSAGE_START.encode(), "m.bpmn")
    tagged_xml = MAPPED_MESSAGE_START.replace(
        '<bpmn:process id="mapped-order"',
        '<bpmn:process xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'camunda:versionTag="1.2" id="mapped-order"',
    )
    [tagged] = translator.compile_bytes(tagged_xml.encode(), "m.bpmn")
    assert tagged.version_tag == "1.2"
    assert tagged.content_hash == plain.content_hash
