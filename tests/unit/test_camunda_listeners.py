"""Camunda 7 expression execution listeners on the time-skipping server: ``${...}`` (or a
FEEL/JUEL script) evaluated as the element starts and ends, setting variables through
``execution.setVariable``; what calls Java code is refused when the model is compiled."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities import Job, load_definitions
from tests.helpers import deploy, problems_of, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import HEADER, chain, events, model
from workflows import RESOLVE_INCIDENT_UPDATE, DefinitionRegistry

CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def listener(event: str, expression: str) -> str:
    return f'<camunda:executionListener {CAMUNDA} event="{event}" expression="{expression}" />'


def external_task(element_id: str, *listeners: str) -> str:
    return (
        f'<bpmn:serviceTask id="{element_id}" {CAMUNDA} camunda:type="external" '
        f'camunda:topic="{element_id}"><bpmn:extensionElements>{"".join(listeners)}'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )


APPROVAL = model(
    "listened-approval",
    events("start", kind="startEvent"),
    external_task(
        "review",
        listener("start", "${execution.setVariable('reviewStarted', true)}"),
        listener("start", "${execution.setVariableLocal('attempt', 1)}"),
        listener("end", "${execution.setVariable('reviewed', execution.getVariable('score') > 5)}"),
    ),
    events("end"),
    chain("start", "review", "end"),
)


async def test_expression_listeners_set_variables_as_the_element_starts_and_ends(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(APPROVAL)
    seen: list[dict[str, Any]] = []

    def review(job: Job) -> dict[str, Any]:
        seen.append(dict(job.variables))
        return {"score": 7}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"review": review}):
        handle = await start_process(client, task_queue, "listened-approval")
        result = await handle.result()
    # The start listeners ran before the job; setVariableLocal landed in the element's scope
    # (the process here: the task has no input mappings), as in Camunda 7.
    assert seen == [{"reviewStarted": True, "attempt": 1}]
    assert result == {"reviewStarted": True, "attempt": 1, "score": 7, "reviewed": True}


async def test_a_failing_listener_is_an_incident_that_runs_again_once_resolved(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    xml = model(
        "listener-incident",
        events("start", kind="startEvent"),
        external_task("work", listener("start", "${execution.setVariable('n', limit.length())}")),
        events("end"),
        chain("start", "work", "end"),
    )
    deploy(xml)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"work": lambda job: {}}):
        handle = await start_process(client, task_queue, "listener-incident")
        state = await wait_for(lambda s: s["incidents"], handle)
        [incident] = state["incidents"]
        assert incident["type"] == "EXPRESSION_EVALUATION_FAILED"
        assert "the start listener" in incident["message"]
        resolution = {"incident_key": incident["key"], "variables": {"limit": "abc"}}
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, resolution)
        assert (await handle.result())["n"] == 3


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${notificationService.send(execution)}", "calls 'send', a method of Java code"),
        ("${auditBean.log()}", "calls 'log', a method of Java code"),
    ],
)
def test_a_listener_calling_java_code_is_refused_when_compiled(
    expression: str, expected: str
) -> None:
    xml = model(
        "bean-listener",
        events("start", kind="startEvent"),
        external_task("work", listener("start", expression)),
        events("end"),
        chain("start", "work", "end"),
    )
    [problem] = problems_of(xml)
    assert problem.element_id == "work"
    assert expected in problem.message


def test_task_listeners_are_not_deployed_yet(tmp_path: Any) -> None:
    xml = model(
        "task-listened",
        events("start", kind="startEvent"),
        f'<bpmn:userTask id="approve" {CAMUNDA}><bpmn:extensionElements>'
        '<camunda:taskListener event="create" expression="${execution.setVariable(\'x\', 1)}" />'
        "</bpmn:extensionElements></bpmn:userTask>",
        events("end"),
        chain("start", "approve", "end"),
    )
    assert xml.startswith(HEADER)
    (tmp_path / "task.bpmn").write_text(xml)
    report = load_definitions(tmp_path, registry=DefinitionRegistry())
    assert report.deployed == []
    assert "cannot run Camunda 7 task listeners yet" in report.problems[0].message


WITH_MAPPINGS = model(
    "listened-mappings",
    events("start", kind="startEvent"),
    external_task(
        "work",
        listener("start", "${execution.setVariable('seenAtStart', inp)}"),
        listener("start", "${execution.setVariableLocal('scratch', 1)}"),
        listener("end", "${execution.setVariable('seenAtEnd', inp)}"),
    ).replace(
        "</bpmn:extensionElements>",
        f'<camunda:inputOutput {CAMUNDA}><camunda:inputParameter name="inp">41'
        '</camunda:inputParameter><camunda:outputParameter name="out">${inp + 1}'
        "</camunda:outputParameter></camunda:inputOutput></bpmn:extensionElements>",
    ),
    events("end"),
    chain("start", "work", "end"),
)


async def test_listeners_see_the_elements_input_mappings_and_its_locals_stay_its_own(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Camunda 7: input mappings come before the start listeners; an element with mappings is
    a scope, so setVariableLocal stays in it."""
    deploy(WITH_MAPPINGS)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"work": lambda job: {}}):
        handle = await start_process(client, task_queue, "listened-mappings")
        result = await handle.result()
    assert result == {"seenAtStart": "41", "seenAtEnd": "41", "out": 42}  # text, as in Camunda 7


async def test_an_interrupted_elements_end_listeners_run_too(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    from activities import BpmnError
    from tests.helpers.bpmn import error, error_boundary, flow

    xml = model(
        "listened-interrupted",
        events("start", kind="startEvent"),
        external_task("work", listener("end", "${execution.setVariable('ended', true)}")),
        error_boundary("failed", "work", "e"),
        events("end", "failed_end"),
        chain("start", "work", "end"),
        flow("failed", "failed_end"),
        extra=error("e", "NOPE"),
    )
    deploy(xml)

    def work(job: Job) -> dict[str, Any]:
        raise BpmnError("NOPE")

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"work": work}):
        handle = await start_process(client, task_queue, "listened-interrupted")
        assert await handle.result() == {"ended": True}


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('event="take"', "execution listener event 'take' is not start or end"),
        ("", "execution listener has no event"),
    ],
)
def test_a_listener_event_that_never_comes_is_refused(attributes: str, expected: str) -> None:
    entry = f'<camunda:executionListener {CAMUNDA} {attributes} expression="${{a}}" />'
    xml = model(
        "odd-event",
        events("start", kind="startEvent"),
        external_task("work", entry),
        events("end"),
        chain("start", "work", "end"),
    )
    [problem] = problems_of(xml)
    assert expected in problem.message
