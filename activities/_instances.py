"""Starting instances from a client, and operations an instance asks Temporal to do to itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from translator import ConditionalEventDefinition, ProcessDefinition, TriggeredStartEvent
from translator.expressions import ExpressionEvaluationError, evaluate
from workflows._contracts import (
    CANCEL_INSTANCE_ACTIVITY,
    DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    DEFAULT_TASK_QUEUE,
    DefinitionPin,
    InstanceOptions,
    business_key_of,
    instance_memo,
    instance_search_attributes,
)


async def start_instance(
    client: Client,
    definition: ProcessDefinition,
    variables: Mapping[str, Any] | None = None,
    *,
    instance_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    search_attributes: bool = False,
    continue_as_new_after_events: int = DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    start_event: str | None = None,
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    id_conflict_policy: WorkflowIDConflictPolicy = WorkflowIDConflictPolicy.UNSPECIFIED,
    memo: Mapping[str, Any] | None = None,
) -> WorkflowHandle[Any, Any]:
    """Start an instance of ``definition`` with that exact version pinned.

    Zeebe resolves the version when an instance is created; so does this. The instance then
    needs no local activity to pin itself and no memo upsert (both set here, at start): its
    history is event for event what a hand-written workflow calling the same activities has.
    A worker on ``task_queue`` must have this version loaded (one that has not fails the
    workflow task until one that has takes it). ``search_attributes`` sets the Keyword
    attributes ``worker.py`` registers (``BpmnProcessId``...); the namespace must have them.
    ``continue_as_new_after_events`` is ``worker.py --continue-as-new-after-events``.
    ``start_event`` starts at a message, signal or timer start event instead of the none one.
    ``memo`` adds entries to the instance's memo (``bpmnProcessId``, ``definitionHash``,
    ``businessKey``).

    Starting with the workflow type and variables alone (Temporal CLI, any SDK) works too: the
    instance then pins the worker's latest version itself, at the cost of those two events.
    """
    values = dict(variables or {})
    pin = DefinitionPin(
        content_hash=definition.content_hash,
        continue_as_new_after_events=continue_as_new_after_events,
        search_attributes=search_attributes,
    )
    options = InstanceOptions(definition=pin, start_event=start_event)
    identity = (definition.id, definition.content_hash, business_key_of(values))
    attributes = None
    if search_attributes:
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(SearchAttributeKey.for_keyword(name), value)
                for name, value in instance_search_attributes(*identity)
            ]
        )
    return await client.start_workflow(
        definition.id,
        args=[values, options.model_dump(mode="json", exclude_none=True)],
        id=instance_id or f"{definition.id}-{uuid.uuid4()}",
        task_queue=task_queue,
        memo={**(memo or {}), **instance_memo(*identity)},
        search_attributes=attributes,
        id_reuse_policy=id_reuse_policy,
        id_conflict_policy=id_conflict_policy,
    )


class StartConditionError(Exception):
    """``evaluate_start_conditions`` could not decide: no conditional start event at all, or
    a condition that fails on these variables (nothing was started)."""


async def evaluate_start_conditions(
    client: Client,
    definitions: Iterable[ProcessDefinition],
    variables: Mapping[str, Any] | None = None,
    *,
    process_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    search_attributes: bool = False,
) -> list[WorkflowHandle[Any, Any]]:
    """Camunda 7's ``evaluateStartConditions``: start an instance, with ``variables``, at
    every conditional start event of ``definitions`` (the versions to start; ``process_id``
    keeps one process) whose condition holds on ``variables``. Returns the started instances.

    Every condition is evaluated before anything starts, so a failing one starts nothing.

    Raises:
        StartConditionError: no conditional start event, or a condition that fails.
    """
    values = dict(variables or {})
    matching: list[tuple[ProcessDefinition, str]] = []
    found = False
    for definition in definitions:
        if process_id is not None and definition.id != process_id:
            continue
        for node in definition.nodes.values():
            if not isinstance(node, TriggeredStartEvent) or not isinstance(
                node.trigger, ConditionalEventDefinition
            ):
                continue
            found = True
            try:
                holds = evaluate(node.trigger.condition, values) is True
            except ExpressionEvaluationError as error:
                raise StartConditionError(
                    f"the condition of start event {node.id!r} of {definition.id!r} failed: {error}"
                ) from None
            if holds:
                matching.append((definition, node.id))
    if not found:
        which = f"process {process_id!r}" if process_id else "no process given"
        raise StartConditionError(f"{which} has no conditional start event")
    return [
        await start_instance(
            client,
            definition,
            values,
            task_queue=task_queue,
            search_attributes=search_attributes,
            start_event=event_id,
        )
        for definition, event_id in matching
    ]


def make_cancel_instance(client: Client):  # type: ignore[no-untyped-def]
    """The local activity behind the ``cancel`` update: a cancel request for the instance,
    the same one ``temporal workflow cancel`` sends, so the instance ends as canceled."""

    @activity.defn(name=CANCEL_INSTANCE_ACTIVITY)
    async def cancel_instance(workflow_id: str) -> None:
        await client.get_workflow_handle(workflow_id).cancel()

    return cancel_instance
