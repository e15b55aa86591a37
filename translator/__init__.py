"""BPMN 2.0 XML to the ProcessDefinition IR. Pure: no Temporal, no Kafka, no I/O but the input.

Public API::

    definitions = translator.compile_file("order.bpmn")
    definitions = translator.compile_bytes(data, "order.bpmn")
    # any problem: translator.TranslationError, whose .problems lists every one found
"""

from translator._compile import compile_bytes, compile_file
from translator._errors import BpmnTemporalError, Problem, TranslationError
from translator._model import (
    DEFAULT_JOB_RETRIES,
    KAFKA_DEFAULT_REQUEST_TOPIC,
    KAFKA_DEFAULT_RESPONSE_TOPIC,
    SCHEMA_VERSION,
    EndEvent,
    ExclusiveGateway,
    FlowNode,
    JobDefinition,
    JobTask,
    KafkaTask,
    Mapping,
    ParallelGateway,
    PassThroughTask,
    ProcessDefinition,
    SequenceFlow,
    StartEvent,
)

__all__ = [
    "DEFAULT_JOB_RETRIES",
    "KAFKA_DEFAULT_REQUEST_TOPIC",
    "KAFKA_DEFAULT_RESPONSE_TOPIC",
    "SCHEMA_VERSION",
    "BpmnTemporalError",
    "EndEvent",
    "ExclusiveGateway",
    "FlowNode",
    "JobDefinition",
    "JobTask",
    "KafkaTask",
    "Mapping",
    "ParallelGateway",
    "PassThroughTask",
    "Problem",
    "ProcessDefinition",
    "SequenceFlow",
    "StartEvent",
    "TranslationError",
    "compile_bytes",
    "compile_file",
]
