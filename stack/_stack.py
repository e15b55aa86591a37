"""The local stack: Temporal and Kafka started, checked and stopped as one."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fcntl
import logging
import os
from collections.abc import Collection, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._component import HOST, STOP_GRACE_S, Component, ComponentStatus
from ._errors import StackError
from ._kafka import KafkaBroker
from ._process import is_listening, terminate
from ._temporal import TemporalServer

__all__ = ["COMPONENT_NAMES", "Endpoints", "Stack"]

logger = logging.getLogger(__name__)

COMPONENT_NAMES = ("temporal", "kafka")
"""The components, in start order; ``only=`` selects among them."""

DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_KAFKA_PORT = 9092
_STATUS_PROBE_TIMEOUT_S = 3.0
_EXTERNAL_PROBE_TIMEOUT_S = 5.0

_T = TypeVar("_T")


class _Plan(enum.Enum):
    """What ``start`` does with a component that this stack does not run yet."""

    LAUNCH = enum.auto()
    USE_EXTERNAL = enum.auto()


@dataclass(frozen=True)
class Endpoints:
    """Where clients reach the stack.

    Attributes:
        temporal_address: Temporal frontend, ``host:port`` (what ``TEMPORAL_ADDRESS`` takes).
        temporal_ui: Temporal Web UI URL.
        kafka_bootstrap: Kafka bootstrap servers (what ``KAFKA_BOOTSTRAP_SERVERS`` takes).
    """

    temporal_address: str
    temporal_ui: str
    kafka_bootstrap: str


def _port(explicit: int | None, env_var: str, default: int) -> int:
    """The explicit port, else the environment variable's, else the default."""
    if explicit is not None:
        return explicit
    raw = os.environ.get(env_var)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{env_var}={raw!r} is not a port number") from None


def _run_blocking(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from async code (an async test, say): a loop of our own on another thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Stack:
    """The local Temporal dev server and Kafka broker, with all their state under ``root``.

    Each component runs detached, so it outlives the process that started it; a pid file
    and a health check let a later ``start``, ``status`` or ``stop`` (from any process) find
    it again. Start and stop hold a lock file, so concurrent callers do not race.

    Ports come from the arguments, else from ``BPMN_STACK_TEMPORAL_PORT``,
    ``BPMN_STACK_TEMPORAL_UI_PORT``, ``BPMN_STACK_KAFKA_PORT`` and
    ``BPMN_STACK_KAFKA_CONTROLLER_PORT``, else the defaults (7233, Temporal port + 1000,
    9092, Kafka port + 1). Everything binds 127.0.0.1.

    Args:
        root: The folder for all data, logs and pid files (git-ignored ``.stack`` by default).
        temporal_port: Temporal frontend gRPC port.
        temporal_ui_port: Temporal Web UI port.
        kafka_port: Kafka client (PLAINTEXT) port.
        kafka_controller_port: Kafka KRaft controller port.

    Raises:
        StackError: A port environment variable is not a number.
    """

    def __init__(
        self,
        root: Path | str = Path(".stack"),
        *,
        temporal_port: int | None = None,
        temporal_ui_port: int | None = None,
        kafka_port: int | None = None,
        kafka_controller_port: int | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        temporal = _port(temporal_port, "BPMN_STACK_TEMPORAL_PORT", DEFAULT_TEMPORAL_PORT)
        kafka = _port(kafka_port, "BPMN_STACK_KAFKA_PORT", DEFAULT_KAFKA_PORT)
        self._temporal = TemporalServer(
            self.root / "temporal",
            port=temporal,
            ui_port=_port(temporal_ui_port, "BPMN_STACK_TEMPORAL_UI_PORT", temporal + 1000),
        )
        self._kafka = KafkaBroker(
            self.root / "kafka",
            port=kafka,
            controller_port=_port(
                kafka_controller_port, "BPMN_STACK_KAFKA_CONTROLLER_PORT", kafka + 1
            ),
        )

    @property
    def endpoints(self) -> Endpoints:
        """The configured addresses (whether or not anything runs there)."""
        return Endpoints(
            temporal_address=self._temporal.address,
            temporal_ui=self._temporal.ui_url,
            kafka_bootstrap=self._kafka.address,
        )

    def start(self, only: Collection[str] | None = None) -> Endpoints:
        """Start the components that are not running yet and wait until all are healthy.

        Idempotent: a component this stack already runs is health-checked and kept. A
        healthy server that answers on a component's port without this stack having
        started it is used as it is (and never stopped by ``stop``).

        Args:
            only: Names of the components to start (``"temporal"``, ``"kafka"``); all if None.

        Returns:
            The endpoints.

        Raises:
            StackError: A component could not be started; components that did start keep
                running.
        """
        components = self._select(only)
        with self._lock():
            # Prepare everything before launching anything: a Maven failure should not leave
            # a lone Temporal behind.
            found = {component: self._find_or_prepare(component) for component in components}
            watched: list[tuple[Component, int]] = []
            for component, pid_or_plan in found.items():
                if pid_or_plan is _Plan.USE_EXTERNAL:
                    continue
                pid = component.launch() if pid_or_plan is _Plan.LAUNCH else pid_or_plan
                watched.append((component, pid))
            _run_blocking(_wait_all_healthy(watched))
        return self.endpoints

    def stop(self, only: Collection[str] | None = None) -> dict[str, int]:
        """Stop the components this stack started: SIGTERM, up to 30 s grace, then SIGKILL.

        Nothing happens for a component that is not running (or not ours), so stopping
        twice is fine.

        Args:
            only: Names of the components to stop; all if None.

        Returns:
            The pid of each component that was stopped, by name.
        """
        components = self._select(only)
        with self._lock():
            running = {c: pid for c in components if (pid := c.running_pid()) is not None}
            terminate(running.values(), STOP_GRACE_S)
            for component, pid in running.items():
                component.pid_path.unlink(missing_ok=True)
                component.note(f"stopped pid {pid}")
                logger.info("%s: stopped pid %d", component.title, pid)
        return {component.name: pid for component, pid in running.items()}

    def restart(self, only: Collection[str] | None = None) -> Endpoints:
        """Stop the selected components this stack runs, then start them again; data is kept.

        Clients see the server go away and come back at the same address, which is what
        outage tests need (``restart(["kafka"])`` restarts only the broker). A component this
        stack does not run (a foreign server on its port) is not stopped, only checked.

        Args:
            only: Names of the components to restart; all if None.

        Returns:
            The endpoints.

        Raises:
            StackError: A component could not be started again.
        """
        self.stop(only)
        return self.start(only)

    def status(self, only: Collection[str] | None = None) -> list[ComponentStatus]:
        """Each component's pid (if this stack runs it) and whether it answers now.

        Args:
            only: Names of the components to report on; all if None.
        """
        components = self._select(only)
        healthy = _run_blocking(_probe_all(components, _STATUS_PROBE_TIMEOUT_S))
        return [
            ComponentStatus(
                name=component.name,
                address=component.address,
                pid=component.running_pid(),
                healthy=is_healthy,
            )
            for component, is_healthy in zip(components, healthy, strict=True)
        ]

    def is_running(self, only: Collection[str] | None = None) -> bool:
        """Whether every selected component answers a health check right now.

        Args:
            only: Names of the components to check; all if None.
        """
        return all(status.healthy for status in self.status(only))

    def log_path(self, name: str) -> Path:
        """The log file of the component called ``name``."""
        return self._select([name])[0].log_path

    def _select(self, only: Collection[str] | None) -> list[Component]:
        everything: list[Component] = [self._temporal, self._kafka]
        if only is None:
            return everything
        unknown = set(only) - set(COMPONENT_NAMES)
        if unknown:
            raise ValueError(f"unknown stack components {sorted(unknown)}; use {COMPONENT_NAMES}")
        return [component for component in everything if component.name in only]

    def _find_or_prepare(self, component: Component) -> int | _Plan:
        """The pid of our running server, USE_EXTERNAL for a healthy foreign one, else LAUNCH.

        LAUNCH means the ports are free and the component is prepared.
        """
        pid = component.running_pid()
        if pid is not None:
            logger.info("%s: already running (pid %d)", component.title, pid)
            return pid
        if is_listening(HOST, component.ports[0]):
            if _run_blocking(component.probe(_EXTERNAL_PROBE_TIMEOUT_S)):
                logger.warning(
                    "%s: using the server already answering at %s (not started by this stack)",
                    component.title,
                    component.address,
                )
                return _Plan.USE_EXTERNAL
            raise component.failure(
                f"cannot start: port {component.address} is taken by another process "
                f"that is not a healthy {component.title} server"
            )
        component.ensure_ports_free()
        component.prepare()
        return _Plan.LAUNCH

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise start and stop across processes sharing this root."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "stack.lock").open("w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


async def _wait_all_healthy(watched: list[tuple[Component, int]]) -> None:
    """Wait for all components at once; raise the first failure after all have settled."""
    results = await asyncio.gather(
        *(component.wait_healthy(pid) for component, pid in watched), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _probe_all(components: list[Component], timeout_s: float) -> list[bool]:
    return list(await asyncio.gather(*(c.probe(timeout_s) for c in components)))
