"""Operations an instance asks Temporal to do to itself."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client

from workflows._contracts import CANCEL_INSTANCE_ACTIVITY


def make_cancel_instance(client: Client):  # type: ignore[no-untyped-def]
    """The local activity behind the ``cancel`` update: a cancel request for the instance,
    the same one ``temporal workflow cancel`` sends, so the instance ends as canceled."""

    @activity.defn(name=CANCEL_INSTANCE_ACTIVITY)
    async def cancel_instance(workflow_id: str) -> None:
        await client.get_workflow_handle(workflow_id).cancel()

    return cancel_instance
