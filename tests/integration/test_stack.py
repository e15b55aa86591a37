"""The local stack against the real servers: Temporal dev server and Kafka broker.

Every stack here gets its own root and free ports, so it never meets the default-port stack
a developer may be running, and it only ever stops processes it started itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from temporalio.client import Client, WorkflowExecutionStatus

from stack import Endpoints, Stack, StackError

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_ports(count: int) -> list[int]:
    """Ports the kernel reports free right now (all held at once, so they are distinct)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


class Ports(NamedTuple):
    temporal: int
    temporal_ui: int
    kafka: int
    kafka_controller: int


def _stack(root: Path, ports: Ports) -> Stack:
    return Stack(
        root,
        temporal_port=ports.temporal,
        temporal_ui_port=ports.temporal_ui,
        kafka_port=ports.kafka,
        kafka_controller_port=ports.kafka_controller,
    )


def _stack_on_free_ports(root: Path) -> Stack:
    return _stack(root, Ports(*_free_ports(4)))


def _accepts_connections(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


class RunningStack(NamedTuple):
    stack: Stack
    endpoints: Endpoints
    ports: Ports


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    ports = Ports(*_free_ports(4))
    stack = _stack(tmp_path_factory.mktemp("stack"), ports)
    try:
        yield RunningStack(stack, stack.start(), ports)
    finally:
        stack.stop()


def test_start_returns_the_configured_endpoints(running: RunningStack) -> None:
    statuses = {status.name: status for status in running.stack.status()}

    assert running.endpoints == Endpoints(
        temporal_address=f"127.0.0.1:{running.ports.temporal}",
        temporal_ui=f"http://127.0.0.1:{running.ports.temporal_ui}",
        kafka_bootstrap=f"127.0.0.1:{running.ports.kafka}",
    )
    assert all(status.healthy and status.pid for status in statuses.values())
    assert running.stack.is_running()


def test_second_start_finds_the_running_servers(running: RunningStack) -> None:
    pids_before = {status.name: status.pid for status in running.stack.status()}

    # A new Stack object on the same root, as another process would make.
    again = _stack(running.stack.root, running.ports).start()

    assert again == running.endpoints
    assert {status.name: status.pid for status in running.stack.status()} == pids_before


def test_kafka_round_trips_a_record(running: RunningStack) -> None:
    endpoints = running.endpoints
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"

    async def produce_and_consume() -> tuple[bytes | None, bytes | None]:
        producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"k1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=endpoints.kafka_bootstrap,
            group_id="stack-test",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        return record.key, record.value

    assert asyncio.run(produce_and_consume()) == (b"k1", b"hello")


def test_temporal_accepts_and_lists_workflows(running: RunningStack) -> None:
    workflow_id = f"stack-test-{uuid.uuid4()}"

    async def start_describe_list() -> tuple[WorkflowExecutionStatus | None, list[str]]:
        client = await Client.connect(running.endpoints.temporal_address)
        # No worker polls this queue: the workflow just waits, which is all we need.
        handle = await client.start_workflow(
            "stack-smoke-test", id=workflow_id, task_queue=f"stack-test-{uuid.uuid4()}"
        )
        try:
            description = await handle.describe()
            listed = await _list_until_visible(client, workflow_id)
        finally:
            await handle.terminate()
        return description.status, listed

    status, listed = asyncio.run(start_describe_list())

    assert status == WorkflowExecutionStatus.RUNNING
    assert listed == [workflow_id]


async def _list_until_visible(client: Client, workflow_id: str) -> list[str]:
    """List the workflow by id; visibility trails the start by a moment, so poll briefly."""
    query = f"WorkflowId = '{workflow_id}'"
    for _ in range(50):
        listed = [execution.id async for execution in client.list_workflows(query)]
        if listed:
            return listed
        await asyncio.sleep(0.2)
    return []


def test_temporal_ui_serves_pages(running: RunningStack) -> None:
    with urllib.request.urlopen(running.endpoints.temporal_ui, timeout=10) as response:
        assert response.status == 200


def test_stop_frees_the_ports_and_a_second_stop_does_nothing(running: RunningStack) -> None:
    stack = running.stack
    pids = {status.name: status.pid for status in stack.status()}

    assert stack.stop() == pids

    for port in running.ports:
        assert not _accepts_connections(f"127.0.0.1:{port}")
    assert not any(stack.root.glob("*/*.pid"))
    assert not stack.is_running()
    assert stack.stop() == {}


def test_kafka_port_taken_by_a_plain_socket_fails_naming_the_log(tmp_path: Path) -> None:
    stack = _stack_on_free_ports(tmp_path / "stack")
    kafka_port = int(stack.endpoints.kafka_bootstrap.rsplit(":", 1)[1])

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", kafka_port))
        squatter.listen()
        with pytest.raises(StackError) as raised:
            stack.start(only={"kafka"})

    message = str(raised.value)
    assert "\n" not in message
    assert f"port 127.0.0.1:{kafka_port} is taken" in message
    assert str(tmp_path / "stack" / "kafka" / "kafka.log") in message
    assert [status.pid for status in stack.status()] == [None, None]


def test_stop_never_kills_a_process_it_did_not_start(tmp_path: Path) -> None:
    stack = _stack_on_free_ports(tmp_path / "stack")
    pid_file = tmp_path / "stack" / "temporal" / "temporal.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{os.getpid()}\n")  # this very test process: not a Temporal server

    assert stack.stop() == {}
    assert not pid_file.exists()


def test_cli_reports_a_failure_in_one_line_without_traceback(tmp_path: Path) -> None:
    temporal, kafka, controller = _free_ports(3)
    env = {
        **os.environ,
        "BPMN_STACK_TEMPORAL_PORT": str(temporal),
        "BPMN_STACK_KAFKA_PORT": str(kafka),
        "BPMN_STACK_KAFKA_CONTROLLER_PORT": str(controller),
    }
    command = [sys.executable, "-m", "stack", "--root", str(tmp_path), "-q"]

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", controller))
        squatter.listen()
        start = subprocess.run(
            [*command, "start", "--only", "kafka"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    status = subprocess.run(
        [*command, "status"], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )

    assert start.returncode == 1
    assert start.stderr.count("\n") == 1
    assert start.stderr.startswith(f"error: Kafka cannot start: port 127.0.0.1:{controller}")
    assert "Traceback" not in start.stderr
    assert status.returncode == 3
    assert "kafka     down" in status.stdout
