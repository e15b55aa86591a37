"""What every stack component shares: a home folder, a pid file, a log and a health check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from ._errors import StackError
from ._process import (
    command_line,
    display_path,
    exit_code,
    is_alive,
    is_listening,
    read_pid,
    spawn_detached,
    terminate,
)

__all__ = ["HOST", "STOP_GRACE_S", "Component", "ComponentStatus"]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
"""Every component binds the loopback interface only."""

_PROBE_INTERVAL_S = 0.5
STOP_GRACE_S = 30.0
"""How long a server gets to shut down after SIGTERM before it gets SIGKILL."""


@dataclass(frozen=True)
class ComponentStatus:
    """What ``Stack.status()`` reports about one component.

    Attributes:
        name: The component's name, ``"temporal"`` or ``"kafka"``.
        address: Where clients reach it (``host:port``).
        pid: The pid of the process this stack started, or None if none is running.
        healthy: Whether it answered a real API call just now.
    """

    name: str
    address: str
    pid: int | None
    healthy: bool

    @property
    def external(self) -> bool:
        """Whether a healthy service answers on the address without this stack running it."""
        return self.healthy and self.pid is None


class Component(ABC):
    """One server of the stack: how to prepare, launch, recognise and health-check it.

    Subclasses describe the server; this class owns the life cycle. Each component lives in
    its own folder ``<root>/<name>`` with ``<name>.pid`` and its log file.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    start_timeout_s: ClassVar[float]

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pid_path = home / f"{self.name}.pid"

    @property
    @abstractmethod
    def log_path(self) -> Path:
        """The file the server's output goes to."""

    @property
    @abstractmethod
    def ports(self) -> tuple[int, ...]:
        """The ports the server binds; the first one is where clients connect."""

    @property
    def address(self) -> str:
        """``host:port`` of the client port."""
        return f"{HOST}:{self.ports[0]}"

    @abstractmethod
    def prepare(self) -> None:
        """Get everything the server needs before its first launch (binaries, config, data)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The server's command line, with an absolute executable path."""

    @abstractmethod
    def owns_command(self, argv: list[str]) -> bool:
        """Whether a process with this command line is this component's server."""

    @abstractmethod
    async def probe(self, timeout_s: float) -> bool:
        """Whether the server answers a real API call within ``timeout_s``."""

    def running_pid(self) -> int | None:
        """The pid from the pid file if that process runs and is ours; drops a stale file."""
        pid = read_pid(self.pid_path)
        if pid is None:
            return None
        if is_alive(pid) and self.owns_command(command_line(pid)):
            return pid
        logger.info("%s: removing stale pid file (pid %d is not this server)", self.title, pid)
        self.pid_path.unlink(missing_ok=True)
        return None

    def ensure_ports_free(self) -> None:
        """Raise if another process listens on one of the ports this server would bind."""
        for port in self.ports:
            if is_listening(HOST, port):
                raise self.failure(f"cannot start: port {HOST}:{port} is taken by another process")

    def launch(self) -> int:
        """Start the server detached and record its pid."""
        argv = self.command()
        self.note(f"starting: {' '.join(argv)}")
        pid = spawn_detached(argv, self.log_path, os.environ)
        self.pid_path.write_text(f"{pid}\n")
        logger.info("%s: started pid %d, log %s", self.title, pid, display_path(self.log_path))
        return pid

    async def wait_healthy(self, pid: int) -> None:
        """Wait until the server answers, or raise StackError (and stop the process).

        Args:
            pid: The server's process; when it exits, waiting stops at once.
        """
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if not is_alive(pid):
                break
            if await self.probe(min(5.0, max(0.5, deadline - time.monotonic()))):
                logger.info("%s: healthy at %s", self.title, self.address)
                return
            await asyncio.sleep(_PROBE_INTERVAL_S)
        raise self._did_not_start(pid)

    def _did_not_start(self, pid: int) -> StackError:
        if not is_alive(pid):
            code = exit_code(pid)
            exited = "exited" if code is None else f"exited with code {code}"
            self.pid_path.unlink(missing_ok=True)
            return self.failure(f"process {exited} before it became healthy")
        self.stop_process(pid)
        limit = f"{self.start_timeout_s:.0f} s"
        return self.failure(f"did not become healthy within {limit} (the process was stopped)")

    def stop_process(self, pid: int) -> None:
        """Stop ``pid`` (SIGTERM, grace period, SIGKILL) and remove the pid file."""
        terminate([pid], STOP_GRACE_S)
        self.pid_path.unlink(missing_ok=True)

    def failure(self, reason: str, log_path: Path | None = None) -> StackError:
        """A StackError for ``reason``, also written to the log so the log tells the story.

        Args:
            reason: Why, phrased to follow the component's title ("Kafka <reason>").
            log_path: The log that shows the details, if not the component's own.
        """
        self.note(f"error: {reason}")
        return StackError(f"{self.title} {reason}; see {display_path(log_path or self.log_path)}")

    def note(self, message: str) -> None:
        """Append a line from the stack itself to the component's log."""
        stamp = datetime.now().isoformat(sep=" ", timespec="seconds")
        with contextlib.suppress(OSError):
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a") as log:
                log.write(f"[{stamp}] [stack] {message}\n")
