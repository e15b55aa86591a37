"""The deterministic interpreter workflow and its wire contracts (names, payloads).

``BpmnInterpreter`` is registered as a dynamic workflow: its workflow type is the BPMN process
id. Everything here is Temporal workflow code: no I/O, no wall clock, no randomness.
"""

from workflows._contracts import (
    BPMN_ERROR_TYPE,
    BUSINESS_KEY_VARIABLE,
    DEFAULT_TASK_QUEUE,
    KAFKA_JOB_TYPE,
    KAFKA_KEY_HEADER,
    KAFKA_PUBLISH_ACTIVITY,
    KAFKA_RESPONSE_SIGNAL,
    KAFKA_TOPIC_HEADER,
    OWNER_TYPE_VARIABLE,
    RESOLVE_DEFINITION_ACTIVITY,
    RESOLVE_INCIDENT_UPDATE,
    SET_VARIABLES_UPDATE,
    STATE_QUERY,
    BpmnErrorDetails,
    CompletedElement,
    ElementInstance,
    Incident,
    InstanceState,
    JobInput,
    KafkaPublishRequest,
    KafkaResponse,
    ResolveIncidentRequest,
    StandaloneJobRequest,
    make_correlation_id,
    workflow_id_of,
)
from workflows._interpreter import BpmnInterpreter
from workflows._registry import REGISTRY, DefinitionRegistry
from workflows._standalone import STANDALONE_JOB_WORKFLOW, StandaloneJobWorkflow
from workflows._support import RUNNABLE_KINDS, unrunnable_nodes, unrunnable_reason

__all__ = [
    "BPMN_ERROR_TYPE",
    "BUSINESS_KEY_VARIABLE",
    "DEFAULT_TASK_QUEUE",
    "KAFKA_JOB_TYPE",
    "KAFKA_KEY_HEADER",
    "KAFKA_PUBLISH_ACTIVITY",
    "KAFKA_RESPONSE_SIGNAL",
    "KAFKA_TOPIC_HEADER",
    "OWNER_TYPE_VARIABLE",
    "REGISTRY",
    "RESOLVE_DEFINITION_ACTIVITY",
    "RESOLVE_INCIDENT_UPDATE",
    "RUNNABLE_KINDS",
    "SET_VARIABLES_UPDATE",
    "STANDALONE_JOB_WORKFLOW",
    "STATE_QUERY",
    "BpmnErrorDetails",
    "BpmnInterpreter",
    "CompletedElement",
    "DefinitionRegistry",
    "ElementInstance",
    "Incident",
    "InstanceState",
    "JobInput",
    "KafkaPublishRequest",
    "KafkaResponse",
    "ResolveIncidentRequest",
    "StandaloneJobRequest",
    "StandaloneJobWorkflow",
    "make_correlation_id",
    "unrunnable_nodes",
    "unrunnable_reason",
    "workflow_id_of",
]
