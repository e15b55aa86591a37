"""Timer start events as Temporal Schedules, kept in step with the deployed definitions.

A process-level timer start event becomes one Schedule (id
``bpmn-timer-start/<task queue>/<process id>/<event id>``) whose action starts the process at
that start event. ``sync_timer_start_schedules`` runs when a worker loads its definitions: it
creates the missing schedules, updates those whose timer changed and deletes those whose process
or start event is gone. A schedule whose timer did not change is left alone, so restarting
workers neither restarts ``R3/...`` counts nor moves interval phases.

Timer values (Zeebe's rules for start events): ``timeDate`` starts one instance at that moment
(at once if it has passed when the schedule is created); ``timeCycle`` ``R[n]/[start/]duration``
starts one every duration (n times, or forever), the first one a duration after the schedule is
created or at ``start``; a Camunda 7 (Quartz) cron expression ``sec min hour dom month dow
[year]`` starts one at each match, in UTC.

All workers of one task queue must load the same definitions (they share the schedules, as they
share the registry's view of which process ids exist).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError

from translator import ProcessDefinition, TimerEventDefinition, TriggeredStartEvent
from translator.expressions import ExpressionEvaluationError, evaluate
from translator.expressions._temporal import YearsMonths
from workflows._contracts import InstanceOptions
from workflows._timers import TimerValueError, schedule

logger = logging.getLogger(__name__)

SCHEDULE_PREFIX = "bpmn-timer-start/"
TIMER_MEMO = "bpmnTimer"
"""Memo of a schedule: the timer it was made from, to tell whether it changed."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTZ_DAYS = {str(n): str(n - 1) for n in range(1, 8)}
"""Quartz numbers days of the week 1 (Sunday) to 7; Temporal's cron 0 (Sunday) to 6."""


class TimerStartError(ValueError):
    """A timer start event that cannot become a schedule (the text says why)."""


@dataclass(frozen=True)
class TimerStart:
    """One timer start event, as the schedule it becomes."""

    schedule_id: str
    process_id: str
    event_id: str
    source: str
    """``<kind>:<value>``: what the schedule is made from."""
    spec: ScheduleSpec
    remaining_actions: int | None
    """None: unlimited."""
    fire_now: bool = False
    """A date that has passed: start one instance when the schedule is created."""


@dataclass
class ScheduleReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def schedule_id(task_queue: str, process_id: str, event_id: str) -> str:
    return f"{SCHEDULE_PREFIX}{task_queue}/{process_id}/{event_id}"


def timer_starts(definition: ProcessDefinition, task_queue: str, now: datetime) -> list[TimerStart]:
    """The schedules ``definition``'s timer start events become (TimerStartError if one
    cannot)."""
    starts = []
    for node in definition.nodes.values():
        if not isinstance(node, TriggeredStartEvent):
            continue
        timer = node.trigger
        if not isinstance(timer, TimerEventDefinition):
            continue
        value = _timer_text(timer, definition.id, node.id)
        spec, remaining, fire_now = timer_spec(timer.timer, value, now)
        starts.append(
            TimerStart(
                schedule_id=schedule_id(task_queue, definition.id, node.id),
                process_id=definition.id,
                event_id=node.id,
                source=f"{timer.timer}:{value}",
                spec=spec,
                remaining_actions=remaining,
                fire_now=fire_now,
            )
        )
    return starts


def timer_spec(kind: str, value: str, now: datetime) -> tuple[ScheduleSpec, int | None, bool]:
    """A timer start event's value as (schedule spec, remaining actions, fire at once)."""
    if kind == "cycle" and not value.startswith("R"):
        return ScheduleSpec(cron_expressions=[quartz_to_temporal_cron(value)]), None, False
    if kind not in ("date", "cycle"):
        raise TimerStartError(f"a timer start event takes a date or a cycle, not a {kind}")
    try:
        planned = schedule(kind, value, now)
    except TimerValueError as error:
        raise TimerStartError(str(error)) from None
    first = planned.first.astimezone(UTC)
    if planned.interval is None:
        return ScheduleSpec(calendars=[_at(first)]), 1, first <= now
    interval = planned.interval
    if isinstance(interval, YearsMonths):
        return _monthly(first, interval), planned.repetitions, False
    if interval <= timedelta():
        raise TimerStartError(f"the cycle {value!r} has no positive interval")
    offset = (first - _EPOCH) % interval
    # Temporal's intervals count from the epoch: the offset puts them on ``first``.
    spec = ScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=interval, offset=offset)],
        start_at=first,
    )
    return spec, planned.repetitions, False


def quartz_to_temporal_cron(expression: str) -> str:
    """A Camunda 7 (Quartz) cron expression as Temporal's seven-field one."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise TimerStartError(
            f"{expression!r} is not a Quartz cron expression (seconds minutes hours "
            "day-of-month month day-of-week [year])"
        )
    if len(fields) == 6:
        fields.append("*")
    fields = [field.replace("?", "*") for field in fields]
    fields[5] = re.sub(r"\d", lambda m: _QUARTZ_DAYS.get(m.group(0), m.group(0)), fields[5])
    return " ".join(fields)


async def sync_timer_start_schedules(
    client: Client, definitions: Iterable[ProcessDefinition], task_queue: str
) -> ScheduleReport:
    """Make the task queue's schedules match the timer start events of ``definitions``."""
    report = ScheduleReport()
    now = datetime.now(UTC)
    wanted: dict[str, TimerStart] = {}
    for definition in definitions:
        try:
            for start in timer_starts(definition, task_queue, now):
                wanted[start.schedule_id] = start
        except TimerStartError as error:
            report.problems.append(f"{definition.source}: process {definition.id!r}: {error}")
    for start in wanted.values():
        try:
            await _create_or_update(client, start, task_queue, report)
        except RPCError as error:
            report.problems.append(f"schedule {start.schedule_id}: {error.message}")
    prefix = f"{SCHEDULE_PREFIX}{task_queue}/"
    # Listing is eventually consistent: a schedule created a moment ago may be missing here,
    # which only delays the removal of an obsolete one to the next load.
    async for listed in await client.list_schedules():
        if listed.id.startswith(prefix) and listed.id not in wanted:
            await client.get_schedule_handle(listed.id).delete()
            report.deleted.append(listed.id)
    for line in report.problems:
        logger.error("Timer start event not scheduled: %s", line)
    return report


async def _create_or_update(
    client: Client, start: TimerStart, task_queue: str, report: ScheduleReport
) -> None:
    new = _schedule(start, task_queue)
    try:
        handle = await client.create_schedule(
            start.schedule_id, new, memo={TIMER_MEMO: start.source}
        )
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(start.schedule_id)
        described = await handle.describe()
        if await described.memo_value(TIMER_MEMO, default=None) == start.source:
            report.unchanged.append(start.schedule_id)
            return
        # The memo cannot change: the schedule is made again from the new timer.
        await handle.delete()
        handle = await client.create_schedule(
            start.schedule_id, new, memo={TIMER_MEMO: start.source}
        )
        report.updated.append(start.schedule_id)
    else:
        report.created.append(start.schedule_id)
    if start.fire_now:
        await handle.trigger()


def _schedule(start: TimerStart, task_queue: str) -> Schedule:
    options = InstanceOptions(start_event=start.event_id)
    action = ScheduleActionStartWorkflow(
        start.process_id,
        args=[{}, options.model_dump(mode="json")],
        id=f"{start.process_id}/timer/{start.event_id}",
        task_queue=task_queue,
    )
    limited = start.remaining_actions is not None
    state = ScheduleState(
        note=f"timer start event {start.event_id!r} ({start.source})",
        limited_actions=limited,
        remaining_actions=start.remaining_actions or 0,
    )
    return Schedule(action=action, spec=start.spec, state=state)


def _timer_text(timer: TimerEventDefinition, process_id: str, event_id: str) -> str:
    """A start event's timer as text: the literal, or its expression evaluated with no
    variables (nothing exists before the instance)."""
    if isinstance(timer.value, str):
        return timer.value.strip()
    try:
        value: Any = evaluate(timer.value, {})
    except ExpressionEvaluationError as error:
        raise TimerStartError(f"the timer of {event_id!r} does not evaluate: {error}") from None
    if not isinstance(value, str):
        raise TimerStartError(
            f"the timer of {event_id!r} in {process_id!r} evaluates to {value!r}, not text"
        )
    return value.strip()


def _at(moment: datetime) -> ScheduleCalendarSpec:
    return ScheduleCalendarSpec(
        second=[ScheduleRange(moment.second)],
        minute=[ScheduleRange(moment.minute)],
        hour=[ScheduleRange(moment.hour)],
        day_of_month=[ScheduleRange(moment.day)],
        month=[ScheduleRange(moment.month)],
        year=[ScheduleRange(moment.year)],
    )


def _monthly(first: datetime, interval: YearsMonths) -> ScheduleSpec:
    """``P1M``, ``P3M``, ``P1Y``...: the same day and time every so many months."""
    months = interval.months
    if months <= 0 or (months < 12 and 12 % months) or (months >= 12 and months % 12):
        raise TimerStartError(
            f"a cycle of {months} months cannot be a schedule: use a divisor of 12 months or "
            "whole years"
        )
    if months < 12:
        month = [ScheduleRange(1 + (first.month - 1) % months, 12, months)]
        year: list[ScheduleRange] = []
    else:
        month = [ScheduleRange(first.month)]
        year = [ScheduleRange(first.year, 9999, months // 12)]
    calendar = ScheduleCalendarSpec(
        second=[ScheduleRange(first.second)],
        minute=[ScheduleRange(first.minute)],
        hour=[ScheduleRange(first.hour)],
        day_of_month=[ScheduleRange(first.day)],
        month=month,
        year=year,
    )
    return ScheduleSpec(calendars=[calendar], start_at=first)
