"""compile_bytes / compile_file: BPMN XML in, validated ProcessDefinitions out."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from pydantic import ValidationError

from translator._context import CompileContext, expression_dialect
from translator._elements import HANDLERS, IGNORED
from translator._errors import Problem, TranslationError
from translator._model import (
    ExclusiveGateway,
    FlowNode,
    ProcessDefinition,
    SequenceFlow,
    StartEvent,
)
from translator._namespaces import bpmn, local_name
from translator.expressions import Expression

MAX_FILE_BYTES = 20 * 1024 * 1024


def compile_file(path: str | Path) -> list[ProcessDefinition]:
    """Compile every executable process of a ``.bpmn`` file.

    Raises:
        TranslationError: the file cannot be read or has problems; ``problems`` lists them all.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TranslationError(
            [Problem(str(path), f"cannot read file: {error.strerror}")]
        ) from None
    return compile_bytes(data, str(path))


def compile_bytes(data: bytes, name: str) -> list[ProcessDefinition]:
    """Compile every executable process in ``data``; ``name`` is used in messages.

    Processes with ``isExecutable`` other than ``true`` are skipped, as Camunda does.

    Raises:
        TranslationError: the XML is not BPMN or a process has problems; all are listed.
    """
    ctx = CompileContext(name)
    root = _parse(ctx, data)
    if root is None:
        raise TranslationError(ctx.problems)
    definitions = []
    for process in root.findall(bpmn("process")):
        if process.get("isExecutable", "false").strip().lower() != "true":
            continue
        definition = _compile_process(ctx, process)
        if definition is not None:
            definitions.append(definition)
    if ctx.problems:
        raise TranslationError(ctx.problems)
    return definitions


def _parse(ctx: CompileContext, data: bytes) -> etree._Element | None:
    if len(data) > MAX_FILE_BYTES:
        ctx.problem(None, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return None
    # No entity expansion, no DTD or network access: a model file is untrusted input.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.lineno if isinstance(error.lineno, int) else None
        ctx.problems.append(Problem(ctx.source, f"not well-formed XML: {error.msg}", None, line))
        return None
    if root.tag != bpmn("definitions"):
        ctx.problem(
            root, f"root element is <{local_name(root.tag)}>, expected BPMN 2.0 <definitions>"
        )
        return None
    return root


def _compile_process(ctx: CompileContext, process: etree._Element) -> ProcessDefinition | None:
    process_id = process.get("id")
    if not process_id:
        ctx.problem(process, "process has no id")
        return None
    nodes: dict[str, FlowNode] = {}
    flow_elements: list[etree._Element] = []
    for element in process:
        if not isinstance(element.tag, str):
            continue
        if element.tag == bpmn("sequenceFlow"):
            flow_elements.append(element)
        elif element.tag in HANDLERS:
            _compile_node(ctx, element, nodes)
        elif element.tag not in IGNORED:
            ctx.problem(element, f"{local_name(element.tag)} is not supported yet")
    known_ids = {child.get("id") for child in process.iter() if isinstance(child.tag, str)}
    flows = _compile_flows(ctx, flow_elements, nodes, known_ids)
    nodes = _link(nodes, flows)
    start = _single_start(ctx, process, nodes)
    dropped = {f.get("id") for f in flow_elements} - set(flows)
    _check_gateways(ctx, nodes, flows, dropped)
    if start is None:
        return None
    definition = ProcessDefinition(
        id=process_id,
        name=process.get("name"),
        source=ctx.source,
        start_event=start,
        nodes=nodes,
        flows=flows,
    )
    return definition.with_content_hash()


def _compile_node(ctx: CompileContext, element: etree._Element, nodes: dict[str, FlowNode]) -> None:
    element_id = element.get("id")
    if not element_id:
        ctx.problem(element, f"{local_name(element.tag)} has no id")
        return
    if element_id in nodes:
        ctx.problem(element, f"id {element_id!r} is used twice")
        return
    common: dict[str, object] = {
        "id": element_id,
        "name": element.get("name"),
        "line": element.sourceline,
    }
    try:
        node = HANDLERS[element.tag](ctx, element, common)
    except ValidationError as error:
        ctx.problem(element, f"invalid {local_name(element.tag)}: {error.errors()[0]['msg']}")
        return
    if node is not None:
        nodes[element_id] = node


def _compile_flows(
    ctx: CompileContext,
    elements: list[etree._Element],
    nodes: dict[str, FlowNode],
    known_ids: set[str | None],
) -> dict[str, SequenceFlow]:
    """Flows between compiled nodes; a flow touching a refused node is dropped quietly."""
    flows: dict[str, SequenceFlow] = {}
    for element in elements:
        flow_id = element.get("id", "")
        source, target = element.get("sourceRef", ""), element.get("targetRef", "")
        unknown = [ref for ref in (source, target) if ref not in known_ids]
        if unknown:
            ctx.problem(element, f"sequence flow refers to unknown element {unknown[0]!r}")
        missing = [ref for ref in (source, target) if ref not in nodes]
        if missing or not flow_id:
            continue
        flows[flow_id] = SequenceFlow(
            id=flow_id,
            source=source,
            target=target,
            condition=_condition(ctx, element),
            line=element.sourceline,
        )
    return flows


def _condition(ctx: CompileContext, flow: etree._Element) -> Expression | None:
    condition = flow.find(bpmn("conditionExpression"))
    if condition is None:
        return None
    text = "".join(str(part) for part in condition.itertext()).strip()
    dialect = expression_dialect(text)
    if dialect is None:
        ctx.problem(
            flow,
            f"condition {text!r} is not an expression: write FEEL as '=amount > 100' "
            "(Zeebe) or JUEL as '${amount > 100}' (Camunda 7)",
        )
        return None
    # In a condition, #{...} is Camunda 7's deferred JUEL, not tSM's SpEL.
    return ctx.expression(flow, text, "juel" if dialect == "spel" else dialect, "condition")


def _link(nodes: dict[str, FlowNode], flows: dict[str, SequenceFlow]) -> dict[str, FlowNode]:
    """Fill each node's incoming/outgoing flow ids in document order of the flows."""
    incoming: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    outgoing: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for flow in flows.values():
        outgoing[flow.source].append(flow.id)
        incoming[flow.target].append(flow.id)
    return {
        node_id: node.model_copy(
            update={"incoming": tuple(incoming[node_id]), "outgoing": tuple(outgoing[node_id])}
        )
        for node_id, node in nodes.items()
    }


def _single_start(
    ctx: CompileContext, process: etree._Element, nodes: dict[str, FlowNode]
) -> str | None:
    starts = [node.id for node in nodes.values() if isinstance(node, StartEvent)]
    if len(starts) == 1:
        return starts[0]
    if not starts:
        if not ctx.problems:
            ctx.problem(process, "process has no none start event")
    else:
        ctx.problem(process, f"process has {len(starts)} none start events, expected one")
    return None


def _check_gateways(
    ctx: CompileContext,
    nodes: dict[str, FlowNode],
    flows: dict[str, SequenceFlow],
    dropped: set[str | None],
) -> None:
    """Default flows must leave their gateway; conditions only follow exclusive gateways.

    Flows dropped because their other end was refused are already explained by that problem.
    """
    for node in nodes.values():
        conditional = [flows[f].id for f in node.outgoing if flows[f].condition is not None]
        if isinstance(node, ExclusiveGateway):
            default = node.default_flow
            if default and default not in node.outgoing and default not in dropped:
                ctx.problems.append(
                    Problem(
                        ctx.source,
                        f"default flow {node.default_flow!r} is not an outgoing flow",
                        node.id,
                        node.line,
                    )
                )
        elif conditional:
            ctx.problems.append(
                Problem(
                    ctx.source,
                    "conditional sequence flows are only supported after an exclusive "
                    f"gateway (flow {conditional[0]!r})",
                    node.id,
                    node.line,
                )
            )
