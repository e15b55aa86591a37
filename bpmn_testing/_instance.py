"""A process instance started by a test, with assertions that read like BPMN.

Every assertion polls the instance's ``state`` query until it holds or the timeout passes (real
time: the clock of the test server moves only when the test skips it). A failure names what
was expected and shows the instance: status, the path it took, where it waits, incidents and
variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from bpmn_testing._errors import ProcessAssertionError
from bpmn_testing._kafka import FakeKafka, KafkaRecord
from bpmn_testing._report import describe_state, render_json
from workflows import (
    ACTIVATE_AD_HOC_ELEMENTS_UPDATE,
    CANCEL_UPDATE,
    COMPLETE_USER_TASK_UPDATE,
    RESOLVE_INCIDENT_UPDATE,
    SET_VARIABLES_UPDATE,
    STATE_QUERY,
    Incident,
    InstanceState,
)

POLL_INTERVAL = 0.02
FINAL_STATUSES = frozenset({"completed", "canceled"})


class ProcessInstance:
    """One instance of a BPMN process (a workflow), as a test sees it."""

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        process_id: str,
        *,
        kafka: FakeKafka,
        timeout: float,
    ) -> None:
        self.handle = handle
        self.process_id = process_id
        self.timeout = timeout
        """Seconds (real time) an assertion waits for its condition by default."""
        self._kafka = kafka
        self._expected_waiting: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The workflow id (the ``process_instance_id`` of its jobs)."""
        return self.handle.id

    def __repr__(self) -> str:
        return f"ProcessInstance({self.process_id!r}, id={self.id!r})"

    # --- reading --------------------------------------------------------------------------

    async def state(self) -> InstanceState:
        """The ``state`` query's answer, parsed."""
        return InstanceState.model_validate(await self.handle.query(STATE_QUERY))

    async def variables(self) -> dict[str, Any]:
        """The process variables now."""
        return (await self.state()).variables

    # --- assertions -----------------------------------------------------------------------

    async def assert_passed(self, *element_ids: str, timeout: float | None = None) -> InstanceState:
        """The instance completed these elements in this order (others may lie between)."""
        __tracebackhide__ = True
        wanted = " -> ".join(element_ids)
        return await self._until(
            lambda state: _in_order(element_ids, [e.element_id for e in state.completed]),
            f"did not pass {wanted} in this order",
            timeout,
            stop_when_final=True,
        )

    async def assert_not_passed(self, *element_ids: str) -> InstanceState:
        """None of these elements completed (checked once, now)."""
        __tracebackhide__ = True
        state = await self._observe_or_fail("could not be read")
        passed = [e.element_id for e in state.completed if e.element_id in element_ids]
        if passed:
            raise ProcessAssertionError(
                self._message(state, f"passed {', '.join(dict.fromkeys(passed))}, unexpectedly")
            )
        return state

    async def assert_waiting_at(
        self, *element_ids: str, timeout: float | None = None
    ) -> InstanceState:
        """The instance is waiting at every one of these elements (they are active)."""
        __tracebackhide__ = True
        state = await self._until(
            lambda state: set(element_ids) <= {a.element_id for a in state.active},
            f"is not waiting at {', '.join(element_ids)}",
            timeout,
            stop_when_final=True,
        )
        self._expected_waiting = element_ids
        return state

    async def assert_incident(
        self,
        element_id: str,
        message: str | None = None,
        *,
        type: str | None = None,
        timeout: float | None = None,
    ) -> Incident:
        """The instance has an open incident at ``element_id`` whose message contains
        ``message`` (and whose type is ``type``, e.g. ``JOB_NO_RETRIES``)."""
        __tracebackhide__ = True

        def matching(state: InstanceState) -> list[Incident]:
            return [
                incident
                for incident in state.incidents
                if incident.element_id == element_id
                and (message is None or message in incident.message)
                and (type is None or incident.type == type)
            ]

        expected = f"has no incident at {element_id}"
        if type is not None:
            expected += f" of type {type}"
        if message is not None:
            expected += f" with a message containing {message!r}"
        state = await self._until(
            lambda state: bool(matching(state)), expected, timeout, stop_when_final=True
        )
        self._expected_waiting = (element_id,)
        return matching(state)[0]

    async def assert_completed(
        self, variables: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """The instance completed (reached its end) with variables including ``variables``;
        returns all its final variables."""
        __tracebackhide__ = True
        expected = "did not complete"
        if variables:
            expected += f" with variables including {render_json(variables)}"
        state = await self._until(
            lambda state: state.status == "completed" and _includes(state.variables, variables),
            expected,
            timeout,
            stop_when_final=True,
        )
        return state.variables

    async def assert_variables(
        self, variables: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """The process variables include ``variables`` (now, or within the timeout)."""
        __tracebackhide__ = True
        state = await self._until(
            lambda state: _includes(state.variables, variables),
            f"has no variables including {render_json(variables)}",
            timeout,
            stop_when_final=True,
        )
        return state.variables

    # --- Kafka Tasks ----------------------------------------------------------------------

    async def kafka_request(
        self, element_id: str | None = None, *, timeout: float | None = None
    ) -> KafkaRecord:
        """The request of the Kafka Task this instance waits at (``element_id``, if given),
        once it is published and the instance waits for its response."""
        __tracebackhide__ = True
        found: list[KafkaRecord] = []

        def waiting_request(state: InstanceState) -> bool:
            found[:] = self._awaited_requests(state, element_id)
            return bool(found)

        where = f" at {element_id}" if element_id else ""
        await self._until(
            waiting_request,
            f"is not waiting for a Kafka response{where}",
            timeout,
            stop_when_final=True,
            extra=self._published_lines,
        )
        return found[-1]

    async def respond_kafka(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        element_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> KafkaRecord:
        """Answer the Kafka Task this instance waits at with a response whose JSON body is
        ``body`` (it becomes process variables), as the correlation bridge would: the same
        signal, the same payload. Returns the request it answered."""
        __tracebackhide__ = True
        request = await self.kafka_request(element_id, timeout=timeout)
        await self._kafka.respond(request, body, headers)
        return request

    def _awaited_requests(self, state: InstanceState, element_id: str | None) -> list[KafkaRecord]:
        awaited = set(state.awaiting_correlations)
        if element_id is not None:
            awaited &= {
                str(active.details.get("correlation_id"))
                for active in state.active
                if active.element_id == element_id
            }
        return [record for record in self._kafka.records if record.correlation_id in awaited]

    def _published_lines(self) -> list[str]:
        mine = [r for r in self._kafka.records if r.process_instance_id == self.id]
        if not mine:
            return ["  published: nothing"]
        return [
            f"  published: {record.topic} key={record.key!r} payload={render_json(record.payload)}"
            for record in mine
        ]

    # --- operating ------------------------------------------------------------------------

    async def set_variables(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``variables`` into the process variables (the ``set_variables`` update)."""
        result: dict[str, Any] = await self.handle.execute_update(
            SET_VARIABLES_UPDATE, dict(variables)
        )
        return result

    async def resolve_incident(
        self, element_id: str | None = None, variables: Mapping[str, Any] | None = None
    ) -> None:
        """Resolve the open incident (at ``element_id``, if given) after setting
        ``variables``: the failed step runs again."""
        __tracebackhide__ = True
        state = await self._observe_or_fail("could not be read")
        incidents = [i for i in state.incidents if element_id in (None, i.element_id)]
        if len(incidents) != 1:
            where = f" at {element_id}" if element_id else ""
            raise ProcessAssertionError(
                self._message(state, f"has {len(incidents)} open incidents{where}, not one")
            )
        request = {"incident_key": incidents[0].key, "variables": dict(variables or {})}
        await self._update(RESOLVE_INCIDENT_UPDATE, request)

    async def complete_user_task(
        self, element_id: str, variables: Mapping[str, Any] | None = None
    ) -> None:
        """Complete the active user task ``element_id`` with ``variables`` (the
        ``complete_user_task`` update; its job is cancelled)."""
        request = {"element_id": element_id, "variables": dict(variables or {})}
        await self._update(COMPLETE_USER_TASK_UPDATE, request)

    async def activate_ad_hoc_elements(
        self, element_id: str, *elements: str, variables: Mapping[str, Any] | None = None
    ) -> None:
        """Activate ``elements`` of the active ad-hoc sub-process ``element_id``, each in a
        path of its own holding ``variables`` (the ``activate_ad_hoc_elements`` update)."""
        activations = [{"element_id": e, "variables": dict(variables or {})} for e in elements]
        request = {"element_id": element_id, "elements": activations}
        await self._update(ACTIVATE_AD_HOC_ELEMENTS_UPDATE, request)

    async def cancel(self, reason: str = "canceled by the test") -> None:
        """Cancel the instance (the ``cancel`` update) and wait until it ended canceled."""
        __tracebackhide__ = True
        await self._update(CANCEL_UPDATE, {"reason": reason})
        await self._until(lambda s: s.status == "canceled", "was not canceled", None)

    async def _update(self, name: str, argument: dict[str, Any]) -> None:
        try:
            await self.handle.execute_update(name, argument)
        except RPCError:
            # An update answered in the workflow task that completes the instance can come
            # back as "update not found": it was applied if the instance has ended since.
            if (await self.handle.describe()).close_time is None:
                raise
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            raise ProcessAssertionError(
                f"{self.process_id} instance {self.id} refused the {name} update: "
                f"{cause.message if cause is not None and hasattr(cause, 'message') else error}"
            ) from None

    # --- teardown -------------------------------------------------------------------------

    def left_waiting(self, state: InstanceState) -> bool:
        """Still waiting in ``state``, and not where the test's latest ``assert_waiting_at``
        or ``assert_incident`` said it would."""
        if state.status in FINAL_STATUSES:
            return False
        waiting = {a.element_id for a in state.active} | {i.element_id for i in state.incidents}
        return not (self._expected_waiting and set(self._expected_waiting) <= waiting)

    def left_waiting_message(self, state: InstanceState) -> str:
        places = [f"{a.element_id} ({a.element_type})" for a in state.active]
        places += [f"{i.element_id} (incident {i.type})" for i in state.incidents]
        where = ", ".join(dict.fromkeys(places)) or "its start"
        return (
            f"{self.process_id} instance {self.id} was left waiting at {where} when the test "
            "ended (it was terminated). Finish it, cancel it (await instance.cancel()), or end "
            "the test with assert_waiting_at/assert_incident naming where it stops.\n"
            + describe_state(state)
        )

    # --- polling --------------------------------------------------------------------------

    async def _until(
        self,
        condition: Callable[[InstanceState], bool],
        expected: str,
        timeout: float | None,
        *,
        stop_when_final: bool = False,
        extra: Callable[[], list[str]] | None = None,
    ) -> InstanceState:
        """Poll the state until ``condition`` holds; else an assertion error with the state."""
        __tracebackhide__ = True
        timeout = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        polls = 0
        while True:
            state, problem = await self._observe()
            if state is not None and condition(state):
                return state
            polls += 1
            final = state is not None and state.status in FINAL_STATUSES and stop_when_final
            ended = None
            if state is None or state.status == "starting" or polls % 25 == 0 or final:
                ended = await self._failure()
            if final or ended is not None or loop.time() > deadline:
                lines = [] if extra is None else extra()
                if ended is not None:
                    lines.append(f"  workflow:  {ended}")
                elif problem is not None:
                    lines.append(f"  query:     {problem}")
                within = "" if final or ended else f" within {timeout:g} s"
                raise ProcessAssertionError(self._message(state, expected + within, lines))
            await asyncio.sleep(POLL_INTERVAL)

    async def _observe(self) -> tuple[InstanceState | None, str | None]:
        try:
            return await self.state(), None
        except (RPCError, WorkflowQueryFailedError) as error:
            return None, str(error)

    async def _observe_or_fail(self, expected: str) -> InstanceState:
        __tracebackhide__ = True
        state, problem = await self._observe()
        if state is None:
            raise ProcessAssertionError(self._message(None, expected, [f"  query: {problem}"]))
        return state

    async def _failure(self) -> str | None:
        """How the workflow ended, if it failed, was terminated or timed out."""
        try:
            history = await self.handle.fetch_history()
        except RPCError:
            return None
        if not history.events:
            return None
        last = history.events[-1]
        kind = last.WhichOneof("attributes")
        if kind == "workflow_execution_failed_event_attributes":
            return f"failed: {last.workflow_execution_failed_event_attributes.failure.message}"
        if kind == "workflow_execution_terminated_event_attributes":
            reason = last.workflow_execution_terminated_event_attributes.reason
            return f"was terminated: {reason}" if reason else "was terminated"
        if kind == "workflow_execution_timed_out_event_attributes":
            return "timed out"
        return None

    def _message(
        self, state: InstanceState | None, expected: str, extra: list[str] | None = None
    ) -> str:
        lines = [f"{self.process_id} instance {self.id} {expected}"]
        if state is not None:
            lines.append(describe_state(state))
        lines.extend(extra or [])
        return "\n".join(lines)


def _in_order(wanted: tuple[str, ...], path: list[str]) -> bool:
    """``wanted`` is a subsequence of ``path``."""
    remaining = iter(path)
    return all(element in remaining for element in wanted)


def _includes(actual: Mapping[str, Any], expected: Mapping[str, Any] | None) -> bool:
    if not expected:
        return True
    return all(name in actual and actual[name] == value for name, value in expected.items())
