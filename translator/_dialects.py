"""Readers for vendor extension elements: Zeebe (``zeebe:*``), Camunda 7 (``camunda:*``), tSM.

Each reader takes the BPMN element and returns IR parts; problems go to the context.
"""

from __future__ import annotations

from lxml import etree

from translator._context import CompileContext, expression_dialect
from translator._model import (
    DEFAULT_JOB_RETRIES,
    KAFKA_DEFAULT_REQUEST_TOPIC,
    KAFKA_DEFAULT_RESPONSE_TOPIC,
    JobDefinition,
    Mapping,
)
from translator._namespaces import ACTIVITI, CAMUNDA, bpmn, camunda, zeebe
from translator.expressions import Expression

TSM_KAFKA_LISTENER = "tsmKafkaTaskExecutor"


def extensions(element: etree._Element) -> list[etree._Element]:
    """Children of ``<bpmn:extensionElements>``, in document order."""
    found: list[etree._Element] = []
    for container in element.findall(bpmn("extensionElements")):
        found.extend(child for child in container if isinstance(child.tag, str))
    return found


def _first(element: etree._Element, tag: str) -> etree._Element | None:
    return next((child for child in extensions(element) if child.tag == tag), None)


def camunda_attribute(element: etree._Element, name: str) -> str | None:
    """A ``camunda:`` attribute, also under the older ``activiti:`` namespace."""
    value = element.get(f"{{{CAMUNDA}}}{name}")
    return value if value is not None else element.get(f"{{{ACTIVITI}}}{name}")


# --- Zeebe -----------------------------------------------------------------------------------


def zeebe_job(ctx: CompileContext, element: etree._Element) -> JobDefinition | None:
    """``zeebe:taskDefinition`` (type, retries) and ``zeebe:taskHeaders``; None if absent."""
    definition = _first(element, zeebe("taskDefinition"))
    if definition is None:
        return None
    job_type = (definition.get("type") or "").strip()
    if not job_type:
        ctx.problem(element, "zeebe:taskDefinition has no job type: set the task's type")
        return None
    if job_type.startswith("="):
        ctx.problem(element, f"job type {job_type!r} is an expression; use a fixed job type")
        return None
    retries = _retries(ctx, element, definition.get("retries"))
    return JobDefinition(type=job_type, retries=retries, headers=zeebe_headers(element))


def _retries(ctx: CompileContext, element: etree._Element, text: str | None) -> int:
    if text is None or not text.strip():
        return DEFAULT_JOB_RETRIES
    try:
        retries = int(text.strip())
    except ValueError:
        ctx.problem(element, f"retries {text!r} is not a whole number")
        return DEFAULT_JOB_RETRIES
    if retries < 0:
        ctx.problem(element, f"retries must not be negative, got {retries}")
    return max(retries, 0)


def zeebe_headers(element: etree._Element) -> dict[str, str]:
    headers: dict[str, str] = {}
    container = _first(element, zeebe("taskHeaders"))
    if container is not None:
        for header in container.findall(zeebe("header")):
            headers[header.get("key", "")] = header.get("value", "")
    return headers


def zeebe_mappings(
    ctx: CompileContext, element: etree._Element
) -> tuple[tuple[Mapping, ...], tuple[Mapping, ...]]:
    """``zeebe:ioMapping`` inputs and outputs. A source without ``=`` is a literal string."""
    container = _first(element, zeebe("ioMapping"))
    if container is None:
        return (), ()
    inputs = _zeebe_mapping_list(ctx, element, container.findall(zeebe("input")), "input")
    outputs = _zeebe_mapping_list(ctx, element, container.findall(zeebe("output")), "output")
    return inputs, outputs


def _zeebe_mapping_list(
    ctx: CompileContext, element: etree._Element, entries: list[etree._Element], kind: str
) -> tuple[Mapping, ...]:
    mappings: list[Mapping] = []
    for entry in entries:
        target = (entry.get("target") or "").strip()
        if not target:
            ctx.problem(element, f"an {kind} mapping has no target variable")
            continue
        source = entry.get("source") or "=null"
        expression = ctx.value_or_expression(element, source, f"{kind} mapping {target!r}")
        if expression is not None:
            mappings.append(Mapping(source=expression, target=target))
    return tuple(mappings)


# --- Camunda 7 -------------------------------------------------------------------------------


def camunda_external_job(ctx: CompileContext, element: etree._Element) -> JobDefinition | None:
    """``camunda:type="external" camunda:topic="..."``: an external task is a job of that topic."""
    if camunda_attribute(element, "type") != "external":
        return None
    topic = (camunda_attribute(element, "topic") or "").strip()
    if not topic:
        ctx.problem(element, 'camunda:type="external" needs a camunda:topic')
        return None
    return JobDefinition(type=topic, retries=DEFAULT_JOB_RETRIES)


def camunda_java_implementation(element: etree._Element) -> str | None:
    """The attribute naming a Java delegate, which cannot run outside a Camunda 7 engine."""
    for name in ("class", "delegateExpression", "expression", "connector"):
        if camunda_attribute(element, name) is not None:
            return f"camunda:{name}"
    if _first(element, camunda("connector")) is not None:
        return "camunda:connector"
    return None


def camunda_mappings(
    ctx: CompileContext, element: etree._Element
) -> tuple[tuple[Mapping, ...], tuple[Mapping, ...]]:
    """``camunda:inputOutput`` with text values (expressions or literals)."""
    container = _first(element, camunda("inputOutput"))
    if container is None:
        return (), ()
    inputs = _camunda_parameters(ctx, element, container.findall(camunda("inputParameter")))
    outputs = _camunda_parameters(ctx, element, container.findall(camunda("outputParameter")))
    return inputs, outputs


def _camunda_parameters(
    ctx: CompileContext, element: etree._Element, parameters: list[etree._Element]
) -> tuple[Mapping, ...]:
    mappings: list[Mapping] = []
    for parameter in parameters:
        name = parameter.get("name", "")
        if any(isinstance(child.tag, str) for child in parameter):
            ctx.problem(
                element,
                f"parameter {name!r} uses a script, list or map value, which is not "
                "supported yet; use an expression",
            )
            continue
        text = (parameter.text or "").strip()
        if expression_dialect(text) == "spel":
            text = "$" + text[1:]  # Camunda 7 reads #{...} as deferred JUEL
        expression = ctx.value_or_expression(element, text, f"parameter {name!r}")
        if expression is not None:
            mappings.append(Mapping(source=expression, target=name))
    return tuple(mappings)


# --- tSM Kafka Task --------------------------------------------------------------------------


def tsm_kafka_listener(element: etree._Element) -> etree._Element | None:
    """The start execution listener ``#{tsmKafkaTaskExecutor}`` that makes a Kafka Task."""
    for listener in extensions(element):
        if listener.tag != camunda("executionListener"):
            continue
        delegate = (listener.get("delegateExpression") or "").strip()
        if delegate[2:-1].strip() == TSM_KAFKA_LISTENER and listener.get("event", "start") == (
            "start"
        ):
            return listener
    return None


def camunda_fields(listener: etree._Element) -> dict[str, str]:
    """``camunda:field`` values: ``stringValue``/``expression`` attributes or child elements."""
    fields: dict[str, str] = {}
    for field in listener.findall(camunda("field")):
        value = field.get("stringValue", field.get("expression"))
        if value is None:
            child = field.find(camunda("string"))
            if child is None:
                child = field.find(camunda("expression"))
            value = (child.text or "") if child is not None else ""
        fields[field.get("name", "")] = value
    return fields


def tsm_field_expression(
    ctx: CompileContext, element: etree._Element, text: str | None, what: str
) -> Expression | None:
    """A tSM field: ``#{...}`` is SpEL, ``${...}`` JUEL, anything else a literal string."""
    if text is None or not text.strip():
        return None
    return ctx.value_or_expression(element, text.strip(), what)


def tsm_topics(fields: dict[str, str]) -> tuple[str, str]:
    request = fields.get("requestTopic", "").strip() or KAFKA_DEFAULT_REQUEST_TOPIC
    response = fields.get("responseTopic", "").strip() or KAFKA_DEFAULT_RESPONSE_TOPIC
    return request, response
