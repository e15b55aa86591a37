"""Flow-node handlers, in a registry keyed by BPMN tag (dialect support as data, not if-chains).

A handler turns one XML element into one IR node, or records problems and returns None.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from translator import _dialects as dialects
from translator._context import CompileContext
from translator._model import (
    EndEvent,
    ExclusiveGateway,
    FlowNode,
    JobTask,
    KafkaTask,
    ParallelGateway,
    PassThroughTask,
    StartEvent,
)
from translator._namespaces import bpmn, local_name

Handler = Callable[[CompileContext, etree._Element, dict[str, object]], FlowNode | None]

EVENT_DEFINITIONS = (
    "messageEventDefinition",
    "timerEventDefinition",
    "errorEventDefinition",
    "escalationEventDefinition",
    "signalEventDefinition",
    "terminateEventDefinition",
    "conditionalEventDefinition",
    "compensateEventDefinition",
    "linkEventDefinition",
    "cancelEventDefinition",
)


def _event_definition(element: etree._Element) -> str | None:
    for name in EVENT_DEFINITIONS:
        if element.find(bpmn(name)) is not None:
            return name
    return None


def _refuse_event_definition(ctx: CompileContext, element: etree._Element) -> bool:
    definition = _event_definition(element)
    if definition is None:
        return False
    kind = local_name(element.tag)
    ctx.problem(element, f"{kind} with a {definition} is not supported yet")
    return True


def start_event(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    if _refuse_event_definition(ctx, element):
        return None
    return StartEvent.model_validate(common)


def end_event(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    if _refuse_event_definition(ctx, element):
        return None
    return EndEvent.model_validate(common)


def pass_through(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    return PassThroughTask.model_validate({**common, "bpmn_type": local_name(element.tag)})


def job_task(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """Service and send tasks: a Zeebe task definition or a Camunda 7 external task."""
    kind = local_name(element.tag)
    job = dialects.zeebe_job(ctx, element) or dialects.camunda_external_job(ctx, element)
    if job is None:
        java = dialects.camunda_java_implementation(element)
        if java:
            ctx.problem(
                element,
                f"{kind} is implemented by a Java {java}, which cannot run here; "
                'use an external task (camunda:type="external" camunda:topic="...") '
                "or a Zeebe job type instead",
            )
        elif not any(p.element_id == element.get("id") for p in ctx.problems):
            ctx.problem(
                element,
                f"{kind} has no job type: add a zeebe:taskDefinition type "
                '(or camunda:type="external" with a camunda:topic)',
            )
        return None
    zeebe_in, zeebe_out = dialects.zeebe_mappings(ctx, element)
    camunda_in, camunda_out = dialects.camunda_mappings(ctx, element)
    return JobTask.model_validate(
        {
            **common,
            "bpmn_type": kind,
            "job": job,
            "inputs": zeebe_in + camunda_in,
            "outputs": zeebe_out + camunda_out,
        }
    )


def receive_task(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """A receive task is a tSM Kafka Task when it carries the tsmKafkaTaskExecutor listener."""
    listener = dialects.tsm_kafka_listener(element)
    if listener is None:
        ctx.problem(
            element,
            "receiveTask waiting for a BPMN message is not supported yet; a Kafka Task "
            "needs the start execution listener #{tsmKafkaTaskExecutor}",
        )
        return None
    fields = dialects.camunda_fields(listener)
    request_topic, response_topic = dialects.tsm_topics(fields)
    key = dialects.tsm_field_expression(ctx, element, fields.get("key"), "Kafka key")
    payload = dialects.tsm_field_expression(ctx, element, fields.get("payload"), "Kafka payload")
    _, outputs = dialects.camunda_mappings(ctx, element)
    return KafkaTask.model_validate(
        {
            **common,
            "request_topic": request_topic,
            "response_topic": response_topic,
            "key": key,
            "payload": payload,
            "outputs": outputs,
        }
    )


def exclusive_gateway(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    return ExclusiveGateway.model_validate({**common, "default_flow": element.get("default")})


def parallel_gateway(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    return ParallelGateway.model_validate(common)


HANDLERS: dict[str, Handler] = {
    bpmn("startEvent"): start_event,
    bpmn("endEvent"): end_event,
    bpmn("task"): pass_through,
    bpmn("manualTask"): pass_through,
    bpmn("serviceTask"): job_task,
    bpmn("sendTask"): job_task,
    bpmn("receiveTask"): receive_task,
    bpmn("exclusiveGateway"): exclusive_gateway,
    bpmn("parallelGateway"): parallel_gateway,
}

# Read and deliberately not executed: documentation, layout and data that has no runtime role.
IGNORED = {
    bpmn(name)
    for name in (
        "sequenceFlow",
        "laneSet",
        "extensionElements",
        "documentation",
        "textAnnotation",
        "association",
        "group",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "ioSpecification",
        "property",
        "dataInputAssociation",
        "dataOutputAssociation",
    )
}
