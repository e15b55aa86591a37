"""Redeploying a changed model never changes a running instance: each pins its version."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities import start_instance
from tests.helpers import deploy, running_interpreter, wait_for
from tests.helpers.bpmn import chain, events, model
from workflows import COMPLETE_USER_TASK_UPDATE, STATE_QUERY, DefinitionPin, InstanceOptions


def version(final_step: str) -> str:
    return model(
        "versioned",
        events("start", kind="startEvent"),
        '<bpmn:userTask id="review" />',
        f'<bpmn:scriptTask id="{final_step}"><bpmn:extensionElements>'
        f'<zeebe:script expression="=&quot;{final_step}&quot;" resultVariable="ranStep" />'
        "</bpmn:extensionElements></bpmn:scriptTask>",
        events("end"),
        chain("start", "review", final_step, "end"),
    )


async def test_a_running_instance_keeps_its_version_after_a_redeploy(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    [first] = deploy(version("old_step"))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        running = await client.start_workflow(
            "versioned", {}, id=f"v-{uuid.uuid4()}", task_queue=task_queue
        )
        await wait_for(lambda s: s["active"], running)
        [second] = deploy(version("new_step"))
        assert second.content_hash != first.content_hash
        fresh = await client.start_workflow(
            "versioned", {}, id=f"v-{uuid.uuid4()}", task_queue=task_queue
        )
        await wait_for(lambda s: s["active"], fresh)
        for handle in (running, fresh):
            await handle.execute_update(COMPLETE_USER_TASK_UPDATE, {"element_id": "review"})
        assert (await running.result())["ranStep"] == "old_step"
        assert (await fresh.result())["ranStep"] == "new_step"
        assert (await running.query(STATE_QUERY))["definition_hash"] == first.content_hash
        assert (await fresh.query(STATE_QUERY))["definition_hash"] == second.content_hash


async def test_an_instance_pinned_by_its_starter_runs_that_version_with_no_pin_events(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    [first] = deploy(version("old_step"))
    deploy(version("new_step"))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        pinned = await start_instance(client, first, {"businessKey": 7}, task_queue=task_queue)
        self_pinned = await client.start_workflow(
            "versioned", {}, id=f"v-{uuid.uuid4()}", task_queue=task_queue
        )
        for handle in (pinned, self_pinned):
            await wait_for(lambda s: s["active"], handle)
            await handle.execute_update(COMPLETE_USER_TASK_UPDATE, {"element_id": "review"})
        assert (await pinned.result())["ranStep"] == "old_step"
        assert (await self_pinned.result())["ranStep"] == "new_step"
        assert (await pinned.query(STATE_QUERY))["definition_hash"] == first.content_hash
        memo = await (await pinned.describe()).memo()
        assert memo == {
            "bpmnProcessId": "versioned",
            "definitionHash": first.content_hash,
            "businessKey": "7",
        }
        pinned_kinds = await _event_kinds(pinned)
        self_pinned_kinds = await _event_kinds(self_pinned)
    # What a self-pinned instance records to pin itself and to publish its memo.
    for kind in (EventType.EVENT_TYPE_MARKER_RECORDED, _MEMO_UPSERTED):
        assert kind in self_pinned_kinds
        assert kind not in pinned_kinds


async def test_a_pin_of_another_process_fails_the_instance_clearly(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    [other] = deploy(version("old_step").replace('id="versioned"', 'id="unrelated"'))
    deploy(version("old_step"))
    client = time_skipping_env.client
    pin = InstanceOptions(definition=DefinitionPin(content_hash=other.content_hash))
    async with running_interpreter(client, task_queue):
        handle = await client.start_workflow(
            "versioned",
            args=[{}, pin.model_dump(mode="json")],
            id=f"v-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "is process 'unrelated', not 'versioned'" in str(failure.value.cause)


_MEMO_UPSERTED = EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED


async def _event_kinds(handle: WorkflowHandle[Any, Any]) -> list[int]:
    history = await handle.fetch_history()
    return [event.event_type for event in history.events]
