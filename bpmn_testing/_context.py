"""One test's BPMN engine: the interpreter and the test's job handlers on the session's
time-skipping server, its deployed models, its instances, Kafka and messages, and its clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

import translator
from activities import (
    broadcast_signal,
    correlate_message,
    job_activity,
    make_cancel_instance,
    make_resolve_decision,
    make_resolve_definition,
    make_start_by_event,
    make_subscribe_message,
    publish_message,
)
from bpmn_testing._clock import (
    OpenActivity,
    PendingTimer,
    ScheduledActivity,
    WorkflowSnapshot,
    snapshots,
)
from bpmn_testing._deployment import (
    DeploymentProblems,
    compile_decisions,
    compile_models,
    compile_text,
    model_files,
)
from bpmn_testing._environment import BpmnTestEnvironment
from bpmn_testing._errors import BpmnTestingError, ClockBlockedError, ProcessAssertionError
from bpmn_testing._instance import ProcessInstance
from bpmn_testing._jobs import JobStub
from bpmn_testing._kafka import FakeKafka
from bpmn_testing._report import describe_state
from translator import DecisionGraph, JobDefinition, ProcessDefinition, iter_nodes
from translator.expressions._temporal import YearsMonths, add_months, parse_duration
from worker import workflow_runner
from workflows import (
    BUSINESS_KEY_VARIABLE,
    KAFKA_PUBLISH_ACTIVITY,
    REGISTRY,
    SUBSCRIBE_MESSAGE_ACTIVITY,
    BpmnInterpreter,
    DefinitionRegistry,
    MessageMailbox,
    StandaloneJobWorkflow,
    mailbox_id,
    signal_hub_id,
)
from workflows._contracts import CorrelationResult

logger = logging.getLogger(__name__)

BUILT_IN_ACTIVITIES = frozenset({KAFKA_PUBLISH_ACTIVITY, SUBSCRIBE_MESSAGE_ACTIVITY})
"""Activities the interpreter's own worker serves: they finish by themselves."""
POLL_INTERVAL = 0.02
DEFAULT_TIMEOUT = 5.0


class BpmnTestContext:
    """What a test uses to run its processes: the ``bpmn`` fixture.

    Deploy models, say how jobs are answered, start instances, publish messages, answer Kafka
    Tasks and move the clock. The interpreter runs in-process on a task queue of the test's
    own; job handlers run in-process too. When the test ends every instance it started is
    terminated, and an instance still waiting is reported (see the plugin's
    ``bpmn_left_waiting`` option).
    """

    def __init__(
        self,
        environment: BpmnTestEnvironment,
        *,
        root: Path,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Args:
        environment: the session's time-skipping server.
        root: relative model paths are read from here (pytest's rootdir).
        timeout: seconds (real time) assertions and clock moves wait by default.
        """
        self.environment = environment
        self.root = root
        self.timeout = timeout
        self.task_queue = f"bpmn-test-{uuid.uuid4()}"
        """The interpreter's task queue for this test (instances and mailboxes run there)."""
        self.registry = DefinitionRegistry()
        """The processes this test deployed (other tests' processes cannot start here)."""
        self.kafka = FakeKafka(environment.client)
        """What the processes published to Kafka; answers for Kafka Tasks."""
        self.instances: list[ProcessInstance] = []
        self._stubs: dict[str, JobStub] = {}
        self._mailboxes: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._interpreter: tuple[Worker, asyncio.Task[None]] | None = None
        self._job_workers: dict[str, tuple[frozenset[str], Worker, asyncio.Task[None]]] = {}
        self._workers_stale = False

    @property
    def client(self) -> Client:
        return self.environment.client

    # --- models ---------------------------------------------------------------------------

    def deploy(self, *paths: str | Path) -> list[ProcessDefinition]:
        """Deploy ``.bpmn`` and ``.dmn`` files and folders (searched recursively) for this
        test; relative paths are read from pytest's rootdir. A model with problems fails the
        test with every problem found (file, line, element, what to do)."""
        __tracebackhide__ = True
        files, missing = model_files([Path(path) for path in paths], self.root)
        decision_files = [path for path in files if path.suffix == ".dmn"]
        graphs, problems = compile_decisions(decision_files, translator.compile_dmn_file)
        processes = [path for path in files if path.suffix != ".dmn"]
        try:
            definitions = compile_models(
                processes, self.environment.compile_file, [*missing, *problems]
            )
        except DeploymentProblems as found:
            failure = str(found)
        else:
            self._register_decisions(graphs)
            return self._register(definitions)
        pytest.fail(failure, pytrace=False)

    def deploy_xml(self, xml: str, name: str = "inline.bpmn") -> list[ProcessDefinition]:
        """Deploy a model given as XML text (``name`` appears in problem reports); a name
        ending in ``.dmn`` deploys DMN decisions (and returns no process)."""
        __tracebackhide__ = True
        try:
            if name.endswith(".dmn"):
                graphs, problems = compile_decisions(
                    [Path(name)], lambda _: translator.compile_dmn_bytes(xml.encode(), name)
                )
                if problems:
                    raise DeploymentProblems(problems)
                self._register_decisions(graphs)
                return []
            definitions = compile_text(xml, name)
        except DeploymentProblems as found:
            failure = str(found)
        else:
            return self._register(definitions)
        pytest.fail(failure, pytrace=False)

    def _register_decisions(self, graphs: list[DecisionGraph]) -> None:
        for graph in graphs:
            self.registry.add_decisions(graph)
            REGISTRY.add_decisions(graph, latest=False)  # evaluations read it by hash

    def _register(self, definitions: list[ProcessDefinition]) -> list[ProcessDefinition]:
        for definition in definitions:
            self.registry.add(definition)
            # The interpreter reads a pinned version from the worker's registry by hash.
            REGISTRY.add(definition, latest=False)
        self._workers_stale = True  # a model may name a job type's task queue
        return definitions

    # --- jobs -----------------------------------------------------------------------------

    def job(self, job_type: str) -> JobStub:
        """The stub of ``job_type``: a decorator like ``JobWorker.job``, canned answers
        (``complete``, ``fail``, ``throw_error``, ``hold``) and the jobs received."""
        stub = self._stubs.get(job_type)
        if stub is None:
            stub = JobStub(job_type, self._mark_workers_stale, self.timeout)
            self._stubs[job_type] = stub
        return stub

    def _mark_workers_stale(self) -> None:
        self._workers_stale = True

    # --- instances and messages -----------------------------------------------------------

    async def start(
        self,
        process_id: str,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        business_key: str | None = None,
        **more_variables: Any,
    ) -> ProcessInstance:
        """Start an instance of ``process_id`` with ``variables`` (a mapping, keyword
        arguments, or both) and, optionally, a business key."""
        __tracebackhide__ = True
        if self.registry.latest(process_id) is None:
            deployed = ", ".join(self.registry.process_ids()) or "none"
            pytest.fail(
                f"process {process_id!r} is not deployed in this test (deployed: {deployed}); "
                "call bpmn.deploy(...) with its .bpmn file first",
                pytrace=False,
            )
        await self._ensure_running()
        start_variables = {**(variables or {}), **more_variables}
        if business_key is not None:
            start_variables[BUSINESS_KEY_VARIABLE] = business_key
        handle = await self.client.start_workflow(
            process_id,
            start_variables,
            id=f"{process_id}-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )
        instance = ProcessInstance(handle, process_id, kafka=self.kafka, timeout=self.timeout)
        self.instances.append(instance)
        return instance

    async def publish_message(
        self,
        name: str,
        correlation_key: str | int,
        variables: Mapping[str, Any] | None = None,
        *,
        time_to_live: timedelta | str | None = None,
        message_id: str | None = None,
    ) -> None:
        """Publish a BPMN message, as ``activities.publish_message`` does (Zeebe's rules:
        buffered for ``time_to_live``, default one hour; ``"PT0S"``: only instances waiting
        now get it)."""
        await self._ensure_running()
        options: dict[str, Any] = {"message_id": message_id, "task_queue": self.task_queue}
        if time_to_live is not None:
            options["time_to_live"] = await self._duration(time_to_live)
        self._mailboxes.add(mailbox_id(name, str(correlation_key)))
        await publish_message(
            self.client, name, str(correlation_key), dict(variables or {}), **options
        )

    async def correlate_message(
        self, name: str, correlation_key: str | int, variables: Mapping[str, Any] | None = None
    ) -> CorrelationResult:
        """Correlate a message now (``activities.correlate_message``): the instance it reached,
        or ``MessageNotCorrelated``. Nothing is buffered."""
        await self._ensure_running()
        self._mailboxes.add(mailbox_id(name, str(correlation_key)))
        return await correlate_message(
            self.client,
            name,
            str(correlation_key),
            dict(variables or {}),
            task_queue=self.task_queue,
        )

    async def broadcast_signal(self, name: str, variables: Mapping[str, Any] | None = None) -> None:
        """Broadcast a BPMN signal to every instance waiting for it now (and start the
        processes with a signal start event of that name)."""
        await self._ensure_running()
        self._mailboxes.add(signal_hub_id(name))
        await broadcast_signal(self.client, name, dict(variables or {}), task_queue=self.task_queue)

    # --- the clock ------------------------------------------------------------------------

    async def now(self) -> datetime:
        """The test server's clock (UTC)."""
        return await self.environment.now()

    async def skip(self, duration: timedelta | str) -> None:
        """Move the clock by ``duration`` (a timedelta or ISO 8601: ``"PT2H"``, ``"P3D"``):
        every timer due by then fires, and this returns once the instances handled them.

        First waits until the instances are quiet; a job that this test does not answer
        stops it with ``ClockBlockedError`` (the server cannot skip time while an activity
        is outstanding): answer the job, or ``bpmn.job(type).hold()`` it."""
        __tracebackhide__ = True
        await self._ensure_running()
        delta = await self._duration(duration)
        await self._wait_until_quiet()
        target = await self.now() + delta
        await self._advance(delta)
        await self._wait_until_fired(target)

    async def skip_to_next_timer(self) -> timedelta:
        """Move the clock to the next timer of this test's instances (a timer event, a
        boundary timer, a timer event sub-process) and let it fire; returns how far the
        clock moved. Fails if no timer is waiting."""
        __tracebackhide__ = True
        await self._ensure_running()
        found = await self._wait_until_quiet()
        timers = sorted(
            (timer for snapshot in found for timer in snapshot.timers),
            key=lambda timer: timer.due,
        )
        instance_timers = [t for t in timers if t.workflow_id not in self._mailboxes]
        if not instance_timers:
            raise ProcessAssertionError(
                "no timer is waiting in this test's instances\n" + await self._describe_all()
            )
        due = instance_timers[0].due
        delta = max(due - await self.now(), timedelta(0))
        await self._advance(delta)
        await self._wait_until_fired(due)
        return delta

    async def _duration(self, duration: timedelta | str) -> timedelta:
        if isinstance(duration, timedelta):
            return duration
        parsed = parse_duration(duration)
        if parsed is None:
            raise ValueError(f"{duration!r} is not an ISO 8601 duration (write e.g. 'PT2H')")
        if isinstance(parsed, YearsMonths):
            now = await self.now()
            shifted = add_months(now, parsed.months)
            assert isinstance(shifted, datetime)
            return shifted - now
        return parsed

    async def _advance(self, delta: timedelta) -> None:
        __tracebackhide__ = True
        if delta <= timedelta(0):
            return
        try:
            await asyncio.wait_for(self.environment.sleep(delta), self.timeout)
        except TimeoutError:
            # The server went on moving its clock in real time: restart it for later tests.
            self.environment.taint()
            blocking = self._blocking(await self._snapshots())
            raise ClockBlockedError(
                f"the clock did not move by {delta} within {self.timeout:g} s: an activity "
                "was scheduled while time moved and nothing finished it" + _listing(blocking)
            ) from None

    async def _wait_until_quiet(self) -> list[WorkflowSnapshot]:
        """Wait until no workflow task is pending and no activity runs but held jobs; a job
        that nothing in this test answers is a ClockBlockedError at once."""
        __tracebackhide__ = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            found = await self._snapshots()
            blocking = self._blocking(found)
            unanswered = self._unanswered(blocking)
            if unanswered:
                raise ClockBlockedError(
                    "time cannot move while a job is pending that this test does not answer "
                    "(Temporal's time-skipping server skips time only while no activity is "
                    "outstanding)"
                    + _listing(unanswered)
                    + "\nAnswer it (bpmn.job(type).complete(...) or a handler), or let it "
                    "wait without holding the clock: bpmn.job(type).hold()"
                )
            if not blocking and not any(s.workflow_task_pending for s in found):
                return found
            if loop.time() > deadline:
                raise ClockBlockedError(
                    f"the instances did not become quiet within {self.timeout:g} s, so time "
                    "cannot move" + _listing(blocking)
                )
            await asyncio.sleep(POLL_INTERVAL)

    async def _wait_until_fired(self, target: datetime) -> None:
        __tracebackhide__ = True
        """Wait until every timer due by ``target`` fired and the instances handled it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            found = await self._snapshots()
            late = [t for s in found for t in s.timers if t.due <= target]
            if not late and not any(s.workflow_task_pending for s in found):
                return
            if loop.time() > deadline:
                raise ClockBlockedError(
                    f"timers due by {target.isoformat()} have not fired within "
                    f"{self.timeout:g} s: " + ", ".join(_timer_text(t) for t in late)
                )
            await asyncio.sleep(POLL_INTERVAL)

    def _unanswered(self, activities: Iterable[OpenActivity]) -> list[OpenActivity]:
        """Jobs no worker of this test takes."""
        return [
            a
            for a in activities
            if a.activity_type not in BUILT_IN_ACTIVITIES
            and not (a.activity_type in self._stubs and self._stubs[a.activity_type].answers)
        ]

    def _never_taken(self, found: Iterable[WorkflowSnapshot]) -> list[ScheduledActivity]:
        """Jobs scheduled that no worker of this test ever received."""
        received = {job.key for stub in self._stubs.values() for job in stub.jobs}
        return [
            scheduled
            for snapshot in found
            for scheduled in snapshot.scheduled
            if scheduled.activity_type not in BUILT_IN_ACTIVITIES and scheduled.key not in received
        ]

    def _blocking(self, found: Iterable[WorkflowSnapshot]) -> list[OpenActivity]:
        return [
            a
            for snapshot in found
            for a in snapshot.activities
            if not (a.activity_type in self._stubs and self._stubs[a.activity_type].held)
        ]

    async def _snapshots(self) -> list[WorkflowSnapshot]:
        roots = [instance.id for instance in self.instances] + sorted(self._mailboxes)
        return await snapshots(self.client, roots)

    async def _describe_all(self) -> str:
        parts = []
        for instance in self.instances:
            try:
                state = await instance.state()
            except Exception as error:  # a failed workflow still says why
                parts.append(f"{instance.process_id} instance {instance.id}: {error}")
                continue
            parts.append(f"{instance.process_id} instance {instance.id}\n{describe_state(state)}")
        return "\n".join(parts) or "(no instance started)"

    # --- workers --------------------------------------------------------------------------

    async def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise BpmnTestingError(
                "the bpmn fixture and the test run in different event loops: give tests and "
                "fixtures the same pytest-asyncio loop scope (asyncio_default_fixture_loop_scope "
                "and asyncio_default_test_loop_scope)"
            )
        if self._interpreter is None:
            worker = Worker(
                self.client,
                task_queue=self.task_queue,
                workflows=[BpmnInterpreter, StandaloneJobWorkflow, MessageMailbox],
                activities=[
                    make_resolve_definition(self.registry),
                    make_resolve_decision(self.registry),
                    self._subscribe_activity(),
                    make_start_by_event(self.client, self.registry),
                    make_cancel_instance(self.client),
                    self.kafka.activity(),
                ],
                workflow_runner=workflow_runner(),
            )
            self._interpreter = (worker, asyncio.create_task(worker.run()))
        if self._workers_stale:
            await self._sync_job_workers()

    def _subscribe_activity(self) -> Any:
        subscribe = make_subscribe_message(self.client)

        @activity.defn(name=SUBSCRIBE_MESSAGE_ACTIVITY)
        async def subscribe_and_remember(payload: dict[str, Any]) -> str:
            mailbox: str = await subscribe(payload)
            self._mailboxes.add(mailbox)
            return mailbox

        return subscribe_and_remember

    async def _sync_job_workers(self) -> None:
        """One worker per task queue serving the job types this test answers."""
        self._workers_stale = False
        wanted: dict[str, set[str]] = {}
        for job_type, stub in self._stubs.items():
            if stub.answers:
                for queue in self._queues_of(job_type):
                    wanted.setdefault(queue, set()).add(job_type)
        for queue, types in wanted.items():
            current = self._job_workers.get(queue)
            if current is not None and current[0] == frozenset(types):
                continue
            if current is not None:
                await _stop(current[1], current[2])
            worker = Worker(
                self.client,
                task_queue=queue,
                activities=[job_activity(t, self._stubs[t].dispatch) for t in sorted(types)],
            )
            self._job_workers[queue] = (frozenset(types), worker, asyncio.create_task(worker.run()))

    def _queues_of(self, job_type: str) -> set[str]:
        queues = set()
        for process_id in self.registry.process_ids():
            definition = self.registry.latest(process_id)
            for node in iter_nodes(definition) if definition else ():
                job = getattr(node, "job", None)
                if isinstance(job, JobDefinition) and job.type == job_type:
                    queues.add(job.task_queue or job.type)
        return queues or {job_type}

    # --- teardown -------------------------------------------------------------------------

    async def close(self) -> list[str]:
        """Terminate every instance and mailbox, stop the workers; returns a report of each
        instance that was left waiting."""
        left: list[str] = []
        with contextlib.suppress(Exception):
            if self._never_taken(await self._snapshots()):
                # The Java test server keeps its clock locked for an activity that no worker
                # ever took, even once it is cancelled or its workflow terminated: the next
                # test gets a fresh server.
                self.environment.taint()
        for instance in self.instances:
            with contextlib.suppress(Exception):  # a failed instance: the test says so
                state = await instance.state()
                running = (await instance.handle.describe()).close_time is None
                if running and instance.left_waiting(state):
                    left.append(instance.left_waiting_message(state))
            with contextlib.suppress(RPCError):
                await instance.handle.terminate("test over")
        for mailbox in sorted(self._mailboxes):
            with contextlib.suppress(RPCError):
                await self.client.get_workflow_handle(mailbox).terminate("test over")
        for _, worker, task in self._job_workers.values():
            await _stop(worker, task)
        if self._interpreter is not None:
            await _stop(*self._interpreter)
        self._job_workers.clear()
        self._interpreter = None
        return left


async def _stop(worker: Worker, task: asyncio.Task[None]) -> None:
    if not task.done():
        await worker.shutdown()
    with contextlib.suppress(asyncio.CancelledError):
        error = (await asyncio.gather(task, return_exceptions=True))[0]
        if isinstance(error, BaseException):
            logger.warning("A test worker stopped with an error: %s", error)


def _listing(activities: Iterable[OpenActivity]) -> str:
    lines = [
        f"\n  - job {a.activity_type!r}"
        + (f" at element {a.element_id}" if a.element_id else "")
        + f" of {a.workflow_id}"
        for a in activities
    ]
    return ":" + "".join(lines) if lines else ""


def _timer_text(timer: PendingTimer) -> str:
    return f"timer {timer.timer_id} of {timer.workflow_id} due {timer.due.isoformat()}"
