"""Compensation, as Zeebe runs it: undoing activities that completed.

Each time an activity with a compensation boundary event completes, its scope records it. An
embedded or event sub-process that completes holding such records hands them up to its own
scope in one record, with its local variables as they were (Zeebe's snapshot: a handler
inside still sees them). Records of the instances of a multi-instance or loop body go to the
scope around it, since a body's scope ends with each instance.

A compensation throw or end event takes the records of its scope (in an event sub-process, of
the scope the event sub-process runs in): all of them, or only its ``activityRef``'s. It
invokes their handlers at once, in no particular order, and completes when all have. A
record is used once; handlers of active or terminated activities are never invoked.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from translator import (
    AdHocSubProcess,
    CompensateEventDefinition,
    EventSubProcess,
    FlowNode,
    LoopActivity,
    MultiInstanceActivity,
    SubProcess,
)
from workflows._concurrency import while_running
from workflows._contracts import Compensable
from workflows._scope import Container, Scope
from workflows._structure import compensation_event_sub_process, compensation_handler

if TYPE_CHECKING:
    from workflows._engine import Engine

Invocation = Callable[[], Coroutine[Any, Any, None]]
"""A compensation handler to run, in the scope it runs in."""


def holder(scope: Scope) -> Scope:
    """The scope that keeps the records of what completes in ``scope``."""
    while scope.kind in ("local", "multiInstanceBody") and scope.parent is not None:
        scope = scope.parent
    return scope


def record_completion(scope: Scope, node: FlowNode, inner: Compensable | None) -> None:
    """``node`` completed in ``scope``: keep what a compensation may undo. ``inner``: the
    record a sub-process handed up as it completed."""
    kept = holder(scope)
    if inner is not None:
        kept.compensable.append(inner)
    # The instances of a multi-instance or loop body are not the activity the boundary
    # event is attached to: the body is, and completes once.
    if scope.container.nodes.get(node.id) is node:
        handler = compensation_handler(scope.container, node.id)
        if handler is not None:
            kept.compensable.append(Compensable(element_id=node.id, handler=handler))


def handed_up(element_id: str, finished: Scope) -> Compensable | None:
    """The record a sub-process leaves with its scope when it completes, if any: when it
    holds records, or has a compensation event sub-process of its own."""
    if not finished.compensable and compensation_event_sub_process(finished.container) is None:
        return None
    return Compensable(
        element_id=element_id, variables=dict(finished.variables), inner=finished.compensable
    )


async def compensate(engine: Engine, scope: Scope, event: CompensateEventDefinition) -> None:
    """Invoke the handlers a compensation throw event in ``scope`` triggers; return when all
    have completed."""
    target = holder(scope)
    if target.kind == "eventSubProcess" and target.parent is not None:
        target = holder(target.parent)
    chosen: list[Compensable] = []
    kept: list[Compensable] = []
    for record in target.compensable:
        wanted = event.activity is None or record.element_id == event.activity
        (chosen if wanted else kept).append(record)
    target.compensable = kept
    invocations: list[Invocation] = []
    for record in chosen:
        invocations.extend(_invocations(engine, target, target.container, record))
    if len(invocations) == 1:
        await invocations[0]()
    elif invocations:
        handlers = [asyncio.create_task(invoke()) for invoke in invocations]
        await while_running(asyncio.gather(*handlers), handlers)


def _invocations(
    engine: Engine, host: Scope, container: Container, record: Compensable
) -> list[Invocation]:
    """The handlers of ``record``: its own, run in ``host``; for a sub-process, those inside
    it, run in a scope that holds its variables as they were when it completed, or, if it has
    one, its compensation event sub-process instead, whose compensation throw events undo
    them (Zeebe: the compensation stops there)."""
    found: list[Invocation] = []
    if record.handler is not None:
        handler = container.nodes[record.handler]
        found.append(functools.partial(engine.run_inner, host, handler))
    if record.variables is None:  # an activity, not a sub-process
        return found
    inner = _inner_container(container.nodes[record.element_id])
    snapshot = host.child(
        engine.new_key(),
        "subProcess",
        container=inner,
        owner_id=record.element_id,
        variables=record.variables,
    )
    snapshot.completed = True
    event_handler = compensation_event_sub_process(inner)
    if event_handler is not None:
        snapshot.compensable = list(record.inner)
        found.append(functools.partial(engine.run_event_sub_process, snapshot, event_handler, {}))
        return found
    for each in record.inner:
        found.extend(_invocations(engine, snapshot, inner, each))
    return found


def _inner_container(node: FlowNode) -> Container:
    """The elements of the (possibly multi-instance or looped) sub-process ``node``."""
    if isinstance(node, MultiInstanceActivity | LoopActivity):
        node = node.activity
    assert isinstance(node, SubProcess | AdHocSubProcess | EventSubProcess), node.kind
    return node
