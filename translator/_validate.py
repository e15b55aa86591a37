"""Checks over one compiled scope: the graph must make sense before anything runs it.

Every check reads the XML of the scope as well as the IR, so that a node refused for another
reason neither hides nor repeats a problem (its flows still count for reachability).

The checks tell nodes apart by ``kind`` (the IR's discriminator, one per node class) rather
than ``isinstance``: they visit every node of every scope, and ``isinstance`` on a pydantic
model goes through ``ABCMeta``, several times slower.
"""

from __future__ import annotations

from collections import deque

from lxml import etree

from translator._context import CompileContext
from translator._model import (
    EventBasedGateway,
    ExclusiveGateway,
    FlowNode,
    InclusiveGateway,
    IntermediateCatchEvent,
    ReceiveTask,
    SequenceFlow,
)
from translator._namespaces import bpmn, local_name
from translator._xml import first_child

ACTIVITY_TAGS = frozenset(
    bpmn(name)
    for name in (
        "task",
        "manualTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "userTask",
        "scriptTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
    )
)
GATEWAY_KINDS = frozenset(
    {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway"}
)
DECIDING_GATEWAYS = (ExclusiveGateway, InclusiveGateway)
EVENT_GATEWAY_TRIGGERS = frozenset({"message", "timer", "signal", "conditional"})


XmlFlow = tuple[etree._Element, str, str, str]
"""A ``<sequenceFlow>`` as written, read once: (element, id, sourceRef, targetRef), ``""`` for
a missing attribute. Every one counts for the checks, compiled or not. (A plain tuple: a scope
may hold thousands, and a NamedTuple costs several times more to make.)"""


def validate_scope(
    ctx: CompileContext,
    members: dict[str, etree._Element],
    xml_flows: list[XmlFlow],
    nodes: dict[str, FlowNode],
    flows: dict[str, SequenceFlow],
    *,
    event_sub_process: bool = False,
) -> None:
    """Record every problem of the scope's graph; ``members`` are its flow-node elements by
    id, ``xml_flows`` its sequence flows as written; ``event_sub_process``: the scope is one
    (its compensation throw events refer to the activities of the scope around it)."""
    successors: dict[str, list[str]] = {}
    for _, _, source, target in xml_flows:
        successors.setdefault(source, []).append(target)
    _check_gateways(ctx, nodes, flows, xml_flows, successors)
    _check_boundary_events(ctx, members, nodes)
    if ctx.compensation:
        _check_compensation(ctx, members, nodes, successors, event_sub_process)
    _check_event_sub_processes(ctx, nodes, successors)
    _check_links(ctx, nodes)
    _check_reachability(ctx, members, successors)


def _problem(ctx: CompileContext, node: FlowNode, message: str) -> None:
    ctx.problem_at(node.id, node.line, message)


def _check_gateways(
    ctx: CompileContext,
    nodes: dict[str, FlowNode],
    flows: dict[str, SequenceFlow],
    xml_flows: list[XmlFlow],
    successors: dict[str, list[str]],
) -> None:
    """Gateways lead somewhere; defaults leave their gateway; conditions follow a gateway that
    decides (exclusive or inclusive); an event-based gateway leads to catch events."""
    for node in nodes.values():
        gateway = node.kind in GATEWAY_KINDS  # isinstance only for gateways, few
        if gateway and node.id not in successors:
            _problem(
                ctx,
                node,
                "gateway has no outgoing sequence flow: a token reaching it would be stuck",
            )
        if gateway and isinstance(node, DECIDING_GATEWAYS):
            default = node.default_flow
            if default and default not in node.outgoing and not _dropped(default, flows, xml_flows):
                _problem(ctx, node, f"default flow {default!r} is not an outgoing flow")
        elif conditional := [f for f in node.outgoing if flows[f].condition is not None]:
            _problem(
                ctx,
                node,
                "conditional sequence flows are only supported after an "
                f"exclusive or inclusive gateway (flow {conditional[0]!r})",
            )
        if gateway and isinstance(node, EventBasedGateway):
            _check_event_gateway_targets(ctx, node, nodes, flows)


def _dropped(flow_id: str, flows: dict[str, SequenceFlow], xml_flows: list[XmlFlow]) -> bool:
    """Whether the scope has a flow ``flow_id`` that was not compiled (its problem, if any, is
    already recorded)."""
    return flow_id not in flows and any(xml_id == flow_id for _, xml_id, _, _ in xml_flows)


def _check_event_gateway_targets(
    ctx: CompileContext,
    gateway: EventBasedGateway,
    nodes: dict[str, FlowNode],
    flows: dict[str, SequenceFlow],
) -> None:
    for flow_id in gateway.outgoing:
        target = nodes[flows[flow_id].target]
        if isinstance(target, ReceiveTask):
            continue
        if isinstance(target, IntermediateCatchEvent) and (
            target.trigger.kind in EVENT_GATEWAY_TRIGGERS
        ):
            continue
        _problem(
            ctx,
            gateway,
            f"event-based gateway leads to {target.id!r}, but it may only "
            "lead to message, timer, signal or conditional catch events and receive tasks",
        )


def _check_boundary_events(
    ctx: CompileContext, members: dict[str, etree._Element], nodes: dict[str, FlowNode]
) -> None:
    for node in nodes.values():
        if node.kind != "boundaryEvent":
            continue
        attached = members.get(node.attached_to)
        if attached is None:
            where = "in another scope" if node.attached_to in ctx.all_ids else "unknown"
            _problem(
                ctx,
                node,
                f"boundary event is attached to {node.attached_to!r}, which "
                f"is {where}; attach it to an activity next to it",
            )
        elif attached.tag not in ACTIVITY_TAGS:
            _problem(
                ctx,
                node,
                f"boundary event is attached to {node.attached_to!r}, a "
                f"{local_name(attached.tag)}; only activities can have boundary events",
            )


def _check_compensation(
    ctx: CompileContext,
    members: dict[str, etree._Element],
    nodes: dict[str, FlowNode],
    successors: dict[str, list[str]],
    event_sub_process: bool,
) -> None:
    """Compensation boundary events name a handler next to them by an association; handlers
    are started only by compensation; a throw event's ``activityRef`` is an activity of its
    scope (of the scope around it, in an event sub-process) that can be compensated."""
    compensable = set()
    for node in nodes.values():
        if node.kind != "boundaryEvent":
            continue
        if node.trigger.kind == "compensation":
            compensable.add(node.attached_to)
            _check_compensation_boundary(ctx, members, node, successors)
        attached = members.get(node.attached_to)
        if attached is not None and attached.get("isForCompensation") == "true":
            _problem(
                ctx,
                node,
                f"boundary event on the compensation handler {node.attached_to!r}: a handler "
                "has no flows of its own to leave by; handle its errors inside it (a "
                "sub-process as handler) or around the compensation throw event",
            )
    targets = set(successors).union(*successors.values())
    for element_id, element in members.items():
        if element.get("isForCompensation") == "true" and element_id in targets:
            ctx.problem(
                element,
                "a compensation handler (isForCompensation) is started by compensation only: "
                "remove its sequence flows",
            )
    throws = [] if event_sub_process else list(nodes.values())
    for node in nodes.values():
        if node.kind == "eventSubProcess":
            throws.extend(node.nodes.values())
    for node in throws:
        result = getattr(node, "result", None)
        if result is not None and result.kind == "compensation" and result.activity:
            _check_compensated_activity(ctx, members, node, result.activity, compensable)


def _check_compensation_boundary(
    ctx: CompileContext,
    members: dict[str, etree._Element],
    boundary: FlowNode,
    successors: dict[str, list[str]],
) -> None:
    handler = getattr(boundary, "compensation_handler", None)
    if boundary.id in successors:
        _problem(
            ctx,
            boundary,
            "a compensation boundary event has no outgoing sequence flows: connect it to its "
            "handler by an association",
        )
    if handler is None:
        _problem(
            ctx,
            boundary,
            "compensation boundary event has no handler: connect it by an association to an "
            'activity next to it marked isForCompensation="true"',
        )
    elif handler not in members:
        where = "in another scope" if handler in ctx.all_ids else "unknown"
        _problem(ctx, boundary, f"compensation handler {handler!r} is {where}; put it next to it")
    elif members[handler].get("isForCompensation") != "true":
        _problem(
            ctx,
            boundary,
            f'compensation handler {handler!r} is not marked isForCompensation="true"',
        )


def _check_compensated_activity(
    ctx: CompileContext,
    members: dict[str, etree._Element],
    throw: FlowNode,
    activity: str,
    compensable: set[str],
) -> None:
    element = members.get(activity)
    if element is None:
        where = "in another scope" if activity in ctx.all_ids else "unknown"
        _problem(
            ctx,
            throw,
            f"compensation activityRef {activity!r} is {where}; it must be an activity of the "
            "throw event's scope",
        )
    elif activity not in compensable and element.tag != SUB_PROCESS:
        _problem(
            ctx,
            throw,
            f"compensation activityRef {activity!r} has no compensation boundary event: "
            "there is nothing to compensate",
        )


def _check_event_sub_processes(
    ctx: CompileContext, nodes: dict[str, FlowNode], successors: dict[str, list[str]]
) -> None:
    event_sub_processes = [node for node in nodes.values() if node.kind == "eventSubProcess"]
    if not event_sub_processes:
        return
    ends = set(successors).union(*successors.values())
    for node in event_sub_processes:
        if node.id in ends:
            _problem(
                ctx,
                node,
                "an event sub-process is started by its event, so it cannot "
                "have incoming or outgoing sequence flows",
            )


def _check_links(ctx: CompileContext, nodes: dict[str, FlowNode]) -> None:
    """A link throw jumps to the link catch event of the same name in the same scope."""
    catches = {
        n.trigger.name
        for n in nodes.values()
        if n.kind == "intermediateCatchEvent" and n.trigger.kind == "link"
    }
    for node in nodes.values():
        result = node.result if node.kind == "intermediateThrowEvent" else None
        if result is not None and result.kind == "link" and result.name not in catches:
            _problem(
                ctx,
                node,
                f"link {result.name!r} has no link catch event of that name in the same scope",
            )


START_EVENT = bpmn("startEvent")
ENTRY_TAGS = frozenset({START_EVENT, bpmn("boundaryEvent")})
SUB_PROCESS = bpmn("subProcess")
INTERMEDIATE_CATCH_EVENT = bpmn("intermediateCatchEvent")
LINK_EVENT_DEFINITION = bpmn("linkEventDefinition")


def _is_entry(element: etree._Element) -> bool:
    """Where a token can appear without a sequence flow leading there."""
    tag = element.tag
    return (
        tag in ENTRY_TAGS
        or (tag == SUB_PROCESS and element.get("triggeredByEvent") == "true")
        or element.get("isForCompensation") == "true"
        or (
            tag == INTERMEDIATE_CATCH_EVENT
            and first_child(element, LINK_EVENT_DEFINITION) is not None
        )
    )


def _check_reachability(
    ctx: CompileContext, members: dict[str, etree._Element], successors: dict[str, list[str]]
) -> None:
    """Every node is reachable from an entry (start, boundary, event sub-process...)."""
    if not any(e.tag == START_EVENT for e in members.values()):
        return  # no start event at all is reported on its own
    reached = {node_id for node_id, element in members.items() if _is_entry(element)}
    queue = deque(reached)
    while queue:
        for target in successors.get(queue.popleft(), ()):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    for node_id, element in members.items():
        if node_id not in reached and not ctx.has_problem(element):
            ctx.problem(
                element,
                f"{local_name(element.tag)} cannot be reached from any start "
                "event: connect it with a sequence flow, or remove it",
            )
