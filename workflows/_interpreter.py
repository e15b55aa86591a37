"""The BPMN interpreter: one dynamic Temporal workflow whose type is the BPMN process id.

It walks a ProcessDefinition with tokens. Each token is an asyncio task inside the workflow;
a fork spawns tokens, a parallel join lets the last arriving token continue. The definition is
pinned by content hash (resolved once, by a local activity, when the instance starts), so a
redeployed model never changes a running instance.

Where BPMN leaves a choice, the interpreter follows Zeebe:
- an exclusive gateway takes the first flow (in model order) whose condition is true, else its
  default flow, else it raises an incident;
- a job that exhausts its retries, a BPMN error nothing catches, or a failing expression raises
  an incident; the instance waits until an operator resolves it, then retries that step;
- without output mappings a job's result variables merge into the instance's variables; with
  output mappings only the mapped ones do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from translator import (
        BoundaryEvent,
        EndEvent,
        ErrorEventDefinition,
        ExclusiveGateway,
        FlowNode,
        JobTask,
        KafkaTask,
        Mapping,
        ParallelGateway,
        PassThroughTask,
        ProcessDefinition,
        StartEvent,
    )
    from translator.expressions import (
        EvaluationContext,
        Expression,
        ExpressionEvaluationError,
        evaluate,
    )
    from workflows._contracts import (
        BPMN_ERROR_TYPE,
        BUSINESS_KEY_VARIABLE,
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
        IncidentType,
        InstanceState,
        JobInput,
        KafkaPublishRequest,
        KafkaResponse,
        ResolveIncidentRequest,
        make_correlation_id,
    )
    from workflows._registry import REGISTRY

T = TypeVar("T")

JOB_TIMEOUT = timedelta(minutes=5)
"""Zeebe's default job timeout, as Temporal's heartbeat timeout: a worker that stops
heartbeating for this long (it crashed) loses the job to another worker. Our SDK heartbeats
while a handler runs; a worker in another SDK that does not heartbeat must finish within it."""
JOB_MAX_DURATION = timedelta(days=7)
"""Upper bound of one attempt, however long a live handler keeps heartbeating."""
JOB_RETRY_INITIAL_INTERVAL = timedelta(seconds=1)
KAFKA_PUBLISH_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)


class _ErrorCaughtError(Exception):
    """Internal: a BPMN error was thrown and an error boundary event of the activity catches it."""

    def __init__(self, boundary: BoundaryEvent, code: str, message: str, variables: dict[str, Any]):
        super().__init__(code)
        self.boundary = boundary
        self.code = code
        self.message = message
        self.variables = variables


class _IncidentRaisedError(Exception):
    """Internal: a step failed in a way an operator must look at."""

    def __init__(self, incident_type: IncidentType, message: str) -> None:
        super().__init__(message)
        self.incident_type = incident_type
        self.message = message


@workflow.defn(dynamic=True)
class BpmnInterpreter:
    """Runs any deployed BPMN process; see the module docstring for the semantics."""

    def __init__(self) -> None:
        self._definition: ProcessDefinition | None = None
        self._variables: dict[str, Any] = {}
        self._active: dict[str, ElementInstance] = {}
        self._completed: list[CompletedElement] = []
        self._incidents: dict[str, Incident] = {}
        self._responses: dict[str, KafkaResponse] = {}
        self._consumed_correlations: set[str] = set()
        self._awaiting_correlations: set[str] = set()
        self._join_arrivals: dict[str, set[str]] = {}
        self._tokens: set[asyncio.Task[None]] = set()
        self._token_failure: BaseException | None = None
        self._next_key = 0
        self._trace_id = ""
        self._done = False

    # --- the run ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> dict[str, Any]:
        self._variables = _decode_variables(args)
        self._trace_id = workflow.uuid4().hex
        self._definition = await self._pin_definition()
        if self._definition.start_event is None:
            raise ApplicationError(
                f"process {self._definition.id!r} has no none start event to start from",
                type="NoNoneStartEvent",
                non_retryable=True,
            )
        self._spawn(self._definition.start_event)
        try:
            await workflow.wait_condition(
                lambda: not self._tokens or self._token_failure is not None
            )
        except asyncio.CancelledError:
            await self._cancel_tokens()
            raise
        if self._token_failure is not None:
            raise self._token_failure
        self._done = True
        return self._variables

    async def _pin_definition(self) -> ProcessDefinition:
        process_id = workflow.info().workflow_type
        try:
            content_hash = await workflow.execute_local_activity(
                RESOLVE_DEFINITION_ACTIVITY,
                process_id,
                result_type=str,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as error:
            message = getattr(error.cause, "message", None) or str(error.cause)
            raise ApplicationError(message, type="UnknownProcess", non_retryable=True) from None
        definition = REGISTRY.get(content_hash)
        if definition is None:
            # Not a workflow failure: fail this task so a worker that has the version takes it.
            raise RuntimeError(
                f"definition {process_id} version {content_hash[:12]} is not loaded on this worker"
            )
        return definition

    # --- tokens -------------------------------------------------------------------------------

    def _spawn(self, node_id: str, via_flow: str | None = None) -> None:
        task = asyncio.create_task(self._walk(node_id, via_flow))
        self._tokens.add(task)
        task.add_done_callback(self._token_finished)

    def _token_finished(self, task: asyncio.Task[None]) -> None:
        self._tokens.discard(task)
        if not task.cancelled() and task.exception() is not None and self._token_failure is None:
            self._token_failure = task.exception()

    async def _cancel_tokens(self) -> None:
        tokens = list(self._tokens)
        for token in tokens:
            token.cancel()
        await asyncio.gather(*tokens, return_exceptions=True)

    async def _walk(self, node_id: str, via_flow: str | None) -> None:
        """Move one token until it ends; forks spawn new tokens for the other branches."""
        definition = self._require_definition()
        current: str | None = node_id
        while current is not None:
            taken = await self._execute(definition.nodes[current], via_flow)
            if not taken:
                return
            for flow_id in taken[1:]:
                self._spawn(definition.flows[flow_id].target, flow_id)
            via_flow = taken[0]
            current = definition.flows[via_flow].target

    async def _execute(self, node: FlowNode, via_flow: str | None) -> list[str]:
        """Run one element; return the outgoing flows its token(s) take."""
        if isinstance(node, ParallelGateway) and not self._join_complete(node, via_flow):
            return []
        instance = self._enter(node)
        try:
            taken = await self._with_incidents(instance, lambda: self._behaviour(node, instance))
        except _ErrorCaughtError as caught:
            self._leave(instance, state="terminated")
            return self._take_boundary(caught)
        self._leave(instance)
        return taken

    def _take_boundary(self, caught: _ErrorCaughtError) -> list[str]:
        """The error boundary event occurs: its variables are set, its flows taken."""
        boundary = caught.boundary
        instance = self._enter(boundary)
        variables = dict(caught.variables)
        error = boundary.trigger
        if isinstance(error, ErrorEventDefinition):
            if error.code_variable:
                variables[error.code_variable] = caught.code
            if error.message_variable:
                variables[error.message_variable] = caught.message
        self._merge_result(boundary.outputs, variables)
        self._leave(instance)
        return list(boundary.outgoing)

    def _error_boundary(self, activity_id: str, code: str | None) -> BoundaryEvent | None:
        """Zeebe's rule: a boundary with the same error code wins over a catch-all one."""
        catch_all = None
        for node in self._require_definition().nodes.values():
            if not isinstance(node, BoundaryEvent) or node.attached_to != activity_id:
                continue
            if not isinstance(node.trigger, ErrorEventDefinition):
                continue
            if node.trigger.error_code is None:
                catch_all = catch_all or node
            elif node.trigger.error_code == code:
                return node
        return catch_all

    async def _behaviour(self, node: FlowNode, instance: ElementInstance) -> list[str]:
        """What the element does; returns the flows to take when it completes."""
        if isinstance(node, JobTask):
            await self._run_job(node, instance)
        elif isinstance(node, KafkaTask):
            await self._run_kafka_task(node, instance)
        elif isinstance(node, ExclusiveGateway):
            return [self._choose_flow(node)]
        elif not isinstance(node, StartEvent | EndEvent | PassThroughTask | ParallelGateway):
            raise ApplicationError(f"element kind {node.kind!r} cannot run", non_retryable=True)
        return list(node.outgoing)

    def _join_complete(self, node: ParallelGateway, via_flow: str | None) -> bool:
        """A parallel join waits for a token on every incoming flow."""
        if len(node.incoming) <= 1:
            return True
        arrived = self._join_arrivals.setdefault(node.id, set())
        if via_flow is not None:
            arrived.add(via_flow)
        if not arrived.issuperset(node.incoming):
            return False
        del self._join_arrivals[node.id]
        return True

    # --- element instances and incidents ------------------------------------------------------

    def _new_key(self) -> str:
        self._next_key += 1
        return str(self._next_key)

    def _enter(self, node: FlowNode) -> ElementInstance:
        instance = ElementInstance(
            key=self._new_key(),
            element_id=node.id,
            element_type=_element_type(node),
            started_at=workflow.now(),
        )
        self._active[instance.key] = instance
        return instance

    def _leave(self, instance: ElementInstance, state: str = "completed") -> None:
        self._active.pop(instance.key, None)
        self._completed.append(
            CompletedElement(
                key=instance.key,
                element_id=instance.element_id,
                element_type=instance.element_type,
                completed_at=workflow.now(),
                state=state,
            )
        )

    async def _with_incidents(
        self, instance: ElementInstance, step: Callable[[], Awaitable[T]]
    ) -> T:
        """Run ``step``; on an incident wait for an operator to resolve it, then run it again."""
        while True:
            try:
                return await step()
            except _IncidentRaisedError as raised:
                incident = Incident(
                    key=self._new_key(),
                    type=raised.incident_type,
                    element_id=instance.element_id,
                    element_instance_key=instance.key,
                    message=raised.message,
                    created_at=workflow.now(),
                )
                self._incidents[incident.key] = incident
                workflow.logger.warning(
                    "Incident %s at %s: %s", incident.type, incident.element_id, incident.message
                )
                await self._until_resolved(incident.key)

    async def _until_resolved(self, incident_key: str) -> None:
        await workflow.wait_condition(lambda: incident_key not in self._incidents)

    # --- expressions and gateways -------------------------------------------------------------

    def _evaluate(self, expression: Expression, variables: dict[str, Any] | None = None) -> Any:
        try:
            return evaluate(
                expression,
                self._variables if variables is None else variables,
                self._evaluation_context(),
            )
        except ExpressionEvaluationError as error:
            raise _IncidentRaisedError(
                "EXPRESSION_EVALUATION_FAILED", f"failed to evaluate {expression.source!r}: {error}"
            ) from None

    def _evaluation_context(self) -> EvaluationContext:
        info = workflow.info()
        return EvaluationContext(
            execution={
                "processBusinessKey": self._business_key(),
                "processInstanceId": info.workflow_id,
                "processDefinitionId": info.workflow_type,
            },
            now=workflow.now(),
        )

    def _choose_flow(self, gateway: ExclusiveGateway) -> str:
        definition = self._require_definition()
        for flow_id in gateway.outgoing:
            flow = definition.flows[flow_id]
            if flow_id == gateway.default_flow:
                continue
            if flow.condition is None or self._evaluate(flow.condition) is True:
                return flow_id
        if gateway.default_flow:
            return gateway.default_flow
        raise _IncidentRaisedError(
            "CONDITION_NOT_MATCHED",
            f"no condition of gateway {gateway.id!r} is true and it has no default flow; "
            "set variables so that one matches, then resolve the incident",
        )

    def _apply_mappings(
        self, mappings: Sequence[Mapping], variables: dict[str, Any]
    ) -> dict[str, Any]:
        return {mapping.target: self._evaluate(mapping.source, variables) for mapping in mappings}

    def _merge_result(self, outputs: Sequence[Mapping], result: dict[str, Any]) -> None:
        """Zeebe's rule: with output mappings only mapped variables propagate."""
        if outputs:
            self._variables.update(self._apply_mappings(outputs, {**self._variables, **result}))
        else:
            self._variables.update(result)

    # --- jobs ---------------------------------------------------------------------------------

    async def _run_job(self, task: JobTask, instance: ElementInstance) -> None:
        info = workflow.info()
        job = task.job
        mapped = self._apply_mappings(task.inputs, self._variables)
        if job.type == KAFKA_JOB_TYPE:
            await self._publish_job(task, instance, mapped if task.inputs else self._variables)
            return
        variables = {**self._variables, **mapped}
        job_input = JobInput(
            type=job.type,
            key=f"{info.workflow_id}/{info.run_id}/{instance.key}",
            process_instance_id=info.workflow_id,
            bpmn_process_id=info.workflow_type,
            element_id=task.id,
            element_instance_key=instance.key,
            headers=job.headers,
            variables=variables,
            retries=job.retries,
        )
        instance.details["job_type"] = job.type
        try:
            result = await workflow.execute_activity(
                job.type,
                job_input.model_dump(mode="json"),
                task_queue=job.task_queue or job.type,
                start_to_close_timeout=JOB_MAX_DURATION,
                heartbeat_timeout=JOB_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=JOB_RETRY_INITIAL_INTERVAL,
                    maximum_attempts=max(job.retries, 1),
                    non_retryable_error_types=[BPMN_ERROR_TYPE],
                ),
            )
        except ActivityError as error:
            self._catch_bpmn_error(task, error)
            raise _job_incident(job.type, error) from None
        if result is not None and not isinstance(result, dict):
            raise _IncidentRaisedError(
                "JOB_NO_RETRIES",
                f"job {job.type!r} returned {type(result).__name__}; expected a JSON object",
            )
        self._merge_result(task.outputs, result or {})

    async def _publish_job(
        self, task: JobTask, instance: ElementInstance, payload: dict[str, Any]
    ) -> None:
        """Zeebe's Kafka send task: job type ``kafka`` publishes its (mapped) variables to the
        ``kafka-topic`` header's topic and completes once the broker acknowledged them."""
        topic = task.job.headers.get(KAFKA_TOPIC_HEADER, "").strip()
        if not topic:
            raise _IncidentRaisedError(
                "KAFKA_PUBLISH_FAILED",
                f"a job of type 'kafka' needs the task header {KAFKA_TOPIC_HEADER!r}",
            )
        info = workflow.info()
        request = KafkaPublishRequest(
            topic=topic,
            key=task.job.headers.get(KAFKA_KEY_HEADER),
            payload=payload,
            headers={
                "processInstanceId": info.workflow_id,
                "bpmnProcessId": info.workflow_type,
                "elementId": task.id,
                # The same on every retry, so consumers can drop a re-published duplicate.
                "jobKey": f"{info.workflow_id}/{info.run_id}/{instance.key}",
                "traceId": self._trace_id,
            },
        )
        await self._publish(request)

    def _catch_bpmn_error(self, task: JobTask, error: ActivityError) -> None:
        """Raise _ErrorCaughtError if ``error`` is a BPMN error a boundary event catches."""
        cause = error.cause
        if not isinstance(cause, ApplicationError) or cause.type != BPMN_ERROR_TYPE:
            return
        raw = cause.details[0] if cause.details else {}
        details = BpmnErrorDetails.model_validate(raw if isinstance(raw, dict) else {"code": ""})
        boundary = self._error_boundary(task.id, details.code)
        if boundary is not None:
            raise _ErrorCaughtError(boundary, details.code, details.message, details.variables)

    # --- Kafka Task ---------------------------------------------------------------------------

    async def _run_kafka_task(self, task: KafkaTask, instance: ElementInstance) -> None:
        info = workflow.info()
        correlation_id = instance.details.get("correlation_id")
        if correlation_id is None:
            # Made once per element instance, so a retried publish carries the same id.
            correlation_id = make_correlation_id(str(workflow.uuid4()), info.workflow_id)
            instance.details["correlation_id"] = correlation_id
        if not instance.details.get("published"):
            await self._publish_request(task, correlation_id)
            instance.details["published"] = True
        self._awaiting_correlations.add(correlation_id)
        await workflow.wait_condition(lambda: correlation_id in self._responses)
        self._awaiting_correlations.discard(correlation_id)
        self._consumed_correlations.add(correlation_id)
        response = self._responses.pop(correlation_id)
        self._merge_result(task.outputs, response.body)

    async def _publish_request(self, task: KafkaTask, correlation_id: str) -> None:
        info = workflow.info()
        key = self._evaluate(task.key) if task.key else None
        payload = self._evaluate(task.payload) if task.payload else {}
        request = KafkaPublishRequest(
            topic=task.request_topic,
            key=None if key is None else str(key),
            payload=payload,
            headers={
                # Added by the engine, never taken from the model (tSM contract).
                "correlationId": correlation_id,
                "processInstanceId": info.workflow_id,
                "ownerType": str(self._variables.get(OWNER_TYPE_VARIABLE) or info.workflow_type),
                "ownerId": self._business_key() or info.workflow_id,
                "traceId": self._trace_id,
            },
        )
        await self._publish(request)

    async def _publish(self, request: KafkaPublishRequest) -> None:
        try:
            await workflow.execute_activity(
                KAFKA_PUBLISH_ACTIVITY,
                request.model_dump(mode="json"),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=KAFKA_PUBLISH_POLICY,
            )
        except ActivityError as error:
            raise _IncidentRaisedError(
                "KAFKA_PUBLISH_FAILED",
                f"could not publish to {request.topic!r}: {_failure_message(error)}",
            ) from None

    # --- handlers: query, updates, signal -----------------------------------------------------

    @workflow.query(name=STATE_QUERY)
    def state(self) -> dict[str, Any]:
        return InstanceState(
            bpmn_process_id=workflow.info().workflow_type,
            definition_hash=self._definition.content_hash if self._definition else None,
            business_key=self._business_key(),
            status="completed" if self._done else ("active" if self._definition else "starting"),
            active=list(self._active.values()),
            completed=self._completed,
            variables=self._variables,
            incidents=list(self._incidents.values()),
            awaiting_correlations=sorted(self._awaiting_correlations),
        ).model_dump(mode="json")

    @workflow.update(name=SET_VARIABLES_UPDATE)
    def set_variables(self, variables: dict[str, Any]) -> dict[str, Any]:
        self._variables.update(variables)
        return self._variables

    @set_variables.validator
    def _validate_set_variables(self, variables: dict[str, Any]) -> None:
        if not isinstance(variables, dict):
            raise ValueError("set_variables takes a JSON object of variables")

    @workflow.update(name=RESOLVE_INCIDENT_UPDATE)
    def resolve_incident(self, request: dict[str, Any]) -> None:
        resolution = ResolveIncidentRequest.model_validate(request)
        self._variables.update(resolution.variables)
        self._incidents.pop(resolution.incident_key, None)

    @resolve_incident.validator
    def _validate_resolve_incident(self, request: dict[str, Any]) -> None:
        resolution = ResolveIncidentRequest.model_validate(request)
        if resolution.incident_key not in self._incidents:
            open_keys = ", ".join(self._incidents) or "none"
            raise ValueError(
                f"no open incident {resolution.incident_key!r}; open incidents: {open_keys}"
            )

    @workflow.signal(name=KAFKA_RESPONSE_SIGNAL)
    def kafka_response(self, payload: dict[str, Any]) -> None:
        response = KafkaResponse.model_validate(payload)
        if response.correlation_id in self._consumed_correlations:
            workflow.logger.info("Ignoring duplicate response for %s", response.correlation_id)
            return
        # Kept even if the task is not waiting yet: a fast consumer may answer first.
        self._responses.setdefault(response.correlation_id, response)

    # --- helpers ------------------------------------------------------------------------------

    def _require_definition(self) -> ProcessDefinition:
        if self._definition is None:
            raise RuntimeError("definition not pinned yet")
        return self._definition

    def _business_key(self) -> str | None:
        value = self._variables.get(BUSINESS_KEY_VARIABLE)
        return None if value is None else str(value)


def _decode_variables(args: Sequence[RawValue]) -> dict[str, Any]:
    if not args:
        return {}
    value = workflow.payload_converter().from_payload(args[0].payload)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApplicationError(
            f"the input must be one JSON object of variables, got {type(value).__name__}",
            type="InvalidInput",
            non_retryable=True,
        )
    return value


def _element_type(node: FlowNode) -> str:
    bpmn_type = getattr(node, "bpmn_type", None)
    if isinstance(bpmn_type, str):
        return bpmn_type
    if isinstance(node, KafkaTask):
        return "receiveTask"
    return node.kind


def _failure_message(error: ActivityError) -> str:
    cause = error.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return getattr(cause, "message", None) or str(cause or error)


def _job_incident(job_type: str, error: ActivityError) -> _IncidentRaisedError:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == BPMN_ERROR_TYPE:
        details = cause.details[0] if cause.details else {}
        code = details.get("code") if isinstance(details, dict) else None
        return _IncidentRaisedError(
            "UNHANDLED_ERROR_EVENT",
            f"BPMN error {code!r} thrown by job {job_type!r} was not caught: {cause.message}",
        )
    return _IncidentRaisedError(
        "JOB_NO_RETRIES", f"job {job_type!r} failed, no retries left: {_failure_message(error)}"
    )
