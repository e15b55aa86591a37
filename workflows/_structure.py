"""Structural lookups over a scope's elements, computed once per scope definition (the IR is
immutable) and kept for the worker's lifetime: which boundary events an activity has, which
timer and message event sub-processes a scope has, and which elements a token can still
reach (what an inclusive join waits for). Reachability edges are sequence flows, plus
activity → its boundary events (a token in an activity may leave through one) and link throw
→ link catch events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from translator import (
    BoundaryEvent,
    ConditionalEventDefinition,
    EventSubProcess,
    LinkEventDefinition,
    MessageEventDefinition,
    SignalEventDefinition,
    TimerEventDefinition,
    TriggeredStartEvent,
)
from workflows._scope import Container


@dataclass(frozen=True)
class _Structure:
    container: Container
    reachable: dict[str, frozenset[str]]
    boundaries: dict[str, tuple[BoundaryEvent, ...]]
    compensation_handlers: dict[str, str]
    compensation_event_sub_process: EventSubProcess | None
    event_sub_processes: tuple[EventSubProcess, ...]


_CACHE: dict[int, _Structure] = {}


def boundaries_of(container: Container, activity_id: str) -> tuple[BoundaryEvent, ...]:
    return _structure(container).boundaries.get(activity_id, ())


def compensation_handler(container: Container, activity_id: str) -> str | None:
    """The handler of the activity's compensation boundary event, if it has one."""
    return _structure(container).compensation_handlers.get(activity_id)


def compensation_event_sub_process(container: Container) -> EventSubProcess | None:
    """The event sub-process with a compensation start event: the sub-process's own handler."""
    return _structure(container).compensation_event_sub_process


def event_sub_processes(container: Container) -> tuple[EventSubProcess, ...]:
    return _structure(container).event_sub_processes


def can_reach(container: Container, source: str, target: str) -> bool:
    """True if a token at ``source`` can arrive at ``target`` (or is there)."""
    return source == target or target in _structure(container).reachable.get(source, frozenset())


def _structure(container: Container) -> _Structure:
    cached = _CACHE.get(id(container))
    if cached is not None and cached.container is container:
        return cached
    edges = _edges(container)
    boundaries: dict[str, list[BoundaryEvent]] = defaultdict(list)
    handlers = []
    compensating = None
    for node in container.nodes.values():
        if isinstance(node, BoundaryEvent):
            boundaries[node.attached_to].append(node)
        elif isinstance(node, EventSubProcess):
            start = node.nodes.get(node.start_event)
            if isinstance(start, TriggeredStartEvent) and start.trigger.kind == "compensation":
                compensating = node
            if isinstance(start, TriggeredStartEvent) and isinstance(
                start.trigger,
                TimerEventDefinition
                | MessageEventDefinition
                | SignalEventDefinition
                | ConditionalEventDefinition,
            ):
                handlers.append(node)
    structure = _Structure(
        container=container,
        reachable={node_id: _closure(edges, node_id) for node_id in container.nodes},
        boundaries={activity: tuple(events) for activity, events in boundaries.items()},
        compensation_handlers={
            event.attached_to: event.compensation_handler
            for events in boundaries.values()
            for event in events
            if event.compensation_handler is not None
        },
        compensation_event_sub_process=compensating,
        event_sub_processes=tuple(handlers),
    )
    _CACHE[id(container)] = structure
    return structure


def _edges(container: Container) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for flow in container.flows.values():
        edges[flow.source].add(flow.target)
    links: dict[str, list[str]] = defaultdict(list)
    for node in container.nodes.values():
        if isinstance(node, BoundaryEvent):
            edges[node.attached_to].add(node.id)
        trigger = getattr(node, "trigger", None)
        if node.kind == "intermediateCatchEvent" and isinstance(trigger, LinkEventDefinition):
            links[trigger.name].append(node.id)
    for node in container.nodes.values():
        result = getattr(node, "result", None)
        if node.kind == "intermediateThrowEvent" and isinstance(result, LinkEventDefinition):
            edges[node.id].update(links.get(result.name, ()))
    return edges


def _closure(edges: Mapping[str, set[str]], start: str) -> frozenset[str]:
    seen: set[str] = set()
    stack = list(edges.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return frozenset(seen)
