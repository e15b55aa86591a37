"""Who catches a thrown BPMN error or escalation: pure lookups over the running scope tree.

Zeebe's rule, which we follow for both: the innermost matching catch event up the scope
hierarchy catches it. Starting at the throwing activity, each level offers first the activity's
error boundary events, then the error event sub-processes of the scope it runs in; then the
search moves to the element owning that scope (a sub-process, a multi-instance activity), and
so on up to the process. Within one level a catch event naming the error code wins over a
catch-all one (no code). The search happens when the error is thrown, so an error nothing
catches becomes an incident *where it was thrown*, with nothing unwound (an escalation nothing
catches is simply over: the thrower goes on).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

from translator import (
    BoundaryEvent,
    ErrorEventDefinition,
    EscalationEventDefinition,
    EventSubProcess,
    FlowNode,
    TriggeredStartEvent,
)
from workflows._scope import Scope

E = TypeVar("E", BoundaryEvent, EventSubProcess)
Thrown = Literal["error", "escalation"]


@dataclass(frozen=True, eq=False)
class Catcher:
    """A catch event that will handle an error or escalation, and the scope instance it
    belongs to."""

    event: BoundaryEvent | EventSubProcess
    scope: Scope

    def is_boundary_of(self, scope: Scope, activity_id: str) -> bool:
        return (
            isinstance(self.event, BoundaryEvent)
            and self.scope is scope
            and self.event.attached_to == activity_id
        )

    def event_definition(self) -> object:
        return _trigger(self.event)

    @property
    def interrupting(self) -> bool:
        if isinstance(self.event, BoundaryEvent):
            return self.event.cancel_activity
        start = self.event.nodes.get(self.event.start_event)
        return not isinstance(start, TriggeredStartEvent) or start.interrupting


def find_catcher(
    scope: Scope, activity_id: str | None, thrown: Thrown, code: str
) -> Catcher | None:
    """The catch event for the error or escalation ``code`` thrown by ``activity_id`` (None
    for a throw or end event) running in ``scope``, or None if nothing catches it."""
    for level, activity in _levels(scope, activity_id):
        nodes = level.container.nodes
        if activity is not None:
            boundary = _best_match(_boundaries(nodes.values(), activity, thrown), code)
            if boundary is not None:
                return Catcher(boundary, level)
        if level.completed or not level.holds_event_sub_processes:
            continue
        handler = _best_match(_event_sub_processes(nodes.values(), thrown), code)
        if handler is not None:
            return Catcher(handler, level)
    return None


def catchable_codes(scope: Scope, activity_id: str, thrown: Thrown) -> tuple[frozenset[str], bool]:
    """Codes a catch event above ``activity_id`` would catch, and whether one catches every
    code: what a called process may throw up to its call activity."""
    codes: set[str] = set()
    catch_all = False
    for level, activity in _levels(scope, activity_id):
        nodes = level.container.nodes.values()
        events: list[BoundaryEvent | EventSubProcess] = []
        if not level.completed and level.holds_event_sub_processes:
            events.extend(_event_sub_processes(nodes, thrown))
        if activity is not None:
            events.extend(_boundaries(nodes, activity, thrown))
        for event in events:
            event_code = _code(event)
            if event_code is None:
                catch_all = True
            else:
                codes.add(event_code)
    return frozenset(codes), catch_all


def escalation_catches(scope: Scope, activity_id: str) -> dict[str, bool]:
    """For a call activity: each escalation code caught above it ("" for a catch-all) and
    whether its catch event interrupts."""
    codes, catch_all = catchable_codes(scope, activity_id, "escalation")
    catches: dict[str, bool] = {}
    for code in sorted(codes) + ([""] if catch_all else []):
        catcher = find_catcher(scope, activity_id, "escalation", code)
        assert catcher is not None
        catches[code] = catcher.interrupting
    return catches


def _levels(scope: Scope, activity_id: str | None) -> Iterator[tuple[Scope, str | None]]:
    """(scope, activity in it) from the thrower outwards. Multi-instance bodies and local
    scopes hold variables, not elements: the search passes through them to their owner."""
    level: Scope | None = scope
    activity = activity_id
    while level is not None:
        if level.kind not in ("multiInstanceBody", "local"):
            yield level, activity
        # A completed sub-process (compensation) has no boundary events left.
        activity = None if level.completed else level.owner_id
        level = level.parent


def _boundaries(nodes: Iterable[FlowNode], activity_id: str, thrown: Thrown) -> list[BoundaryEvent]:
    return [
        node
        for node in nodes
        if isinstance(node, BoundaryEvent)
        and node.attached_to == activity_id
        and node.trigger.kind == thrown
    ]


def _event_sub_processes(nodes: Iterable[FlowNode], thrown: Thrown) -> list[EventSubProcess]:
    return [
        node
        for node in nodes
        if isinstance(node, EventSubProcess) and getattr(_trigger(node), "kind", None) == thrown
    ]


def _trigger(event: BoundaryEvent | EventSubProcess) -> object:
    if isinstance(event, BoundaryEvent):
        return event.trigger
    start = event.nodes.get(event.start_event)
    return start.trigger if isinstance(start, TriggeredStartEvent) else None


def _code(event: BoundaryEvent | EventSubProcess) -> str | None:
    trigger = _trigger(event)
    if isinstance(trigger, ErrorEventDefinition):
        return trigger.error_code
    if isinstance(trigger, EscalationEventDefinition):
        return trigger.escalation_code
    return None


def _best_match(events: list[E], code: str) -> E | None:
    catch_all = None
    for event in events:
        event_code = _code(event)
        if event_code == code:
            return event
        if event_code is None and catch_all is None:
            catch_all = event
    return catch_all
