"""Determinism: histories replay on the interpreter, including one checked in from an earlier
build (with the definition version it pinned, as the worker's store keeps it)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities import BpmnError, Job
from tests.helpers import ORDER_PROCESS, PublishedRequests, deploy, replayer, running_interpreter
from tests.helpers.bpmn import chain, error_boundary, events, flow, model, service
from translator import ProcessDefinition
from workflows import KAFKA_RESPONSE_SIGNAL, REGISTRY, STATE_QUERY

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
OWN_TIME_SKIPPING_SERVER = True  # the composite process waits on a timer


async def record_large_order(env: WorkflowEnvironment, task_queue: str) -> WorkflowHistory:
    deploy(ORDER_PROCESS)
    client = env.client
    published = PublishedRequests()

    async def answer(request: dict[str, Any]) -> None:
        handle = client.get_workflow_handle(request["headers"]["processInstanceId"])
        body = {"correlation_id": request["headers"]["correlationId"], "body": {"ok": True}}
        await handle.signal(KAFKA_RESPONSE_SIGNAL, body)

    published.on_publish = answer
    jobs = {
        "check-order": lambda job: {"approvalRequest": {"amount": job.variables["amount"]}},
        "send-confirmation": lambda job: {"sent": True},
    }
    async with running_interpreter(client, task_queue, jobs, published.activity()):
        handle = await client.start_workflow(
            "order-process",
            {"orderId": 1, "amount": 700},
            id=f"replay-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        await handle.result()
        await handle.query(STATE_QUERY)
    return await handle.fetch_history()


async def test_a_fresh_history_replays(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    history = await record_large_order(time_skipping_env, task_queue)
    await replayer().replay_workflow(history)


async def test_checked_in_histories_replay_on_their_pinned_version() -> None:
    for definition_file in sorted(FIXTURES.glob("*.definition.json")):
        REGISTRY.add(
            ProcessDefinition.model_validate_json(definition_file.read_text()), latest=False
        )
    histories = sorted(FIXTURES.glob("*.history.json"))
    assert histories, "no checked-in histories"
    for path in histories:
        # The file is named after the workflow id, which the interpreter's ids depend on.
        workflow_id = path.name.removesuffix(".history.json")
        history = WorkflowHistory.from_json(workflow_id, json.loads(path.read_text()))
        await replayer().replay_workflow(history)


COMPOSITE = model(
    "composite",
    events("start", kind="startEvent"),
    '<bpmn:scriptTask id="prepare"><bpmn:extensionElements>'
    '<zeebe:script expression="=[1, 2, 3]" resultVariable="items" />'
    "</bpmn:extensionElements></bpmn:scriptTask>",
    '<bpmn:subProcess id="sub">',
    events("sub_start", kind="startEvent"),
    service(
        "square",
        extra="<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
        '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" '
        'outputCollection="squares" outputElement="=squared" />'
        "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>",
    ),
    '<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    "</bpmn:intermediateCatchEvent>",
    service("risky"),
    events("sub_end"),
    chain("sub_start", "square", "pause", "risky", "sub_end"),
    "</bpmn:subProcess>",
    error_boundary("failed", "sub"),
    '<bpmn:inclusiveGateway id="fork" />',
    service("notify"),
    service("archive"),
    '<bpmn:inclusiveGateway id="join" />',
    events("end", "failed_end"),
    chain("start", "prepare", "sub", "fork"),
    flow("fork", "notify", "=true"),
    flow("fork", "archive", "=count(squares) &gt; 2"),
    chain("notify", "join"),
    chain("archive", "join", "end"),
    flow("failed", "failed_end"),
)


def composite_jobs(fail: bool) -> dict[str, Any]:
    def risky(job: Job) -> dict[str, Any]:
        if fail:
            raise BpmnError("RISK", "too risky")
        return {"risk": "low"}

    return {
        "square": lambda job: {"squared": job.variables["item"] ** 2},
        "risky": risky,
        "notify": lambda job: {"notified": True},
        "archive": lambda job: {"archived": True},
    }


@pytest.mark.parametrize("fail", [False, True])
async def test_scopes_multi_instance_timers_and_joins_replay(
    time_skipping_env: WorkflowEnvironment, task_queue: str, fail: bool
) -> None:
    deploy(COMPOSITE)
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, composite_jobs(fail)):
        handle = await client.start_workflow(
            "composite", {}, id=f"composite-{uuid.uuid4()}", task_queue=task_queue
        )
        result = await handle.result()
    assert result["squares"] == [1, 4, 9]
    assert ("risk" in result) is not fail
    await replayer().replay_workflow(await handle.fetch_history())
