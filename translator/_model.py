"""The process IR: what the interpreter walks. Frozen pydantic models, JSON-serialisable.

A ProcessDefinition is content-addressed: ``content_hash`` is the SHA-256 of its canonical JSON
(without the hash itself), so an instance pinned to a hash always sees the same model.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from translator.expressions import Expression

SCHEMA_VERSION = 1

DEFAULT_JOB_RETRIES = 3
KAFKA_DEFAULT_REQUEST_TOPIC = "tsm-process-request"
KAFKA_DEFAULT_RESPONSE_TOPIC = "tsm-process-response"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Mapping(_Frozen):
    """One input or output mapping: evaluate ``source`` and store it as ``target``."""

    source: Expression
    target: str


class JobDefinition(_Frozen):
    """What a job carries: the job wire contract in DESIGN.md."""

    type: str
    retries: int = DEFAULT_JOB_RETRIES
    headers: dict[str, str] = Field(default_factory=dict)
    task_queue: str | None = None
    """Defaults to the job type."""


class _Node(_Frozen):
    id: str
    name: str | None = None
    line: int | None = None
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()


class StartEvent(_Node):
    kind: Literal["startEvent"] = "startEvent"


class EndEvent(_Node):
    kind: Literal["endEvent"] = "endEvent"


class PassThroughTask(_Node):
    """A plain ``task`` or ``manualTask``: nothing to do, the token moves on."""

    kind: Literal["passThrough"] = "passThrough"
    bpmn_type: str = "task"


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
    outputs: tuple[Mapping, ...] = ()


class ExclusiveGateway(_Node):
    kind: Literal["exclusiveGateway"] = "exclusiveGateway"
    default_flow: str | None = None


class ParallelGateway(_Node):
    kind: Literal["parallelGateway"] = "parallelGateway"


FlowNode = Annotated[
    StartEvent
    | EndEvent
    | PassThroughTask
    | JobTask
    | KafkaTask
    | ExclusiveGateway
    | ParallelGateway,
    Field(discriminator="kind"),
]


class SequenceFlow(_Frozen):
    id: str
    source: str
    target: str
    condition: Expression | None = None
    line: int | None = None


class ProcessDefinition(_Frozen):
    """One executable process, compiled from one ``<bpmn:process>``."""

    schema_version: int = SCHEMA_VERSION
    id: str
    """The BPMN process id: also the Temporal workflow type."""
    name: str | None = None
    source: str
    """The file (or name) it was compiled from, for messages."""
    start_event: str
    nodes: dict[str, FlowNode]
    flows: dict[str, SequenceFlow]
    content_hash: str = ""

    def with_content_hash(self) -> ProcessDefinition:
        """Return a copy whose ``content_hash`` is the hash of everything else."""
        canonical = self.model_copy(update={"content_hash": ""}).model_dump_json()
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return self.model_copy(update={"content_hash": digest})

    def response_topics(self) -> set[str]:
        """Every Kafka response topic a Kafka Task of this process listens on."""
        return {node.response_topic for node in self.nodes.values() if isinstance(node, KafkaTask)}
