"""Which elements of a scope a token can still reach: what an inclusive join waits for.

Computed once per scope definition (the IR is immutable) and kept for the worker's lifetime.
Edges are sequence flows, plus activity → its boundary events (a token in an activity may leave
through one) and link throw → link catch events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from translator import BoundaryEvent, LinkEventDefinition
from workflows._scope import Container

_REACHABLE: dict[int, tuple[object, dict[str, frozenset[str]]]] = {}


def can_reach(container: Container, source: str, target: str) -> bool:
    """True if a token at ``source`` can arrive at ``target`` (or is there)."""
    return source == target or target in _reachable(container).get(source, frozenset())


def _reachable(container: Container) -> dict[str, frozenset[str]]:
    cached = _REACHABLE.get(id(container))
    if cached is not None and cached[0] is container:
        return cached[1]
    edges = _edges(container)
    reachable = {node_id: _closure(edges, node_id) for node_id in container.nodes}
    _REACHABLE[id(container)] = (container, reachable)
    return reachable


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
