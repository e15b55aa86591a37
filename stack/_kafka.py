"""A single-node Apache Kafka broker in KRaft mode, run from the official Maven artifacts."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import subprocess
import uuid
from contextvars import ContextVar
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from ._component import HOST, Component

__all__ = ["KafkaBroker"]

logger = logging.getLogger(__name__)

_RESOURCES = Path(__file__).parent / "kafka"
POM_PATH = _RESOURCES / "pom.xml"
LOG4J_CONFIG_PATH = _RESOURCES / "log4j2.properties"

_MAVEN_TIMEOUT_S = 900
_FORMAT_TIMEOUT_S = 120


# Set while a probe runs: connection errors are then expected, not worth aiokafka's ERROR logs.
_probing: ContextVar[bool] = ContextVar("stack_kafka_probing", default=False)


class _DropWhileProbing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _probing.get()


_DROP_WHILE_PROBING = _DropWhileProbing()
_AIOKAFKA_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.admin.client")


def _quiet_aiokafka_while_probing() -> None:
    """Filter the aiokafka loggers that report refused connections (only inside probes)."""
    for name in _AIOKAFKA_LOGGERS:
        aiokafka_logger = logging.getLogger(name)
        if _DROP_WHILE_PROBING not in aiokafka_logger.filters:
            aiokafka_logger.addFilter(_DROP_WHILE_PROBING)


def _find_java() -> Path | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return Path(java_home) / "bin" / "java"
    on_path = shutil.which("java")
    return Path(on_path) if on_path else None


def _new_cluster_id() -> str:
    """A random Kafka cluster id: 16 bytes, URL-safe base64 without padding, as Kafka's own.

    Like Kafka's ``Uuid.randomUuid`` it avoids a leading ``-``, which CLIs read as a flag.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker(Component):
    """Kafka as one combined broker and controller (node 1), data in ``<home>/data``.

    The jars are resolved by Maven from ``stack/kafka/pom.xml`` into ``<home>/lib`` on the
    first start (and again when the pom changes); the storage is formatted once.

    Args:
        home: The component's folder.
        port: The PLAINTEXT listener clients bootstrap from.
        controller_port: The KRaft CONTROLLER listener.
    """

    name = "kafka"
    title = "Kafka"
    start_timeout_s = 90.0

    def __init__(self, home: Path, port: int, controller_port: int) -> None:
        super().__init__(home)
        self.port = port
        self.controller_port = controller_port
        self.lib_dir = home / "lib"
        self.data_dir = home / "data"
        self.config_path = home / "server.properties"
        self.maven_log_path = home / "maven.log"

    @property
    def log_path(self) -> Path:
        """The broker's log (log4j to stdout, redirected here) and the storage tool's output."""
        return self.home / "kafka.log"

    @property
    def ports(self) -> tuple[int, ...]:
        """PLAINTEXT (clients), then CONTROLLER."""
        return (self.port, self.controller_port)

    def prepare(self) -> None:
        """Resolve the jars, write the config, and format the storage on first use."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._java()  # fail early, before a long Maven run, if there is no Java
        self._resolve_jars()
        self.config_path.write_text(self._server_properties())
        self._format_storage()

    def command(self) -> list[str]:
        """``java kafka.Kafka server.properties`` with the resolved jars and our log4j config."""
        return [
            str(self._java()),
            "-Xmx512m",
            "-Xms128m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG_PATH}",
            "-cp",
            f"{self.lib_dir}/*",
            "kafka.Kafka",
            str(self.config_path),
        ]

    def owns_command(self, argv: list[str]) -> bool:
        """A broker started with this component's config file is ours."""
        return "kafka.Kafka" in argv and str(self.config_path) in argv

    async def probe(self, timeout_s: float) -> bool:
        """Bootstrap an admin client and describe the cluster: it must list a broker."""
        _quiet_aiokafka_while_probing()
        probing = _probing.set(True)
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.address,
            request_timeout_ms=int(timeout_s * 1000),
        )
        try:
            async with asyncio.timeout(timeout_s):
                await admin.start()
                cluster = await admin.describe_cluster()
        # A probe answers yes or no: any failure (refused, timeout, protocol) means "not yet".
        except Exception as error:
            logger.debug("Kafka probe at %s failed: %s", self.address, error)
            return False
        finally:
            await admin.close()
            _probing.reset(probing)
        return bool(cluster.get("brokers"))

    def _java(self) -> Path:
        java = _find_java()
        if java is None:
            raise self.failure("cannot start: no `java` on PATH or in JAVA_HOME (needs Java 17+)")
        return java

    def _resolve_jars(self) -> None:
        """Copy Kafka's runtime jars into ``lib/`` with Maven, unless the marker says they're in."""
        pom_hash = hashlib.sha256(POM_PATH.read_bytes()).hexdigest()
        marker = self.lib_dir / ".pom-sha256"
        resolved = marker.is_file() and marker.read_text().strip() == pom_hash
        if resolved and any(self.lib_dir.glob("kafka_2.13-*.jar")):
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise self.failure(
                "cannot start: its jars are not resolved yet and `mvn` is not on PATH"
            )
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        logger.info("Kafka: resolving the broker jars with Maven (first start only)")
        argv = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM_PATH),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={self.lib_dir}",
        ]
        problem = self._run_logged(argv, self.maven_log_path, _MAVEN_TIMEOUT_S, append=False)
        if problem:
            reason = f"jars could not be resolved by Maven ({problem})"
            raise self.failure(reason, log_path=self.maven_log_path)
        marker.write_text(f"{pom_hash}\n")

    def _format_storage(self) -> None:
        """Format the KRaft storage once; ``meta.properties`` marks a formatted directory."""
        if (self.data_dir / "meta.properties").is_file():
            return
        self.note("formatting the KRaft storage (first start only)")
        argv = [
            str(self._java()),
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG_PATH}",
            "-cp",
            f"{self.lib_dir}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _new_cluster_id(),
            "-c",
            str(self.config_path),
        ]
        problem = self._run_logged(argv, self.log_path, _FORMAT_TIMEOUT_S, append=True)
        if problem:
            raise self.failure(f"storage could not be formatted ({problem})")

    @staticmethod
    def _run_logged(argv: list[str], log_path: Path, timeout_s: float, *, append: bool) -> str:
        """Run a setup command, its output going to ``log_path``.

        Returns:
            An empty string on success, else why it failed ("exit code 1", "timed out ...").
        """
        with log_path.open("a" if append else "w") as log:
            try:
                result = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=timeout_s
                )
            except subprocess.TimeoutExpired:
                return f"timed out after {timeout_s:.0f} s"
        return "" if result.returncode == 0 else f"exit code {result.returncode}"

    def _server_properties(self) -> str:
        client = f"{HOST}:{self.port}"
        controller = f"{HOST}:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"PLAINTEXT://{client},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{client}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            # A consumer group joins at once instead of waiting 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
            # One node: every internal topic has one replica, and one partition is plenty
            # (the default 50 offset partitions slow down the first consumer group).
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
        }
        header = "# Written by `python -m stack` on every start; edits are overwritten.\n"
        return header + "".join(f"{key}={value}\n" for key, value in settings.items())
