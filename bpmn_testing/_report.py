"""How an instance is shown when an assertion fails: its path, where it waits, its variables."""

from __future__ import annotations

import json
from typing import Any

from workflows import InstanceState

MAX_VARIABLES_CHARS = 2_000


def path_of(state: InstanceState) -> str:
    """The completed elements in order, ``a -> b -> c`` (terminated ones marked)."""
    steps = [
        element.element_id + (" (terminated)" if element.state == "terminated" else "")
        for element in state.completed
    ]
    earlier = state.completed_count - len(state.completed)
    if earlier > 0:
        steps.insert(0, f"... {earlier} earlier")
    return " -> ".join(steps) or "(nothing completed yet)"


def waiting_of(state: InstanceState) -> list[str]:
    """The active elements, ``element_id (type)``."""
    return [f"{active.element_id} ({active.element_type})" for active in state.active]


def incidents_of(state: InstanceState) -> list[str]:
    return [
        f"{incident.element_id}: {incident.type}: {incident.message}"
        for incident in state.incidents
    ]


def render_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    if len(text) > MAX_VARIABLES_CHARS:
        text = text[:MAX_VARIABLES_CHARS] + f"... ({len(text)} characters)"
    return text


def describe_state(state: InstanceState) -> str:
    """A few indented lines: status, path, where it waits, incidents, variables."""
    lines = [
        f"  status:    {state.status}",
        f"  path:      {path_of(state)}",
        f"  waiting:   {', '.join(waiting_of(state)) or 'nowhere'}",
    ]
    incidents = incidents_of(state)
    if incidents:
        lines.append("  incidents: " + incidents[0])
        lines.extend("             " + incident for incident in incidents[1:])
    else:
        lines.append("  incidents: none")
    lines.append(f"  variables: {render_json(state.variables)}")
    return "\n".join(lines)
