"""The process engine that runs inside the interpreter workflow.

Tokens are asyncio tasks (Temporal runs them on its deterministic event loop). Each token walks
sequence flows inside one scope (see ``_scope``); a fork spawns tokens, a join lets one
continue. Elements with a body (sub-process, multi-instance, loop, event sub-process) open a
child scope and wait until its tokens are done.

A token ends its scope early by raising: ``ErrorThrown`` (a BPMN error, or an escalation an
interrupting event catches, with its catch event already chosen, see ``_catching``),
``ScopeTerminated`` (a terminate end event) or ``ErrorPropagatedToCaller``. The scope cancels
its other tokens (their jobs are cancelled, their element instances end as terminated) and lets
the owner of the catch event continue.

Where BPMN leaves a choice, we follow Zeebe:
- an exclusive gateway takes the first flow (in model order) whose condition is true, else its
  default flow, else it raises an incident; an inclusive gateway takes every true one;
- an inclusive join waits only for tokens that can still reach one of its incoming flows;
- a job that exhausts its retries, a BPMN error nothing catches, a failing expression or a
  failed called process raises an incident; the step waits until an operator resolves it,
  then runs again;
- job results propagate to the scope that defines each variable, else to the process; with
  output mappings only the mapped variables propagate;
- a multi-instance body's output collection is local to the body and propagates when it ends;
- an escalation nothing catches is over (no incident): the thrower goes on; a non-interrupting
  catch starts its path next to the thrower, an interrupting one ends the thrower's scope.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from translator import (
        MAX_JOB_RETRIES,
        AdHocSubProcess,
        BoundaryEvent,
        BusinessRuleTask,
        CallActivity,
        CompensateEventDefinition,
        ConditionalEventDefinition,
        DecisionGraph,
        EndEvent,
        ErrorEventDefinition,
        EscalationEventDefinition,
        EventBasedGateway,
        EventSubProcess,
        ExclusiveGateway,
        FlowNode,
        InclusiveGateway,
        IntermediateCatchEvent,
        IntermediateThrowEvent,
        JobDefinition,
        JobListener,
        JobTask,
        KafkaTask,
        LinkEventDefinition,
        Listener,
        LoopActivity,
        MessageEventDefinition,
        MultiInstanceActivity,
        ParallelGateway,
        PassThroughTask,
        ProcessDefinition,
        ReceiveTask,
        ResultEndEvent,
        ScriptTask,
        SignalEventDefinition,
        StartEvent,
        SubProcess,
        TerminateEventDefinition,
        TimerEventDefinition,
        TriggeredStartEvent,
        UserTask,
    )
    from translator import (
        Mapping as IoMapping,
    )
    from translator.expressions import (
        EvaluationContext,
        Expression,
        ExpressionEvaluationError,
        VariableWrites,
        evaluate,
    )
    from translator.expressions._temporal import parse_duration
    from workflows._ad_hoc import OpenAdHoc, initial_locals, run_ad_hoc
    from workflows._catching import (
        Catcher,
        catchable_codes,
        escalation_catches,
        find_catcher,
    )
    from workflows._compensation import compensate, handed_up, record_completion
    from workflows._concurrency import while_running
    from workflows._contracts import (
        BPMN_ERROR_TYPE,
        BUSINESS_KEY_VARIABLE,
        COMPLETED_TRAIL_LIMIT,
        DLT_REASON_HEADER,
        DLT_SUFFIX,
        ESCALATION_SIGNAL,
        FETCH_VARIABLES_HEADER,
        JOB_TIMEOUT_HEADER,
        KAFKA_JOB_TYPE,
        KAFKA_KEY_HEADER,
        KAFKA_PUBLISH_ACTIVITY,
        KAFKA_TOPIC_HEADER,
        OWNER_TYPE_VARIABLE,
        RESOLVE_DECISION_ACTIVITY,
        SUBSCRIBE_MESSAGE_ACTIVITY,
        USER_TASK_HEADER_PREFIX,
        BpmnErrorDetails,
        CallContext,
        Compensable,
        CompletedElement,
        Continuation,
        CorrelatedMessage,
        DefinitionPin,
        ElementInstance,
        EscalationRaised,
        Incident,
        IncidentType,
        InstanceOptions,
        JobInput,
        KafkaPublishRequest,
        KafkaResponse,
        MessagePublication,
        MessageSubscription,
        ScopeFrame,
        SubscribeRequest,
        business_key_of,
        make_correlation_id,
    )
    from workflows._decisions import DecisionFailure, DecisionResult, evaluate_decision
    from workflows._multi_instance import run_multi_instance
    from workflows._registry import REGISTRY
    from workflows._scope import Scope
    from workflows._structure import boundaries_of, can_reach, event_sub_processes
    from workflows._timers import TimerSchedule, TimerValueError, schedule

    try:  # imported here, outside the sandbox: it reads the environment when imported
        from opentelemetry import trace as otel_trace
    except ImportError:  # the opentelemetry extra is not installed
        otel_trace = None  # type: ignore[assignment]

T = TypeVar("T")

JOB_TIMEOUT = timedelta(minutes=5)
"""Zeebe's default job timeout, as Temporal's heartbeat timeout: a worker that stops
heartbeating for this long (it crashed) loses the job to another worker. Our SDK heartbeats
while a handler runs; a worker in another SDK that does not heartbeat must finish within it."""
JOB_MAX_DURATION = timedelta(days=7)
"""Upper bound of one attempt, however long a live handler keeps heartbeating."""
USER_TASK_MAX_DURATION = timedelta(days=365)
"""A task list may hold a user task's job for as long as people take; no heartbeat needed."""
JOB_RETRY_INITIAL_INTERVAL = timedelta(seconds=1)
BUILT_IN_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)
ASSIGNMENT_HEADERS = {
    "assignee": "assignee",
    "candidate_groups": "candidateGroups",
    "candidate_users": "candidateUsers",
    "due_date": "dueDate",
    "follow_up_date": "followUpDate",
    "priority": "priority",
}


# --- how a token leaves its normal path -------------------------------------------------------


class ErrorThrown(Exception):
    """A BPMN error (or an escalation) was thrown and ``catcher`` will handle it, interrupting
    what runs between the thrower and the catch event."""

    def __init__(self, catcher: Catcher, code: str, message: str, variables: dict[str, Any]):
        super().__init__(code)
        self.catcher = catcher
        self.code = code
        self.message = message
        self.variables = variables


class ErrorPropagatedToCaller(Exception):
    """Nothing in this instance catches the error but the calling process does."""

    def __init__(self, details: BpmnErrorDetails) -> None:
        super().__init__(details.code)
        self.details = details


class ScopeTerminated(Exception):
    """A terminate end event ended ``scope``."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope.key)
        self.scope = scope


class BoundaryTriggered(Exception):
    """An interrupting boundary event fired: the activity was cancelled."""

    def __init__(self, boundary: BoundaryEvent, variables: dict[str, Any]) -> None:
        super().__init__(boundary.id)
        self.boundary = boundary
        self.variables = variables


class EventSubProcessTriggered(Exception):
    """An interrupting event sub-process of ``scope`` was triggered."""

    def __init__(self, scope: Scope, handler: EventSubProcess, variables: dict[str, Any]) -> None:
        super().__init__(handler.id)
        self.scope = scope
        self.handler = handler
        self.variables = variables


class ContinueAsNewNow(Exception):
    """A safe point inside a sub-process: unwind to the process, finishing nothing, so the
    instance continues as new and re-enters the sub-processes (``ScopeFrame``)."""


class IncidentRaised(Exception):
    """A step failed in a way an operator must look at."""

    def __init__(self, incident_type: IncidentType, message: str) -> None:
        super().__init__(message)
        self.incident_type = incident_type
        self.message = message


@dataclass
class _Waiting:
    """What arrives through handlers: Kafka responses, messages, user-task completions."""

    responses: dict[str, KafkaResponse] = field(default_factory=dict)
    consumed: deque[str] = field(default_factory=lambda: deque(maxlen=COMPLETED_TRAIL_LIMIT))
    awaiting: set[str] = field(default_factory=set)
    user_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscribed: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Message subscriptions: id → (message name, correlation key)."""
    signals: dict[str, str] = field(default_factory=dict)
    """The subscriptions among them that wait for a signal: id → signal name."""
    messages: dict[str, MessagePublication] = field(default_factory=dict)
    pre_triggered: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """Catch events an event-based gateway already saw occur: (scope, element) → variables."""
    detached: set[asyncio.Future[None]] = field(default_factory=set)
    abandoned: dict[str, str] = field(default_factory=dict)
    """Kafka Tasks that stopped waiting: correlation id → element id (late responses)."""
    escalations: dict[str, list[str]] = field(default_factory=dict)
    """Escalation codes raised by running called processes: child workflow id → codes."""


SETTLE_DETACHED_PATCH = "settle-detached"
"""Instances that ended before the engine waited for its detached housekeeping replay without
the wait."""
THROW_OUTPUTS_PATCH = "throw-outputs"
"""Signal, escalation and link throw events recorded before their output mappings applied."""
KEYLESS_MESSAGES_PATCH = "keyless-messages"
"""Message waits without a correlation key recorded when they raised an incident."""
ERROR_VARIABLES_PATCH = "error-end-variables"
"""Error end events recorded before their input mappings made the error's variables."""


class Engine:
    """One process instance's state and behaviour; the workflow class only wires handlers."""

    def __init__(
        self,
        definition: ProcessDefinition,
        pin: DefinitionPin,
        variables: dict[str, Any],
        options: InstanceOptions,
    ) -> None:
        self.definition = definition
        self.pin = pin
        self.root = Scope(key="process", kind="process", container=definition, variables=variables)
        start_event = options.start_event or definition.start_event
        start = definition.nodes.get(start_event) if start_event else None
        if options.continuation is None and _maps_its_trigger(start):
            self.root.variables, self.root.trigger = {}, variables
        self.active: dict[str, ElementInstance] = {}
        self.completed: deque[CompletedElement] = deque(maxlen=COMPLETED_TRAIL_LIMIT)
        self.completed_count = 0
        self.incidents: dict[str, Incident] = {}
        self.waiting = _Waiting()
        self._trigger_scopes: dict[str, Scope] = {}
        """Scopes whose start event is mapping their trigger's variables, by its instance."""
        self.open_ad_hocs: dict[str, OpenAdHoc] = {}
        """Ad-hoc sub-processes that may still activate elements, by instance key."""
        self._handed_up: dict[str, Compensable] = {}
        """Records of sub-process instances that finished their scope, by instance key: kept
        for compensation once the sub-process completes (see ``_compensation``)."""
        self.continue_at: tuple[str, str | None] | None = None
        self.continue_chain: list[ScopeFrame] = []
        self._resume: deque[ScopeFrame] = deque()
        """Sub-process instances a continued run re-enters, outermost first."""
        self._resuming: dict[str, ScopeFrame] = {}
        self._resumed_at: tuple[str, str | None] = ("", None)
        """Where the token continues inside the innermost re-entered sub-process."""
        self.runs = 1
        self._next_key = 0
        self._start: tuple[str, str | None] | None = (start_event, None) if start_event else None
        self.call = options.call
        continuation = options.continuation
        self.trace_id = continuation.trace_id if continuation else _current_trace_id()
        if continuation is not None:
            self._restore(continuation)

    def _restore(self, continuation: Continuation) -> None:
        self._next_key = continuation.next_key
        self._start = (continuation.node_id, continuation.via_flow)
        self._resume.extend(continuation.chain)
        if continuation.chain:
            self._resumed_at = self._start
            self._start = (continuation.chain[0].instance.element_id, None)
        self.completed.extend(continuation.completed)
        self.completed_count = continuation.completed_count
        self.root.join_arrivals = {k: dict(v) for k, v in continuation.join_arrivals.items()}
        self.waiting.responses = {r.correlation_id: r for r in continuation.responses}
        self.waiting.consumed.extend(continuation.consumed_correlations)
        self.waiting.abandoned.update(continuation.abandoned_correlations)
        self.root.timer_progress = {
            k: TimerSchedule.from_json(v) for k, v in continuation.timers.items()
        }
        self.root.compensable = list(continuation.compensable)
        self.root.occurred = set(continuation.occurred)
        self.call = continuation.call
        self.runs = continuation.runs + 1

    # --- the instance -------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        """Run until the process scope is done; the result is the process variables."""
        if self._start is None or self._start[0] not in self.definition.nodes:
            raise ApplicationError(
                f"process {self.definition.id!r} has no none start event to start from"
                if self._start is None
                else f"process {self.definition.id!r} has no start event {self._start[0]!r}",
                type="NoNoneStartEvent",
                non_retryable=True,
            )
        if self.runs == 1:  # a continued run (runs > 1) has run them
            await self._process_listeners("start")
        self.spawn(self.root, *self._start)
        try:
            await self.complete_scope(self.root)
            if self.continue_at is None:  # completed, not continuing as new
                await self._process_listeners("end")
        except ContinueAsNewNow:
            pass  # the state to continue with is in continue_at and continue_chain
        except ErrorPropagatedToCaller as propagated:
            await self._settle_detached()
            raise ApplicationError(
                propagated.details.message or f"BPMN error {propagated.details.code!r}",
                propagated.details.model_dump(mode="json"),
                type=BPMN_ERROR_TYPE,
                non_retryable=True,
            ) from None
        await self._settle_detached()
        return self.root.variables

    def continuation(self) -> Continuation:
        assert self.continue_at is not None
        return Continuation(
            definition=self.pin,
            trace_id=self.trace_id,
            next_key=self._next_key,
            node_id=self.continue_at[0],
            via_flow=self.continue_at[1],
            chain=self.continue_chain,
            completed=list(self.completed),
            completed_count=self.completed_count,
            join_arrivals=self.root.join_arrivals,
            responses=list(self.waiting.responses.values()),
            consumed_correlations=list(self.waiting.consumed),
            abandoned_correlations=self.waiting.abandoned,
            timers={k: v.to_json() for k, v in self.root.timer_progress.items()},
            compensable=self.root.compensable,
            occurred=sorted(self.root.occurred),
            call=self.call,
            runs=self.runs,
        )

    def business_key(self) -> str | None:
        return business_key_of(self.root.variables)

    # --- tokens and scopes --------------------------------------------------------------------

    def spawn(self, scope: Scope, node_id: str, via_flow: str | None = None) -> None:
        self.track(scope, self._walk(scope, node_id, via_flow), node_id)

    def track(self, scope: Scope, work: Awaitable[None], position: str) -> None:
        """Run ``work`` as a token of ``scope``: the scope is done when its tokens are."""
        task = asyncio.ensure_future(work)
        scope.tokens[task] = position

        def finished(done: asyncio.Task[None]) -> None:
            scope.tokens.pop(done, None)
            if done.cancelled() or scope.failure is not None:
                return
            scope.failure = done.exception()

        task.add_done_callback(finished)

    async def _walk(self, scope: Scope, node_id: str, via_flow: str | None) -> None:
        """Move one token until it ends; forks spawn new tokens for the other branches."""
        token = asyncio.current_task()
        assert token is not None
        nodes, flows = scope.container.nodes, scope.container.flows
        current: str | None = node_id
        while current is not None:
            scope.tokens[token] = current
            if self._continue_as_new_due(scope):
                # A safe point: the only token, between elements, nothing pending.
                self.continue_at = (current, via_flow)
                if scope is self.root:
                    return
                self.continue_chain = self._frames(scope)
                raise ContinueAsNewNow()
            node = nodes[current]
            taken = await self._execute(scope, node, via_flow)
            link = _link_target(scope, node)
            if link is not None:
                current, via_flow = link, None
                continue
            if not taken:
                return
            for flow_id in taken[1:]:
                self.spawn(scope, flows[flow_id].target, flow_id)
            via_flow = taken[0]
            current = flows[via_flow].target

    async def complete_scope(self, scope: Scope) -> None:
        """Wait until ``scope`` has no tokens left; handle what a token raised to end it.
        Meanwhile the scope's timer event sub-processes wait for their time."""
        watchers = [
            asyncio.create_task(self._watch_event_sub_process(scope, handler))
            for handler in self._event_handlers(scope)
        ]
        done = workflow.wait_condition(lambda: not scope.tokens or scope.failure is not None)
        try:
            await while_running(done, watchers)
        except asyncio.CancelledError:
            scope.closing = True
            await _cancel_tokens(scope)
            raise
        failure, scope.failure = scope.failure, None
        if failure is None:
            return
        scope.closing = True
        await _cancel_tokens(scope)
        if isinstance(failure, ScopeTerminated) and failure.scope is scope:
            return
        if (
            isinstance(failure, ErrorThrown)
            and failure.catcher.scope is scope
            and isinstance(failure.catcher.event, EventSubProcess)
        ):
            variables = _caught_variables(failure)
            await self.run_event_sub_process(scope, failure.catcher.event, variables)
            return
        if isinstance(failure, EventSubProcessTriggered) and failure.scope is scope:
            await self.run_event_sub_process(scope, failure.handler, failure.variables)
            return
        raise failure

    def _continue_as_new_due(self, scope: Scope, loop: ElementInstance | None = None) -> bool:
        """At a safe point: the token is the only one in its scope and each enclosing one (all
        the process or sub-processes), only those sub-processes (and the standard ``loop``
        between two iterations) are active, nothing pending."""
        chain = list(scope.chain())
        if any(s.kind not in ("process", "subProcess") or len(s.tokens) != 1 for s in chain):
            return False
        owners = {s.key for s in chain if s.kind == "subProcess"}
        if loop is not None:
            owners.add(loop.key)
        info = workflow.info()
        return (
            set(self.active) == owners
            and not self.incidents
            and self.root.trigger is None  # the start event has yet to map it
            and not self.waiting.awaiting
            and not self.waiting.subscribed
            and not self.waiting.detached
            and workflow.all_handlers_finished()
            and (
                info.get_current_history_length() >= self.pin.continue_as_new_after_events
                or info.is_continue_as_new_suggested()
            )
        )

    def _frames(self, scope: Scope) -> list[ScopeFrame]:
        """The sub-process instances around ``scope``, outermost first, with their state."""
        return [
            ScopeFrame(
                instance=self.active[level.key],
                variables=level.variables,
                join_arrivals=level.join_arrivals,
                timers={k: v.to_json() for k, v in level.timer_progress.items()},
                compensable=level.compensable,
                occurred=sorted(level.occurred),
            )
            for level in reversed(list(scope.chain()))
            if level.kind == "subProcess"
        ]

    def resumed_iteration(self, instance: ElementInstance) -> ScopeFrame | None:
        """The frame a loop or sequential multi-instance activity continued as new with."""
        return self._resuming.pop(instance.key, None)

    def between_iterations(
        self, scope: Scope, instance: ElementInstance, frame: ScopeFrame
    ) -> None:
        """Between two iterations of a loop (``instance``, running in ``scope``): continue as
        new here if it is due; the next run re-enters the loop with ``frame``."""
        if not self._continue_as_new_due(scope, loop=instance):
            return
        self.continue_at = (instance.element_id, None)
        self.continue_chain = [*self._frames(scope), frame]
        raise ContinueAsNewNow()

    def _reenter(self, node: FlowNode) -> ElementInstance | None:
        """In a continued run, the sub-process instance the token is re-entering, if any."""
        if not self._resume or self._resume[0].instance.element_id != node.id:
            return None
        frame = self._resume.popleft()
        self._resuming[frame.instance.key] = frame
        self.active[frame.instance.key] = frame.instance
        return frame.instance

    # --- element instances --------------------------------------------------------------------

    def new_key(self) -> str:
        self._next_key += 1
        return str(self._next_key)

    def enter(self, scope: Scope, node: FlowNode) -> ElementInstance:
        instance = ElementInstance(
            key=self.new_key(),
            element_id=node.id,
            element_type=_element_type(node),
            started_at=workflow.now(),
            scope_key=None if scope.parent is None else scope.key,
        )
        self.active[instance.key] = instance
        return instance

    def leave(self, instance: ElementInstance, state: str = "completed") -> None:
        self.active.pop(instance.key, None)
        self.completed_count += 1
        self.completed.append(
            CompletedElement(
                key=instance.key,
                element_id=instance.element_id,
                element_type=instance.element_type,
                completed_at=workflow.now(),
                state=state,
            )
        )

    async def _execute(self, scope: Scope, node: FlowNode, via_flow: str | None) -> list[str]:
        """Run one element in ``scope``; return the outgoing flows its token(s) take."""
        if isinstance(node, ParallelGateway) and not self._parallel_join(scope, node, via_flow):
            return []
        if isinstance(node, InclusiveGateway) and not await self._inclusive_join(
            scope, node, via_flow
        ):
            return []
        resumed = self._reenter(node)
        instance = resumed or self.enter(scope, node)
        try:
            if node.job_listeners or node.listeners:
                taken = await self._listened(scope, node, instance, resumed is not None)
            else:
                taken = await self._with_boundary_timers(scope, node, instance)
        except ErrorThrown as thrown:
            self.leave(instance, "terminated")
            self._handed_up.pop(instance.key, None)
            self._interrupted_listeners(scope, node)
            if not thrown.catcher.is_boundary_of(scope, node.id):
                raise
            boundary = thrown.catcher.event
            assert isinstance(boundary, BoundaryEvent)
            return await self._leave_by_boundary(scope, boundary, _caught_variables(thrown))
        except BoundaryTriggered as triggered:
            self.leave(instance, "terminated")
            self._handed_up.pop(instance.key, None)
            self._interrupted_listeners(scope, node)
            return await self._leave_by_boundary(scope, triggered.boundary, triggered.variables)
        except ContinueAsNewNow:
            raise  # the instance goes on in the next run
        except ScopeTerminated:
            self.leave(instance)  # a terminate end event completes, then ends its scope
            raise
        except (Exception, asyncio.CancelledError):
            # Not GeneratorExit: a workflow evicted from the cache closes its coroutines.
            self.leave(instance, "terminated")
            self._handed_up.pop(instance.key, None)
            raise
        self.leave(instance)
        record_completion(scope, node, self._handed_up.pop(instance.key, None))
        return taken

    async def _behaviour(
        self, scope: Scope, node: FlowNode, instance: ElementInstance
    ) -> list[str]:
        """What the element does; returns the flows to take when it completes."""
        if isinstance(node, JobTask | UserTask):
            await self.with_incidents(instance, lambda: self._run_job(scope, node, instance))
        elif isinstance(node, KafkaTask):
            try:
                await self.with_incidents(
                    instance, lambda: self._run_kafka_task(scope, node, instance)
                )
            finally:
                self._drop_response(instance)
        elif isinstance(node, ScriptTask):
            await self.with_incidents(instance, lambda: self._run_script(scope, node, instance))
        elif isinstance(node, BusinessRuleTask):
            await self.with_incidents(instance, lambda: self._run_decision(scope, node, instance))
        elif isinstance(node, ExclusiveGateway):
            return [await self.with_incidents(instance, lambda: self._choose_flow(scope, node))]
        elif isinstance(node, InclusiveGateway):
            return await self.with_incidents(instance, lambda: self._choose_flows(scope, node))
        elif isinstance(node, SubProcess):
            self._hand_up(instance, await self._run_sub_process(scope, node, instance))
        elif isinstance(node, AdHocSubProcess):
            self._hand_up(instance, await run_ad_hoc(self, scope, node, instance))
        elif isinstance(node, MultiInstanceActivity):
            await run_multi_instance(self, scope, node, instance)
        elif isinstance(node, LoopActivity):
            await self._run_loop(scope, node, instance)
        elif isinstance(node, CallActivity):
            await self.with_incidents(instance, lambda: self._run_call(scope, node, instance))
        elif isinstance(node, IntermediateThrowEvent | ResultEndEvent) and node.job is not None:
            # Zeebe's message throw and end events: a job, exactly like a send task.
            task = _as_job_task(node)
            await self.with_incidents(instance, lambda: self._run_job(scope, task, instance))
        elif isinstance(node, IntermediateThrowEvent | ResultEndEvent) and isinstance(
            node.result, CompensateEventDefinition
        ):
            await compensate(self, scope, node.result)
            if isinstance(node, IntermediateThrowEvent) and (node.inputs or node.outputs):
                await self.with_incidents(instance, lambda: self._map_only(scope, node, instance))
        elif isinstance(node, ResultEndEvent):
            await self.with_incidents(instance, lambda: self._end_with_result(scope, node))
        elif isinstance(node, IntermediateCatchEvent | ReceiveTask) and not _is_link(node):
            await self._catch(scope, node, instance)
        elif isinstance(node, IntermediateCatchEvent):
            pass  # a link catch event: its throw event's token goes on from here
        elif isinstance(node, EventBasedGateway):
            return await self._run_event_gateway(scope, node)
        elif isinstance(node, IntermediateThrowEvent) and node.result is None:
            await self.with_incidents(instance, lambda: self._map_only(scope, node, instance))
        elif isinstance(node, IntermediateThrowEvent) and isinstance(
            node.result, EscalationEventDefinition
        ):
            escalation = node.result
            code = await self.with_incidents(
                instance, lambda: self._thrown_code(escalation, scope, node)
            )
            await self.throw_escalation(scope, code)
            await self._throw_outputs(scope, node, instance)
        elif isinstance(node, IntermediateThrowEvent) and isinstance(
            node.result, SignalEventDefinition
        ):
            signal = node.result
            await self.with_incidents(instance, lambda: self.broadcast_signal(scope, node, signal))
            await self._throw_outputs(scope, node, instance)
        elif isinstance(node, IntermediateThrowEvent) and isinstance(
            node.result, LinkEventDefinition
        ):
            await self._throw_outputs(scope, node, instance)
        elif isinstance(node, PassThroughTask) and (node.inputs or node.outputs):
            await self.with_incidents(instance, lambda: self._map_only(scope, node, instance))
        elif isinstance(node, TriggeredStartEvent) and node.outputs:
            try:
                await self.with_incidents(
                    instance, lambda: self._map_trigger(scope, node, instance)
                )
            finally:  # interrupted during an incident, it maps nothing any more
                self._trigger_scopes.pop(instance.key, None)
        elif isinstance(node, StartEvent) and node.outputs:  # they set its scope's variables
            outputs = node.outputs
            await self.with_incidents(
                instance, lambda: self.propagate_outputs(scope.flow(), outputs, scope.visible())
            )
        elif not isinstance(
            node,
            StartEvent
            | TriggeredStartEvent
            | EndEvent
            | PassThroughTask
            | ParallelGateway
            | IntermediateThrowEvent,
        ):
            raise ApplicationError(f"element kind {node.kind!r} cannot run", non_retryable=True)
        return list(node.outgoing)

    def resolve_incident(self, incident_key: str, variables: Mapping[str, Any]) -> None:
        """Set ``variables`` on the process, then let the failed step run again. A start event
        that failed mapping its trigger's variables sees them there too (they shadow the
        process's, so a fix on the process alone would never reach it)."""
        self.root.variables.update(variables)
        incident = self.incidents.pop(incident_key, None)
        if incident is None:
            return
        pending = self._trigger_scopes.get(incident.element_instance_key)
        if pending is not None and pending.trigger is not None:
            pending.trigger.update(variables)
        ad_hoc = self.open_ad_hocs.get(incident.element_instance_key)
        if ad_hoc is not None:  # e.g. its output collection, overwritten by a path
            own = ad_hoc.scope.variables
            own.update({name: value for name, value in variables.items() if name in own})

    async def with_incidents(
        self, instance: ElementInstance, step: Callable[[], Awaitable[T]]
    ) -> T:
        """Run ``step``; on an incident wait for an operator to resolve it, then run it again."""
        while True:
            try:
                return await step()
            except IncidentRaised as raised:
                incident = Incident(
                    key=self.new_key(),
                    type=raised.incident_type,
                    element_id=instance.element_id,
                    element_instance_key=instance.key,
                    message=raised.message,
                    created_at=workflow.now(),
                )
                self.incidents[incident.key] = incident
                workflow.logger.warning(
                    "Incident %s at %s: %s", incident.type, incident.element_id, incident.message
                )
                try:
                    await self._until_resolved(incident.key)
                finally:
                    # An element terminated while waiting takes its incident with it.
                    self.incidents.pop(incident.key, None)

    async def _until_resolved(self, incident_key: str) -> None:
        await workflow.wait_condition(lambda: incident_key not in self.incidents)

    # --- execution listeners (Zeebe) ---------------------------------------------------------

    async def _listened(
        self, scope: Scope, node: FlowNode, instance: ElementInstance, resumed: bool
    ) -> list[str]:
        """Run an element that has execution listeners: start ones, the element in its
        local scope, end ones. While listeners run, ``details["listener"]`` says which (a
        user task cannot be completed then: it is not waiting yet, or no longer)."""
        instance.details["listener"] = "start"
        element = await self._start_listeners(scope, node, instance, resumed)
        del instance.details["listener"]
        try:
            taken = await self._with_boundary_timers(scope, node, instance, element)
        except ScopeTerminated:
            # Zeebe completes a terminate end event (its end listeners) before it terminates
            # the rest of its scope.
            instance.details["listener"] = "end"
            await self._end_listeners(scope, element, node, instance)
            raise
        instance.details["listener"] = "end"
        await self._end_listeners(scope, element, node, instance)
        del instance.details["listener"]
        return taken

    async def _start_listeners(
        self, scope: Scope, node: FlowNode, instance: ElementInstance, resumed: bool
    ) -> Scope:
        """The element's local scope: its input mappings, then what its start listeners
        completed with (Zeebe: local variables of the element, which its own expressions and
        later listeners see). Not run again when a continued run re-enters a sub-process."""
        element = scope.child(instance.key, "local", owner_id=node.id)
        if resumed:
            return element
        if isinstance(node, AdHocSubProcess):  # its inputs see them (Zeebe)
            element.variables.update(initial_locals(node))
        inputs = _local_inputs(node)
        if inputs:
            await self.with_incidents(
                instance,
                lambda: self._set_locals(element, self._apply_mappings(inputs, element.visible())),
            )
        await self._run_listeners("start", node.job_listeners, instance, element, node)
        await self._camunda_listeners("start", element, node, instance)
        return element

    async def _end_listeners(
        self, scope: Scope, element: Scope, node: FlowNode, instance: ElementInstance
    ) -> None:
        """After the element's output mappings: each end listener sees the element's local
        variables and what it mapped out; what it completes with goes to the flow scope."""
        if isinstance(node, SubProcess | AdHocSubProcess) and "variables" in instance.details:
            element = scope.child(
                instance.key, "local", owner_id=node.id, variables=instance.details["variables"]
            )
        await self._camunda_listeners("end", element, node, instance)
        await self._run_listeners("end", node.job_listeners, instance, element, node)

    async def _run_listeners(
        self,
        event: Literal["start", "end"],
        listeners: Sequence[JobListener],
        instance: ElementInstance,
        local: Scope,
        node: FlowNode | None,
        outside: Scope | None = None,
    ) -> None:
        """The ``event`` listeners one after the other, in model order, seeing ``local``.
        A start listener's variables are set in ``local``; an end listener's propagate from
        ``outside`` (default: the scope ``local`` belongs to). A failed one is an incident;
        resolving it runs that listener again, not those before it."""
        element_headers = getattr(getattr(node, "job", None), "headers", None) or {}
        for index, listener in enumerate(listeners):
            if listener.event != event:
                continue
            run = functools.partial(
                self._listener_job, listener, index, instance, local, element_headers
            )
            result = await self.with_incidents(instance, run)
            if event == "start":
                local.variables.update(result)
            else:
                (outside or local.flow()).propagate(result)

    async def _listener_job(
        self,
        listener: JobListener,
        index: int,
        instance: ElementInstance,
        local: Scope,
        element_headers: Mapping[str, str],
    ) -> dict[str, Any]:
        job = self._created_job(listener.job, local, instance.element_id)
        headers = {**element_headers, **job.headers}  # the listener's win, as in Zeebe
        what = f"{listener.event} execution listener {job.type!r}"
        job_input = _job_input(
            job,
            instance,
            headers,
            _job_variables(headers, local),
            key_suffix=f"/{listener.event}-{index}",
            listener_event_type=listener.event,
        )
        timeout = _job_timeout(job.model_copy(update={"headers": headers}), instance.element_id)
        try:
            result = await self._execute_job(job, job_input, JOB_MAX_DURATION, timeout)
        except ActivityError as error:
            _raise_if_cancelled(error)
            if _bpmn_error_details(error.cause) is not None:
                raise IncidentRaised(
                    "JOB_NO_RETRIES",
                    f"{what} threw a BPMN error, which an execution listener cannot (as in "
                    "Zeebe): complete or fail its job instead",
                ) from None
            raise IncidentRaised(
                "JOB_NO_RETRIES", f"{what} failed, no retries left: {_failure_message(error)}"
            ) from None
        if result is not None and not isinstance(result, dict):
            raise IncidentRaised(
                "JOB_NO_RETRIES",
                f"{what} returned {type(result).__name__}; expected a JSON object",
            )
        return result or {}

    async def _set_locals(self, local: Scope, values: Mapping[str, Any]) -> None:
        local.variables.update(values)

    async def _process_listeners(self, event: Literal["start", "end"]) -> None:
        """The process's own listeners: start ones before its start event (their variables
        are process variables), end ones when it completes."""
        listeners = self.definition.job_listeners
        if not any(listener.event == event for listener in listeners):
            return
        process = ElementInstance(
            key=self.new_key(),
            element_id=self.definition.id,
            element_type="process",
            started_at=workflow.now(),
            details={"listener": event},
        )
        self.active[process.key] = process  # the state query shows it, and its incidents
        try:
            await self._run_listeners(event, listeners, process, self.root, None)
        finally:
            self.active.pop(process.key, None)

    # --- expressions, variables, mappings -----------------------------------------------------

    def evaluate(self, expression: Expression, variables: Mapping[str, Any]) -> Any:
        try:
            return evaluate(expression, dict(variables), self._evaluation_context())
        except ExpressionEvaluationError as error:
            raise IncidentRaised(
                "EXPRESSION_EVALUATION_FAILED", f"failed to evaluate {expression.source!r}: {error}"
            ) from None

    def _evaluation_context(self, writes: VariableWrites | None = None) -> EvaluationContext:
        info = workflow.info()
        return EvaluationContext(
            execution={
                "processBusinessKey": self.business_key(),
                "processInstanceId": info.workflow_id,
                "processDefinitionId": info.workflow_type,
            },
            now=workflow.now(),
            writes=writes,
        )

    async def _camunda_listeners(
        self, event: str, scope: Scope, node: FlowNode, instance: ElementInstance
    ) -> None:
        """Camunda 7 expression (or FEEL/JUEL script) execution listeners of ``event``, in the
        element's local scope (``scope``: its input mappings applied). What they set with
        ``execution.setVariable`` propagates from there; ``setVariableLocal`` stays in the
        element if it is a scope in Camunda 7's sense (a sub-process, or an element with
        input/output mappings), else goes to the scope around it. Their values are ignored."""
        local = scope if _camunda_scope(node) else scope.flow()
        for listener in node.listeners:
            if listener.listener == "execution" and listener.event == event:
                await self.with_incidents(
                    instance, functools.partial(self._camunda_listener, scope, local, listener)
                )

    def _interrupted_listeners(self, scope: Scope, node: FlowNode) -> None:
        """Camunda 7 also fires end listeners when a boundary event or an error interrupts the
        element; best effort there (nothing may wait for an incident): a failure is logged."""
        element = scope.child("interrupted", "local", owner_id=node.id)
        local = element if _camunda_scope(node) else scope
        for listener in node.listeners:
            if listener.listener == "execution" and listener.event == "end":
                try:
                    self._apply_camunda_listener(element, local, listener)
                except IncidentRaised as failed:
                    workflow.logger.warning("End listener of %s: %s", node.id, failed.message)

    async def _camunda_listener(self, scope: Scope, local: Scope, listener: Listener) -> None:
        self._apply_camunda_listener(scope, local, listener)

    def _apply_camunda_listener(self, scope: Scope, local: Scope, listener: Listener) -> None:
        writes = VariableWrites()
        expression = listener.expression
        try:
            evaluate(expression, scope.visible(), self._evaluation_context(writes))
        except ExpressionEvaluationError as error:
            raise IncidentRaised(
                "EXPRESSION_EVALUATION_FAILED",
                f"the {listener.event} listener {expression.source!r} failed: {error}",
            ) from None
        scope.propagate(writes.variables)
        local.variables.update(writes.local)

    def _apply_mappings(
        self, mappings: Sequence[IoMapping], variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {mapping.target: self.evaluate(mapping.source, variables) for mapping in mappings}

    def _local_scope(
        self, scope: Scope, instance: ElementInstance, inputs: Sequence[IoMapping]
    ) -> Scope:
        """The element's own scope, holding its input mappings as local variables (made
        already, inputs applied, when the element has execution listeners)."""
        if scope.kind == "local" and scope.key == instance.key:
            return scope
        local = self._apply_mappings(inputs, scope.visible())
        return scope.child(instance.key, "local", owner_id=instance.element_id, variables=local)

    def _complete_with(
        self, local: Scope, outputs: Sequence[IoMapping], result: Mapping[str, Any]
    ) -> None:
        """Zeebe's rule: with output mappings only the mapped variables propagate (from the
        flow scope); without, every result variable propagates from the element's scope (so
        one named like an input mapping stays local, as in Zeebe)."""
        if outputs:
            mapped = self._apply_mappings(outputs, {**local.visible(), **result})
            local.flow().propagate(mapped)
        else:
            local.propagate(result)

    async def _map_only(
        self,
        scope: Scope,
        node: PassThroughTask | IntermediateThrowEvent,
        instance: ElementInstance,
    ) -> None:
        """A plain task or none throw event only maps variables: its inputs are local, its
        outputs propagate (Zeebe)."""
        self._complete_with(self._local_scope(scope, instance, node.inputs), node.outputs, {})

    async def _throw_outputs(
        self, scope: Scope, node: IntermediateThrowEvent, instance: ElementInstance
    ) -> None:
        """A throw event's output mappings, once it has thrown (Zeebe): they propagate."""
        applies = node.outputs or (node.inputs and isinstance(node.result, LinkEventDefinition))
        if applies and workflow.patched(THROW_OUTPUTS_PATCH):
            await self.with_incidents(instance, lambda: self._map_only(scope, node, instance))

    async def _map_trigger(
        self, scope: Scope, node: TriggeredStartEvent, instance: ElementInstance
    ) -> None:
        """A start event with output mappings: they pick from the variables of what started
        its scope, which reach the scope only through them (Zeebe). Kept until they applied,
        so a resolved incident evaluates them again."""
        assert node.outputs
        local = self._local_scope(scope, instance, ())
        self._trigger_scopes[instance.key] = scope  # an incident's fix reaches the trigger
        self._complete_with(local, node.outputs, scope.trigger or {})
        scope.trigger = None

    # --- business rule tasks (DMN) -------------------------------------------------------------

    async def _run_decision(
        self, scope: Scope, node: BusinessRuleTask, instance: ElementInstance
    ) -> None:
        """Evaluate the latest version of the task's decision in the workflow (it is pure);
        its result is the result variable, which the output mappings see (Zeebe)."""
        local = self._local_scope(scope, instance, node.inputs)
        variables = local.visible()
        decision_id = self._evaluated_name(node.decision_id, variables, "the decision id")
        graph = await self._latest_decisions(decision_id, node.version_tag)
        try:
            result = evaluate_decision(graph, decision_id, variables, self._evaluation_context())
        except DecisionFailure as failure:
            raise IncidentRaised("DECISION_EVALUATION_ERROR", failure.message) from None
        value = _decision_value(node, decision_id, result)
        produced = {node.result_variable: value} if node.result_variable else {}
        self._complete_with(local, node.outputs, produced)

    async def _latest_decisions(self, decision_id: str, tag: str | None) -> DecisionGraph:
        """The DMN file holding the latest version of ``decision_id`` (or the one ``tag``
        names), pinned for this evaluation by a local activity (a replay reads the answer)."""
        try:
            content_hash: str = await workflow.execute_local_activity(
                RESOLVE_DECISION_ACTIVITY,
                args=[decision_id] if tag is None else [decision_id, tag],
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except (ActivityError, ApplicationError) as error:  # a local activity raises the latter
            raise IncidentRaised("CALLED_DECISION_ERROR", _failure_message(error)) from None
        graph = REGISTRY.decision_graph(content_hash)
        if graph is None:
            # Not an incident: fail this workflow task, so a worker that has the version runs it.
            raise RuntimeError(f"decisions version {content_hash[:12]} are not loaded here")
        return graph

    # --- gateways -----------------------------------------------------------------------------

    async def _choose_flow(self, scope: Scope, gateway: ExclusiveGateway) -> str:
        taken = self._true_flows(scope, gateway.outgoing, gateway.default_flow, first_only=True)
        if taken:
            return taken[0]
        if gateway.default_flow:
            return gateway.default_flow
        raise _no_flow_matches(gateway.id)

    async def _choose_flows(self, scope: Scope, gateway: InclusiveGateway) -> list[str]:
        if len(gateway.outgoing) == 1 and gateway.default_flow is None:
            return list(gateway.outgoing)
        taken = self._true_flows(scope, gateway.outgoing, gateway.default_flow, first_only=False)
        if taken:
            return taken
        if gateway.default_flow:
            return [gateway.default_flow]
        raise _no_flow_matches(gateway.id)

    def _true_flows(
        self, scope: Scope, outgoing: Sequence[str], default: str | None, *, first_only: bool
    ) -> list[str]:
        flows = scope.container.flows
        variables = scope.visible()
        taken = []
        for flow_id in outgoing:
            if flow_id == default:
                continue
            condition = flows[flow_id].condition
            if condition is None or self.evaluate(condition, variables) is True:
                taken.append(flow_id)
                if first_only:
                    break
        return taken

    def _parallel_join(self, scope: Scope, gateway: ParallelGateway, via_flow: str | None) -> bool:
        """A parallel join waits for a token on every incoming flow; the last one continues."""
        if len(gateway.incoming) <= 1:
            return True
        arrivals = _arrive(scope, gateway.id, via_flow)
        if any(arrivals.get(flow, 0) == 0 for flow in gateway.incoming):
            return False
        _consume(arrivals, gateway.incoming)
        return True

    async def _inclusive_join(
        self, scope: Scope, gateway: InclusiveGateway, via_flow: str | None
    ) -> bool:
        """The first arriving token waits until no other token of the scope can still reach
        an incoming flow that has no token yet; later arrivals merge into it."""
        if len(gateway.incoming) <= 1:
            return True
        arrivals = _arrive(scope, gateway.id, via_flow)
        waiting_key = f"waiting:{gateway.id}"
        if arrivals.get(waiting_key):
            return False
        arrivals[waiting_key] = 1

        def ready() -> bool:
            missing = [flow for flow in gateway.incoming if arrivals.get(flow, 0) == 0]
            others = [position for position in scope.positions() if position != gateway.id]
            return not any(
                can_reach(scope.container, position, scope.container.flows[flow].source)
                for flow in missing
                for position in others
            )

        await workflow.wait_condition(ready)
        del arrivals[waiting_key]
        _consume(arrivals, [flow for flow in gateway.incoming if arrivals.get(flow, 0) > 0])
        return True

    # --- errors, terminate and end events ----------------------------------------------------

    def throw_error(
        self,
        scope: Scope,
        activity_id: str | None,
        details: BpmnErrorDetails,
        thrower: str,
    ) -> NoReturn:
        """Hand the error to its catch event, or to the calling process, or raise an incident."""
        catcher = find_catcher(scope, activity_id, "error", details.code)
        if catcher is not None:
            raise ErrorThrown(catcher, details.code, details.message, details.variables)
        if self.call is not None and (
            self.call.catch_all_errors or details.code in self.call.catch_error_codes
        ):
            raise ErrorPropagatedToCaller(details)
        raise IncidentRaised(
            "UNHANDLED_ERROR_EVENT",
            f"BPMN error {details.code!r} thrown by {thrower} was not caught: {details.message}",
        )

    async def _thrown_code(
        self,
        definition: ErrorEventDefinition | EscalationEventDefinition,
        scope: Scope,
        node: IntermediateThrowEvent | ResultEndEvent,
    ) -> str:
        """The code an error or escalation throw event throws: fixed, or its expression's
        value in the event's scope (its input mappings applied, as Zeebe evaluates it)."""
        fixed = (
            definition.error_code
            if isinstance(definition, ErrorEventDefinition)
            else definition.escalation_code
        )
        if definition.code_expression is None:
            return fixed or ""
        visible = scope.visible()
        variables = {**visible, **self._apply_mappings(node.inputs, visible)}
        what = f"the {definition.kind} code {fixed!r} of {node.id!r}"
        return self._evaluated_name(definition.code_expression, variables, what)

    async def _signal_name(
        self,
        scope: Scope,
        signal: SignalEventDefinition,
        element_id: str,
        local: Mapping[str, Any] | None = None,
    ) -> str:
        """The name a signal event throws or waits for: fixed, or its expression's value (with
        a throw event's input mappings, ``local``, over the scope's variables)."""
        if signal.name_expression is None:
            return signal.name
        variables = {**scope.visible(), **(local or {})}
        what = f"the signal name {signal.name!r} of {element_id!r}"
        return self._evaluated_name(signal.name_expression, variables, what)

    def _evaluated_name(
        self, expression: Expression | None, variables: Mapping[str, Any], what: str
    ) -> str:
        """A computed code or name, which must be a non-empty string (else an incident: fix
        the variables, resolve it)."""
        value = self.evaluate(expression, variables) if expression is not None else None
        if not isinstance(value, str) or not value:
            raise IncidentRaised(
                "EXTRACT_VALUE_ERROR", f"{what} is {value!r}; it must be a non-empty string"
            )
        return value

    async def throw_escalation(self, scope: Scope, code: str) -> None:
        """Hand an escalation to its catch event, or to the calling process. An interrupting
        catch ends what runs between (raises); after a non-interrupting one the thrower goes
        on, as it does when nothing catches the escalation (Zeebe raises no incident)."""
        catcher = find_catcher(scope, None, "escalation", code)
        if catcher is not None:
            self.escalation_caught(catcher, code)
            return
        caller_interrupts = self._caller_catch(code)
        if caller_interrupts is None:
            workflow.logger.info("Escalation %r was not caught", code)
            return
        assert self.call is not None
        raised = EscalationRaised(child_workflow_id=workflow.info().workflow_id, code=code)
        parent = workflow.get_external_workflow_handle(self.call.parent_workflow_id)
        await parent.signal(ESCALATION_SIGNAL, raised.model_dump(mode="json"))
        if caller_interrupts:
            await workflow.wait_condition(lambda: False)  # the caller cancels this instance

    def _caller_catch(self, code: str) -> bool | None:
        """Whether the calling process's catch of escalation ``code`` interrupts (None: it
        does not catch it, or there is no caller)."""
        if self.call is None:
            return None
        escalations = self.call.escalations
        return escalations.get(code, escalations.get(""))

    async def broadcast_signal(
        self,
        scope: Scope,
        node: IntermediateThrowEvent | ResultEndEvent,
        signal: SignalEventDefinition,
    ) -> None:
        """Broadcast a signal to every instance waiting for it and to the processes it starts;
        its variables are the throw event's input mappings. This instance's own waits catch
        it at once, before the thrower moves on, as in Zeebe (the hub's later delivery to them
        finds their wait over and is dropped)."""
        variables = self._apply_mappings(node.inputs, scope.visible())
        signal_name = await self._signal_name(scope, signal, node.id, variables)
        publication = MessagePublication(
            name=signal_name, correlation_key="", variables=variables, broadcast=True
        )
        waiting = self.waiting
        caught = [sub for sub, name in waiting.signals.items() if name == signal_name]
        for subscription_id in caught:
            waiting.messages.setdefault(subscription_id, publication)
        await self._mailbox(signal_name, "", node.id, broadcast=publication)
        await workflow.wait_condition(lambda: not any(s in waiting.messages for s in caught))

    def escalation_caught(self, catcher: Catcher, code: str) -> None:
        if catcher.interrupting:
            raise ErrorThrown(catcher, code, "", {})
        event = catcher.event
        if isinstance(event, BoundaryEvent):
            self._occur_non_interrupting(catcher.scope, event, {})
        else:
            work = self.run_event_sub_process(catcher.scope, event, {})
            self.track(catcher.scope, work, event.id)

    def _fail(
        self,
        scope: Scope,
        element_id: str,
        error: ActivityError | ChildWorkflowError,
        incident_type: IncidentType,
        thrower: str,
        failed: str,
    ) -> NoReturn:
        """A job or called process failed: its BPMN error goes to a catch event (or the
        caller, or an unhandled-error incident); any other failure is an incident."""
        _raise_if_cancelled(error)
        details = _bpmn_error_details(error.cause)
        if details is None:
            raise IncidentRaised(
                incident_type, f"{thrower} {failed}: {_failure_message(error)}"
            ) from None
        self.throw_error(scope, element_id, details, thrower)

    def _occur_boundary(
        self, scope: Scope, boundary: BoundaryEvent, variables: Mapping[str, Any]
    ) -> list[str]:
        """A boundary event without listeners occurs: its variables are set, its flows taken."""
        instance = self.enter(scope, boundary)
        local = scope.child(instance.key, "local", owner_id=boundary.id)
        self._complete_with(local, boundary.outputs, variables)
        self.leave(instance)
        return list(boundary.outgoing)

    async def _leave_by_boundary(
        self, scope: Scope, boundary: BoundaryEvent, variables: Mapping[str, Any]
    ) -> list[str]:
        """A boundary event occurs: its variables are set, its end listeners run, its flows
        are taken."""
        if not boundary.job_listeners:
            return self._occur_boundary(scope, boundary, variables)
        instance = self.enter(scope, boundary)
        local = scope.child(instance.key, "local", owner_id=boundary.id)
        try:
            self._complete_with(local, boundary.outputs, variables)
            await self._run_listeners("end", boundary.job_listeners, instance, local, boundary)
        except (Exception, asyncio.CancelledError):
            self.leave(instance, "terminated")
            raise
        self.leave(instance)
        return list(boundary.outgoing)

    async def run_event_sub_process(
        self, scope: Scope, handler: EventSubProcess, variables: Mapping[str, Any]
    ) -> None:
        """Run an event sub-process in ``scope`` (an interrupting one after the scope's other
        tokens are gone, a non-interrupting one as one more token of the scope)."""
        instance = self.enter(scope, handler)
        child = scope.child(instance.key, "eventSubProcess", container=handler, owner_id=handler.id)
        if _maps_its_trigger(handler.nodes[handler.start_event]):
            child.trigger = dict(variables)
        else:
            child.propagate(variables)
        try:
            # Start listener variables are the event sub-process's own; end ones go outside.
            await self._run_listeners("start", handler.job_listeners, instance, child, handler)
            self.spawn(child, handler.start_event)
            await self.complete_scope(child)
            await self._run_listeners(
                "end", handler.job_listeners, instance, child, handler, outside=scope
            )
        except (Exception, asyncio.CancelledError):
            self.leave(instance, "terminated")
            raise
        self.leave(instance)
        record_completion(scope, handler, handed_up(handler.id, child))

    async def _end_with_result(self, scope: Scope, node: ResultEndEvent) -> None:
        result = node.result
        if isinstance(result, TerminateEventDefinition):
            raise ScopeTerminated(scope.flow())
        if isinstance(result, ErrorEventDefinition):
            code = await self._thrown_code(result, scope, node)
            # Its input mappings make the error's variables, which its catch event gets.
            details = BpmnErrorDetails(code=code)
            if node.inputs and workflow.patched(ERROR_VARIABLES_PATCH):
                details.variables = self._apply_mappings(node.inputs, scope.visible())
            self.throw_error(scope, None, details, f"error end event {node.id!r}")
        if isinstance(result, EscalationEventDefinition):
            await self.throw_escalation(scope, await self._thrown_code(result, scope, node))
            return
        if isinstance(result, SignalEventDefinition):
            await self.broadcast_signal(scope, node, result)
            return
        raise ApplicationError(f"end event result {result.kind!r} cannot run", non_retryable=True)

    # --- timers -------------------------------------------------------------------------------

    async def _timer_schedule(
        self, scope: Scope, timer: TimerEventDefinition, element_id: str
    ) -> TimerSchedule:
        value = timer.value
        if not isinstance(value, str):
            value = self.evaluate(value, scope.visible())
        try:
            return schedule(timer.timer, value, workflow.now())
        except TimerValueError as error:
            raise IncidentRaised(
                "EXTRACT_VALUE_ERROR", f"the timer {timer.timer} of {element_id!r}: {error}"
            ) from None

    async def _catch(
        self, scope: Scope, node: IntermediateCatchEvent | ReceiveTask, instance: ElementInstance
    ) -> None:
        """A timer or message catch event, or a receive task: wait, then map the message."""
        variables = self.waiting.pre_triggered.pop((scope.flow().key, node.id), None)
        if variables is None:
            trigger = node.message if isinstance(node, ReceiveTask) else node.trigger
            if isinstance(trigger, TimerEventDefinition):
                plan = await self.with_incidents(
                    instance, lambda: self._timer_schedule(scope, trigger, node.id)
                )
                await _sleep_until(plan.first)
                variables = {}
            elif isinstance(trigger, ConditionalEventDefinition):
                variables = await self._condition_occurs(scope, trigger)
            else:
                assert isinstance(trigger, MessageEventDefinition | SignalEventDefinition)
                variables = await self._receive(scope, trigger, instance, node.id)
        local = scope.child(instance.key, "local", owner_id=node.id)

        async def complete() -> None:
            self._complete_with(local, node.outputs, variables)

        await self.with_incidents(instance, complete)

    async def _with_boundary_timers(
        self,
        scope: Scope,
        node: FlowNode,
        instance: ElementInstance,
        element: Scope | None = None,
    ) -> list[str]:
        """Run the element while its timer and message boundary events wait: an interrupting
        one cancels it (BoundaryTriggered), a non-interrupting one starts a token each time.
        The element runs in ``element``, its local scope, when it has one of its own (start
        listeners' variables), where its boundary events' expressions are evaluated too; they
        belong to ``scope``."""
        boundaries = self._event_boundaries(scope, node.id)
        run_in = scope if element is None else element
        if not boundaries:
            return await self._behaviour(run_in, node, instance)
        # As in Zeebe, the activity starts only once every timer has a valid schedule.
        plans: list[TimerSchedule | None] = []
        carried = instance.details.setdefault("boundary_timers", {})  # across continue-as-new
        occurred = instance.details.setdefault("boundary_occurred", [])
        # A non-interrupting timer boundary whose schedule is spent waits no more.
        boundaries = [
            b
            for b in boundaries
            if not (
                isinstance(b.trigger, TimerEventDefinition)
                and b.id in occurred
                and b.id not in carried
            )
        ]
        if not boundaries:
            return await self._behaviour(run_in, node, instance)
        for boundary in boundaries:
            if boundary.id in carried:
                plans.append(TimerSchedule.from_json(carried[boundary.id]))
                continue
            schedule_of = functools.partial(self._boundary_schedule, run_in, boundary)
            plan = await self.with_incidents(instance, schedule_of)
            if plan is not None:
                carried[boundary.id] = plan.to_json()
            plans.append(plan)
        body = asyncio.create_task(self._behaviour(run_in, node, instance))
        fired: list[tuple[BoundaryEvent, dict[str, Any]]] = []
        watchers = [
            asyncio.create_task(self._watch_boundary(scope, b, plan, instance, body, fired, run_in))
            for b, plan in zip(boundaries, plans, strict=True)
        ]
        try:
            return await while_running(body, watchers)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not fired or (current is not None and current.cancelling()):
                raise
            raise BoundaryTriggered(*fired[0]) from None

    def _event_boundaries(self, scope: Scope, activity_id: str) -> list[BoundaryEvent]:
        if scope.kind in ("multiInstanceBody", "local"):
            return []  # the inner activity of a loop: its boundary events belong to the loop
        return [
            boundary
            for boundary in boundaries_of(scope.container, activity_id)
            if isinstance(
                boundary.trigger,
                TimerEventDefinition
                | MessageEventDefinition
                | SignalEventDefinition
                | ConditionalEventDefinition,
            )
        ]

    async def _boundary_schedule(
        self, scope: Scope, boundary: BoundaryEvent
    ) -> TimerSchedule | None:
        timer = boundary.trigger
        if not isinstance(timer, TimerEventDefinition):
            return None
        return await self._timer_schedule(scope, timer, boundary.id)

    async def _watch_boundary(
        self,
        scope: Scope,
        boundary: BoundaryEvent,
        plan: TimerSchedule | None,
        instance: ElementInstance,
        body: asyncio.Task[list[str]],
        fired: list[tuple[BoundaryEvent, dict[str, Any]]],
        evaluate_in: Scope,
    ) -> None:
        """Wait for ``boundary`` to occur, as often as it may. Its condition and correlation
        key are evaluated in ``evaluate_in`` (the activity's local scope, with its start
        listeners' variables); it occurs in ``scope``."""
        occurred: list[str] = instance.details["boundary_occurred"]
        occurrences = 1 if boundary.id in occurred else 0  # before continuing as new
        while True:
            variables: dict[str, Any] = {}
            if plan is not None:
                await _sleep_until(plan.first)
                plan = plan.following()
                timers = instance.details["boundary_timers"]
                if plan is None:
                    timers.pop(boundary.id, None)
                else:
                    timers[boundary.id] = plan.to_json()
            elif isinstance(boundary.trigger, ConditionalEventDefinition):
                await self._condition_occurs(evaluate_in, boundary.trigger, again=occurrences > 0)
                occurrences += 1
            else:
                assert isinstance(boundary.trigger, MessageEventDefinition | SignalEventDefinition)
                occurrences += 1
                subscription = f"{instance.key}/{boundary.id}/{occurrences}"
                variables = await self._receive(
                    evaluate_in, boundary.trigger, instance, boundary.id, subscription
                )
            if body.done():
                return
            if boundary.cancel_activity:
                fired.append((boundary, variables))
                body.cancel()
                return
            if _remembered(boundary.trigger) and boundary.id not in occurred:
                occurred.append(boundary.id)
            self._occur_non_interrupting(scope, boundary, variables)
            if plan is None and isinstance(boundary.trigger, TimerEventDefinition):
                return

    def _occur_non_interrupting(
        self, scope: Scope, boundary: BoundaryEvent, variables: Mapping[str, Any]
    ) -> None:
        """A non-interrupting boundary event occurs: new tokens leave it (after its end
        listeners, one token of the scope meanwhile), the activity stays."""

        def leave(flows: list[str]) -> None:
            for flow_id in flows:
                self.spawn(scope, scope.container.flows[flow_id].target, flow_id)

        async def listened() -> None:
            leave(await self._leave_by_boundary(scope, boundary, variables))

        if boundary.job_listeners:
            self.track(scope, listened(), boundary.id)
        else:
            leave(self._occur_boundary(scope, boundary, variables))

    def _event_handlers(self, scope: Scope) -> tuple[EventSubProcess, ...]:
        if not scope.holds_event_sub_processes:
            return ()
        return event_sub_processes(scope.container)

    async def _watch_event_sub_process(self, scope: Scope, handler: EventSubProcess) -> None:
        """A timer or message event sub-process: an interrupting one ends the scope's other
        tokens and runs; a non-interrupting one runs next to them, once per occurrence."""
        start = handler.nodes[handler.start_event]
        assert isinstance(start, TriggeredStartEvent)
        placeholder = ElementInstance(
            key=self.new_key(),
            element_id=handler.id,
            element_type="eventSubProcess",
            started_at=workflow.now(),
        )
        trigger = start.trigger
        # What occurred before continuing as new: a spent schedule stays spent, a condition
        # that held must turn false first.
        occurred = handler.id in scope.occurred
        occurrences = 1 if occurred else 0
        remaining = scope.timer_progress.get(handler.id)  # set when continued as new
        if isinstance(trigger, TimerEventDefinition) and remaining is None and not occurred:
            remaining = await self.with_incidents(
                placeholder, lambda: self._timer_schedule(scope, trigger, handler.id)
            )
        while True:
            variables: dict[str, Any] = {}
            if isinstance(trigger, MessageEventDefinition | SignalEventDefinition):
                occurrences += 1
                subscription = f"{placeholder.key}/{handler.id}/{occurrences}"
                variables = await self._receive(
                    scope, trigger, placeholder, handler.id, subscription
                )
            elif isinstance(trigger, ConditionalEventDefinition):
                await self._condition_occurs(scope, trigger, again=occurrences > 0)
                occurrences += 1
            elif remaining is not None:
                scope.timer_progress[handler.id] = remaining
                await _sleep_until(remaining.first)
                remaining = remaining.following()
                if remaining is None:
                    del scope.timer_progress[handler.id]
            else:
                return
            if start.interrupting:
                if scope.failure is None:
                    scope.failure = EventSubProcessTriggered(scope, handler, variables)
                return
            if _remembered(trigger):
                scope.occurred.add(handler.id)
            work = self.run_event_sub_process(scope, handler, variables)
            self.track(scope, work, handler.id)

    # --- conditions ---------------------------------------------------------------------------

    async def _condition_occurs(
        self, scope: Scope, event: ConditionalEventDefinition, *, again: bool = False
    ) -> dict[str, Any]:
        """Wait until the condition holds, re-evaluated whenever anything changed (Temporal
        re-checks wait conditions after every activation: job results, updates, signals). A
        catch that repeats (non-interrupting) waits for the condition to turn false first, so
        one change triggers it once."""
        if again:
            await workflow.wait_condition(lambda: not self._condition_holds(scope, event))
        await workflow.wait_condition(lambda: self._condition_holds(scope, event))
        return {}

    def _condition_holds(self, scope: Scope, event: ConditionalEventDefinition) -> bool:
        """The condition on the variables the catch event sees; one that cannot be evaluated
        (a variable not set yet) does not hold."""
        try:
            value = evaluate(event.condition, scope.visible(), self._evaluation_context())
        except ExpressionEvaluationError:
            return False
        return value is True

    # --- messages -----------------------------------------------------------------------------

    async def _message_address(
        self, scope: Scope, message: MessageEventDefinition, element_id: str
    ) -> tuple[str, str]:
        variables = scope.visible()
        name = self._evaluated_name(message.name, variables, f"the message name of {element_id!r}")
        if message.correlation_key is None and workflow.patched(KEYLESS_MESSAGES_PATCH):
            # No zeebe:subscription (a Camunda 7 model): Camunda 7 correlates by the business
            # key (processInstanceBusinessKey), else by the instance (processInstanceId).
            return name, self.business_key() or workflow.info().workflow_id
        key = (
            self.evaluate(message.correlation_key, variables)
            if message.correlation_key is not None
            else None
        )
        if key is None or isinstance(key, dict | list) or str(key) == "":
            raise IncidentRaised(
                "EXTRACT_VALUE_ERROR",
                f"the correlation key of message {name!r} at {element_id!r} is {key!r}; it must "
                "be a string or number (set the variable, then resolve the incident)",
            )
        return name, str(key)

    async def _receive(
        self,
        scope: Scope,
        event: MessageEventDefinition | SignalEventDefinition,
        instance: ElementInstance,
        element_id: str,
        subscription_id: str | None = None,
    ) -> dict[str, Any]:
        """Subscribe at the mailbox of the message (or the hub of the signal) and wait until
        it delivers; its variables."""
        if isinstance(event, SignalEventDefinition):
            key, signal = "", True
            name = await self.with_incidents(
                instance, lambda: self._signal_name(scope, event, element_id)
            )
        else:
            name, key = await self.with_incidents(
                instance, lambda: self._message_address(scope, event, element_id)
            )
            signal = False
        subscription_id = subscription_id or instance.key
        waiting = self.waiting
        waiting.subscribed[subscription_id] = (name, key)
        if signal:
            waiting.signals[subscription_id] = name
        try:
            await self._mailbox(name, key, subscription_id, signal=signal)
            await workflow.wait_condition(lambda: subscription_id in waiting.messages)
        except asyncio.CancelledError:
            # The wait ended otherwise (a boundary event, a gateway's other event): stop
            # waiting, and give back a message that arrived meanwhile (a signal is not kept).
            del waiting.subscribed[subscription_id]
            waiting.signals.pop(subscription_id, None)
            late = waiting.messages.pop(subscription_id, None)
            if late is not None and not late.broadcast:
                self._detach(self._mailbox(name, key, subscription_id, returned=late))
            elif late is None:
                self._detach(
                    self._mailbox(name, key, subscription_id, signal=signal, unsubscribe=True)
                )
            raise
        del waiting.subscribed[subscription_id]
        waiting.signals.pop(subscription_id, None)
        return dict(waiting.messages.pop(subscription_id).variables)

    def message_received(self, correlated: CorrelatedMessage) -> None:
        """A mailbox delivered a message. If its wait is over, it goes back to the mailbox."""
        if correlated.subscription_id in self.waiting.subscribed:
            self.waiting.messages[correlated.subscription_id] = correlated.message
            return
        message = correlated.message
        if message.broadcast:
            return  # a signal for a wait that ended: signals are not kept
        self._detach(
            self._mailbox(
                message.name, message.correlation_key, correlated.subscription_id, returned=message
            )
        )

    async def _mailbox(
        self,
        name: str,
        key: str,
        subscription_id: str,
        *,
        signal: bool = False,
        unsubscribe: bool = False,
        returned: MessagePublication | None = None,
        broadcast: MessagePublication | None = None,
    ) -> None:
        info = workflow.info()
        request = SubscribeRequest(
            name=name,
            correlation_key=key,
            subscription=MessageSubscription(
                workflow_id=info.workflow_id, subscription_id=subscription_id
            ),
            task_queue=info.task_queue,
            signal=signal,
            unsubscribe=unsubscribe,
            returned=returned,
            broadcast=broadcast,
        )
        await _run_built_in(
            SUBSCRIBE_MESSAGE_ACTIVITY,
            request.model_dump(mode="json"),
            "MESSAGE_CORRELATION_FAILED",
            f"could not reach the mailbox of message {name!r} ({key})",
        )

    async def _settle_detached(self) -> None:
        """Let the housekeeping still under way finish before the instance ends: an
        unsubscribe that never ran would leave a mailbox holding a dead subscription.
        Histories recorded before this ended without waiting, and replay so."""
        if not self.waiting.detached or not workflow.patched(SETTLE_DETACHED_PATCH):
            return
        while self.waiting.detached:
            await asyncio.gather(*self.waiting.detached, return_exceptions=True)

    def _detach(self, work: Awaitable[None]) -> None:
        """Fire-and-forget housekeeping (unsubscribe, return a message) that outlives a token."""
        task = asyncio.ensure_future(work)
        self.waiting.detached.add(task)
        task.add_done_callback(self.waiting.detached.discard)

    async def _run_event_gateway(self, scope: Scope, gateway: EventBasedGateway) -> list[str]:
        """The first of the gateway's events to occur wins; the others are cancelled. The
        winning catch event then completes at once with what it received."""
        flows = scope.container.flows
        waits = {
            flow_id: asyncio.create_task(
                self._await_event(scope, scope.container.nodes[flows[flow_id].target])
            )
            for flow_id in gateway.outgoing
        }
        first = asyncio.wait(list(waits.values()), return_when=asyncio.FIRST_COMPLETED)
        await while_running(first, list(waits.values()))
        winner = next(flow for flow, task in waits.items() if task.done() and not task.cancelled())
        target = flows[winner].target
        self.waiting.pre_triggered[(scope.flow().key, target)] = waits[winner].result()
        return [winner]

    async def _await_event(self, scope: Scope, node: FlowNode) -> dict[str, Any]:
        placeholder = self.enter(scope.flow(), node)
        try:
            if isinstance(node, ReceiveTask):
                trigger: object = node.message
            else:
                trigger = getattr(node, "trigger", None)
            if isinstance(trigger, TimerEventDefinition):
                plan = await self.with_incidents(
                    placeholder, lambda: self._timer_schedule(scope, trigger, node.id)
                )
                await _sleep_until(plan.first)
                return {}
            if isinstance(trigger, ConditionalEventDefinition):
                return await self._condition_occurs(scope, trigger)
            assert isinstance(trigger, MessageEventDefinition | SignalEventDefinition)
            return await self._receive(scope, trigger, placeholder, node.id)
        finally:
            self.active.pop(placeholder.key, None)

    # --- scopes: sub-process, multi-instance, loop --------------------------------------------

    async def _run_sub_process(
        self, scope: Scope, node: SubProcess, instance: ElementInstance
    ) -> Scope | None:
        if node.start_event is None:
            return None
        frame = self._resuming.pop(instance.key, None)
        # Its input mappings and start listeners' variables (in its local scope, made when it
        # has listeners) are the sub-process's own.
        own = scope.variables if scope.kind == "local" else None
        if own is None and frame is None and node.inputs:
            own = await self.with_incidents(
                instance, lambda: self.mapped_inputs(scope, node.inputs)
            )
        child = scope.flow().child(
            instance.key, "subProcess", container=node, owner_id=node.id, variables=own
        )
        start: tuple[str, str | None] = (node.start_event, None)
        if frame is not None:  # continued as new inside this sub-process
            child.variables = frame.variables
            child.join_arrivals = frame.join_arrivals
            child.timer_progress = {k: TimerSchedule.from_json(v) for k, v in frame.timers.items()}
            child.compensable = list(frame.compensable)
            child.occurred = set(frame.occurred)
            start = (
                (self._resume[0].instance.element_id, None) if self._resume else self._resumed_at
            )
        instance.details["variables"] = child.variables
        self.spawn(child, *start)
        await self.complete_scope(child)
        if node.outputs:
            await self.with_incidents(
                instance,
                lambda: self.propagate_outputs(scope.flow(), node.outputs, child.visible()),
            )
        return child

    def _hand_up(self, instance: ElementInstance, finished: Scope | None) -> None:
        """Keep what the completed sub-process's compensation records hand up, if any, until
        the element is left."""
        record = None if finished is None else handed_up(instance.element_id, finished)
        if record is not None:
            self._handed_up[instance.key] = record

    async def mapped_inputs(self, scope: Scope, inputs: Sequence[IoMapping]) -> dict[str, Any]:
        return self._apply_mappings(inputs, scope.visible())

    async def propagate_outputs(
        self, target: Scope, outputs: Sequence[IoMapping], variables: Mapping[str, Any]
    ) -> None:
        """Output mappings evaluated over ``variables``, propagated from ``target``."""
        target.propagate(self._apply_mappings(outputs, variables))

    async def run_inner(self, scope: Scope, activity: FlowNode) -> None:
        """Run the activity of a multi-instance or loop body once in ``scope``."""
        await self._execute(scope, activity, None)

    async def _run_loop(self, scope: Scope, node: LoopActivity, instance: ElementInstance) -> None:
        """BPMN's standard loop: repeat while the condition holds, at most ``maximum`` times;
        with ``test_before`` the condition is checked before each run (a while loop)."""
        loop = node.loop
        resumed = self.resumed_iteration(instance)
        counter = resumed.loop_counter or 0 if resumed is not None else 0
        while loop.maximum is None or counter < loop.maximum:
            if counter:
                self.between_iterations(
                    scope, instance, ScopeFrame(instance=instance, loop_counter=counter)
                )
            body = scope.child(
                self.new_key(),
                "multiInstanceBody",
                owner_id=node.id,
                variables={"loopCounter": counter + 1},
            )
            if loop.test_before and not await self._loop_condition(instance, loop.condition, body):
                break
            counter += 1
            await self.run_inner(body, node.activity)
            if loop.condition is None and loop.maximum is None:
                break
            if not loop.test_before and not await self._loop_condition(
                instance, loop.condition, body
            ):
                break

    async def _loop_condition(
        self, instance: ElementInstance, condition: Expression | None, body: Scope
    ) -> bool:
        if condition is None:
            return True

        async def holds() -> bool:
            return self.evaluate(condition, body.visible()) is True

        return await self.with_incidents(instance, holds)

    # --- script tasks -------------------------------------------------------------------------

    async def _run_script(self, scope: Scope, task: ScriptTask, instance: ElementInstance) -> None:
        local = self._local_scope(scope, instance, task.inputs)
        value = self.evaluate(task.script, local.visible())
        result = {task.result_variable: value} if task.result_variable else {}
        self._complete_with(local, task.outputs, result)

    # --- jobs ---------------------------------------------------------------------------------

    async def _run_job(
        self, scope: Scope, task: JobTask | UserTask, instance: ElementInstance
    ) -> None:
        local = self._local_scope(scope, instance, task.inputs)
        if task.job.type == KAFKA_JOB_TYPE and isinstance(task, JobTask):
            mapped = {mapping.target: local.variables[mapping.target] for mapping in task.inputs}
            await self._publish_job(task, instance, mapped if task.inputs else local.visible())
            return
        job = self._created_job(task.job, local, task.id)
        headers = dict(job.headers)
        if isinstance(task, UserTask):
            headers.update(self._assignment_headers(task, local))
        job_input = _job_input(job, instance, headers, _job_variables(job.headers, local))
        instance.details["job_type"] = job.type
        try:
            if isinstance(task, UserTask):
                result = await self._user_task(task, instance, job_input)
            else:
                timeout = _job_timeout(job, task.id)
                result = await self._execute_job(job, job_input, JOB_MAX_DURATION, timeout)
        except ActivityError as error:
            what = f"job {job.type!r}"
            self._fail(scope, task.id, error, "JOB_NO_RETRIES", what, "failed, no retries left")
        if result is not None and not isinstance(result, dict):
            raise IncidentRaised(
                "JOB_NO_RETRIES",
                f"job {job.type!r} returned {type(result).__name__}; expected a JSON object",
            )
        self._complete_with(local, task.outputs, result or {})

    def _created_job(self, job: JobDefinition, local: Scope, element_id: str) -> JobDefinition:
        """``job`` with its type and retries expressions evaluated, as Zeebe does when it
        creates the job; a value of the wrong kind is an incident (fix the variables, resolve)."""
        if job.type_expression is None and job.retries_expression is None:
            return job
        variables = local.visible()
        update: dict[str, Any] = {"type_expression": None, "retries_expression": None}
        if job.type_expression is not None:
            job_type = self.evaluate(job.type_expression, variables)
            if not isinstance(job_type, str) or not job_type.strip() or len(job_type) > 1000:
                raise IncidentRaised(
                    "EXTRACT_VALUE_ERROR",
                    f"the job type {job.type!r} of {element_id!r} is {job_type!r}; it must be "
                    "a non-empty string of at most 1,000 characters (a Temporal task queue)",
                )
            update["type"] = job_type
        if job.retries_expression is not None:
            retries = self.evaluate(job.retries_expression, variables)
            if not _is_whole_number(retries) or not 0 <= retries <= MAX_JOB_RETRIES:
                raise IncidentRaised(
                    "EXTRACT_VALUE_ERROR",
                    f"the job retries {job.retries_expression.source!r} of {element_id!r} are "
                    f"{retries!r}; they must be a whole number from 0 to {MAX_JOB_RETRIES:,}",
                )
            update["retries"] = int(retries)
        return job.model_copy(update=update)

    async def _execute_job(
        self,
        job: JobDefinition,
        job_input: JobInput,
        max_duration: timedelta,
        heartbeat: timedelta | None,
    ) -> Any:
        return await workflow.execute_activity(
            job.type,
            job_input.model_dump(mode="json", exclude_none=True),
            task_queue=job.task_queue or job.type,
            start_to_close_timeout=max_duration,
            heartbeat_timeout=heartbeat,
            retry_policy=RetryPolicy(
                initial_interval=job.retry_backoff or JOB_RETRY_INITIAL_INTERVAL,
                backoff_coefficient=1.0 if job.retry_backoff else 2.0,
                maximum_attempts=max(job.retries, 1),
                non_retryable_error_types=[BPMN_ERROR_TYPE],
            ),
        )

    async def _user_task(
        self, task: UserTask, instance: ElementInstance, job_input: JobInput
    ) -> dict[str, Any] | None:
        """A user task's job, raced against the ``complete_user_task`` update: whichever
        completes it first wins, the other is cancelled."""
        job = asyncio.create_task(
            self._execute_job(task.job, job_input, USER_TASK_MAX_DURATION, None)
        )
        completion = asyncio.create_task(
            workflow.wait_condition(lambda: instance.key in self.waiting.user_tasks)
        )
        try:
            await asyncio.wait([job, completion], return_when=asyncio.FIRST_COMPLETED)
        finally:
            job.cancel() if not job.done() else None
            completion.cancel() if not completion.done() else None
        if instance.key in self.waiting.user_tasks:
            await asyncio.gather(job, return_exceptions=True)
            return self.waiting.user_tasks.pop(instance.key)
        result: dict[str, Any] | None = job.result()
        return result

    def _assignment_headers(self, task: UserTask, local: Scope) -> dict[str, str]:
        headers: dict[str, str] = {}
        variables = local.visible()
        for attribute, name in ASSIGNMENT_HEADERS.items():
            expression = getattr(task, attribute)
            if expression is None:
                continue
            value = self.evaluate(expression, variables)
            if value is not None:
                headers[USER_TASK_HEADER_PREFIX + name] = _header_text(value)
        if task.form_key:
            headers[USER_TASK_HEADER_PREFIX + "formKey"] = task.form_key
        return headers

    async def _publish_job(
        self, task: JobTask, instance: ElementInstance, payload: Mapping[str, Any]
    ) -> None:
        """Zeebe's Kafka send task: job type ``kafka`` publishes its (mapped) variables to the
        ``kafka-topic`` header's topic and completes once the broker acknowledged them."""
        topic = task.job.headers.get(KAFKA_TOPIC_HEADER, "").strip()
        if not topic:
            raise IncidentRaised(
                "KAFKA_PUBLISH_FAILED",
                f"a job of type 'kafka' needs the task header {KAFKA_TOPIC_HEADER!r}",
            )
        info = workflow.info()
        request = KafkaPublishRequest(
            topic=topic,
            key=task.job.headers.get(KAFKA_KEY_HEADER),
            payload=dict(payload),
            headers={
                "processInstanceId": info.workflow_id,
                "bpmnProcessId": info.workflow_type,
                "elementId": task.id,
                # The same on every retry, so consumers can drop a re-published duplicate.
                "jobKey": f"{info.workflow_id}/{info.run_id}/{instance.key}",
                "traceId": self.trace_id,
            },
        )
        await self._publish(request)

    # --- Kafka Task ---------------------------------------------------------------------------

    async def _run_kafka_task(
        self, scope: Scope, task: KafkaTask, instance: ElementInstance
    ) -> None:
        info = workflow.info()
        correlation_id = instance.details.get("correlation_id")
        if correlation_id is None:
            # Made once per element instance, so a retried publish carries the same id.
            correlation_id = make_correlation_id(str(workflow.uuid4()), info.workflow_id)
            instance.details["correlation_id"] = correlation_id
        # Input parameters are the task's own variables: its key, payload and outputs see them.
        local = self._local_scope(scope, instance, task.inputs or ())
        if not instance.details.get("published"):
            await self._publish_request(local, task, correlation_id)
            instance.details["published"] = True
        waiting = self.waiting
        waiting.awaiting.add(correlation_id)
        try:
            await workflow.wait_condition(lambda: correlation_id in waiting.responses)
        except asyncio.CancelledError:
            # The wait ended otherwise (a boundary timer, cancellation): a response from now
            # on is late, and goes to the dead-letter topic instead of being kept.
            waiting.abandoned[correlation_id] = task.id
            if len(waiting.abandoned) > COMPLETED_TRAIL_LIMIT:
                del waiting.abandoned[next(iter(waiting.abandoned))]
            late = waiting.responses.pop(correlation_id, None)
            if late is not None:
                self._dead_letter_late(late, task.id)
            raise
        finally:
            waiting.awaiting.discard(correlation_id)
        # Consumed once mapped: after an output mapping incident, the retry maps it again.
        self._complete_with(local, task.outputs, waiting.responses[correlation_id].body)
        del waiting.responses[correlation_id]
        waiting.consumed.append(correlation_id)

    def _drop_response(self, instance: ElementInstance) -> None:
        """A Kafka Task left with its response unmapped (interrupted during an output-mapping
        incident): the response was delivered, and is not kept for anyone (nor carried across
        continue-as-new); a redelivery is a duplicate."""
        correlation_id = instance.details.get("correlation_id")
        if correlation_id in self.waiting.responses:
            del self.waiting.responses[correlation_id]
            self.waiting.consumed.append(correlation_id)

    async def _publish_request(self, scope: Scope, task: KafkaTask, correlation_id: str) -> None:
        info = workflow.info()
        variables = scope.visible()
        key = self.evaluate(task.key, variables) if task.key else None
        payload = self.evaluate(task.payload, variables) if task.payload else {}
        payload = _with_template_contract(task, payload)
        request = KafkaPublishRequest(
            topic=task.request_topic,
            key=None if key is None else str(key),
            payload=payload,
            headers={
                # Added by the engine, never taken from the model (tSM contract).
                "correlationId": correlation_id,
                "processInstanceId": info.workflow_id,
                "ownerType": str(variables.get(OWNER_TYPE_VARIABLE) or info.workflow_type),
                "ownerId": self.business_key() or info.workflow_id,
                "traceId": self.trace_id,
            },
        )
        await self._publish(request)

    async def _publish(self, request: KafkaPublishRequest) -> None:
        await _run_built_in(
            KAFKA_PUBLISH_ACTIVITY,
            request.model_dump(mode="json"),
            "KAFKA_PUBLISH_FAILED",
            f"could not publish to {request.topic!r}",
        )

    def kafka_response(self, response: KafkaResponse) -> None:
        if response.correlation_id in self.waiting.consumed:
            workflow.logger.info("Ignoring duplicate response for %s", response.correlation_id)
            return
        element_id = self.waiting.abandoned.get(response.correlation_id)
        if element_id is not None:
            self._dead_letter_late(response, element_id)
            return
        # Kept even if the task is not waiting yet: a fast consumer may answer first.
        self.waiting.responses.setdefault(response.correlation_id, response)

    def _dead_letter_late(self, response: KafkaResponse, element_id: str) -> None:
        """A response for a Kafka Task that stopped waiting goes to ``<topic>.DLT`` with the
        reason and its original headers (once: a re-delivery is then a duplicate)."""
        self.waiting.consumed.append(response.correlation_id)
        if response.topic is None:
            workflow.logger.warning("Late response %s has no topic", response.correlation_id)
            return
        reason = (
            f"late response: the Kafka Task {element_id!r} of {workflow.info().workflow_id} "
            "stopped waiting (boundary event or cancellation) before it arrived"
        )
        request = KafkaPublishRequest(
            topic=response.topic + DLT_SUFFIX,
            payload=response.body,
            headers={**response.headers, DLT_REASON_HEADER: reason},
        )
        self._detach(self._publish(request))

    # --- call activities ----------------------------------------------------------------------

    async def _run_call(self, scope: Scope, node: CallActivity, instance: ElementInstance) -> None:
        """The called process runs as a child workflow on the same task queue; its BPMN errors
        that this process catches come back as errors, other failures become incidents."""
        info = workflow.info()
        visible = scope.visible()
        process_id = str(self.evaluate(node.called_element, visible))
        local = self._local_scope(scope, instance, node.inputs)
        variables = (
            local.visible() if node.propagate_all_parent_variables else dict(local.variables)
        )
        if node.business_key is not None:
            variables[BUSINESS_KEY_VARIABLE] = self.evaluate(node.business_key, local.visible())
        codes, catch_all = catchable_codes(scope, node.id, "error")
        call = CallContext(
            parent_workflow_id=info.workflow_id,
            catch_error_codes=sorted(codes),
            catch_all_errors=catch_all,
            escalations=escalation_catches(scope, node.id),
        )
        attempt = int(instance.details.get("attempt", 0)) + 1
        instance.details["attempt"] = attempt
        child_id = f"{info.workflow_id}/{node.id}/{instance.key}"
        if attempt > 1:
            child_id += f"/{attempt}"
        instance.details["child_workflow_id"] = child_id
        child = workflow.execute_child_workflow(
            process_id,
            args=[
                variables,
                InstanceOptions(call=call, version_tag=node.version_tag).model_dump(mode="json"),
            ],
            id=child_id,
            task_queue=info.task_queue,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
        )
        try:
            result = await self._with_escalations(scope, node.id, child_id, child)
        except ChildWorkflowError as error:
            self._fail(
                scope,
                node.id,
                error,
                "CALLED_ELEMENT_FAILED",
                f"called process {process_id!r}",
                f"({child_id}) failed",
            )
        if not isinstance(result, dict):
            result = {}
        if node.outputs:
            self._complete_with(local, node.outputs, result)
        elif node.propagate_all_child_variables:
            scope.flow().propagate(result)

    async def _with_escalations(
        self, scope: Scope, call_id: str, child_id: str, child: Awaitable[Any]
    ) -> Any:
        """Await the called process while handling the escalations it raises to this call
        activity; an interrupting catch cancels it."""
        running = asyncio.ensure_future(child)
        raised = self.waiting.escalations.setdefault(child_id, [])
        try:
            while True:
                await workflow.wait_condition(lambda: running.done() or bool(raised))
                while raised:
                    code = raised.pop(0)
                    catcher = find_catcher(scope, call_id, "escalation", code)
                    if catcher is not None:
                        self.escalation_caught(catcher, code)
                if running.done():
                    return running.result()
        finally:
            del self.waiting.escalations[child_id]
            if not running.done():
                # Not awaited (no await in finally): cancelling requests the child's cancel.
                running.cancel()
                running.add_done_callback(_retrieve_outcome)

    def escalation_received(self, raised: EscalationRaised) -> None:
        pending = self.waiting.escalations.get(raised.child_workflow_id)
        if pending is None:
            workflow.logger.info("Late escalation from %s", raised.child_workflow_id)
            return
        pending.append(raised.code)


# --- helpers ------------------------------------------------------------------------------------


async def _sleep_until(due: datetime) -> None:
    delay = (due - workflow.now()).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


def _with_template_contract(task: KafkaTask, payload: Any) -> Any:
    """The payload with its template's defaults; an incident if a required field is missing
    (the consumer could not use the request, so it is not sent)."""
    if not task.payload_defaults and not task.payload_required:
        return payload
    if not isinstance(payload, dict):
        raise IncidentRaised(
            "EXTRACT_VALUE_ERROR",
            f"the payload of Kafka Task {task.id!r} is {payload!r}; its template "
            f"{task.template!r} expects a JSON object",
        )
    complete = {**task.payload_defaults, **payload}
    missing = [name for name in task.payload_required if complete.get(name) is None]
    if missing:
        raise IncidentRaised(
            "EXTRACT_VALUE_ERROR",
            f"the payload of Kafka Task {task.id!r} lacks {', '.join(map(repr, missing))}, "
            f"required by its template {task.template!r} (set the variables, then resolve)",
        )
    return complete


def _current_trace_id() -> str:
    """The OpenTelemetry trace the instance was started in (temporalio's TracingInterceptor
    carries it in the start's headers, so replay sees the same one), else a generated id."""
    if otel_trace is None:
        return workflow.uuid4().hex
    context = otel_trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else workflow.uuid4().hex


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _cancel_tokens(scope: Scope) -> None:
    tokens = list(scope.tokens)
    for token in tokens:
        token.cancel()
    await asyncio.gather(*tokens, return_exceptions=True)


def _arrive(scope: Scope, gateway_id: str, via_flow: str | None) -> dict[str, int]:
    arrivals = scope.join_arrivals.setdefault(gateway_id, {})
    if via_flow is not None:
        arrivals[via_flow] = arrivals.get(via_flow, 0) + 1
    return arrivals


def _consume(arrivals: dict[str, int], flows: Sequence[str]) -> None:
    for flow in flows:
        arrivals[flow] -= 1
        if arrivals[flow] == 0:
            del arrivals[flow]


def _is_whole_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _maps_its_trigger(start: FlowNode | None) -> bool:
    """Whether ``start`` has output mappings for the variables of what triggers it."""
    return isinstance(start, TriggeredStartEvent) and bool(start.outputs)


def _is_link(node: IntermediateCatchEvent | ReceiveTask) -> bool:
    return isinstance(node, IntermediateCatchEvent) and isinstance(
        node.trigger, LinkEventDefinition
    )


def _link_target(scope: Scope, node: FlowNode) -> str | None:
    """A link throw event continues at the link catch event of the same name in its scope."""
    if not isinstance(node, IntermediateThrowEvent) or not isinstance(
        node.result, LinkEventDefinition
    ):
        return None
    for candidate in scope.container.nodes.values():
        trigger = getattr(candidate, "trigger", None)
        if (
            candidate.kind == "intermediateCatchEvent"
            and isinstance(trigger, LinkEventDefinition)
            and trigger.name == node.result.name
        ):
            return candidate.id
    raise ApplicationError(f"no link catch event named {node.result.name!r}", non_retryable=True)


def _remembered(trigger: object) -> bool:
    """Whether a non-interrupting event's occurrences are carried across continue-as-new: a
    timer's (its cycle may be spent) and a condition's (it must turn false first). A message
    or signal subscribes anew."""
    return not isinstance(trigger, MessageEventDefinition | SignalEventDefinition)


def _no_flow_matches(gateway_id: str) -> IncidentRaised:
    return IncidentRaised(
        "CONDITION_NOT_MATCHED",
        f"no condition of gateway {gateway_id!r} is true and it has no default flow; "
        "set variables so that one matches, then resolve the incident",
    )


def _caught_variables(thrown: ErrorThrown) -> dict[str, Any]:
    """What the catch event of an error gets: the error's variables, and its code and message
    in the variables the catch event names (Camunda 7's errorCodeVariable/errorMessageVariable)."""
    variables = dict(thrown.variables)
    definition = thrown.catcher.event_definition()
    if not isinstance(definition, ErrorEventDefinition):
        return variables
    if definition.code_variable:
        variables[definition.code_variable] = thrown.code
    if definition.message_variable:
        variables[definition.message_variable] = thrown.message
    return variables


def _as_job_task(node: IntermediateThrowEvent | ResultEndEvent) -> JobTask:
    """A message throw or end event seen as the job task it behaves as."""
    assert node.job is not None
    return JobTask.model_construct(
        id=node.id,
        name=node.name,
        line=node.line,
        incoming=node.incoming,
        outgoing=node.outgoing,
        bpmn_type=node.kind,
        job=node.job,
        inputs=node.inputs,
        outputs=getattr(node, "outputs", ()),
    )


def _job_input(
    job: JobDefinition,
    instance: ElementInstance,
    headers: dict[str, str],
    variables: dict[str, Any],
    *,
    key_suffix: str = "",
    listener_event_type: Literal["start", "end"] | None = None,
) -> JobInput:
    """The job activity's input (the wire contract); its key is the same on every retry."""
    info = workflow.info()
    return JobInput(
        type=job.type,
        key=f"{info.workflow_id}/{info.run_id}/{instance.key}{key_suffix}",
        process_instance_id=info.workflow_id,
        bpmn_process_id=info.workflow_type,
        element_id=instance.element_id,
        element_instance_key=instance.key,
        headers=headers,
        variables=variables,
        retries=job.retries,
        listener_event_type=listener_event_type,
    )


def _local_inputs(node: FlowNode) -> tuple[IoMapping, ...]:
    """The input mappings that make an element's local variables (not a signal's payload)."""
    if isinstance(
        node,
        JobTask
        | UserTask
        | ScriptTask
        | CallActivity
        | PassThroughTask
        | SubProcess
        | AdHocSubProcess,
    ):
        return tuple(node.inputs)
    if isinstance(node, IntermediateThrowEvent) and not isinstance(
        node.result, SignalEventDefinition | MessageEventDefinition
    ):
        return tuple(node.inputs)  # none, escalation, link, compensation throw events
    if isinstance(node, IntermediateThrowEvent | ResultEndEvent) and node.job is not None:
        return tuple(node.inputs)
    return ()


def _job_timeout(job: JobDefinition, element_id: str) -> timedelta:
    """The ``jobTimeout`` task header, else Zeebe's default; a value that is not a positive
    duration is an incident naming it."""
    text = job.headers.get(JOB_TIMEOUT_HEADER)
    if text is None:
        return JOB_TIMEOUT
    duration = parse_duration(text.strip())
    if not isinstance(duration, timedelta) or duration <= timedelta():
        raise IncidentRaised(
            "EXTRACT_VALUE_ERROR",
            f"the {JOB_TIMEOUT_HEADER} header of {element_id!r} is {text!r}; use a positive "
            "ISO 8601 duration like 'PT10M'",
        )
    return duration


def _job_variables(headers: Mapping[str, str], local: Scope) -> dict[str, Any]:
    """All visible variables, or with a ``fetchVariables`` header only those named (plus the
    task's input mappings): keeps large unrelated variables out of the job's history events."""
    visible = local.visible()
    fetch = headers.get(FETCH_VARIABLES_HEADER)
    if fetch is None:
        return visible
    names = {name.strip() for name in fetch.split(",") if name.strip()}
    return {k: v for k, v in visible.items() if k in names or k in local.variables}


async def _run_built_in(
    name: str, payload: dict[str, Any], incident_type: IncidentType, failing: str
) -> None:
    """Run one of worker.py's built-in activities; when its retries run out, an incident."""
    try:
        await workflow.execute_activity(
            name,
            payload,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=BUILT_IN_POLICY,
        )
    except ActivityError as error:
        _raise_if_cancelled(error)
        raise IncidentRaised(incident_type, f"{failing}: {_failure_message(error)}") from None


def _raise_if_cancelled(error: ActivityError | ChildWorkflowError) -> None:
    """An activity or child cancelled because its token was cancelled: keep cancelling."""
    if is_cancelled_exception(error):
        raise asyncio.CancelledError() from error


def _bpmn_error_details(cause: BaseException | None) -> BpmnErrorDetails | None:
    """The BPMN error inside an activity or child workflow failure, if it is one."""
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type == BPMN_ERROR_TYPE:
            raw = cause.details[0] if cause.details else {}
            if not isinstance(raw, dict):
                raw = {"code": ""}
            raw.setdefault("message", cause.message)
            return BpmnErrorDetails.model_validate(raw)
        if not isinstance(cause, ActivityError | ChildWorkflowError):
            return None
        cause = cause.cause
    return None


def _header_text(value: Any) -> str:
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def _camunda_scope(node: FlowNode) -> bool:
    """Whether Camunda 7 gives the element a scope of its own (a sub-process, or an element
    with input/output mappings): ``setVariableLocal`` then stays in it."""
    return isinstance(node, SubProcess | AdHocSubProcess) or bool(
        getattr(node, "inputs", None) or getattr(node, "outputs", None)
    )


def _decision_value(node: BusinessRuleTask, decision_id: str, result: DecisionResult) -> Any:
    """The value of the result variable: Zeebe's decision output, or what Camunda 7's
    ``camunda:mapDecisionResult`` picks from the matched rules (an incident if it cannot)."""
    rules = result.rules
    form = node.result_form
    if form is None:
        return result.value
    if form == "resultList":
        return rules
    if form == "collectEntries":
        if any(len(rule) != 1 for rule in rules):
            raise _mapping_failed(decision_id, form, "a result has several outputs")
        return [next(iter(rule.values())) for rule in rules]
    if len(rules) > 1:
        raise _mapping_failed(decision_id, form, f"{len(rules)} rules matched")
    if form == "singleResult":
        return rules[0] if rules else None
    if not rules:  # singleEntry
        return None
    if len(rules[0]) != 1:
        raise _mapping_failed(decision_id, form, "the result has several outputs")
    return next(iter(rules[0].values()))


def _mapping_failed(decision_id: str, form: str, why: str) -> IncidentRaised:
    return IncidentRaised(
        "DECISION_EVALUATION_ERROR",
        f"decision {decision_id!r}: camunda:mapDecisionResult {form!r} cannot hold the "
        f"result: {why}",
    )


def _element_type(node: FlowNode) -> str:
    bpmn_type = getattr(node, "bpmn_type", None)
    if isinstance(bpmn_type, str):
        return bpmn_type
    if isinstance(node, KafkaTask):
        return "receiveTask"
    if isinstance(node, MultiInstanceActivity | LoopActivity):
        return _element_type(node.activity)
    return node.kind


def _failure_message(error: BaseException) -> str:
    cause: BaseException | None = error
    while isinstance(cause, ActivityError | ChildWorkflowError) and cause.cause is not None:
        cause = cause.cause
    return getattr(cause, "message", None) or str(cause or error)
