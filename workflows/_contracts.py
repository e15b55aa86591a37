"""Wire contracts of the interpreter: names and payloads that other processes rely on.

Everything that crosses the workflow boundary is plain JSON (Temporal's default converter), so
a job worker, an operator tool or the bridge can be written with any Temporal SDK. The pydantic
models below document and validate those JSON objects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TASK_QUEUE = "bpmn"

# Query, updates and signals of every process instance.
STATE_QUERY = "state"
SET_VARIABLES_UPDATE = "set_variables"
RESOLVE_INCIDENT_UPDATE = "resolve_incident"
COMPLETE_USER_TASK_UPDATE = "complete_user_task"
ACTIVATE_AD_HOC_ELEMENTS_UPDATE = "activate_ad_hoc_elements"
CANCEL_UPDATE = "cancel"
KAFKA_RESPONSE_SIGNAL = "bpmn.kafka_response"
"""Only the correlation bridge (and the test toolkit) send this one."""

MESSAGE_SIGNAL = "bpmn.message"
ESCALATION_SIGNAL = "bpmn.escalation"
"""A called process tells its caller about an escalation the call activity catches."""
"""A correlated message, sent by the message mailbox to the waiting instance."""

# Built-in activities, served by worker.py on the interpreter's task queue.
RESOLVE_DEFINITION_ACTIVITY = "bpmn.resolve_definition"
KAFKA_PUBLISH_ACTIVITY = "bpmn.kafka_publish"
SUBSCRIBE_MESSAGE_ACTIVITY = "bpmn.subscribe_message"
"""Everything an instance asks of a mailbox: (un)subscribe, give a message back, broadcast."""
CANCEL_INSTANCE_ACTIVITY = "bpmn.cancel_instance"
"""Local activity behind the ``cancel`` update: asks Temporal to cancel the instance (a
workflow cannot request its own cancellation through an external handle on a real server)."""
RESOLVE_DECISION_ACTIVITY = "bpmn.resolve_decision"
"""Local activity: the content hash of the DMN file holding the latest version of a decision
id (recorded in the history, so a replay evaluates the same version)."""
START_BY_EVENT_ACTIVITY = "bpmn.start_by_event"
"""Local activity of a mailbox: start the processes whose start event a message or signal
triggers (the worker's registry knows them)."""

# Message correlation: one mailbox workflow per (message name, correlation key).
MAILBOX_WORKFLOW = "bpmn.message-mailbox"
PUBLISH_SIGNAL = "publish"
SUBSCRIBE_SIGNAL = "subscribe"
CORRELATE_UPDATE = "correlate"
UNSUBSCRIBE_SIGNAL = "unsubscribe"
RETURN_SIGNAL = "return"
DEFAULT_MESSAGE_TTL_SECONDS = 3600
"""Zeebe clients' default time-to-live of a published message: one hour."""

DLT_SUFFIX = ".DLT"
"""Dead letters of a response topic go to ``<topic>.DLT``."""
DLT_REASON_HEADER = "dlt-reason"
"""Header of a dead letter: why it could not be delivered."""

KAFKA_JOB_TYPE = "kafka"
"""A send/service task of this job type is a built-in Kafka publish (Zeebe's Kafka send task)."""
KAFKA_TOPIC_HEADER = "kafka-topic"
KAFKA_KEY_HEADER = "kafka-key"

BPMN_ERROR_TYPE = "BpmnError"
"""ApplicationError type of a BPMN error thrown by a job worker (non-retryable)."""

USER_TASK_HEADER_PREFIX = "io.camunda.zeebe:"
"""User tasks are jobs of type ``translator.USER_TASK_JOB_TYPE`` (as in Zeebe); their
assignment travels in headers named like Zeebe's: ``io.camunda.zeebe:assignee``, ..."""
FETCH_VARIABLES_HEADER = "fetchVariables"
"""Task header: comma-separated names; the job then carries only these (and its inputs)."""
JOB_TIMEOUT_HEADER = "jobTimeout"
"""Task header: an ISO 8601 duration, the job's timeout (a heartbeat timeout) for this task."""

# Where operators find instances: memo keys, and Keyword search attributes when registered.
PROCESS_ID_ATTRIBUTE = "BpmnProcessId"
DEFINITION_HASH_ATTRIBUTE = "BpmnDefinitionHash"
BUSINESS_KEY_ATTRIBUTE = "BpmnBusinessKey"
SEARCH_ATTRIBUTES = (PROCESS_ID_ATTRIBUTE, DEFINITION_HASH_ATTRIBUTE, BUSINESS_KEY_ATTRIBUTE)

BUSINESS_KEY_VARIABLE = "businessKey"
OWNER_TYPE_VARIABLE = "ownerType"


def business_key_of(variables: dict[str, Any]) -> str | None:
    """An instance's business key: its ``businessKey`` variable, as text."""
    value = variables.get(BUSINESS_KEY_VARIABLE)
    return None if value is None else str(value)


STARTED_BY_PUBLICATION_MEMO = "startedByPublication"
"""Memo of an instance a message or signal start event started: the publication's id."""


def instance_memo(process_id: str, content_hash: str, business_key: str | None) -> dict[str, Any]:
    """The memo every instance carries (set at start, or upserted by the instance)."""
    return {
        "bpmnProcessId": process_id,
        "definitionHash": content_hash,
        "businessKey": business_key,
    }


def instance_search_attributes(
    process_id: str, content_hash: str, business_key: str | None
) -> list[tuple[str, str]]:
    """The Keyword search attributes of an instance, as (name, value) pairs."""
    pairs = [(PROCESS_ID_ATTRIBUTE, process_id), (DEFINITION_HASH_ATTRIBUTE, content_hash)]
    if business_key is not None:
        pairs.append((BUSINESS_KEY_ATTRIBUTE, business_key))
    return pairs


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
    listener_event_type: Literal["start", "end"] | None = None
    """Set on the job of an execution listener: whether the element is starting or ending
    (Zeebe's ``listenerEventType``); None on an element's own job."""


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


class MessagePublication(_Wire):
    """A published message: input of the mailbox's ``publish`` signal (and of every way to
    publish: Python API, CLI, Kafka)."""

    name: str
    correlation_key: str
    variables: dict[str, Any] = Field(default_factory=dict)
    time_to_live_seconds: float = DEFAULT_MESSAGE_TTL_SECONDS
    message_id: str | None = None
    """Publishing twice with the same id while the first is buffered has no effect."""
    expires_at: datetime | None = None
    """Set by the mailbox from its clock when the message arrives."""
    broadcast: bool = False
    """A BPMN signal: every instance waiting at publication time gets it; never buffered."""


class CorrelationResult(_Wire):
    """Answer of the mailbox's ``correlate`` update: the instance the message reached (if one
    was waiting) and the instances it started by their message start event."""

    workflow_id: str | None = None
    subscription_id: str | None = None
    started: list[str] = Field(default_factory=list)


class MessageSubscription(_Wire):
    """An instance waiting for a message (``subscribe``/``unsubscribe`` signals)."""

    workflow_id: str
    subscription_id: str


class CorrelatedMessage(_Wire):
    """Payload of ``MESSAGE_SIGNAL``: the message, for one subscription."""

    subscription_id: str
    message: MessagePublication


class SubscribeRequest(_Wire):
    """Input of ``SUBSCRIBE_MESSAGE_ACTIVITY`` (signal-with-start on the mailbox)."""

    name: str
    correlation_key: str
    subscription: MessageSubscription
    task_queue: str
    unsubscribe: bool = False
    returned: MessagePublication | None = None
    """Set to give back a message that arrived after its wait ended."""
    broadcast: MessagePublication | None = None
    """Set to broadcast a signal (a signal throw event)."""
    signal: bool = False
    """The subscription waits for a signal (its mailbox is the signal's hub)."""

    def mailbox(self) -> str:
        if self.broadcast is not None or self.signal:
            return signal_hub_id(self.name)
        return mailbox_id(self.name, self.correlation_key)


class StartByEventRequest(_Wire):
    """Input of ``START_BY_EVENT_ACTIVITY``."""

    trigger: Literal["message", "signal"]
    publication: MessagePublication
    publication_id: str
    """Unique per publication (from the mailbox): start requests retried after a failure
    reuse the workflow ids they derive from it, so nothing starts twice."""
    task_queue: str


class CompleteUserTaskRequest(_Wire):
    """Input of ``COMPLETE_USER_TASK_UPDATE``: name the task by instance key or element id."""

    element_instance_key: str | None = None
    element_id: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


class AdHocActivation(_Wire):
    element_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    """Local variables of the activation: its path sees them, and they end with it."""


class ActivateAdHocElementsRequest(_Wire):
    """Input of ``ACTIVATE_AD_HOC_ELEMENTS_UPDATE`` (Zeebe's ad-hoc activities activation):
    name the active ad-hoc sub-process by instance key or element id."""

    element_instance_key: str | None = None
    element_id: str | None = None
    elements: list[AdHocActivation] = Field(min_length=1)


class CancelRequest(_Wire):
    reason: str = ""


DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS = 10_000
"""Well below Temporal's 50,000-event limit (and its 10,240-event warning)."""


class DefinitionPin(_Wire):
    """The version an instance runs, plus the settings that steer its commands, recorded in
    history so replay sees the same ones: the result of ``RESOLVE_DEFINITION_ACTIVITY``, or
    ``InstanceOptions.definition`` when the starter pinned it."""

    content_hash: str
    continue_as_new_after_events: int = DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS
    search_attributes: bool = False
    legacy: bool = False
    """Resolved by a worker older than this model (a bare hash): no memo or search attributes."""


class CallContext(_Wire):
    """Passed by a call activity to its child instance (second workflow argument)."""

    parent_workflow_id: str
    catch_error_codes: list[str] = Field(default_factory=list)
    """BPMN errors the parent catches: the child fails with them instead of an incident."""
    catch_all_errors: bool = False
    escalations: dict[str, bool] = Field(default_factory=dict)
    """Escalation codes the parent catches ("" for a catch-all), each with whether the catch
    interrupts: the child then stops where it escalated, and the parent cancels it."""


class EscalationRaised(_Wire):
    """Payload of ``ESCALATION_SIGNAL``."""

    child_workflow_id: str
    code: str


class ElementInstance(_Wire):
    key: str
    element_id: str
    element_type: str
    started_at: datetime
    scope_key: str | None = None
    """The key of the element instance whose scope this one runs in (None: the process)."""
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
    "CALLED_ELEMENT_FAILED",
    "EXTRACT_VALUE_ERROR",
    "MESSAGE_CORRELATION_FAILED",
    "CALLED_DECISION_ERROR",
    "DECISION_EVALUATION_ERROR",
]


class Incident(_Wire):
    key: str
    type: IncidentType
    element_id: str
    element_instance_key: str
    message: str
    created_at: datetime


COMPLETED_TRAIL_LIMIT = 1_000


class Compensable(_Wire):
    """A completed activity that a compensation throw event may still undo (used once).

    An activity with a compensation boundary event leaves one with its ``handler`` each time
    it completes; an embedded or event sub-process that completes holding some leaves one
    with them as ``inner`` and its own variables then (Zeebe's snapshot: the handlers inside
    still see them)."""

    element_id: str
    handler: str | None = None
    variables: dict[str, Any] | None = None
    inner: list[Compensable] = Field(default_factory=list)


class ScopeFrame(_Wire):
    """A sub-process (or standard loop) instance a continued run re-enters on its way to the
    token."""

    instance: ElementInstance
    variables: dict[str, Any] = Field(default_factory=dict)
    join_arrivals: dict[str, dict[str, int]] = Field(default_factory=dict)
    timers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """What is left of the sub-process's timer event sub-process schedules."""
    loop_counter: int | None = None
    """A standard loop or sequential multi-instance activity: the iterations done; the next
    run goes on with the next one."""
    items: list[Any] | None = None
    """A sequential multi-instance activity: its input collection, as evaluated at its start."""
    compensable: list[Compensable] = Field(default_factory=list)
    """The sub-process's completed activities a compensation throw event may still undo."""
    occurred: list[str] = Field(default_factory=list)
    """Its non-interrupting timer and conditional event sub-processes that have occurred."""


class Continuation(_Wire):
    """Second workflow argument after continue-as-new: everything the next run needs."""

    definition: DefinitionPin
    trace_id: str
    next_key: int
    node_id: str
    via_flow: str | None = None
    """Where the token continues: in the process, or in the innermost of ``chain``."""
    chain: list[ScopeFrame] = Field(default_factory=list)
    """The (nested) sub-process instances the token runs in, outermost first."""
    completed: list[CompletedElement] = Field(default_factory=list)
    completed_count: int = 0
    join_arrivals: dict[str, dict[str, int]] = Field(default_factory=dict)
    responses: list[KafkaResponse] = Field(default_factory=list)
    consumed_correlations: list[str] = Field(default_factory=list)
    abandoned_correlations: dict[str, str] = Field(default_factory=dict)
    timers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """What is left of the process's timer event sub-process schedules."""
    compensable: list[Compensable] = Field(default_factory=list)
    """The process's completed activities a compensation throw event may still undo."""
    occurred: list[str] = Field(default_factory=list)
    """Its non-interrupting timer and conditional event sub-processes that have occurred."""
    call: CallContext | None = None
    runs: int = 1


class InstanceOptions(_Wire):
    """The optional second workflow argument (users start instances with variables only)."""

    call: CallContext | None = None
    continuation: Continuation | None = None
    definition: DefinitionPin | None = None
    """Pinned by the starter (``activities.start_instance``), which also set the memo and search
    attributes: the instance then records no pin marker and upserts nothing."""
    start_event: str | None = None
    """A message, signal or timer start event of the process to start at (default: the none
    start event)."""
    version_tag: str | None = None
    """Pin the latest version carrying this version tag instead of the latest version (a call
    activity bound by ``bindingType="versionTag"``)."""


class InstanceState(_Wire):
    """Answer of the ``state`` query."""

    bpmn_process_id: str
    definition_hash: str | None
    business_key: str | None
    status: Literal["starting", "active", "completed", "canceled"]
    active: list[ElementInstance]
    completed: list[CompletedElement]
    """The audit trail: the elements that completed, in order (the latest
    ``COMPLETED_TRAIL_LIMIT``; ``completed_count`` counts them all)."""
    completed_count: int = 0
    variables: dict[str, Any]
    incidents: list[Incident]
    awaiting_correlations: list[str]


def mailbox_id(name: str, correlation_key: str) -> str:
    """The workflow id of the mailbox of one message name and correlation key."""
    raw = f"{name}\x1f{correlation_key}"
    if len(raw) <= 200:
        return f"bpmn-message/{name}/{correlation_key}"
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return f"bpmn-message/{name[:80]}/sha256:{digest}"


def signal_hub_id(name: str) -> str:
    """The workflow id of the mailbox that broadcasts the signal ``name``."""
    if len(name) <= 200:
        return f"bpmn-signal/{name}"
    return f"bpmn-signal/{name[:80]}/sha256:{hashlib.sha256(name.encode()).hexdigest()}"


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
