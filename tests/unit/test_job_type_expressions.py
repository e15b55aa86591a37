"""Zeebe job types and retries written as FEEL expressions, evaluated as each job is created.

``<zeebe:taskDefinition type="= &quot;check-&quot; + region" retries="=attempts" />``: the job
goes to the workers of the type the expression gives for this instance (activity type and task
queue), with the retries it gives. A value of the wrong kind is an incident that an operator
resolves after fixing the variables, as in Zeebe.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

import translator
from activities import Job
from tests.helpers import deploy, problems_of, running_interpreter, start_process, wait_for
from tests.helpers.bpmn import chain, events, model
from translator import JobDefinition, JobTask
from workflows import RESOLVE_INCIDENT_UPDATE

OWN_TIME_SKIPPING_SERVER = True
"""Retries and incidents leave jobs in flight as a test ends (see conftest)."""


def task(type_: str, retries: str = "") -> str:
    retries_attribute = f' retries="{retries}"' if retries else ""
    return (
        '<bpmn:serviceTask id="check"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{type_}"{retries_attribute} />'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )


def process(type_: str, retries: str = "") -> str:
    return model(
        "regional-check",
        events("start", kind="startEvent"),
        task(type_, retries),
        events("end"),
        chain("start", "check", "end"),
    )


REGIONAL = process("=&quot;check-&quot; + region")


def job_of(xml: str) -> JobDefinition:
    [definition] = translator.compile_bytes(xml.encode(), "regional.bpmn")
    task = definition.nodes["check"]
    assert isinstance(task, JobTask)
    return task.job


def test_the_type_and_retries_compile_to_expressions() -> None:
    job = job_of(process("=&quot;check-&quot; + region", "=attempts + 1"))
    assert job.type == '="check-" + region'
    assert job.type_expression is not None and job.type_expression.source == job.type
    assert job.retries_expression is not None and job.retries_expression.source == "=attempts + 1"


def listened(listener_type: str, retries: str) -> str:
    return model(
        "listened-check",
        events("start", kind="startEvent"),
        '<bpmn:serviceTask id="check"><bpmn:extensionElements>'
        '<zeebe:taskDefinition type="check" /><zeebe:executionListeners>'
        f'<zeebe:executionListener eventType="start" type="{listener_type}" retries="{retries}" />'
        "</zeebe:executionListeners></bpmn:extensionElements></bpmn:serviceTask>",
        events("end"),
        chain("start", "check", "end"),
    )


def test_a_fixed_type_keeps_no_expression() -> None:
    job = job_of(process("check-eu", "5"))
    assert (job.type, job.retries, job.type_expression, job.retries_expression) == (
        "check-eu",
        5,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("type_", "retries", "message"),
    [
        ("=&quot;check-&quot; +", "", "job type is not a valid expression: unexpected end"),
        ("check", "=attempts +", "job retries is not a valid expression: unexpected end"),
        ("check", "3000000000", "retries must be 0 to 2,147,483,647, got 3,000,000,000"),
    ],
)
def test_a_broken_expression_is_refused_with_the_element(
    type_: str, retries: str, message: str
) -> None:
    [problem] = problems_of(process(type_, retries))
    assert problem.element_id == "check"
    assert message in problem.message


async def test_each_instance_gets_the_job_type_its_variables_give(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(REGIONAL)
    received: list[tuple[str, str]] = []

    def handler(region: str) -> Any:
        def check(job: Job) -> dict[str, Any]:
            received.append((region, job.type))
            return {"checked_in": region}

        return check

    client = time_skipping_env.client
    jobs = {"check-eu": handler("eu"), "check-us": handler("us")}
    async with running_interpreter(client, task_queue, jobs):
        eu = await start_process(client, task_queue, "regional-check", region="eu")
        us = await start_process(client, task_queue, "regional-check", region="us")
        assert (await eu.result())["checked_in"] == "eu"
        assert (await us.result())["checked_in"] == "us"
    assert sorted(received) == [("eu", "check-eu"), ("us", "check-us")]


async def test_the_retries_expression_sets_the_attempts(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(process("flaky", "=attempts"))
    attempts: list[tuple[int, int]] = []

    def flaky(job: Job) -> None:
        attempts.append((job.attempt, job.retries))
        raise RuntimeError("still down")

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"flaky": flaky}):
        handle = await start_process(client, task_queue, "regional-check", attempts=2)
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        await handle.terminate("test over")
    assert state["incidents"][0]["type"] == "JOB_NO_RETRIES"
    assert attempts == [(1, 2), (2, 2)]


@pytest.mark.parametrize(
    ("variables", "retries", "found"),
    [
        ({}, "", "is None; it must be a non-empty string"),
        ({"region": "eu", "attempts": 1.5}, "=attempts", "are 1.5; they must be a whole number"),
        ({"region": "eu", "attempts": -1}, "=attempts", "are -1; they must be a whole number"),
        ({"region": "eu", "attempts": 2**31}, "=attempts", "are 2147483648; they must be"),
    ],
)
async def test_a_value_of_the_wrong_kind_is_an_incident_resolved_by_fixing_it(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    variables: dict[str, Any],
    retries: str,
    found: str,
) -> None:
    deploy(process("=&quot;check-&quot; + region", retries))

    def check(job: Job) -> dict[str, Any]:
        return {"checked_by": job.type, "retries": job.retries}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"check-eu": check}):
        handle = await start_process(client, task_queue, "regional-check", **variables)
        state = await wait_for(lambda s: s["incidents"], handle, timeout=30)
        incident = state["incidents"][0]
        assert incident["type"] == "EXTRACT_VALUE_ERROR"
        assert incident["element_id"] == "check"
        assert found in incident["message"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {"incident_key": incident["key"], "variables": {"region": "eu", "attempts": 4}},
        )
        result = await handle.result()
    assert result["checked_by"] == "check-eu"
    assert result["retries"] == (4 if retries else 3)


async def test_an_execution_listeners_type_and_retries_are_expressions_too(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Zeebe parses a listener's type and retries as it parses a task's."""
    deploy(listened("=&quot;audit-&quot; + region", "=attempts"))
    received: list[tuple[str, str | None, int]] = []

    def audit(job: Job) -> None:
        received.append((job.type, job.listener_event_type, job.retries))

    def check(job: Job) -> dict[str, Any]:
        received.append((job.type, job.listener_event_type, job.retries))
        return {"checked": True}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"audit-eu": audit, "check": check}):
        handle = await start_process(client, task_queue, "listened-check", region="eu", attempts=5)
        assert (await handle.result())["checked"] is True
    assert received == [("audit-eu", "start", 5), ("check", None, 3)]
