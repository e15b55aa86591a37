"""Wire contracts of the interpreter: names and payloads that other processes rely on.

Everything that crosses the workflow boundary is plain JSON (Temporal's default converter), so
a job worker, an operator tool or the bridge can be written with any Temporal SDK. The pydantic
models below document and validate those JSON objects.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TASK_QUEUE = "bpmn"

# Query, updates and signals of every process instance.
STATE_QUERY = "state"
SET_VARIABLES_UPDATE = "set_variables"
RESOLVE_INCIDENT_UPDATE = "resolve_incident"
KAFKA_RESPONSE_SIGNAL = "bpmn.kafka_response"
"""Only the correlation bridge (and the test toolkit) send this one."""

# Built-in activities, served by worker.py on the interpreter's task queue.
RESOLVE_DEFINITION_ACTIVITY = "bpmn.resolve_definition"
KAFKA_PUBLISH_ACTIVITY = "bpmn.kafka_publish"

KAFKA_JOB_TYPE = "kafka"
"""A send/service task of this job type is a built-in Kafka publish (Zeebe's Kafka send task)."""
KAFKA_TOPIC_HEADER = "kafka-topic"
KAFKA_KEY_HEADER = "kafka-key"

BPMN_ERROR_TYPE = "BpmnError"
"""ApplicationError type of a BPMN error thrown by a job worker (non-retryable)."""

BUSINESS_KEY_VARIABLE = "businessKey"
OWNER_TYPE_VARIABLE = "ownerType"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobInput(_Wire):
    """The single input of a job activity (activity type = task queue = job type)."""

    type: str
    key: str
    """Unique per job; the same on every retry of it."""
    process_instance_id: str
    """The workflow id of the instance."""
    bpmn_process_id: str
    element_id: str
    element_instance_key: str
    headers: dict[str, str] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    retries: int
    """Attempts the model allows in all; remaining = retries - attempt + 1."""


class StandaloneJobRequest(_Wire):
    """Input of the standalone-job workflow: a job without a process."""

    type: str
    variables: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    retries: int = 3
    task_queue: str | None = None


class BpmnErrorDetails(_Wire):
    """First detail of an ApplicationError of type ``BpmnError``."""

    code: str
    message: str = ""
    variables: dict[str, Any] = Field(default_factory=dict)


class KafkaPublishRequest(_Wire):
    """Input of the built-in publish activity. The same correlationId on every retry."""

    topic: str
    key: str | None = None
    payload: Any = None
    headers: dict[str, str]


class KafkaResponse(_Wire):
    """Payload of ``KAFKA_RESPONSE_SIGNAL``: one record from a response topic."""

    correlation_id: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] = Field(default_factory=dict)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


class ResolveIncidentRequest(_Wire):
    incident_key: str
    variables: dict[str, Any] = Field(default_factory=dict)
    """Set before the failed step is retried (fix the data, then resolve)."""


class ElementInstance(_Wire):
    key: str
    element_id: str
    element_type: str
    started_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)


class CompletedElement(_Wire):
    key: str
    element_id: str
    element_type: str
    completed_at: datetime
    state: Literal["completed", "terminated"] = "completed"
    """``terminated``: an interrupting boundary event ended it."""


IncidentType = Literal[
    "JOB_NO_RETRIES",
    "UNHANDLED_ERROR_EVENT",
    "EXPRESSION_EVALUATION_FAILED",
    "CONDITION_NOT_MATCHED",
    "KAFKA_PUBLISH_FAILED",
]


class Incident(_Wire):
    key: str
    type: IncidentType
    element_id: str
    element_instance_key: str
    message: str
    created_at: datetime


class InstanceState(_Wire):
    """Answer of the ``state`` query."""

    bpmn_process_id: str
    definition_hash: str | None
    business_key: str | None
    status: Literal["starting", "active", "completed"]
    active: list[ElementInstance]
    completed: list[CompletedElement]
    """The audit trail: every element that completed, in order."""
    variables: dict[str, Any]
    incidents: list[Incident]
    awaiting_correlations: list[str]


# --- Kafka correlation ids ------------------------------------------------------------------
# Opaque to consumers. Ours carry the workflow id so that the bridge can route a response
# with a single signal and no lookup table: "<uuid>.<base64url(workflow id)>".


def make_correlation_id(unique: str, workflow_id: str) -> str:
    encoded = base64.urlsafe_b64encode(workflow_id.encode()).decode().rstrip("=")
    return f"{unique}.{encoded}"


def workflow_id_of(correlation_id: str) -> str | None:
    """The workflow id inside a correlation id, or None if it is not one of ours."""
    unique, dot, encoded = correlation_id.partition(".")
    if not dot or not unique or not encoded:
        return None
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        workflow_id = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return workflow_id or None
