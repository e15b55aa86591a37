"""Who catches a thrown BPMN error: pure lookups over the running scope tree.

Zeebe's rule, which we follow: the error is caught by the innermost matching catch event up
the scope hierarchy. Starting at the throwing activity, each level offers first the activity's
error boundary events, then the error event sub-processes of the scope it runs in; then the
search moves to the element owning that scope (a sub-process, a multi-instance activity), and
so on up to the process. Within one level a catch event naming the error code wins over a
catch-all one (no code). The search happens when the error is thrown, so an error nothing
catches becomes an incident *where it was thrown*, with nothing unwound.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from translator import (
    BoundaryEvent,
    ErrorEventDefinition,
    EventSubProcess,
    FlowNode,
    TriggeredStartEvent,
)
from workflows._scope import Scope

E = TypeVar("E", BoundaryEvent, EventSubProcess)


@dataclass(frozen=True, eq=False)
class Catcher:
    """A catch event that will handle an error, and the scope instance it belongs to."""

    event: BoundaryEvent | EventSubProcess
    scope: Scope

    def is_boundary_of(self, scope: Scope, activity_id: str) -> bool:
        return (
            isinstance(self.event, BoundaryEvent)
            and self.scope is scope
            and self.event.attached_to == activity_id
        )

    def error_definition(self) -> ErrorEventDefinition:
        trigger = _trigger(self.event)
        assert isinstance(trigger, ErrorEventDefinition)
        return trigger


def find_error_catcher(scope: Scope, activity_id: str | None, code: str) -> Catcher | None:
    """The catch event for error ``code`` thrown by ``activity_id`` (None for an error end
    event) running in ``scope``, or None if nothing catches it."""
    for level, activity in _levels(scope, activity_id):
        nodes = level.container.nodes
        if activity is not None:
            boundary = _best_match(_error_boundaries(nodes.values(), activity), code)
            if boundary is not None:
                return Catcher(boundary, level)
        handler = _best_match(_error_event_sub_processes(nodes.values()), code)
        if handler is not None:
            return Catcher(handler, level)
    return None


def catchable_errors(scope: Scope, activity_id: str) -> tuple[frozenset[str], bool]:
    """Error codes a catch event above ``activity_id`` would catch, and whether one catches
    every error: what a called process may throw up to its call activity."""
    codes: set[str] = set()
    catch_all = False
    for level, activity in _levels(scope, activity_id):
        nodes = level.container.nodes.values()
        events: list[BoundaryEvent | EventSubProcess] = list(_error_event_sub_processes(nodes))
        if activity is not None:
            events.extend(_error_boundaries(nodes, activity))
        for event in events:
            error_code = _error_code(event)
            if error_code is None:
                catch_all = True
            else:
                codes.add(error_code)
    return frozenset(codes), catch_all


def _levels(scope: Scope, activity_id: str | None) -> Iterator[tuple[Scope, str | None]]:
    """(scope, activity in it) from the thrower outwards. Multi-instance bodies and local
    scopes hold variables, not elements: the search passes through them to their owner."""
    level: Scope | None = scope
    activity = activity_id
    while level is not None:
        if level.kind not in ("multiInstanceBody", "local"):
            yield level, activity
        activity = level.owner_id
        level = level.parent


def _error_boundaries(nodes: Iterable[FlowNode], activity_id: str) -> list[BoundaryEvent]:
    return [
        node
        for node in nodes
        if isinstance(node, BoundaryEvent)
        and node.attached_to == activity_id
        and isinstance(node.trigger, ErrorEventDefinition)
    ]


def _error_event_sub_processes(nodes: Iterable[FlowNode]) -> list[EventSubProcess]:
    return [
        node
        for node in nodes
        if isinstance(node, EventSubProcess) and isinstance(_trigger(node), ErrorEventDefinition)
    ]


def _trigger(event: BoundaryEvent | EventSubProcess) -> object:
    if isinstance(event, BoundaryEvent):
        return event.trigger
    start = event.nodes.get(event.start_event)
    return start.trigger if isinstance(start, TriggeredStartEvent) else None


def _error_code(event: BoundaryEvent | EventSubProcess) -> str | None:
    trigger = _trigger(event)
    return trigger.error_code if isinstance(trigger, ErrorEventDefinition) else None


def _best_match(events: list[E], code: str) -> E | None:
    catch_all = None
    for event in events:
        event_code = _error_code(event)
        if event_code == code:
            return event
        if event_code is None and catch_all is None:
            catch_all = event
    return catch_all
