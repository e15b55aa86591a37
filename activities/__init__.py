"""Where I/O lives: the job-worker SDK, built-in activities and the Kafka correlation bridge."""

from activities._bridge import (
    BridgeConfig,
    CorrelationBridge,
    UnroutableError,
    decode_response,
)
from activities._connections import (
    ConfigurationError,
    KafkaSettings,
    connect_temporal,
    temporal_options,
)
from activities._definitions import (
    LoadReport,
    load_definitions,
    make_resolve_decision,
    make_resolve_definition,
)
from activities._instances import (
    StartConditionError,
    evaluate_start_conditions,
    make_cancel_instance,
    start_instance,
)
from activities._jobs import BpmnError, Job, JobFailure, JobWorker, job_activity
from activities._kafka_publish import KafkaPublisher
from activities._kafka_topics import ensure_topics
from activities._messages import (
    MessageError,
    MessageNotCorrelated,
    broadcast_signal,
    correlate_message,
    make_start_by_event,
    make_subscribe_message,
    publish_message,
)
from activities._schedules import ScheduleReport, sync_timer_start_schedules
from activities._schedules import schedule_id as timer_schedule_id
from activities._search_attributes import ensure_search_attributes, search_attributes_available
from activities._standalone import run_standalone_job
from workflows._contracts import DLT_REASON_HEADER, DLT_SUFFIX

__all__ = [
    "DLT_REASON_HEADER",
    "DLT_SUFFIX",
    "BpmnError",
    "BridgeConfig",
    "ConfigurationError",
    "CorrelationBridge",
    "Job",
    "JobFailure",
    "JobWorker",
    "KafkaPublisher",
    "KafkaSettings",
    "LoadReport",
    "MessageError",
    "MessageNotCorrelated",
    "ScheduleReport",
    "StartConditionError",
    "UnroutableError",
    "broadcast_signal",
    "connect_temporal",
    "correlate_message",
    "decode_response",
    "ensure_search_attributes",
    "ensure_topics",
    "evaluate_start_conditions",
    "job_activity",
    "load_definitions",
    "make_cancel_instance",
    "make_resolve_decision",
    "make_resolve_definition",
    "make_start_by_event",
    "make_subscribe_message",
    "publish_message",
    "run_standalone_job",
    "search_attributes_available",
    "start_instance",
    "sync_timer_start_schedules",
    "temporal_options",
    "timer_schedule_id",
]
