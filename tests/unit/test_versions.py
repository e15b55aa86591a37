"""Redeploying a changed model never changes a running instance: each pins its version."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from tests.helpers import deploy, running_interpreter, wait_for
from tests.helpers.bpmn import chain, events, model
from workflows import COMPLETE_USER_TASK_UPDATE, STATE_QUERY


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
