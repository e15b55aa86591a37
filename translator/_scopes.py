"""Scopes: a process, an embedded sub-process or an event sub-process holds flow nodes and the
sequence flows between them. Compiling a scope compiles its children through the handler
registry; a sub-process handler compiles its own child scope, recursively.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from pydantic import ValidationError

from translator import _dialects as dialects
from translator import _elements as elements
from translator import _events as events
from translator._context import CompileContext
from translator._elements import Handler
from translator._loops import child_text, optional_feel, with_loop
from translator._model import (
    AdHocElement,
    AdHocSubProcess,
    EventSubProcess,
    FlowNode,
    SequenceFlow,
    SubProcess,
)
from translator._namespaces import bpmn, local_name, zeebe
from translator._validate import XmlFlow, validate_scope
from translator._xml import first_child
from translator.expressions import Expression

SEQUENCE_FLOW = bpmn("sequenceFlow")
CONDITION_EXPRESSION = bpmn("conditionExpression")
COMPLETION_CONDITION = bpmn("completionCondition")
AD_HOC_SUB_PROCESS = bpmn("adHocSubProcess")


@dataclass(frozen=True)
class Scope:
    nodes: dict[str, FlowNode]
    flows: dict[str, SequenceFlow]


def compile_scope(ctx: CompileContext, scope: etree._Element) -> Scope:
    """The nodes and flows of ``scope``'s direct children; all problems go to ``ctx``."""
    nodes: dict[str, FlowNode] = {}
    members: dict[str, etree._Element] = {}
    """The flow nodes directly in ``scope`` (compiled or not), by id."""
    flow_elements: list[etree._Element] = []
    for child in scope:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == SEQUENCE_FLOW:
            flow_elements.append(child)
        elif tag == COMPLETION_CONDITION and scope.tag == AD_HOC_SUB_PROCESS:
            continue  # read by its handler
        elif tag in HANDLERS:
            element_id = child.get("id", "")
            members[element_id] = child
            _compile_node(ctx, child, tag, element_id, nodes)
        elif tag in elements.REFUSED:
            members[child.get("id", "")] = child
            ctx.problem(child, elements.REFUSED[tag])
        elif tag not in elements.IGNORED:
            ctx.problem(child, f"{local_name(tag)} is not supported yet")
    xml_flows: list[XmlFlow] = [
        (e, e.get("id", ""), e.get("sourceRef", ""), e.get("targetRef", "")) for e in flow_elements
    ]
    flows = _compile_flows(ctx, members, xml_flows, nodes)
    linked = _link(nodes, flows)
    in_event_sub_process = scope.get("triggeredByEvent", "").strip().lower() == "true"
    validate_scope(ctx, members, xml_flows, linked, flows, event_sub_process=in_event_sub_process)
    return Scope(linked, flows)


def _compile_node(
    ctx: CompileContext,
    element: etree._Element,
    tag: str,
    element_id: str,
    nodes: dict[str, FlowNode],
) -> None:
    """Compile one flow node into ``nodes`` (``tag`` and ``element_id`` as read by the caller:
    lxml builds a new string each time they are read)."""
    if not element_id:
        ctx.problem(element, f"{local_name(tag)} has no id")
        return
    if element_id in ctx.node_ids:
        ctx.problem(element, f"id {element_id!r} is used twice")
        return
    ctx.node_ids.add(element_id)
    common: dict[str, object] = {
        "id": element_id,
        "name": element.get("name"),
        "line": element.sourceline,
    }
    try:
        listeners = dialects.listeners(ctx, element)
        job_listeners = dialects.job_listeners(ctx, element)
        node = HANDLERS[tag](
            ctx, element, {**common, "listeners": listeners, "job_listeners": job_listeners}
        )
        if node is not None:
            node = with_loop(ctx, element, node, common)
        if node is not None:
            dialects.refuse_unread_mappings(ctx, element, node)
    except ValidationError as error:
        ctx.problem(element, f"invalid {local_name(tag)}: {error.errors()[0]['msg']}")
        return
    if node is not None and not ctx.has_problem_id(element_id):
        nodes[element_id] = node


def _compile_flows(
    ctx: CompileContext,
    members: dict[str, etree._Element],
    xml_flows: list[XmlFlow],
    nodes: dict[str, FlowNode],
) -> dict[str, SequenceFlow]:
    """Flows between compiled nodes; a flow touching a refused node is dropped quietly (the
    refusal already explains it)."""
    flows: dict[str, SequenceFlow] = {}
    for element, flow_id, source, target in xml_flows:
        if flow_id and source in nodes and target in nodes:  # compiled nodes are members
            # Most flows have no child element at all: no condition or listener to look for.
            if len(element):
                dialects.refuse_flow_listeners(ctx, element)
            flows[flow_id] = SequenceFlow(
                id=flow_id,
                source=source,
                target=target,
                condition=_condition(ctx, element) if len(element) else None,
                line=element.sourceline,
            )
            continue
        outside = [ref for ref in (source, target) if ref not in members]
        if outside:
            _explain_outside(ctx, element, outside[0])
        if not flow_id:
            ctx.problem(element, "sequence flow has no id")
    return flows


def _explain_outside(ctx: CompileContext, flow: etree._Element, ref: str) -> None:
    if ref in ctx.all_ids:
        ctx.problem(
            flow,
            f"sequence flow connects to {ref!r}, which is in another scope; "
            "a sequence flow cannot cross a sub-process border",
        )
    else:
        ctx.problem(flow, f"sequence flow refers to unknown element {ref!r}")


def _condition(ctx: CompileContext, flow: etree._Element) -> Expression | None:
    condition = first_child(flow, CONDITION_EXPRESSION)
    if condition is None:
        return None
    text = "".join(str(part) for part in condition.itertext())
    return ctx.marked_expression(flow, text, "condition")


def _link(nodes: dict[str, FlowNode], flows: dict[str, SequenceFlow]) -> dict[str, FlowNode]:
    """Fill each node's incoming/outgoing flow ids in document order of the flows."""
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for flow in flows.values():
        outgoing.setdefault(flow.source, []).append(flow.id)
        incoming.setdefault(flow.target, []).append(flow.id)
    for node_id, node in nodes.items():
        _set_links(node, tuple(incoming.get(node_id, ())), tuple(outgoing.get(node_id, ())))
    return nodes


def _set_links(node: FlowNode, incoming: tuple[str, ...], outgoing: tuple[str, ...]) -> None:
    """Set a node's flow ids in place: what ``model_copy(update=...)`` gives, without a copy
    per node. Only for nodes this scope's handlers have just built, which nothing else holds
    yet (nor hashes); the values are validated tuples of ids."""
    node.__dict__["incoming"] = incoming
    node.__dict__["outgoing"] = outgoing
    node.__pydantic_fields_set__.update(("incoming", "outgoing"))


# --- Sub-processes ---------------------------------------------------------------------------


def sub_process(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    if element.get("triggeredByEvent", "false").strip().lower() == "true":
        return event_sub_process(ctx, element, common)
    scope = compile_scope(ctx, element)
    starts = [n.id for n in scope.nodes.values() if n.kind == "startEvent"]
    triggered = [n for n in scope.nodes.values() if n.kind == "triggeredStartEvent"]
    for start in triggered:
        ctx.problem(
            element,
            f"start event {start.id!r} has a trigger, but an embedded "
            "sub-process is entered by its none start event; use an event sub-process",
        )
    if len(starts) != 1:
        ctx.problem(element, f"sub-process has {len(starts)} none start events, expected one")
    if triggered or len(starts) != 1:
        return None
    inputs, outputs = dialects.io_mappings(ctx, element)
    return SubProcess.model_validate(
        {
            **common,
            "start_event": starts[0],
            "nodes": scope.nodes,
            "flows": scope.flows,
            "inputs": inputs,
            "outputs": outputs,
        }
    )


def event_sub_process(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    scope = compile_scope(ctx, element)
    starts = [n.id for n in scope.nodes.values() if n.kind == "triggeredStartEvent"]
    if len(starts) != 1:
        if not ctx.has_problem(element):
            ctx.problem(
                element,
                f"event sub-process has {len(starts)} start events with a "
                "trigger, expected exactly one",
            )
        return None
    return EventSubProcess.model_validate(
        {**common, "start_event": starts[0], "nodes": scope.nodes, "flows": scope.flows}
    )


# --- Ad-hoc sub-processes ---------------------------------------------------------------------

NOT_ACTIVATABLE = frozenset(
    {"startEvent", "triggeredStartEvent", "endEvent", "resultEndEvent", "boundaryEvent"}
    | {"eventSubProcess"}
)
"""Kinds an ad-hoc sub-process never activates (Zeebe's list); the others can be, when no
sequence flow leads to them."""
NO_START_OR_END = frozenset(bpmn(name) for name in ("startEvent", "endEvent"))


def ad_hoc_sub_process(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """Zeebe's ad-hoc sub-process (``zeebe:adHoc``), run by the engine itself (its BPMN
    implementation); the job-worker one, which hands the choice to a worker, is refused."""
    problems_before = len(ctx.problems)
    scope = compile_scope(ctx, element)
    for child in element:
        if child.tag in NO_START_OR_END:
            ctx.problem(
                child,
                f"an ad-hoc sub-process has no {local_name(child.tag)}s: its elements "
                "start when activated and its activations end with their last element",
            )
    if dialects.first_extension(element, zeebe("taskDefinition")) is not None:
        ctx.problem(
            element,
            "an ad-hoc sub-process with a job worker implementation (zeebe:taskDefinition, as "
            "the AI Agent sub-process uses) is not supported; use activeElementsCollection",
        )
    if element.get("ordering", "Parallel").strip() != "Parallel":
        ctx.problem(
            element,
            'ordering="Sequential" is not supported: activated elements run side by side, as '
            "in Zeebe; chain them with sequence flows to run them in order",
        )
    settings = _ad_hoc_settings(ctx, element)
    members = _activatable(element, scope)
    if not members and not ctx.has_problem(element):
        ctx.problem(
            element,
            "ad-hoc sub-process has no element to activate: add an activity with no "
            "incoming sequence flow",
        )
    if len(ctx.problems) > problems_before or settings is None:
        return None
    inputs, outputs = dialects.io_mappings(ctx, element)
    return AdHocSubProcess.model_validate(
        {
            **common,
            **settings,
            "nodes": scope.nodes,
            "flows": scope.flows,
            "inputs": inputs,
            "outputs": outputs,
            "cancel_remaining_instances": element.get("cancelRemainingInstances", "true")
            .strip()
            .lower()
            not in ("false", "0"),  # xsd:boolean
            "elements": [_ad_hoc_element(node_id, xml) for node_id, xml in members],
        }
    )


def _ad_hoc_settings(ctx: CompileContext, element: etree._Element) -> dict[str, object] | None:
    """``zeebe:adHoc`` and the standard completion condition; None after a problem."""
    problems_before = len(ctx.problems)
    ad_hoc = dialects.first_extension(element, zeebe("adHoc"))

    def read(name: str) -> str | None:
        return None if ad_hoc is None else ad_hoc.get(name)

    collection = (read("outputCollection") or "").strip() or None
    output_element = optional_feel(ctx, element, read("outputElement"), "outputElement")
    if (collection is None) != (output_element is None):
        ctx.problem(
            element,
            "outputCollection and outputElement go together: the element is what each "
            "activation adds to the collection",
        )
    condition = child_text(element, "completionCondition")
    settings: dict[str, object] = {
        "active_elements": optional_feel(
            ctx, element, read("activeElementsCollection"), "activeElementsCollection"
        ),
        "completion_condition": None
        if condition is None
        else ctx.marked_expression(element, condition, "completion condition"),
        "output_collection": collection,
        "output_element": output_element,
    }
    return None if len(ctx.problems) > problems_before else settings


def _activatable(element: etree._Element, scope: Scope) -> list[tuple[str, etree._Element]]:
    """The compiled children an activation may name, with their XML, in document order."""
    found = []
    for child in element:
        node = scope.nodes.get(child.get("id", "")) if child.tag in HANDLERS else None
        if (
            node is not None
            and not node.incoming
            and node.kind not in NOT_ACTIVATABLE
            and child.get("isForCompensation", "false").strip().lower() != "true"
        ):
            found.append((node.id, child))
    return found


def _ad_hoc_element(node_id: str, element: etree._Element) -> AdHocElement:
    properties = dialects.first_extension(element, zeebe("properties"))
    return AdHocElement(
        element_id=node_id,
        name=element.get("name") or "",
        documentation=child_text(element, "documentation") or "",
        properties={
            item.get("name", ""): item.get("value", "")
            for item in (properties if properties is not None else ())
            if item.tag == zeebe("property")
        },
    )


HANDLERS: dict[str, Handler] = {
    **elements.HANDLERS,
    **events.HANDLERS,
    bpmn("subProcess"): sub_process,
    bpmn("adHocSubProcess"): ad_hoc_sub_process,
}
