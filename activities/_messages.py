"""Publishing BPMN messages, and the activity with which an instance subscribes to one.

Both reach the message's mailbox workflow by signal-with-start (see ``workflows._mailbox``):
the only Temporal primitive needed for race-free correlation, no visibility query.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows import (
    DEFAULT_TASK_QUEUE,
    MAILBOX_WORKFLOW,
    PUBLISH_SIGNAL,
    SUBSCRIBE_MESSAGE_ACTIVITY,
    SUBSCRIBE_SIGNAL,
    UNSUBSCRIBE_SIGNAL,
    MessagePublication,
    SubscribeRequest,
    mailbox_id,
)
from workflows._contracts import DEFAULT_MESSAGE_TTL_SECONDS, RETURN_SIGNAL


class MessageError(ValueError):
    """A message that cannot be published as given (the text says what to fix)."""


async def publish_message(
    client: Client,
    name: str,
    correlation_key: str,
    variables: dict[str, Any] | None = None,
    *,
    time_to_live: timedelta = timedelta(seconds=DEFAULT_MESSAGE_TTL_SECONDS),
    message_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> None:
    """Publish a message, as Zeebe's PublishMessage does.

    It correlates to the instance waiting for ``name`` with ``correlation_key`` (the oldest
    waiting one), or is buffered for ``time_to_live`` and correlated as soon as an instance
    subscribes. A second publish with the same ``message_id`` within the TTL is ignored.
    """
    publication = message_publication(name, correlation_key, variables, time_to_live, message_id)
    await publish(client, publication, task_queue)


async def publish(client: Client, publication: MessagePublication, task_queue: str) -> None:
    """Hand a validated publication to its mailbox."""
    await _signal_with_start(
        client,
        publication.name,
        publication.correlation_key,
        task_queue,
        PUBLISH_SIGNAL,
        publication.model_dump(mode="json"),
    )


def message_publication(
    name: str,
    correlation_key: object,
    variables: dict[str, Any] | None,
    time_to_live: timedelta,
    message_id: str | None,
) -> MessagePublication:
    if not name or not name.strip():
        raise MessageError("a message needs a name")
    if correlation_key is None or str(correlation_key).strip() == "":
        raise MessageError(
            f"message {name!r} needs a correlation key: the value the waiting instance's "
            "zeebe:subscription correlationKey evaluates to"
        )
    if variables is not None and not isinstance(variables, dict):
        raise MessageError("message variables must be a JSON object")
    return MessagePublication(
        name=name,
        correlation_key=str(correlation_key),
        variables=variables or {},
        time_to_live_seconds=time_to_live.total_seconds(),
        message_id=message_id,
    )


async def _signal_with_start(
    client: Client, name: str, key: str, task_queue: str, signal: str, payload: dict[str, Any]
) -> str:
    """Signal the mailbox, starting it if no run is open; returns its workflow id."""
    workflow_id = mailbox_id(name, key)
    try:
        await client.start_workflow(
            MAILBOX_WORKFLOW,
            id=workflow_id,
            task_queue=task_queue,
            start_signal=signal,
            start_signal_args=[payload],
        )
    except WorkflowAlreadyStartedError:
        # A server may answer this while a run is open (Temporal's Java test server does):
        # the run is there, so a plain signal reaches it.
        await client.get_workflow_handle(workflow_id).signal(signal, payload)
    return workflow_id


def make_subscribe_message(client: Client):  # type: ignore[no-untyped-def]
    """The activity an instance uses to (un)subscribe, or to give back a message that came
    after its wait ended. Returns the mailbox's workflow id."""

    @activity.defn(name=SUBSCRIBE_MESSAGE_ACTIVITY)
    async def subscribe_message(payload: dict[str, Any]) -> str:
        request = SubscribeRequest.model_validate(payload)
        if request.returned is not None:
            signal, body = RETURN_SIGNAL, request.returned.model_dump(mode="json")
        else:
            signal = UNSUBSCRIBE_SIGNAL if request.unsubscribe else SUBSCRIBE_SIGNAL
            body = request.subscription.model_dump(mode="json")
        return await _signal_with_start(
            client, request.name, request.correlation_key, request.task_queue, signal, body
        )

    return subscribe_message
