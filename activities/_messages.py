"""Publishing BPMN messages and broadcasting signals, the activity with which an instance
subscribes to either, and the local activity that starts processes by their start events.

All reach the message's (or signal's) mailbox workflow by signal-with-start (see
``workflows._mailbox``): the only Temporal primitive needed for race-free correlation, no
visibility query.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities._instances import start_instance
from translator import (
    MessageEventDefinition,
    ProcessDefinition,
    SignalEventDefinition,
    TriggeredStartEvent,
)
from translator.expressions import ExpressionEvaluationError, evaluate
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
from workflows._contracts import (
    CORRELATE_UPDATE,
    DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    DEFAULT_MESSAGE_TTL_SECONDS,
    RETURN_SIGNAL,
    START_BY_EVENT_ACTIVITY,
    STARTED_BY_PUBLICATION_MEMO,
    CorrelationResult,
    StartByEventRequest,
    signal_hub_id,
)
from workflows._registry import DefinitionRegistry


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


class MessageNotCorrelated(MessageError):
    """``correlate_message`` found no instance waiting and no process starting with it."""


async def correlate_message(
    client: Client,
    name: str,
    correlation_key: str,
    variables: dict[str, Any] | None = None,
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> CorrelationResult:
    """Correlate a message now and say where it went (Zeebe's CorrelateMessage): to the oldest
    instance waiting for ``name`` with ``correlation_key``, and to the processes whose message
    start event it triggers. Unlike ``publish_message`` nothing is buffered: if nothing takes it,
    ``MessageNotCorrelated`` is raised and the message is gone.

    One update-with-start on the message's mailbox: race-free like publishing."""
    publication = message_publication(name, correlation_key, variables, timedelta(0), None)
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        MAILBOX_WORKFLOW,
        id=mailbox_id(publication.name, publication.correlation_key),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    try:
        answer = await client.execute_update_with_start_workflow(
            CORRELATE_UPDATE, publication.model_dump(mode="json"), start_workflow_operation=start
        )
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "MessageNotCorrelated":
            raise MessageNotCorrelated(cause.message) from None
        raise
    return CorrelationResult.model_validate(answer)


async def publish(client: Client, publication: MessagePublication, task_queue: str) -> None:
    """Hand a validated publication to its mailbox."""
    mailbox = (
        signal_hub_id(publication.name)
        if publication.broadcast
        else mailbox_id(publication.name, publication.correlation_key)
    )
    await _signal_with_start(
        client, mailbox, task_queue, PUBLISH_SIGNAL, publication.model_dump(mode="json")
    )


async def broadcast_signal(
    client: Client,
    name: str,
    variables: dict[str, Any] | None = None,
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
) -> None:
    """Broadcast a BPMN signal, as Zeebe's BroadcastSignal does: every instance waiting for
    ``name`` at that moment catches it (with ``variables``), and every deployed process with a
    signal start event of that name starts. Nothing is buffered for later waits."""
    if not name or not name.strip():
        raise MessageError("a signal needs a name")
    if variables is not None and not isinstance(variables, dict):
        raise MessageError("signal variables must be a JSON object")
    signal = MessagePublication(
        name=name, correlation_key="", variables=variables or {}, broadcast=True
    )
    await publish(client, signal, task_queue)


def message_publication(
    name: str,
    correlation_key: object,
    variables: dict[str, Any] | None,
    time_to_live: timedelta,
    message_id: str | None,
) -> MessagePublication:
    if not name or not name.strip():
        raise MessageError("a message needs a name")
    if correlation_key is None:
        raise MessageError(
            f"message {name!r} needs a correlation key: the value the waiting instance's "
            "zeebe:subscription correlationKey evaluates to (an empty one only starts "
            "processes by their message start event)"
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
    client: Client, workflow_id: str, task_queue: str, signal: str, payload: dict[str, Any]
) -> str:
    """Signal the mailbox, starting it if no run is open; returns its workflow id."""
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
        if request.broadcast is not None:
            signal, body = PUBLISH_SIGNAL, request.broadcast.model_dump(mode="json")
        elif request.returned is not None:
            signal, body = RETURN_SIGNAL, request.returned.model_dump(mode="json")
        else:
            signal = UNSUBSCRIBE_SIGNAL if request.unsubscribe else SUBSCRIBE_SIGNAL
            body = request.subscription.model_dump(mode="json")
        return await _signal_with_start(client, request.mailbox(), request.task_queue, signal, body)

    return subscribe_message


def make_start_by_event(  # type: ignore[no-untyped-def]
    client: Client,
    registry: DefinitionRegistry,
    *,
    continue_as_new_after_events: int = DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    search_attributes: bool = False,
):
    """The mailboxes' local activity: start every deployed process whose message or signal
    start event the publication triggers. Returns the ids of the instances started.

    A message with a correlation key starts at most one instance per process and key while
    one is active (Zeebe's rule): the workflow id is derived from them and Temporal refuses a
    second running one; once it ended, the key starts a new one, but not for the same
    publication again (a retried activity finds it in the memo of the instance it started).
    Other starts derive their id from the publication, so a retried activity never starts
    twice. Each instance starts with its version pinned and its memo set
    (``start_instance``), with the worker's settings: no pin marker in its history."""

    @activity.defn(name=START_BY_EVENT_ACTIVITY)
    async def start_by_event(payload: dict[str, Any]) -> list[str]:
        request = StartByEventRequest.model_validate(payload)
        publication = request.publication
        started: list[str] = []
        for process_id in registry.process_ids():
            definition = registry.latest(process_id)
            if definition is None:
                continue
            for event_id in triggered_start_events(definition, request.trigger, publication.name):
                workflow_id, reuse = _started_instance(request, process_id, event_id)
                if reuse is WorkflowIDReusePolicy.ALLOW_DUPLICATE and await _started_by(
                    client, workflow_id, request.publication_id
                ):
                    activity.logger.info("this publication started %s already", workflow_id)
                    continue
                try:
                    await start_instance(
                        client,
                        definition,
                        publication.variables,
                        instance_id=workflow_id,
                        task_queue=request.task_queue,
                        search_attributes=search_attributes,
                        continue_as_new_after_events=continue_as_new_after_events,
                        start_event=event_id,
                        id_reuse_policy=reuse,
                        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                        memo={STARTED_BY_PUBLICATION_MEMO: request.publication_id},
                    )
                except WorkflowAlreadyStartedError:
                    activity.logger.info(
                        "%s is active or this publication started it already", workflow_id
                    )
                    continue
                started.append(workflow_id)
        return started

    return start_by_event


async def _started_by(client: Client, workflow_id: str, publication_id: str) -> bool:
    """Whether the last instance with ``workflow_id`` was started by that publication."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    memo = await description.memo()
    return bool(memo.get(STARTED_BY_PUBLICATION_MEMO) == publication_id)


def triggered_start_events(definition: ProcessDefinition, trigger: str, name: str) -> list[str]:
    """The process-level start events of ``definition`` that a message or signal ``name``
    triggers."""
    events = []
    for node in definition.nodes.values():
        if not isinstance(node, TriggeredStartEvent):
            continue
        event = node.trigger
        if (
            trigger == "signal" and isinstance(event, SignalEventDefinition) and event.name == name
        ) or (
            trigger == "message"
            and isinstance(event, MessageEventDefinition)
            and _static_name(event) == name
        ):
            events.append(node.id)
    return events


def _static_name(event: MessageEventDefinition) -> str | None:
    """A start event's message name (an expression of no variables: nothing exists yet)."""
    if event.name is None:
        return None
    try:
        value = evaluate(event.name, {})
    except ExpressionEvaluationError:
        return None
    return value if isinstance(value, str) else None


def _started_instance(
    request: StartByEventRequest, process_id: str, event_id: str
) -> tuple[str, WorkflowIDReusePolicy]:
    """The workflow id of the instance a publication starts, and whether that id may be used
    again once its instance has ended: a keyed message's may (the key starts a new instance
    then, Zeebe's rule); a publication's own may not, so a start retried after its instance
    already finished (the mailbox's workflow task failed after the local activity ran) is
    refused instead of starting the process twice."""
    key = request.publication.correlation_key
    if request.trigger == "message" and key:
        instance_id = f"{process_id}/message/{request.publication.name}/{key}"
        return instance_id, WorkflowIDReusePolicy.ALLOW_DUPLICATE
    instance_id = f"{process_id}/{request.trigger}/{event_id}/{request.publication_id}"
    return instance_id, WorkflowIDReusePolicy.REJECT_DUPLICATE
