"""Flow-node handlers, in a registry keyed by BPMN tag (dialect support as data, not if-chains).

A handler turns one XML element into one IR node, or records problems and returns None.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from translator import _dialects as dialects
from translator._connectors import check_connector_task
from translator._context import CompileContext
from translator._events import message_definition
from translator._model import (
    USER_TASK_JOB_TYPE,
    BusinessRuleTask,
    CallActivity,
    EventBasedGateway,
    ExclusiveGateway,
    FlowNode,
    InclusiveGateway,
    JobDefinition,
    JobTask,
    KafkaTask,
    ParallelGateway,
    PassThroughTask,
    ReceiveTask,
    ScriptTask,
    UserTask,
)
from translator._namespaces import bpmn, camunda, local_name, zeebe
from translator._templates import KafkaTaskTemplate
from translator._xml import first_child

Handler = Callable[[CompileContext, etree._Element, dict[str, object]], FlowNode | None]


def pass_through(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    inputs, outputs = dialects.io_mappings(ctx, element)
    return PassThroughTask.model_validate(
        {**common, "bpmn_type": local_name(element.tag), "inputs": inputs, "outputs": outputs}
    )


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
        elif not ctx.has_problem(element):
            ctx.problem(
                element,
                f"{kind} has no job type: add a zeebe:taskDefinition type "
                '(or camunda:type="external" with a camunda:topic)',
            )
        return None
    inputs, outputs = dialects.io_mappings(ctx, element)
    task = JobTask.model_validate(
        {**common, "bpmn_type": kind, "job": job, "inputs": inputs, "outputs": outputs}
    )
    check_connector_task(ctx, element, task)
    return task


def receive_task(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """A tSM Kafka Task when it carries the tsmKafkaTaskExecutor listener, else it waits for
    the BPMN message its messageRef names."""
    listener = dialects.tsm_kafka_listener(element)
    template_id = _modeler_template(element)
    template = ctx.templates.get(template_id) if template_id else None
    if listener is not None or template is not None:
        return _kafka_task(ctx, element, common, listener, template)
    if not element.get("messageRef"):
        if template_id:
            loaded = ", ".join(sorted(ctx.templates)) or "none"
            ctx.problem(
                element,
                f"receiveTask uses the Kafka Task template {template_id!r}, which is not "
                f"loaded (loaded templates: {loaded}); add its JSON file to the templates folder",
            )
            return None
        ctx.problem(
            element,
            "receiveTask waits for nothing: set a messageRef to a bpmn:message, or add the "
            "start execution listener #{tsmKafkaTaskExecutor} to make it a Kafka Task",
        )
        return None
    message = message_definition(ctx, element, element.get("messageRef"), catching=True)
    _, outputs = dialects.io_mappings(ctx, element)
    if message is None:
        return None
    return ReceiveTask.model_validate({**common, "message": message, "outputs": outputs})


def _modeler_template(element: etree._Element) -> str | None:
    """The element template the Camunda Modeler applied (``camunda:``/``zeebe:modelerTemplate``)."""
    value = element.get(camunda("modelerTemplate")) or element.get(zeebe("modelerTemplate"))
    return value.strip() if value and value.strip() else None


def _kafka_task(
    ctx: CompileContext,
    element: etree._Element,
    common: dict[str, object],
    listener: etree._Element | None,
    template: KafkaTaskTemplate | None,
) -> FlowNode | None:
    """A Kafka Task from its listener's fields, over its template's (a field set in the model
    wins)."""
    fields: dict[str, str] = {}
    contract = template.kafka_task if template is not None else None
    if contract is not None:
        defaults = {
            "requestTopic": contract.request_topic,
            "responseTopic": contract.response_topic,
            "key": contract.key,
            "payload": contract.payload,
        }
        fields = {name: value for name, value in defaults.items() if value is not None}
    if listener is not None:
        fields |= {k: v for k, v in dialects.camunda_fields(listener).items() if v.strip()}
    request_topic, response_topic = dialects.tsm_topics(fields)
    key = dialects.tsm_field_expression(ctx, element, fields.get("key"), "Kafka key")
    payload = dialects.tsm_field_expression(ctx, element, fields.get("payload"), "Kafka payload")
    inputs, outputs = dialects.io_mappings(ctx, element)
    return KafkaTask.model_validate(
        {
            **common,
            "request_topic": request_topic,
            "response_topic": response_topic,
            "key": key,
            "payload": payload,
            "inputs": inputs or None,
            "outputs": outputs,
            "template": template.id if template is not None else None,
            "payload_defaults": contract.defaults if contract is not None else {},
            "payload_required": contract.required if contract is not None else (),
        }
    )


def user_task(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """A job of type ``io.camunda.zeebe:userTask`` whose headers a task list reads (Zeebe's
    job-based user task); assignment values are kept as expressions."""
    values = dialects.read_sources(element, dialects.USER_TASK_SOURCES)
    assignment = {
        field: ctx.value_or_expression(element, text, field.replace("_", " "))
        for field, text in values.items()
    }
    form_key = next(
        (v for s in dialects.FORM_SOURCES if (v := dialects.read_source(element, s))), None
    )
    inputs, outputs = dialects.io_mappings(ctx, element)
    job = JobDefinition(type=USER_TASK_JOB_TYPE, headers=dialects.zeebe_headers(element))
    return UserTask.model_validate(
        {
            **common,
            **assignment,
            "job": job,
            "form_key": form_key,
            "inputs": inputs,
            "outputs": outputs,
        }
    )


def script_task(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """``zeebe:script`` or an inline FEEL/JUEL script; a ``zeebe:taskDefinition`` or external
    task makes it a job like a service task."""
    has_job = dialects.first_extension(element, zeebe("taskDefinition")) is not None
    if has_job or dialects.camunda_attribute(element, "type"):
        return job_task(ctx, element, common)
    script = dialects.zeebe_script(ctx, element)
    if script is False:
        script = dialects.camunda_script(
            ctx, element, first_child(element, bpmn("script")), "script"
        )
    if not script:
        return None
    inputs, outputs = dialects.io_mappings(ctx, element)
    result = dialects.read_sources(element, dialects.SCRIPT_SOURCES)
    return ScriptTask.model_validate(
        {**common, **result, "script": script, "inputs": inputs, "outputs": outputs}
    )


def business_rule_task(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """A DMN decision (``zeebe:calledDecision``, ``camunda:decisionRef``) or a job."""
    values = dialects.read_sources(element, dialects.DECISION_SOURCES)
    if "decision_id" not in values:
        return job_task(ctx, element, common)
    in_zeebe = dialects.first_extension(element, zeebe("calledDecision")) is not None
    ok, tag = dialects.pinned_tag(ctx, element, *dialects.decision_binding(element), "decision")
    if not ok:
        return None
    result_form = None
    if not in_zeebe:
        result_form = (dialects.camunda_attribute(element, "mapDecisionResult") or "").strip()
        result_form = result_form or "resultList"
        if result_form not in DECISION_RESULT_FORMS:
            ctx.problem(
                element,
                f"camunda:mapDecisionResult {result_form!r} is not one of "
                f"{', '.join(DECISION_RESULT_FORMS)}",
            )
            return None
    elif "result_variable" not in values:
        ctx.problem(element, "businessRuleTask needs a resultVariable for its decision's result")
        return None
    decision = ctx.value_or_expression(element, values["decision_id"], "decision id")
    if decision is None:
        return None
    inputs, outputs = dialects.io_mappings(ctx, element)
    return BusinessRuleTask.model_validate(
        {
            **common,
            "decision_id": decision,
            "result_variable": values.get("result_variable"),
            "result_form": result_form,
            "version_tag": tag,
            "inputs": inputs,
            "outputs": outputs,
        }
    )


DECISION_RESULT_FORMS = ("resultList", "singleResult", "singleEntry", "collectEntries")
"""Camunda 7's ``camunda:mapDecisionResult``: what of the matched rules the variable holds."""


CALLED_ELEMENT_READERS = (dialects.zeebe_called_element, dialects.camunda_called_element)


def call_activity(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    """Starts the process ``zeebe:calledElement processId`` / ``calledElement`` names."""
    called = next((c for read in CALLED_ELEMENT_READERS if (c := read(element))), None)
    if called is None:
        ctx.problem(
            element,
            "callActivity calls nothing: set zeebe:calledElement processId "
            "(Zeebe) or calledElement (Camunda 7)",
        )
        return None
    ok, tag = dialects.pinned_tag(ctx, element, called.binding, called.version_tag, "process")
    if not ok:
        return None
    called_element = ctx.value_or_expression(element, called.process_id, "called element")
    inputs, outputs = dialects.io_mappings(ctx, element)
    inputs += dialects.camunda_variable_passing(ctx, element, "in")
    outputs += dialects.camunda_variable_passing(ctx, element, "out")
    if called_element is None:
        return None
    return CallActivity.model_validate(
        {
            **common,
            "called_element": called_element,
            "propagate_all_parent_variables": called.propagate_parent,
            "propagate_all_child_variables": called.propagate_child,
            "business_key": dialects.camunda_business_key(ctx, element),
            "version_tag": tag,
            "inputs": inputs,
            "outputs": outputs,
        }
    )


def exclusive_gateway(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    return ExclusiveGateway.model_validate({**common, "default_flow": element.get("default")})


def inclusive_gateway(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    return InclusiveGateway.model_validate({**common, "default_flow": element.get("default")})


def event_based_gateway(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    if element.get("eventGatewayType", "Exclusive") == "Parallel":
        ctx.problem(
            element,
            'eventGatewayType="Parallel" is not supported; use an exclusive event-based gateway',
        )
        return None
    return EventBasedGateway.model_validate(common)


def parallel_gateway(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    return ParallelGateway.model_validate(common)


HANDLERS: dict[str, Handler] = {
    bpmn("task"): pass_through,
    bpmn("manualTask"): pass_through,
    bpmn("serviceTask"): job_task,
    bpmn("sendTask"): job_task,
    bpmn("receiveTask"): receive_task,
    bpmn("userTask"): user_task,
    bpmn("scriptTask"): script_task,
    bpmn("businessRuleTask"): business_rule_task,
    bpmn("callActivity"): call_activity,
    bpmn("exclusiveGateway"): exclusive_gateway,
    bpmn("inclusiveGateway"): inclusive_gateway,
    bpmn("parallelGateway"): parallel_gateway,
    bpmn("eventBasedGateway"): event_based_gateway,
}

# Refused with a reason: what each would need is not part of this project (yet).
REFUSED = {
    bpmn("complexGateway"): "complexGateway is not supported; model the join with "
    "inclusive or parallel gateways",
    bpmn("transaction"): "transaction sub-processes are not supported",
}

# Read and deliberately not executed: documentation, layout and data that has no runtime role.
IGNORED = {
    bpmn(name)
    for name in (
        "sequenceFlow",
        # Parts of the scope element itself, read by its handler:
        "incoming",
        "outgoing",
        "multiInstanceLoopCharacteristics",
        "standardLoopCharacteristics",
        "laneSet",
        "extensionElements",
        "documentation",
        "textAnnotation",
        "association",
        "group",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "dataStore",
        "dataInput",
        "dataOutput",
        "inputSet",
        "outputSet",
        "lane",
        "resourceRole",
        "performer",
        "humanPerformer",
        "potentialOwner",
        "auditing",
        "monitoring",
        "category",
        "correlationSubscription",
        "supportedInterfaceRef",
        "ioSpecification",
        "property",
        "dataInputAssociation",
        "dataOutputAssociation",
    )
}
