"""The demo: ``python -m examples.demo`` (``make demo`` does the set-up first).

Starts the local stack (Temporal dev server + Kafka), ``worker.py`` with the example processes,
the example job workers and the Kafka responder; runs two orders (a small one that takes the
default flow, a large one that waits for the Kafka Task's response); prints the path each took
and its final variables; then stops the processes it started. The stack keeps running
(``python -m stack stop`` stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client

from stack import Stack, StackError
from workflows import STATE_QUERY

ROOT = Path(__file__).resolve().parent.parent
ORDERS = [
    {"orderId": 1001, "amount": 40, "businessKey": "order-1001"},
    {"orderId": 1002, "amount": 2500, "businessKey": "order-1002"},
]


def spawn(name: str, args: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def run_orders(temporal_address: str, timeout: float) -> list[dict[str, Any]]:
    client = await Client.connect(temporal_address)
    handles = [
        await client.start_workflow(
            "order-process",
            order,
            id=f"demo-{order['orderId']}-{uuid.uuid4().hex[:8]}",
            task_queue="bpmn",
        )
        for order in ORDERS
    ]
    outcomes = []
    for handle in handles:
        variables = await asyncio.wait_for(handle.result(), timeout)
        state = await handle.query(STATE_QUERY)
        path = [element["element_id"] for element in state["completed"]]
        outcomes.append({"instance": handle.id, "path": path, "variables": variables})
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-root", type=Path, default=ROOT / ".stack")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per order")
    args = parser.parse_args(argv)

    try:
        endpoints = Stack(root=args.stack_root).start()
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"Temporal {endpoints.temporal_address} (UI {endpoints.temporal_ui}), "
        f"Kafka {endpoints.kafka_bootstrap}"
    )
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": endpoints.temporal_address,
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
    }
    logs = args.stack_root / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    processes = [
        spawn("worker", ["worker.py", "--definitions", "examples/processes"], env, logs),
        spawn("job-workers", ["-m", "examples.workers"], env, logs),
        spawn("kafka-responder", ["-m", "examples.kafka_responder"], env, logs),
    ]
    try:
        outcomes = asyncio.run(run_orders(endpoints.temporal_address, args.timeout))
    except TimeoutError:
        print(
            f"error: an order did not complete in {args.timeout:.0f} s; logs in {logs}",
            file=sys.stderr,
        )
        return 1
    finally:
        stop_all(processes)
    for outcome in outcomes:
        print(f"\n{outcome['instance']}")
        print("  path:      " + " -> ".join(outcome["path"]))
        print("  variables: " + json.dumps(outcome["variables"], sort_keys=True))
    print(f"\nDemo complete. Logs: {logs}. Stop the stack with: python -m stack stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
