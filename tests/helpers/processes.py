"""Starting ``worker.py`` as a user would: a real process, with its log kept for assertions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import ROOT


@contextmanager
def worker_process(
    definitions: Path,
    log: Path,
    temporal_address: str,
    kafka_bootstrap: str,
    *extra: str,
    ready_timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python worker.py`` until the block ends, then stop it with SIGTERM."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_address,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "worker.py", "--definitions", str(definitions), *extra],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_log(log, "Worker ready", process, ready_timeout)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise AssertionError(f"worker.py did not stop on SIGTERM; log: {log}") from None


def wait_for_log(
    log: Path, text: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return content
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}:\n{content}")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {log} after {timeout} s:\n{log.read_text()}")


def log_count(log: Path, text: str) -> int:
    """How many times ``text`` occurs in ``log`` so far (0 if it does not exist yet)."""
    return log.read_text(errors="replace").count(text) if log.exists() else 0


def wait_for_log_count(
    log: Path,
    text: str,
    count: int,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = 30.0,
) -> int:
    """Wait until ``text`` occurs at least ``count`` times in ``log``; returns how many times.

    Polls every 10 ms, so a caller can act (say, kill the process) soon after the count is hit.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = log_count(log, text)
        if found >= count:
            return found
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}; log: {log}")
        time.sleep(0.01)
    raise AssertionError(f"{text!r} {log_count(log, text)} times (not {count}) in {log}")


@contextmanager
def paused(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Freeze ``process`` (SIGSTOP) for the block: a stalled worker, as a long GC pause or an
    overloaded host would stall it. It always gets SIGCONT, so it can be stopped afterwards."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)
