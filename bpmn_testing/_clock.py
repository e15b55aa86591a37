"""What holds the test server's clock, and which timers are waiting: read from the workflow
histories of a test's instances (the time-skipping server has no visibility API).

Temporal's time-skipping test server moves its clock only while no activity is outstanding
anywhere on it, so before skipping time the toolkit waits until every instance is quiet (no
workflow task pending, no job running) and refuses when a job is pending that nothing answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

_CLOSED = frozenset(
    {
        "workflow_execution_completed_event_attributes",
        "workflow_execution_failed_event_attributes",
        "workflow_execution_timed_out_event_attributes",
        "workflow_execution_canceled_event_attributes",
        "workflow_execution_terminated_event_attributes",
        "workflow_execution_continued_as_new_event_attributes",
    }
)
_WORKFLOW_TASK_DONE = frozenset(
    {
        "workflow_task_completed_event_attributes",
        "workflow_task_failed_event_attributes",
        "workflow_task_timed_out_event_attributes",
    }
)
_ACTIVITY_DONE = frozenset(
    {
        "activity_task_completed_event_attributes",
        "activity_task_failed_event_attributes",
        "activity_task_timed_out_event_attributes",
        "activity_task_canceled_event_attributes",
    }
)


@dataclass(frozen=True)
class PendingTimer:
    workflow_id: str
    timer_id: str
    due: datetime


@dataclass(frozen=True)
class OpenActivity:
    """An activity scheduled and not finished: running, queued for a worker, or waiting to
    be retried."""

    workflow_id: str
    activity_type: str
    element_id: str | None


@dataclass(frozen=True)
class ScheduledActivity:
    """An activity the workflow scheduled, with its job ``key`` if it is a job."""

    activity_type: str
    key: str | None


@dataclass
class WorkflowSnapshot:
    workflow_id: str
    closed: bool = False
    workflow_task_pending: bool = False
    timers: list[PendingTimer] = field(default_factory=list)
    activities: list[OpenActivity] = field(default_factory=list)
    """Open now."""
    scheduled: list[ScheduledActivity] = field(default_factory=list)
    """Every activity scheduled in this run, open or not."""
    children: list[str] = field(default_factory=list)


def snapshot_of(workflow_id: str, events: Iterable[HistoryEvent]) -> WorkflowSnapshot:
    """Replay a history's events into what is open at its end."""
    snapshot = WorkflowSnapshot(workflow_id)
    timers: dict[str, PendingTimer] = {}
    activities: dict[int, OpenActivity] = {}
    for event in events:
        kind = event.WhichOneof("attributes")
        if kind is None:
            continue
        if kind in _CLOSED:
            snapshot.closed = True
            snapshot.workflow_task_pending = False
        elif kind == "workflow_task_scheduled_event_attributes":
            snapshot.workflow_task_pending = True
        elif kind in _WORKFLOW_TASK_DONE:
            snapshot.workflow_task_pending = False
        elif kind == "timer_started_event_attributes":
            started = event.timer_started_event_attributes
            due = _utc(event.event_time.ToDatetime()) + started.start_to_fire_timeout.ToTimedelta()
            timers[started.timer_id] = PendingTimer(workflow_id, started.timer_id, due)
        elif kind == "timer_fired_event_attributes":
            timers.pop(event.timer_fired_event_attributes.timer_id, None)
        elif kind == "timer_canceled_event_attributes":
            timers.pop(event.timer_canceled_event_attributes.timer_id, None)
        elif kind == "activity_task_scheduled_event_attributes":
            scheduled = event.activity_task_scheduled_event_attributes
            activity_type = scheduled.activity_type.name
            job = _job_input(scheduled.input.payloads)
            activities[event.event_id] = OpenActivity(
                workflow_id, activity_type, _text(job.get("element_id"))
            )
            snapshot.scheduled.append(ScheduledActivity(activity_type, _text(job.get("key"))))
        elif kind in _ACTIVITY_DONE:
            activities.pop(getattr(event, kind).scheduled_event_id, None)
        elif kind == "child_workflow_execution_started_event_attributes":
            child = event.child_workflow_execution_started_event_attributes
            snapshot.children.append(child.workflow_execution.workflow_id)
    snapshot.timers = sorted(timers.values(), key=lambda timer: timer.due)
    snapshot.activities = list(activities.values())
    return snapshot


async def snapshots(client: Client, roots: Iterable[str]) -> list[WorkflowSnapshot]:
    """Snapshots of ``roots`` and, recursively, of the child workflows they started."""
    pending = list(dict.fromkeys(roots))
    seen: set[str] = set()
    found: list[WorkflowSnapshot] = []
    while pending:
        workflow_id = pending.pop(0)
        if workflow_id in seen:
            continue
        seen.add(workflow_id)
        try:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError:
            continue  # not started yet, or gone
        snapshot = snapshot_of(workflow_id, history.events)
        found.append(snapshot)
        pending.extend(snapshot.children)
    return found


def _job_input(payloads: Iterable[object]) -> dict[str, object]:
    """An activity's first argument if it is a JSON object (a job's is: the job contract)."""
    for payload in payloads:
        try:
            decoded = json.loads(getattr(payload, "data", b"") or b"null")
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
