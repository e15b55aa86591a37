"""Error and escalation codes written as FEEL (Zeebe 8.2+): a throw event evaluates its code
as it throws, and catch events match the value; a catch event's code must be fixed."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers import deploy, problems_of, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import chain, error, error_boundary, events, model, service
from workflows import RESOLVE_INCIDENT_UPDATE, STATE_QUERY

COMPUTED = (
    error("computed", "=&quot;OUT_OF_&quot; + item")
    + error("out_of_stock", "OUT_OF_STOCK")
    + '<bpmn:escalation id="computed_escalation" escalationCode="=level" />'
    + '<bpmn:escalation id="late" escalationCode="late" />'
)


def failing_sub_process(thrower: str) -> str:
    return model(
        "computed-codes",
        events("start", kind="startEvent"),
        '<bpmn:subProcess id="sub">',
        events("sub_start", kind="startEvent"),
        thrower,
        chain("sub_start", "throw"),
        "</bpmn:subProcess>",
        error_boundary("on_stock", "sub", "out_of_stock"),
        '<bpmn:boundaryEvent id="on_late" attachedToRef="sub">'
        '<bpmn:escalationEventDefinition escalationRef="late" /></bpmn:boundaryEvent>',
        service("restock"),
        service("hurry"),
        events("done", "restocked", "hurried"),
        chain("start", "sub", "done"),
        chain("on_stock", "restock", "restocked"),
        chain("on_late", "hurry", "hurried"),
        extra=COMPUTED,
    )


ERROR_END = (
    '<bpmn:endEvent id="throw"><bpmn:errorEventDefinition errorRef="computed" /></bpmn:endEvent>'
)
ESCALATION_THROW = (
    '<bpmn:intermediateThrowEvent id="throw">'
    '<bpmn:escalationEventDefinition escalationRef="computed_escalation" />'
    "</bpmn:intermediateThrowEvent>"
)
ESCALATION_THROW_WITH_INPUT = (
    '<bpmn:intermediateThrowEvent id="throw"><bpmn:extensionElements><zeebe:ioMapping>'
    '<zeebe:input source="=&quot;la&quot; + &quot;te&quot;" target="level" />'
    "</zeebe:ioMapping></bpmn:extensionElements>"
    '<bpmn:escalationEventDefinition escalationRef="computed_escalation" />'
    "</bpmn:intermediateThrowEvent>"
)
"""Its code's expression sees its input mappings, as Zeebe evaluates it in the event's scope."""
JOBS = {"restock": lambda job: {"restocked": True}, "hurry": lambda job: {"hurried": True}}


@pytest.mark.parametrize(
    ("thrower", "variables", "caught_by"),
    [
        (ERROR_END, {"item": "STOCK"}, "on_stock"),
        (ESCALATION_THROW, {"level": "late"}, "on_late"),
        (ESCALATION_THROW_WITH_INPUT, {}, "on_late"),
    ],
)
async def test_the_thrown_code_is_the_expressions_value(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    thrower: str,
    variables: dict[str, Any],
    caught_by: str,
) -> None:
    deploy(failing_sub_process(thrower))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, JOBS):
        handle = await start_process(client, task_queue, "computed-codes", **variables)
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert caught_by in [element["element_id"] for element in state["completed"]]


async def test_a_code_that_is_no_string_is_an_incident_resolved_by_fixing_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(failing_sub_process(ERROR_END))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, JOBS):
        handle = await start_process(client, task_queue, "computed-codes")
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        incident = state["incidents"][0]
        assert (incident["type"], incident["element_id"]) == ("EXTRACT_VALUE_ERROR", "throw")
        assert "is None; it must be a non-empty string" in incident["message"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {"incident_key": incident["key"], "variables": {"item": "STOCK"}},
        )
        assert await handle.result() == {"item": "STOCK", "restocked": True}


def test_a_catch_events_code_must_be_fixed() -> None:
    xml = model(
        "computed-catch",
        events("start", kind="startEvent"),
        service("work"),
        error_boundary("on_any", "work", "computed"),
        events("done", "caught"),
        chain("start", "work", "done"),
        chain("on_any", "caught"),
        extra=COMPUTED,
    )
    [problem] = problems_of(xml)
    assert problem.element_id == "on_any"
    assert "a catch event's error code" in problem.message
    assert "must be a fixed value" in problem.message
