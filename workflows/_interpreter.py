"""The BPMN interpreter: one dynamic Temporal workflow whose type is the BPMN process id.

The workflow pins the definition by content hash (given by the starter, or else resolved once
by a local activity when the instance starts; carried over by continue-as-new), so a redeployed
model never changes a running instance. It hands the run to ``Engine`` (see ``_engine`` for
the BPMN semantics) and exposes the instance to operators: the ``state`` query, updates to set
variables, resolve an incident, complete a user task and cancel, and the Kafka response signal.
The memo (and the search attributes, when the namespace has them) name the BPMN process id,
the definition hash and the business key.

Inputs: the first argument is the variables (one JSON object); an optional second one carries
``InstanceOptions`` (a call activity's context, the version pinned by the starter, or the state
continued from a previous run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from translator import ProcessDefinition, UserTask, iter_nodes
    from workflows._ad_hoc import activate, not_activatable
    from workflows._contracts import (
        ACTIVATE_AD_HOC_ELEMENTS_UPDATE,
        CANCEL_INSTANCE_ACTIVITY,
        CANCEL_UPDATE,
        COMPLETE_USER_TASK_UPDATE,
        ESCALATION_SIGNAL,
        KAFKA_RESPONSE_SIGNAL,
        MESSAGE_SIGNAL,
        RESOLVE_DEFINITION_ACTIVITY,
        RESOLVE_INCIDENT_UPDATE,
        SET_VARIABLES_UPDATE,
        STATE_QUERY,
        ActivateAdHocElementsRequest,
        CancelRequest,
        CompleteUserTaskRequest,
        CorrelatedMessage,
        DefinitionPin,
        ElementInstance,
        EscalationRaised,
        InstanceOptions,
        InstanceState,
        KafkaResponse,
        ResolveIncidentRequest,
        instance_memo,
        instance_search_attributes,
    )
    from workflows._engine import Engine
    from workflows._registry import REGISTRY


@workflow.defn(dynamic=True)
class BpmnInterpreter:
    """Runs any deployed BPMN process; see ``_engine`` for the semantics."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._status = "starting"
        self._cancel_reason: str | None = None
        self._main: asyncio.Task[dict[str, Any]] | None = None
        self._cancel_request: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> dict[str, Any]:
        variables = _decode_variables(args)
        options = _decode_options(args)
        if options.continuation is not None:
            pin = options.continuation.definition
        elif options.definition is not None:
            pin = options.definition
        else:
            pin = await self._resolve_pin(options.version_tag)
        engine = Engine(_definition_of(pin), pin, variables, options)
        self._engine = engine
        self._status = "active"
        if options.continuation is None and options.definition is None and not pin.legacy:
            _publish_metadata(engine)
        self._main = asyncio.create_task(engine.run())
        try:
            result = await self._main
        except asyncio.CancelledError:
            self._status = "canceled"
            raise
        if engine.continue_at is not None:
            workflow.continue_as_new(
                args=[
                    engine.root.variables,
                    InstanceOptions(continuation=engine.continuation()).model_dump(mode="json"),
                ]
            )
        self._status = "completed"
        return result

    async def _resolve_pin(self, version_tag: str | None) -> DefinitionPin:
        process_id = workflow.info().workflow_type
        try:
            resolved = await workflow.execute_local_activity(
                RESOLVE_DEFINITION_ACTIVITY,
                # One argument unless tagged: what every recorded history asked.
                args=[process_id] if version_tag is None else [process_id, version_tag],
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as error:
            message = getattr(error.cause, "message", None) or str(error.cause)
            raise ApplicationError(message, type="UnknownProcess", non_retryable=True) from None
        if isinstance(resolved, str):
            # Recorded before DefinitionPin existed: such instances never had the memo, and
            # replay must not add it (the recorded result decides, so no patch is needed).
            return DefinitionPin(content_hash=resolved, legacy=True)
        return DefinitionPin.model_validate(resolved)

    # --- handlers -----------------------------------------------------------------------------

    @workflow.query(name=STATE_QUERY)
    def state(self) -> dict[str, Any]:
        engine = self._engine
        return InstanceState(
            bpmn_process_id=workflow.info().workflow_type,
            definition_hash=engine.definition.content_hash if engine else None,
            business_key=engine.business_key() if engine else None,
            status=self._status,
            active=list(engine.active.values()) if engine else [],
            completed=list(engine.completed) if engine else [],
            completed_count=engine.completed_count if engine else 0,
            variables=engine.root.variables if engine else {},
            incidents=list(engine.incidents.values()) if engine else [],
            awaiting_correlations=sorted(engine.waiting.awaiting) if engine else [],
        ).model_dump(mode="json")

    @workflow.update(name=SET_VARIABLES_UPDATE)
    def set_variables(self, variables: dict[str, Any]) -> dict[str, Any]:
        engine = self._require_engine()
        engine.root.variables.update(variables)
        return engine.root.variables

    @set_variables.validator
    def _validate_set_variables(self, variables: dict[str, Any]) -> None:
        self._require_engine()
        if not isinstance(variables, dict):
            raise ValueError("set_variables takes a JSON object of variables")

    @workflow.update(name=RESOLVE_INCIDENT_UPDATE)
    def resolve_incident(self, request: dict[str, Any]) -> None:
        engine = self._require_engine()
        resolution = ResolveIncidentRequest.model_validate(request)
        engine.resolve_incident(resolution.incident_key, resolution.variables)

    @resolve_incident.validator
    def _validate_resolve_incident(self, request: dict[str, Any]) -> None:
        engine = self._require_engine()
        resolution = _parse(ResolveIncidentRequest, request, RESOLVE_INCIDENT_UPDATE)
        if resolution.incident_key not in engine.incidents:
            open_keys = ", ".join(engine.incidents) or "none"
            raise ValueError(
                f"no open incident {resolution.incident_key!r}; open incidents: {open_keys}"
            )

    @workflow.update(name=COMPLETE_USER_TASK_UPDATE)
    def complete_user_task(self, request: dict[str, Any]) -> str:
        engine = self._require_engine()
        completion = CompleteUserTaskRequest.model_validate(request)
        key = self._user_task_key(completion)
        engine.waiting.user_tasks[key] = completion.variables
        return key

    @complete_user_task.validator
    def _validate_complete_user_task(self, request: dict[str, Any]) -> None:
        self._require_engine()
        self._user_task_key(_parse(CompleteUserTaskRequest, request, COMPLETE_USER_TASK_UPDATE))

    def _user_task_key(self, request: CompleteUserTaskRequest) -> str:
        """The key of the active user task the request names, or a ValueError saying why not."""
        engine = self._require_engine()
        user_tasks = {
            key: instance
            for key, instance in engine.active.items()
            if instance.element_id in _user_task_ids(engine.definition)
            and key not in engine.waiting.user_tasks
            and "listener" not in instance.details  # its start or end listeners run
        }
        key, element_id = request.element_instance_key, request.element_id
        return _named(user_tasks, key, element_id, ("user task", "user tasks"))

    @workflow.update(name=ACTIVATE_AD_HOC_ELEMENTS_UPDATE)
    def activate_ad_hoc_elements(self, request: dict[str, Any]) -> str:
        """Activate elements of an active ad-hoc sub-process (each in a path of its own, with
        its variables local to it); returns the sub-process's instance key."""
        engine = self._require_engine()
        activation = ActivateAdHocElementsRequest.model_validate(request)
        key = self._ad_hoc_key(activation)
        for element in activation.elements:
            activate(engine, engine.open_ad_hocs[key], element.element_id, element.variables)
        return key

    @activate_ad_hoc_elements.validator
    def _validate_activate_ad_hoc_elements(self, request: dict[str, Any]) -> None:
        engine = self._require_engine()
        activation = _parse(ActivateAdHocElementsRequest, request, ACTIVATE_AD_HOC_ELEMENTS_UPDATE)
        node = engine.open_ad_hocs[self._ad_hoc_key(activation)].node
        why = not_activatable(node, [element.element_id for element in activation.elements])
        if why is not None:
            raise ValueError(why)

    def _ad_hoc_key(self, request: ActivateAdHocElementsRequest) -> str:
        engine = self._require_engine()
        open_ad_hocs = {
            key: engine.active[key]
            for key, ad_hoc in engine.open_ad_hocs.items()
            if ad_hoc.accepts_activations
        }
        what = ("ad-hoc sub-process", "ad-hoc sub-processes")
        return _named(open_ad_hocs, request.element_instance_key, request.element_id, what)

    @workflow.update(name=CANCEL_UPDATE)
    def cancel(self, request: dict[str, Any]) -> None:
        """Cancel the instance: running jobs and called processes are cancelled, the
        workflow ends as canceled (like ``temporal workflow cancel``, with a reason).

        The instance asks Temporal to cancel itself, so the outcome is the same as an
        operator's cancel; the update returns once that request is recorded."""
        self._cancel_reason = CancelRequest.model_validate(request).reason
        workflow.logger.info("Canceling the instance: %s", self._cancel_reason)
        self._cancel_request = asyncio.create_task(_request_own_cancellation())

    @cancel.validator
    def _validate_cancel(self, request: dict[str, Any]) -> None:
        _parse(CancelRequest, request, CANCEL_UPDATE)
        if self._status in ("completed", "canceled"):
            raise ValueError(f"the instance is already {self._status}")

    @workflow.signal(name=MESSAGE_SIGNAL)
    def message(self, payload: dict[str, Any]) -> None:
        correlated = CorrelatedMessage.model_validate(payload)
        if self._engine is None:  # cannot happen: subscriptions are made by the engine
            workflow.logger.warning("Message for %s before the start", correlated.subscription_id)
            return
        self._engine.message_received(correlated)

    @workflow.signal(name=ESCALATION_SIGNAL)
    def escalation(self, payload: dict[str, Any]) -> None:
        if self._engine is not None:
            self._engine.escalation_received(EscalationRaised.model_validate(payload))

    @workflow.signal(name=KAFKA_RESPONSE_SIGNAL)
    def kafka_response(self, payload: dict[str, Any]) -> None:
        response = KafkaResponse.model_validate(payload)
        if self._engine is None:
            workflow.logger.warning("Response %s before the start", response.correlation_id)
            return
        self._engine.kafka_response(response)

    def _require_engine(self) -> Engine:
        if self._engine is None:
            raise ValueError("the instance is still starting; try again")
        return self._engine


def _definition_of(pin: DefinitionPin) -> ProcessDefinition:
    process_id = workflow.info().workflow_type
    definition = REGISTRY.get(pin.content_hash)
    if definition is None:
        # Not a workflow failure: fail this task so a worker that has the version takes it.
        raise RuntimeError(
            f"definition {process_id} version {pin.content_hash[:12]} is not loaded on this worker"
        )
    if definition.id != process_id:
        raise ApplicationError(
            f"version {pin.content_hash[:12]} is process {definition.id!r}, not {process_id!r}: "
            "start the instance with the workflow type of the process it pins",
            type="WrongDefinition",
            non_retryable=True,
        )
    return definition


def _publish_metadata(engine: Engine) -> None:
    """Memo always; search attributes when the worker found them registered."""
    process_id = workflow.info().workflow_type
    identity = (process_id, engine.definition.content_hash, engine.business_key())
    workflow.upsert_memo(instance_memo(*identity))
    if engine.pin.search_attributes:
        workflow.upsert_search_attributes(
            [
                SearchAttributeKey.for_keyword(name).value_set(value)
                for name, value in instance_search_attributes(*identity)
            ]
        )


def _named(
    candidates: dict[str, ElementInstance],
    key: str | None,
    element_id: str | None,
    what: tuple[str, str],
) -> str:
    """The key of the candidate named by ``key``, else by ``element_id`` (when it names just
    one), or a ValueError listing the candidates. ``what``: their name, singular and plural."""
    one, many = what
    listing = ", ".join(f"{i.element_id} (key {k})" for k, i in candidates.items()) or "none"
    if key is not None:
        if key not in candidates:
            raise ValueError(f"no active {one} with key {key!r}; active {many}: {listing}")
        return key
    matches = [k for k, i in candidates.items() if i.element_id == element_id]
    if len(matches) != 1:
        raise ValueError(
            f"{'no' if not matches else 'more than one'} active {one} {element_id!r}; name it "
            f"by element_instance_key. Active {many}: {listing}"
        )
    return matches[0]


def _user_task_ids(definition: ProcessDefinition) -> set[str]:
    return {node.id for node in iter_nodes(definition) if isinstance(node, UserTask)}


def _parse(model: Any, request: Any, update: str) -> Any:
    try:
        return model.model_validate(request)
    except ValidationError as error:
        raise ValueError(f"invalid {update} request: {error}") from None


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


def _decode_options(args: Sequence[RawValue]) -> InstanceOptions:
    if len(args) < 2:
        return InstanceOptions()
    value = workflow.payload_converter().from_payload(args[1].payload)
    try:
        return InstanceOptions.model_validate(value or {})
    except ValidationError as error:
        raise ApplicationError(
            f"the second input must be instance options: {error}",
            type="InvalidInput",
            non_retryable=True,
        ) from None


async def _request_own_cancellation() -> None:
    """Ask Temporal to cancel this instance, as an operator's cancel would."""
    await workflow.execute_local_activity(
        CANCEL_INSTANCE_ACTIVITY,
        workflow.info().workflow_id,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
    )
