"""``python -m stack start|stop|restart|status``: the local Temporal + Kafka stack from a shell."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ._component import ComponentStatus
from ._errors import StackError
from ._stack import COMPONENT_NAMES, Stack

_DESCRIPTION = """\
Run the local development stack: a Temporal dev server (gRPC 127.0.0.1:7233,
Web UI http://127.0.0.1:8233) and a single-node Apache Kafka broker in KRaft mode
(127.0.0.1:9092). Processes run detached; data, logs and pid files live under --root.

Ports: BPMN_STACK_TEMPORAL_PORT, BPMN_STACK_TEMPORAL_UI_PORT, BPMN_STACK_KAFKA_PORT,
BPMN_STACK_KAFKA_CONTROLLER_PORT override the defaults.
"""

_EXIT_NOT_RUNNING = 3  # like `systemctl status` / LSB: "program is not running"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stack",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(".stack"),
        help="folder for all data, logs and pid files (default: .stack)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = commands.add_parser(
        "start",
        help="start what is not running and wait until it is healthy; print the endpoints",
        description="Start the stack (or the --only components) and wait until every component "
        "answers a real API call. Running components are kept, so starting twice is harmless. "
        "The first start resolves Kafka's jars with Maven. Exits 1 with the reason and the "
        "log to read when a component cannot start.",
    )
    stop = commands.add_parser(
        "stop",
        help="stop what this stack started (SIGTERM, then SIGKILL after 30 s)",
        description="Stop the components this stack started; nothing happens for those that "
        "are not running. Data under --root is kept.",
    )
    restart = commands.add_parser(
        "restart",
        help="stop what this stack started, then start it again (data is kept)",
        description="Stop the stack (or the --only components) as `stop` does, then start it "
        "as `start` does; data under --root is kept. `restart --only kafka` restarts just the "
        "broker, for trying what clients do when Kafka goes away and comes back.",
    )
    for command in (start, stop, restart):
        command.add_argument(
            "--only",
            action="append",
            choices=COMPONENT_NAMES,
            help="act on this component only (repeatable)",
        )
    commands.add_parser(
        "status",
        help="show each component as up or down, with its pid and address",
        description="Show each component's state, pid and address. Exits 0 when all are up, "
        f"{_EXIT_NOT_RUNNING} otherwise.",
    )
    return parser


def _status_line(status: ComponentStatus, stack: Stack) -> str:
    if status.healthy:
        state = "up (external)" if status.external else "up"
    else:
        state = "unhealthy" if status.pid is not None else "down"
    pid = f"pid {status.pid}" if status.pid is not None else "-"
    extra = f"  UI {stack.endpoints.temporal_ui}" if status.name == "temporal" else ""
    return f"{status.name:<9} {state:<14} {pid:<11} {status.address}{extra}"


def _print_status(stack: Stack, only: list[str] | None = None) -> bool:
    statuses = stack.status(only)
    for status in statuses:
        print(_status_line(status, stack))
    return all(status.healthy for status in statuses)


def _start(stack: Stack, only: list[str] | None) -> int:
    endpoints = stack.start(only)
    _print_status(stack, only)
    print()
    if only is None or "temporal" in only:
        print(f"export TEMPORAL_ADDRESS={endpoints.temporal_address}")
    if only is None or "kafka" in only:
        print(f"export KAFKA_BOOTSTRAP_SERVERS={endpoints.kafka_bootstrap}")
    return 0


def _stop(stack: Stack, only: list[str] | None) -> int:
    stopped = stack.stop(only)
    for name, pid in stopped.items():
        print(f"stopped {name} (pid {pid})")
    if not stopped:
        print("nothing to stop")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
    )
    try:
        stack = Stack(args.root)
        if args.command == "start":
            return _start(stack, args.only)
        if args.command == "stop":
            return _stop(stack, args.only)
        if args.command == "restart":
            _stop(stack, args.only)
            return _start(stack, args.only)
        return 0 if _print_status(stack) else _EXIT_NOT_RUNNING
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
