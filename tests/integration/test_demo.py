"""The demo, run as a user runs it (python -m examples.demo), on the test stack's ports."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from tests.conftest import BIN, ROOT, TEST_STACK_PORTS, TEST_STACK_ROOT

pytestmark = pytest.mark.integration


def test_the_demo_runs_both_orders_to_completion(dev_stack: Any) -> None:
    env = {
        **os.environ,
        "BPMN_STACK_TEMPORAL_PORT": dev_stack.temporal_address.rsplit(":", 1)[1],
        "BPMN_STACK_KAFKA_PORT": dev_stack.kafka_bootstrap.rsplit(":", 1)[1],
        "BPMN_STACK_TEMPORAL_UI_PORT": str(TEST_STACK_PORTS["temporal_ui_port"]),
        "BPMN_STACK_KAFKA_CONTROLLER_PORT": str(TEST_STACK_PORTS["kafka_controller_port"]),
    }
    completed = subprocess.run(
        [str(BIN / "python"), "-m", "examples.demo", "--stack-root", str(TEST_STACK_ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    assert "order_received -> check_order -> amount_gateway -> merge_gateway" in out
    assert "amount_gateway -> approve_order -> merge_gateway -> send_confirmation" in out
    assert '"approvedBy": "kafka-responder"' in out
    assert "Demo complete" in out
