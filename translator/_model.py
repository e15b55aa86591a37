"""The process IR: what the interpreter walks. Frozen pydantic models, JSON-serialisable.

A ProcessDefinition is content-addressed: ``content_hash`` is the SHA-256 of its canonical JSON
(without the hash itself, without ``source``, where the file lay, and without fields left at
None), so an instance pinned to a hash always sees the same model, and the same file yields the
same hash wherever it is read.

Every flow node has a ``kind`` (the discriminator of ``FlowNode``). A kind names one behaviour:
a none start event is ``startEvent``, a start event with a trigger is ``triggeredStartEvent``,
a multi-instance activity is a ``multiInstance`` node wrapping the activity. So an interpreter
can tell from ``kind`` alone whether it can run a node (see ``iter_nodes``).

Scopes: a process holds ``nodes`` and ``flows``; a ``SubProcess`` or ``EventSubProcess`` holds
its own ``nodes`` and ``flows`` (a child scope), and sequence flows never cross a scope border.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from translator.expressions import Expression

SCHEMA_VERSION = 2
"""2: scopes, events with triggers, user/script/business-rule/receive tasks, call activities,
inclusive and event-based gateways, loops and multi-instance."""

DEFAULT_JOB_RETRIES = 3
MAX_JOB_RETRIES = 2**31 - 1
"""The most retries a job can have: Temporal's ``maximum_attempts`` (and Zeebe's) is 32-bit."""
KAFKA_DEFAULT_REQUEST_TOPIC = "tsm-process-request"
KAFKA_DEFAULT_RESPONSE_TOPIC = "tsm-process-response"
USER_TASK_JOB_TYPE = "io.camunda.zeebe:userTask"
"""The job type of a user task, as in Zeebe: a task list (or any job worker) completes it."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Mapping(_Frozen):
    """One input or output mapping: evaluate ``source`` and store it as ``target``."""

    source: Expression
    target: str


class JobDefinition(_Frozen):
    """What a job carries: the job wire contract in DESIGN.md."""

    type: str
    """The job type; with ``type_expression``, that expression's source."""
    retries: int = DEFAULT_JOB_RETRIES
    retry_backoff: timedelta | None = None
    """A fixed wait between attempts (Camunda 7's ``failedJobRetryTimeCycle``); None: the
    engine's growing backoff."""
    headers: dict[str, str] = Field(default_factory=dict)
    task_queue: str | None = None
    """Defaults to the job type."""
    type_expression: Expression | None = None
    """Zeebe ``type="=..."``: the job type is this expression's value (a non-empty string),
    evaluated as each job is created, as in Zeebe; so is its default task queue."""
    retries_expression: Expression | None = None
    """Zeebe ``retries="=..."``: the retries are this expression's value (a whole number),
    evaluated as each job is created."""


class Listener(_Frozen):
    """A Camunda 7 execution or task listener written as an expression (or a FEEL/JUEL script).

    Java listeners are refused by the translator; these are kept so that an interpreter can run
    them (or refuse the process) instead of skipping them silently.
    """

    listener: Literal["execution", "task"] = "execution"
    event: str
    expression: Expression


class JobListener(_Frozen):
    """A Zeebe execution listener (``zeebe:executionListener``): a job the element waits for
    as it starts (after its input mappings) or ends (after its output mappings)."""

    event: Literal["start", "end"]
    job: JobDefinition


# --- Event definitions: the trigger of a catch event, the result of a throw event -----------


class MessageEventDefinition(_Frozen):
    """A BPMN message: its name (``bpmn:message``) and Zeebe correlation key
    (``zeebe:subscription``)."""

    kind: Literal["message"] = "message"
    message_id: str | None = None
    name: Expression | None = None
    """None only on a throw event whose message is sent by its job."""
    correlation_key: Expression | None = None


class TimerEventDefinition(_Frozen):
    """``timeDuration``, ``timeDate`` or ``timeCycle``.

    ``value`` is either the literal text (already validated: ISO 8601 duration, date-time,
    ``R[n]/...`` repeating interval, or a cron expression) or an expression evaluated when the
    timer starts.
    """

    kind: Literal["timer"] = "timer"
    timer: Literal["duration", "date", "cycle"]
    value: str | Expression


class ErrorEventDefinition(_Frozen):
    """A BPMN error. On a catch event, ``error_code`` None catches every error."""

    kind: Literal["error"] = "error"
    error_id: str | None = None
    error_code: str | None = None
    """The code; with ``code_expression``, that expression's source."""
    code_variable: str | None = None
    message_variable: str | None = None
    code_expression: Expression | None = None
    """Zeebe ``errorCode="=..."`` on a throw event: the code is its value (a non-empty
    string), evaluated as the event throws. A catch event's code is always fixed."""


class EscalationEventDefinition(_Frozen):
    """A BPMN escalation. On a catch event, ``escalation_code`` None catches every escalation."""

    kind: Literal["escalation"] = "escalation"
    escalation_id: str | None = None
    escalation_code: str | None = None
    """The code; with ``code_expression``, that expression's source."""
    code_expression: Expression | None = None
    """Zeebe ``escalationCode="=..."`` on a throw event, evaluated as it throws, as for an
    error's code."""


class SignalEventDefinition(_Frozen):
    kind: Literal["signal"] = "signal"
    signal_id: str | None = None
    name: str
    """The signal's name; with ``name_expression``, that expression's source."""
    name_expression: Expression | None = None
    """Zeebe ``name="=..."``: the name is its value (a non-empty string), evaluated as the
    event throws or starts to wait. A start event's name is always fixed."""


class TerminateEventDefinition(_Frozen):
    kind: Literal["terminate"] = "terminate"


class ConditionalEventDefinition(_Frozen):
    kind: Literal["conditional"] = "conditional"
    condition: Expression
    variable_names: tuple[str, ...] = ()
    """Camunda 7 ``camunda:variableName``: re-evaluate only when one of these changes."""


class CompensateEventDefinition(_Frozen):
    kind: Literal["compensation"] = "compensation"
    activity: str | None = None
    """The activity to compensate; None compensates the whole scope."""
    wait_for_completion: bool = True


class LinkEventDefinition(_Frozen):
    """A link: a throw event jumps to the catch event of the same name in the same scope."""

    kind: Literal["link"] = "link"
    name: str


EventDefinition = Annotated[
    MessageEventDefinition
    | TimerEventDefinition
    | ErrorEventDefinition
    | EscalationEventDefinition
    | SignalEventDefinition
    | TerminateEventDefinition
    | ConditionalEventDefinition
    | CompensateEventDefinition
    | LinkEventDefinition,
    Field(discriminator="kind"),
]


# --- Loops -------------------------------------------------------------------------------------


class MultiInstance(_Frozen):
    """``multiInstanceLoopCharacteristics`` (Zeebe ``zeebe:loopCharacteristics``, Camunda 7
    ``camunda:collection``/``camunda:elementVariable``)."""

    sequential: bool = False
    input_collection: Expression | None = None
    input_element: str | None = None
    output_collection: str | None = None
    output_element: Expression | None = None
    cardinality: Expression | None = None
    completion_condition: Expression | None = None
    counters: Literal["camunda"] | None = None
    """``camunda``: Camunda 7's instance variables (``nrOfInstances``, ``nrOfActiveInstances``,
    ``nrOfCompletedInstances``; ``loopCounter`` from 0) next to Zeebe's (``numberOf...``;
    ``loopCounter`` from 1). Set for a Camunda 7 model: no ``zeebe:loopCharacteristics``, and
    ``camunda:collection``/``camunda:elementVariable`` or a JUEL cardinality or condition."""


class StandardLoop(_Frozen):
    """``standardLoopCharacteristics``: repeat while ``condition`` holds (at most ``maximum``)."""

    test_before: bool = False
    condition: Expression | None = None
    maximum: int | None = None


# --- Flow nodes --------------------------------------------------------------------------------


class _Node(_Frozen):
    id: str
    name: str | None = None
    line: int | None = None
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()
    listeners: tuple[Listener, ...] = ()
    job_listeners: tuple[JobListener, ...] = ()


class StartEvent(_Node):
    """A none start event: where a plain workflow start begins."""

    kind: Literal["startEvent"] = "startEvent"
    outputs: tuple[Mapping, ...] = ()
    """Evaluated as it starts; they set variables of its scope (Zeebe)."""


class TriggeredStartEvent(_Node):
    """A start event with a trigger (message, timer, signal, conditional, or in an event
    sub-process also error, escalation, compensation)."""

    kind: Literal["triggeredStartEvent"] = "triggeredStartEvent"
    trigger: EventDefinition
    interrupting: bool = True
    """Only meaningful in an event sub-process."""
    outputs: tuple[Mapping, ...] | None = None
    """Evaluated over the trigger's variables (a message's, a signal's, an error's) as it
    starts; with outputs only the mapped variables reach its scope (Zeebe). None, not empty,
    when there are none: the content hash leaves None out, so models without keep theirs."""


class EndEvent(_Node):
    """A none end event: the token ends here."""

    kind: Literal["endEvent"] = "endEvent"


class ResultEndEvent(_Node):
    """An end event with a result: error, escalation, signal, message, terminate, compensation.

    A message end event in Zeebe is a job (``job``), like a send task.
    """

    kind: Literal["resultEndEvent"] = "resultEndEvent"
    result: EventDefinition
    job: JobDefinition | None = None
    inputs: tuple[Mapping, ...] = ()


class IntermediateCatchEvent(_Node):
    kind: Literal["intermediateCatchEvent"] = "intermediateCatchEvent"
    trigger: EventDefinition
    outputs: tuple[Mapping, ...] = ()


class IntermediateThrowEvent(_Node):
    """A throw event; without ``result`` it is a none event (a milestone): the token moves on."""

    kind: Literal["intermediateThrowEvent"] = "intermediateThrowEvent"
    result: EventDefinition | None = None
    job: JobDefinition | None = None
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()


class BoundaryEvent(_Node):
    """A catch event attached to an activity of the same scope."""

    kind: Literal["boundaryEvent"] = "boundaryEvent"
    attached_to: str
    cancel_activity: bool = True
    trigger: EventDefinition
    compensation_handler: str | None = None
    """For a compensation boundary event: the activity its association points to."""
    outputs: tuple[Mapping, ...] = ()


class PassThroughTask(_Node):
    """A plain ``task`` or ``manualTask``: nothing to do, the token moves on."""

    kind: Literal["passThrough"] = "passThrough"
    bpmn_type: str = "task"
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()
    """A task that only maps variables is a common way to set them (Zeebe, Camunda 7)."""


class JobTask(_Node):
    """A service, send (or other job-based) task: one Temporal activity per job."""

    kind: Literal["job"] = "job"
    bpmn_type: str = "serviceTask"
    job: JobDefinition
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()


class KafkaTask(_Node):
    """The tSM Kafka Task: publish a request, then wait for the correlated response."""

    kind: Literal["kafkaTask"] = "kafkaTask"
    request_topic: str = KAFKA_DEFAULT_REQUEST_TOPIC
    response_topic: str = KAFKA_DEFAULT_RESPONSE_TOPIC
    key: Expression | None = None
    payload: Expression | None = None
    inputs: tuple[Mapping, ...] | None = None
    """Camunda 7 input parameters: local variables the key and payload see (and the outputs).
    None, not empty, when there are none: the content hash leaves None out."""
    outputs: tuple[Mapping, ...] = ()
    template: str | None = None
    """The Kafka Task template it was made from, if any."""
    payload_defaults: dict[str, Any] = Field(default_factory=dict)
    """From the template: payload fields used when the payload leaves them out."""
    payload_required: tuple[str, ...] = ()
    """From the template: payload fields the consumer needs."""


class UserTask(_Node):
    """A user task: a job of type ``job.type`` (``USER_TASK_JOB_TYPE``) that a task list
    completes. Assignment values are expressions (a literal is a constant), evaluated when the
    task starts; candidate lists are a comma-separated string or a list."""

    kind: Literal["userTask"] = "userTask"
    job: JobDefinition
    assignee: Expression | None = None
    candidate_groups: Expression | None = None
    candidate_users: Expression | None = None
    form_key: str | None = None
    due_date: Expression | None = None
    follow_up_date: Expression | None = None
    priority: Expression | None = None
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()


class ScriptTask(_Node):
    """An expression evaluated by the engine (Zeebe ``zeebe:script``, or a Camunda 7 script in
    FEEL or JUEL); the value goes to ``result_variable``."""

    kind: Literal["scriptTask"] = "scriptTask"
    script: Expression
    result_variable: str | None = None
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()


class BusinessRuleTask(_Node):
    """A DMN decision call (``zeebe:calledDecision``, ``camunda:decisionRef``)."""

    kind: Literal["businessRuleTask"] = "businessRuleTask"
    decision_id: Expression
    result_variable: str | None = None
    result_form: Literal["resultList", "singleResult", "singleEntry", "collectEntries"] | None = (
        None
    )
    """Camunda 7's ``camunda:mapDecisionResult`` (its default, ``resultList``, when the task
    is Camunda 7's); None: Zeebe's result, the decision's output value."""
    version_tag: str | None = None
    """``bindingType="versionTag"``: evaluate the latest version carrying this tag."""
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()


class ReceiveTask(_Node):
    """A receive task waiting for a BPMN message (the tSM Kafka Task is ``KafkaTask``)."""

    kind: Literal["receiveTask"] = "receiveTask"
    message: MessageEventDefinition
    outputs: tuple[Mapping, ...] = ()


class CallActivity(_Node):
    """Starts another process (a child workflow) and waits for it."""

    kind: Literal["callActivity"] = "callActivity"
    called_element: Expression
    propagate_all_parent_variables: bool = True
    propagate_all_child_variables: bool = True
    business_key: Expression | None = None
    version_tag: str | None = None
    """``bindingType="versionTag"``: call the latest version carrying this tag."""
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()


class ExclusiveGateway(_Node):
    kind: Literal["exclusiveGateway"] = "exclusiveGateway"
    default_flow: str | None = None


class InclusiveGateway(_Node):
    kind: Literal["inclusiveGateway"] = "inclusiveGateway"
    default_flow: str | None = None


class ParallelGateway(_Node):
    kind: Literal["parallelGateway"] = "parallelGateway"


class EventBasedGateway(_Node):
    """Waits for the first of the catch events (or receive tasks) it leads to."""

    kind: Literal["eventBasedGateway"] = "eventBasedGateway"


class SequenceFlow(_Frozen):
    id: str
    source: str
    target: str
    condition: Expression | None = None
    line: int | None = None


class SubProcess(_Node):
    """An embedded sub-process: a child scope entered at its none start event."""

    kind: Literal["subProcess"] = "subProcess"
    start_event: str | None = None
    nodes: dict[str, FlowNode] = Field(default_factory=dict)
    flows: dict[str, SequenceFlow] = Field(default_factory=dict)
    inputs: tuple[Mapping, ...] = ()
    """Variables of its own scope, set as it starts."""
    outputs: tuple[Mapping, ...] = ()
    """Evaluated in its scope as it completes; they go to the enclosing scope."""


class EventSubProcess(_Node):
    """A sub-process with ``triggeredByEvent="true"``: started by its triggered start event
    while its parent scope is active; the start event says whether it interrupts."""

    kind: Literal["eventSubProcess"] = "eventSubProcess"
    start_event: str
    nodes: dict[str, FlowNode] = Field(default_factory=dict)
    flows: dict[str, SequenceFlow] = Field(default_factory=dict)


class AdHocElement(_Frozen):
    """An element an ad-hoc sub-process can activate, as its ``adHocSubProcessElements``
    variable describes it to whoever decides what to activate (Zeebe's metadata)."""

    element_id: str
    name: str = ""
    documentation: str = ""
    properties: dict[str, str] = Field(default_factory=dict)
    """``zeebe:properties``: name to value."""


class AdHocSubProcess(_Node):
    """Zeebe's ad-hoc sub-process: its elements without incoming flows run when activated, in
    any order, any number of times. Each activation is its own inner scope, and its path ends
    when its tokens do. Without a completion condition it completes once every activation has;
    with one, the first time the condition holds after an activation ends."""

    kind: Literal["adHocSubProcess"] = "adHocSubProcess"
    nodes: dict[str, FlowNode] = Field(default_factory=dict)
    flows: dict[str, SequenceFlow] = Field(default_factory=dict)
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()
    active_elements: Expression | None = None
    """``zeebe:adHoc activeElementsCollection``: the ids to activate as it starts."""
    completion_condition: Expression | None = None
    cancel_remaining_instances: bool = True
    """When the condition holds: end the activations still running (else wait for them)."""
    output_collection: str | None = None
    output_element: Expression | None = None
    """Evaluated in each activation's scope as it ends, appended to ``output_collection``."""
    elements: tuple[AdHocElement, ...] = ()
    """The elements it can activate, in document order."""


class MultiInstanceActivity(_Node):
    """An activity with multi-instance characteristics: ``activity`` runs once per element."""

    kind: Literal["multiInstance"] = "multiInstance"
    activity: FlowNode
    multi_instance: MultiInstance


class LoopActivity(_Node):
    """An activity with standard loop characteristics."""

    kind: Literal["standardLoop"] = "standardLoop"
    activity: FlowNode
    loop: StandardLoop


FlowNode = Annotated[
    StartEvent
    | TriggeredStartEvent
    | EndEvent
    | ResultEndEvent
    | IntermediateCatchEvent
    | IntermediateThrowEvent
    | BoundaryEvent
    | PassThroughTask
    | JobTask
    | KafkaTask
    | UserTask
    | ScriptTask
    | BusinessRuleTask
    | ReceiveTask
    | CallActivity
    | ExclusiveGateway
    | InclusiveGateway
    | ParallelGateway
    | EventBasedGateway
    | SubProcess
    | AdHocSubProcess
    | EventSubProcess
    | MultiInstanceActivity
    | LoopActivity,
    Field(discriminator="kind"),
]

for _recursive in (
    SubProcess,
    AdHocSubProcess,
    EventSubProcess,
    MultiInstanceActivity,
    LoopActivity,
):
    _recursive.model_rebuild()


class ProcessDefinition(_Frozen):
    """One executable process, compiled from one ``<bpmn:process>``."""

    schema_version: int = SCHEMA_VERSION
    id: str
    """The BPMN process id: also the Temporal workflow type."""
    name: str | None = None
    source: str
    """The file (or name) it was compiled from, for messages."""
    start_event: str | None
    """The none start event, where a plain workflow start begins. None when the process has
    only triggered start events (message, timer, signal, conditional)."""
    nodes: dict[str, FlowNode]
    flows: dict[str, SequenceFlow]
    job_listeners: tuple[JobListener, ...] = ()
    """The process's own execution listeners: start ones before its start event, end ones
    when it completes."""
    version_tag: str | None = None
    """``zeebe:versionTag`` / ``camunda:versionTag``: call activities may bind to it."""
    content_hash: str = ""

    def with_content_hash(self) -> ProcessDefinition:
        """Return a copy whose ``content_hash`` is the hash of everything but ``source``: a
        starter that compiled ``./processes/order.bpmn`` must pin the version a worker loaded
        from ``/app/processes/order.bpmn``."""
        # Fields left at None are left out, so that a release adding an optional field does
        # not give every model a new version.
        # The version tag names a version; it does not make one (and models that carried a
        # camunda:versionTag before it was read keep their hash).
        canonical = self.model_dump_json(
            exclude={"content_hash", "source", "version_tag"}, exclude_none=True
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return self.model_copy(update={"content_hash": digest})

    def response_topics(self) -> set[str]:
        """Every Kafka response topic a Kafka Task of this process listens on."""
        return {node.response_topic for node in iter_nodes(self) if isinstance(node, KafkaTask)}


def iter_nodes(definition: ProcessDefinition) -> Iterator[FlowNode]:
    """Every node of ``definition``, depth first: those of sub-processes and the activities
    wrapped by loop and multi-instance nodes included (after the node that holds them)."""
    yield from _walk(definition.nodes.values())


def _walk(nodes: Iterable[FlowNode]) -> Iterator[FlowNode]:
    for node in nodes:
        yield node
        if isinstance(node, SubProcess | AdHocSubProcess | EventSubProcess):
            yield from _walk(node.nodes.values())
        elif isinstance(node, MultiInstanceActivity | LoopActivity):
            yield from _walk([node.activity])
