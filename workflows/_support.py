"""Which parts of the IR this interpreter can run.

The translator compiles more of BPMN than the interpreter runs yet; the worker refuses to
deploy a process with an element it cannot run, naming the element, instead of failing an
instance half-way.
"""

from __future__ import annotations

from translator import BoundaryEvent, FlowNode, ProcessDefinition, iter_nodes

RUNNABLE_KINDS = frozenset(
    {
        "startEvent",
        "endEvent",
        "passThrough",
        "job",
        "kafkaTask",
        "exclusiveGateway",
        "parallelGateway",
    }
)


def unrunnable_nodes(definition: ProcessDefinition) -> list[FlowNode]:
    """The nodes of ``definition`` (nested ones included) this interpreter cannot execute."""
    return [node for node in iter_nodes(definition) if unrunnable_reason(node, definition)]


def unrunnable_reason(node: FlowNode, definition: ProcessDefinition) -> str | None:
    """Why this interpreter version cannot run ``node``, or None if it can."""
    if isinstance(node, BoundaryEvent):
        attached = definition.nodes.get(node.attached_to)
        if node.trigger.kind != "error":
            return f"{node.trigger.kind} boundary events"
        if attached is None or attached.kind != "job":
            return "error boundary events on anything but a job-based task"
    elif node.kind not in RUNNABLE_KINDS:
        return f"{node.kind} elements"
    if getattr(node, "listeners", ()):
        return "execution listeners"
    return None
