"""Determinism: histories replay on the interpreter, including one checked in from an earlier
build (with the definition version it pinned, as the worker's store keeps it)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from tests.helpers import ORDER_PROCESS, PublishedRequests, deploy, running_interpreter
from translator import ProcessDefinition
from worker import workflow_runner
from workflows import KAFKA_RESPONSE_SIGNAL, REGISTRY, STATE_QUERY, BpmnInterpreter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=[BpmnInterpreter], workflow_runner=workflow_runner())


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
