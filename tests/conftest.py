"""Shared fixtures: the time-skipping server, the real dev stack, a fresh task queue per test."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers.hang_report import wrap_timeout_handler

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

TEST_PORT_OFFSET = int(os.environ.get("BPMN_TEST_PORT_OFFSET", "0"))
"""Lets two test runs share the machine: each offset gets its own stack directory and ports
(keep offsets 2,000 or more apart: the four ports of one run span 27233..29093 + offset)."""
TEST_STACK_ROOT = ROOT / ".stack" / ("test" if not TEST_PORT_OFFSET else f"test-{TEST_PORT_OFFSET}")
TEST_STACK_PORTS = {
    "temporal_port": 27233 + TEST_PORT_OFFSET,
    "temporal_ui_port": 28233 + TEST_PORT_OFFSET,
    "kafka_port": 29092 + TEST_PORT_OFFSET,
    "kafka_controller_port": 29093 + TEST_PORT_OFFSET,
}


def _binary(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.fail(f"{name} not found: install the dev dependencies (make test does)")
    return on_path


async def start_time_skipping() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server")
    )


@pytest.fixture(scope="session")
async def shared_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture
async def time_skipping_env(
    request: pytest.FixtureRequest, shared_time_skipping_env: WorkflowEnvironment
) -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server for the session. Time skips only while no activity is
    outstanding anywhere on it, so a module whose tests move the clock sets
    ``OWN_TIME_SKIPPING_SERVER = True`` and each of its tests gets a server of its own
    (0.1 s to start). Not one per module: the server keeps counting an activity that was
    outstanding when its workflow ended (temporalio/sdk-java#1138), so after such a test it
    never skips time again, and the next test that waits for a timer waits for real (seen:
    test_messages' expiring event-based gateway, hung until the 300 s timeout)."""
    if not getattr(request.module, "OWN_TIME_SKIPPING_SERVER", False):
        yield shared_time_skipping_env
        return
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def dev_stack() -> Iterator[object]:
    """The real Temporal dev server and Kafka broker, on ports of their own for tests.

    Started if not running and stopped at the end only if this session started it.
    """
    from stack import Stack

    test_stack = Stack(root=TEST_STACK_ROOT, **TEST_STACK_PORTS)
    was_running = test_stack.is_running()
    endpoints = test_stack.start()
    yield endpoints
    if not was_running:
        test_stack.stop()


@pytest.fixture
def task_queue() -> str:
    return f"bpmn-test-{uuid.uuid4()}"


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(
    item: pytest.Item, settings: object
) -> Generator[None, object, object]:
    """A timed-out async test says which await it hung in (see ``hang_report``)."""
    result = yield
    wrap_timeout_handler()
    return result
