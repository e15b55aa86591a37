"""Running the interpreter and job handlers in one test, on any Temporal environment."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.worker import Replayer, Worker

import translator
from activities import (
    job_activity,
    make_cancel_instance,
    make_resolve_decision,
    make_resolve_definition,
    make_start_by_event,
    make_subscribe_message,
)
from worker import workflow_runner
from workflows import (
    KAFKA_PUBLISH_ACTIVITY,
    REGISTRY,
    STATE_QUERY,
    SUBSCRIBE_MESSAGE_ACTIVITY,
    BpmnInterpreter,
    MessageMailbox,
    StandaloneJobWorkflow,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "processes"
ORDER_PROCESS = EXAMPLES / "order-process.bpmn"


def replayer() -> Replayer:
    """Replays histories on the interpreter, as the worker runs it: a determinism check."""
    return Replayer(workflows=[BpmnInterpreter], workflow_runner=workflow_runner())


def problems_of(xml: bytes | str, name: str = "m.bpmn") -> list[translator.Problem]:
    """The problems the translator finds in ``xml`` (it must refuse it)."""
    data = xml.encode() if isinstance(xml, str) else xml
    with pytest.raises(translator.TranslationError) as refused:
        translator.compile_bytes(data, name)
    return refused.value.problems


def deploy(path_or_xml: Path | str, name: str = "test.bpmn") -> list[translator.ProcessDefinition]:
    """Compile a file (Path) or XML text (str) into the worker's registry."""
    if isinstance(path_or_xml, Path):
        definitions = translator.compile_file(path_or_xml)
    else:
        definitions = translator.compile_bytes(path_or_xml.encode(), name)
    for definition in definitions:
        REGISTRY.add(definition)
    return definitions


def deploy_decisions(path_or_xml: Path | str, name: str = "test.dmn") -> translator.DecisionGraph:
    """Compile a DMN file (Path) or XML text (str) into the worker's registry."""
    if isinstance(path_or_xml, Path):
        graph = translator.compile_dmn_file(path_or_xml)
    else:
        graph = translator.compile_dmn_bytes(path_or_xml.encode(), name)
    REGISTRY.add_decisions(graph)
    return graph


class PublishedRequests:
    """A stand-in for the Kafka publish activity in time-skipping tests: records requests.

    The Kafka side itself is tested against the real broker in tests/integration.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.on_publish: Callable[[dict[str, Any]], Any] | None = None

    def activity(self) -> Callable[..., Any]:
        @activity.defn(name=KAFKA_PUBLISH_ACTIVITY)
        async def publish(request: dict[str, Any]) -> dict[str, Any]:
            self.requests.append(request)
            if self.on_publish is not None:
                await self.on_publish(request)
            return {"topic": request["topic"], "partition": 0, "offset": len(self.requests)}

        return publish


@asynccontextmanager
async def running_interpreter(
    client: Client,
    task_queue: str,
    jobs: Mapping[str, Callable[..., Any]] | None = None,
    publish_activity: Callable[..., Any] | None = None,
    continue_as_new_after_events: int = 10_000,
) -> AsyncIterator[None]:
    """Run the interpreter on ``task_queue`` and one job worker per job type, for a test."""
    subscribe = make_subscribe_message(client)
    mailboxes: set[str] = set()

    @activity.defn(name=SUBSCRIBE_MESSAGE_ACTIVITY)
    async def subscribe_and_remember(payload: dict[str, Any]) -> str:
        mailbox = await subscribe(payload)
        mailboxes.add(mailbox)
        return mailbox

    activities = [
        make_resolve_definition(continue_as_new_after_events=continue_as_new_after_events),
        make_resolve_decision(),
        subscribe_and_remember,
        make_start_by_event(
            client, REGISTRY, continue_as_new_after_events=continue_as_new_after_events
        ),
        make_cancel_instance(client),
    ]
    if publish_activity is not None:
        activities.append(publish_activity)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(
                client,
                task_queue=task_queue,
                workflows=[BpmnInterpreter, StandaloneJobWorkflow, MessageMailbox],
                activities=activities,
                workflow_runner=workflow_runner(),
            )
        )
        for job_type, handler in (jobs or {}).items():
            await stack.enter_async_context(
                Worker(client, task_queue=job_type, activities=[job_activity(job_type, handler)])
            )
        try:
            yield
        finally:
            # A mailbox outliving its test's worker would stall the time-skipping server.
            for mailbox in mailboxes:
                with contextlib.suppress(RPCError):
                    await client.get_workflow_handle(mailbox).terminate("test over")


async def wait_for(predicate: Any, handle: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the state query until ``predicate(state)`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = await handle.query(STATE_QUERY)
        if predicate(state):
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached; state: {state}")
        await asyncio.sleep(0.05)


async def start_process(
    client: Client, task_queue: str, process_id: str, **variables: Any
) -> WorkflowHandle[Any, Any]:
    """Start an instance of ``process_id`` with ``variables``, under a fresh workflow id."""
    return await client.start_workflow(
        process_id, variables, id=f"{process_id}-{uuid.uuid4()}", task_queue=task_queue
    )
