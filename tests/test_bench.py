"""The benchmark's quick mode runs every workload and reports numbers (never a timing check)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICK_PORT = 23333 + int(os.environ.get("BPMN_TEST_PORT_OFFSET", "0"))
"""Not the full run's 37233, so both can share the machine; and below 32768, where the kernel
hands out ephemeral ports (the bench's Kafka takes port + 4000 and + 4001)."""


@pytest.mark.integration
def test_quick_benchmark_runs_every_workload(tmp_path: Path) -> None:
    output, numbers = tmp_path / "BENCHMARKS.md", tmp_path / "numbers.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--output",
            str(output),
            "--json",
            str(numbers),
            "--state-dir",
            str(tmp_path / "state"),
            "--port",
            str(QUICK_PORT),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    sections = json.loads(numbers.read_text())
    assert len(sections) == 8, sorted(sections)
    for title, section in sections.items():
        finite = [v for v in section["numbers"].values() if not math.isnan(v)]
        assert finite, f"{title}: no numbers ({section['skipped']})"
    report = output.read_text()
    assert "## Targets" in report
    assert "python -m bench --quick" in report
