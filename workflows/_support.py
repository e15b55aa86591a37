"""Which parts of the IR this interpreter can run.

The translator compiles more of BPMN than the interpreter runs yet; the worker refuses to
deploy a process with an element it cannot run, naming the element, instead of failing an
instance half-way.
"""

from __future__ import annotations

from translator import (
    CompensateEventDefinition,
    EventSubProcess,
    FlowNode,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ProcessDefinition,
    ResultEndEvent,
    TimerEventDefinition,
    TriggeredStartEvent,
    iter_nodes,
)

RUNNABLE_KINDS = frozenset(
    {
        "startEvent",
        "endEvent",
        "passThrough",
        "job",
        "userTask",
        "scriptTask",
        "businessRuleTask",
        "kafkaTask",
        "callActivity",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "subProcess",
        "adHocSubProcess",
        "eventSubProcess",
        "multiInstance",
        "standardLoop",
        "boundaryEvent",
        "triggeredStartEvent",
        "resultEndEvent",
        "intermediateThrowEvent",
        "intermediateCatchEvent",
        "receiveTask",
        "eventBasedGateway",
    }
)
RUNNABLE_RESULTS = frozenset({"terminate", "error", "escalation", "signal", "compensation"})
"""End event results the interpreter runs (a link or none result on a throw event too)."""


def unrunnable_nodes(definition: ProcessDefinition) -> list[FlowNode]:
    """The nodes of ``definition`` (nested ones included) this interpreter cannot execute."""
    return [node for node in iter_nodes(definition) if unrunnable_reason(node, definition)]


def unrunnable_reason(node: FlowNode, definition: ProcessDefinition) -> str | None:
    """Why this interpreter version cannot run ``node``, or None if it can."""
    if node.kind not in RUNNABLE_KINDS:
        return f"{node.kind} elements"
    listeners = getattr(node, "listeners", ())
    if any(listener.listener == "task" for listener in listeners):
        return "Camunda 7 task listeners"
    if listeners and node.kind in ("boundaryEvent", "eventSubProcess"):
        return f"Camunda 7 execution listeners on {node.kind} elements"
    if isinstance(node, TriggeredStartEvent) and node.id in definition.nodes:
        kind = node.trigger.kind
        return None if kind in PROCESS_START_TRIGGERS else f"{kind} start events of a process"
    if _is_compensation_handler(node):
        # A sub-process's compensation handler; a process is never compensated as a whole.
        nested = node.id not in definition.nodes
        return None if nested else "compensation event sub-processes of a process"
    return _event_reason(node)


def _is_compensation_handler(node: FlowNode) -> bool:
    """An event sub-process with a compensation start event, or that start event."""
    if isinstance(node, EventSubProcess):
        start = node.nodes.get(node.start_event)
        return isinstance(start, TriggeredStartEvent) and start.trigger.kind == "compensation"
    return isinstance(node, TriggeredStartEvent) and node.trigger.kind == "compensation"


PROCESS_START_TRIGGERS = frozenset({"message", "signal", "timer", "conditional"})
"""Start events of a process: a published message or broadcast signal starts an instance
(see ``_mailbox``), a timer start event is a Temporal Schedule, a conditional one starts when
``activities.evaluate_start_conditions`` finds its condition true (Camunda 7's API)."""
RUNNABLE_TRIGGERS = frozenset({"error", "escalation", "timer", "message", "signal", "conditional"})
"""Catch event triggers the interpreter runs (boundary, event sub-process, intermediate)."""


def _event_reason(node: FlowNode) -> str | None:
    trigger = getattr(node, "trigger", None)
    if isinstance(trigger, TimerEventDefinition) and _is_cron(trigger):
        return "cron timer cycles"
    if node.kind == "boundaryEvent":
        assert trigger is not None
        runnable = RUNNABLE_TRIGGERS | {"compensation"}  # kept for compensation, not awaited
        return None if trigger.kind in runnable else f"{trigger.kind} boundary events"
    if isinstance(node, EventSubProcess):
        start = node.nodes.get(node.start_event)
        kind = start.trigger.kind if isinstance(start, TriggeredStartEvent) else "none"
        return None if kind in RUNNABLE_TRIGGERS else f"{kind} event sub-processes"
    if isinstance(node, TriggeredStartEvent) and node.trigger.kind not in RUNNABLE_TRIGGERS:
        return f"{node.trigger.kind} start events"
    if isinstance(node, IntermediateThrowEvent | ResultEndEvent) and node.job is not None:
        return None  # a message throw or end event that is a job, like a send task
    result = getattr(node, "result", None)
    if isinstance(result, CompensateEventDefinition) and not result.wait_for_completion:
        return 'compensation throw events with waitForCompletion="false"'

    if isinstance(node, ResultEndEvent) and node.result.kind not in RUNNABLE_RESULTS:
        return f"{node.result.kind} end events"
    if (
        isinstance(node, IntermediateThrowEvent)
        and node.result
        and node.result.kind not in RUNNABLE_RESULTS | {"link"}
    ):
        return f"{node.result.kind} intermediate throw events"
    if isinstance(node, IntermediateCatchEvent) and node.trigger.kind not in CATCH_TRIGGERS:
        return f"{node.trigger.kind} intermediate catch events"
    return None


CATCH_TRIGGERS = frozenset({"link", "timer", "message", "signal", "conditional"})
"""Triggers of intermediate catch events the interpreter runs."""


def _is_cron(timer: TimerEventDefinition) -> bool:
    return (
        timer.timer == "cycle" and isinstance(timer.value, str) and not timer.value.startswith("R")
    )
