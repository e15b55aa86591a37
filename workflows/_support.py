"""Which IR element kinds this interpreter can run.

The translator compiles more of BPMN than the interpreter runs yet; the worker refuses to
deploy a process with an element it cannot run, naming the element, instead of failing an
instance half-way.
"""

from __future__ import annotations

from translator import FlowNode, ProcessDefinition

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
    """The nodes of ``definition`` that this interpreter version cannot execute."""
    return [node for node in definition.nodes.values() if node.kind not in RUNNABLE_KINDS]
