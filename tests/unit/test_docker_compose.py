"""The production topology in docker-compose.yml (and the Dockerfile it builds) holds together.

Docker cannot run here, so these checks read the files: every service, port, dependency,
health check and the settings the worker and bridge rely on.
"""

from __future__ import annotations

import base64
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

Service = dict[str, Any]


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return dict(compose["services"])


def _published_ports(service: Service) -> dict[int, int]:
    """Host port -> container port, from short ``"HOST:CONTAINER"`` entries."""
    published = {}
    for entry in service.get("ports", []):
        host, container = str(entry).rsplit(":", 2)[-2:]
        published[int(host)] = int(container)
    return published


def _dependencies(service: Service) -> dict[str, str]:
    """Dependency -> condition (``service_started`` for the short list form)."""
    depends_on = service.get("depends_on", {})
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends_on.items()}


def _healthcheck_command(service: Service) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def _listeners(value: str) -> dict[str, str]:
    """``NAME://host:port,...`` -> {NAME: "host:port"}."""
    return dict(item.split("://", 1) for item in value.split(","))


def test_every_service_of_the_topology_is_there(services: dict[str, Service]) -> None:
    assert set(services) == {"postgresql", "temporal", "temporal-ui", "kafka", "worker", "bridge"}


def test_published_ports(services: dict[str, Service]) -> None:
    assert _published_ports(services["temporal"]) == {7233: 7233}
    assert _published_ports(services["temporal-ui"]) == {8080: 8080}
    assert 9092 in _published_ports(services["kafka"])
    assert _published_ports(services["postgresql"]) == {}


def test_dependencies_wait_for_health_where_it_matters(services: dict[str, Service]) -> None:
    assert _dependencies(services["temporal"]) == {"postgresql": "service_healthy"}
    assert set(_dependencies(services["temporal-ui"])) == {"temporal"}
    assert set(_dependencies(services["worker"])) == {"temporal", "kafka"}
    bridge = _dependencies(services["bridge"])
    assert set(bridge) == {"kafka", "temporal"}
    assert bridge["kafka"] == "service_healthy"


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("postgresql", "pg_isready"),
        ("temporal", "cluster health"),
        ("kafka", "kafka-broker-api-versions"),
    ],
)
def test_stateful_services_have_real_health_checks(
    services: dict[str, Service], name: str, probe: str
) -> None:
    assert probe in _healthcheck_command(services[name])
    assert services[name]["healthcheck"]["retries"] >= 3


def test_postgresql_keeps_its_data_in_a_volume(services: dict[str, Service]) -> None:
    assert any(
        str(volume).endswith(":/var/lib/postgresql/data")
        for volume in services["postgresql"]["volumes"]
    )


def test_temporal_runs_on_postgresql(services: dict[str, Service]) -> None:
    temporal = services["temporal"]
    postgresql = services["postgresql"]["environment"]

    assert temporal["image"].startswith("temporalio/auto-setup:")
    env = temporal["environment"]
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgresql"
    assert env["POSTGRES_USER"] == postgresql["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == postgresql["POSTGRES_PASSWORD"]


def test_the_ui_talks_to_temporal(services: dict[str, Service]) -> None:
    ui = services["temporal-ui"]

    assert ui["image"].startswith("temporalio/ui:")
    assert ui["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_kafka_is_a_single_kraft_node(services: dict[str, Service]) -> None:
    kafka = services["kafka"]
    env = {key: str(value) for key, value in kafka["environment"].items()}
    listeners = _listeners(env["KAFKA_LISTENERS"])
    controller_port = listeners["CONTROLLER"].rsplit(":", 1)[1]

    assert kafka["image"].startswith("apache/kafka:4.")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert (
        env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:{controller_port}"
    )
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    for name in listeners:
        assert f"{name}:" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    for factor in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[factor] == "1"


def test_kafka_advertises_an_address_to_each_side(services: dict[str, Service]) -> None:
    kafka = services["kafka"]
    env = kafka["environment"]
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    published = _published_ports(kafka)

    # Containers: the address the worker and bridge bootstrap from is advertised.
    assert services["worker"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] in advertised.values()
    # Host: localhost:9092 reaches a listener that advertises localhost:9092 again.
    external = next(name for name, address in advertised.items() if address == "localhost:9092")
    assert published[9092] == int(listeners[external].rsplit(":", 1)[1])


@pytest.mark.parametrize(
    ("name", "mode_flag"), [("worker", "--no-bridge"), ("bridge", "--bridge-only")]
)
def test_worker_and_bridge_run_the_project_image(
    services: dict[str, Service], name: str, mode_flag: str
) -> None:
    service = services[name]

    assert service["build"] == "."
    assert service["command"] == ["python", "worker.py", "--definitions", "/definitions", mode_flag]
    assert service["environment"] == {
        "TEMPORAL_ADDRESS": "temporal:7233",
        "TEMPORAL_NAMESPACE": "default",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    }
    assert "./examples:/definitions:ro" in service["volumes"]
    assert services["worker"]["image"] == services["bridge"]["image"]


def test_the_internal_addresses_point_at_services(services: dict[str, Service]) -> None:
    env = services["worker"]["environment"]

    for address in (env["TEMPORAL_ADDRESS"], env["KAFKA_BOOTSTRAP_SERVERS"]):
        assert address.split(":", 1)[0] in services


def test_dockerfile_installs_the_package_it_copies() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    packages = [pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]]
    copied = " ".join(re.findall(r"^COPY (.+)$", dockerfile, flags=re.MULTILINE))

    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    assert re.search(r"^RUN pip install \.$", dockerfile, flags=re.MULTILINE)
    for package in packages:
        assert f"{package}/" in copied
    for module in setuptools["py-modules"]:
        assert f"{module}.py" in copied
    assert "pyproject.toml" in copied
