"""``bpmn``: check models and operate instances from the command line.

    bpmn check ./processes                        # compile, list what deploys and what not
    bpmn start order-process --variables '{"orderId": 7}' --business-key order-7 --wait
    bpmn start order-process --definitions ./processes   # the version pinned at start
    bpmn state order-7-...                        # where an instance is, its incidents
    bpmn resolve <instance> <incident key> --variables '{"amount": 5}'
    bpmn publish payment-received order-7 --variables '{"amount": 42}' --ttl PT1H
    bpmn correlate payment-received order-7       # which instance took it, or exit 1
    bpmn signal stock-replenished --variables '{"sku": "A-7"}'
    bpmn cancel <instance> --reason "customer withdrew"

It speaks the same wire contracts as ``temporal workflow ...`` (see the README) and reads
``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE`` and the TLS/API key variables as ``worker.py`` does.
Errors are one line on stderr and exit status 1; never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities import (
    LoadReport,
    MessageError,
    StartConditionError,
    broadcast_signal,
    connect_temporal,
    correlate_message,
    evaluate_start_conditions,
    load_definitions,
    publish_message,
    search_attributes_available,
    start_instance,
)
from translator import ProcessDefinition
from translator.expressions._temporal import parse_duration
from workflows import (
    ACTIVATE_AD_HOC_ELEMENTS_UPDATE,
    BUSINESS_KEY_VARIABLE,
    CANCEL_UPDATE,
    COMPLETE_USER_TASK_UPDATE,
    DEFAULT_TASK_QUEUE,
    RESOLVE_INCIDENT_UPDATE,
    SET_VARIABLES_UPDATE,
    STATE_QUERY,
    DefinitionRegistry,
)


class CliError(Exception):
    """Bad input or a refused operation: printed as one line, exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args))
    except CliError as error:
        print(f"bpmn: {error}", file=sys.stderr)
        return 1


async def run(args: argparse.Namespace) -> int:
    """Run one parsed command; its output goes to stdout."""
    if args.command == "check":
        return _check(args.path)
    try:
        client = await connect_temporal(args.address, args.namespace)
    except RuntimeError as error:
        raise CliError(f"cannot reach Temporal at {args.address}: {error}") from None
    try:
        return int(await COMMANDS[args.command](client, args))
    except (WorkflowUpdateFailedError, WorkflowFailureError) as error:
        raise CliError(_reason(error)) from None
    except RPCError as error:
        raise CliError(error.message) from None
    except MessageError as error:
        raise CliError(str(error)) from None


def _check(path: Path) -> int:
    if not path.exists():
        raise CliError(f"{path} does not exist")
    folder = path if path.is_dir() else path.parent
    report = load_definitions(folder, registry=DefinitionRegistry())
    if path.is_file():
        report.deployed = [d for d in report.deployed if Path(d.source) == path]
        report.decisions = [g for g in report.decisions if Path(g.source) == path]
        report.problems = [p for p in report.problems if Path(p.file) == path]
    for definition in report.deployed:
        print(f"ok       {definition.id}  ({definition.source}, {definition.content_hash[:12]})")
    for graph in report.decisions:
        decisions = ", ".join(graph.decisions)
        print(f"ok       decisions {decisions}  ({graph.source}, {graph.content_hash[:12]})")
    for problem in report.problems:
        print(f"problem  {problem}")
    return 1 if report.problems else 0


async def _start(client: Client, args: argparse.Namespace) -> int:
    variables = _json_object(args.variables, "--variables")
    if args.business_key is not None:
        variables[BUSINESS_KEY_VARIABLE] = args.business_key
    instance_id = args.id or f"{args.process_id}-{uuid.uuid4()}"
    if args.definitions is None:
        handle = await client.start_workflow(
            args.process_id, variables, id=instance_id, task_queue=args.task_queue
        )
    else:
        definition = _latest_version(args.definitions, args.process_id)
        # Set at start, as worker.py's instances set them, when the namespace has them.
        search_attributes = not args.no_search_attributes and await search_attributes_available(
            client, client.namespace
        )
        handle = await start_instance(
            client,
            definition,
            variables,
            instance_id=instance_id,
            task_queue=args.task_queue,
            search_attributes=search_attributes,
        )
    print(instance_id)
    if args.wait:
        _print_json(await handle.result())
    return 0


def _latest_version(folder: Path, process_id: str) -> ProcessDefinition:
    """The version of ``process_id`` that ``worker.py --definitions folder`` deploys."""
    report = _deployed_from(folder)
    for definition in report.deployed:
        if definition.id == process_id:
            return definition
    deployed = ", ".join(sorted(d.id for d in report.deployed)) or "none"
    raise CliError(f"{folder} deploys no process {process_id!r} (it deploys: {deployed})")


def _deployed_from(folder: Path) -> LoadReport:
    """What ``worker.py --definitions folder`` deploys."""
    if not folder.is_dir():
        raise CliError(f"--definitions {folder} is not a folder")
    return load_definitions(folder, registry=DefinitionRegistry())


async def _evaluate_conditions(client: Client, args: argparse.Namespace) -> int:
    variables = _json_object(args.variables, "--variables")
    report = _deployed_from(args.definitions)
    search_attributes = not args.no_search_attributes and await search_attributes_available(
        client, client.namespace
    )
    try:
        started = await evaluate_start_conditions(
            client,
            report.deployed,
            variables,
            process_id=args.process_id,
            task_queue=args.task_queue,
            search_attributes=search_attributes,
        )
    except StartConditionError as error:
        raise CliError(str(error)) from None
    for handle in started:
        print(handle.id)
    return 0


async def _state(client: Client, args: argparse.Namespace) -> int:
    _print_json(await client.get_workflow_handle(args.instance).query(STATE_QUERY))
    return 0


async def _update(client: Client, args: argparse.Namespace, name: str, request: Any) -> int:
    answer = await client.get_workflow_handle(args.instance).execute_update(name, request)
    if answer is not None:
        _print_json(answer)
    return 0


async def _resolve(client: Client, args: argparse.Namespace) -> int:
    request = {
        "incident_key": args.incident_key,
        "variables": _json_object(args.variables, "--variables"),
    }
    return await _update(client, args, RESOLVE_INCIDENT_UPDATE, request)


async def _set_variables(client: Client, args: argparse.Namespace) -> int:
    variables = _json_object(args.variables, "variables")
    return await _update(client, args, SET_VARIABLES_UPDATE, variables)


async def _complete_user_task(client: Client, args: argparse.Namespace) -> int:
    request = {
        "element_id": args.element_id,
        "variables": _json_object(args.variables, "--variables"),
    }
    return await _update(client, args, COMPLETE_USER_TASK_UPDATE, request)


async def _activate_elements(client: Client, args: argparse.Namespace) -> int:
    variables = _json_object(args.variables, "--variables")
    request = {
        "element_id": args.ad_hoc_sub_process,
        "elements": [{"element_id": e, "variables": variables} for e in args.elements],
    }
    return await _update(client, args, ACTIVATE_AD_HOC_ELEMENTS_UPDATE, request)


async def _cancel(client: Client, args: argparse.Namespace) -> int:
    return await _update(client, args, CANCEL_UPDATE, {"reason": args.reason})


async def _publish(client: Client, args: argparse.Namespace) -> int:
    await publish_message(
        client,
        args.name,
        args.correlation_key,
        _json_object(args.variables, "--variables"),
        time_to_live=_duration(args.ttl),
        message_id=args.message_id,
        task_queue=args.task_queue,
    )
    return 0


async def _correlate(client: Client, args: argparse.Namespace) -> int:
    result = await correlate_message(
        client,
        args.name,
        args.correlation_key,
        _json_object(args.variables, "--variables"),
        task_queue=args.task_queue,
    )
    _print_json(result.model_dump(mode="json"))
    return 0


async def _signal(client: Client, args: argparse.Namespace) -> int:
    variables = _json_object(args.variables, "--variables")
    await broadcast_signal(client, args.name, variables, task_queue=args.task_queue)
    return 0


COMMANDS = {
    "start": _start,
    "evaluate-conditions": _evaluate_conditions,
    "state": _state,
    "resolve": _resolve,
    "set-variables": _set_variables,
    "complete-user-task": _complete_user_task,
    "activate-elements": _activate_elements,
    "cancel": _cancel,
    "publish": _publish,
    "correlate": _correlate,
    "signal": _signal,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bpmn", description="Check BPMN models and operate their instances on Temporal."
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        help="Temporal frontend host:port (env TEMPORAL_ADDRESS)",
    )
    parser.add_argument(
        "--namespace",
        default=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        help="Temporal namespace (env TEMPORAL_NAMESPACE)",
    )
    parser.add_argument(
        "--task-queue", default=DEFAULT_TASK_QUEUE, help="the interpreter's task queue"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="compile a .bpmn/.dmn file or folder, list problems")
    check.add_argument("path", type=Path)

    start = commands.add_parser("start", help="start an instance; prints its id")
    start.add_argument("process_id")
    _variables_option(start)
    start.add_argument("--business-key", help=f"sets the variable {BUSINESS_KEY_VARIABLE!r}")
    start.add_argument("--id", help="the workflow id (default: <process id>-<uuid>)")
    start.add_argument("--wait", action="store_true", help="wait and print the final variables")
    start.add_argument(
        "--definitions",
        type=Path,
        help="pin the version this folder deploys at start (as worker.py --definitions loads "
        "it), instead of letting the instance ask its worker",
    )
    start.add_argument(
        "--no-search-attributes",
        action="store_true",
        help="with --definitions: do not set the Bpmn* search attributes (set when the "
        "namespace has them, as worker.py sets them)",
    )

    commands.add_parser("state", help="print an instance's state").add_argument("instance")

    resolve = commands.add_parser("resolve", help="retry the step of an incident")
    resolve.add_argument("instance")
    resolve.add_argument("incident_key")
    _variables_option(resolve, "set before the retry")

    set_variables = commands.add_parser("set-variables", help="merge variables into an instance")
    set_variables.add_argument("instance")
    set_variables.add_argument("variables", help="a JSON object")

    user_task = commands.add_parser("complete-user-task", help="complete an active user task")
    user_task.add_argument("instance")
    user_task.add_argument("element_id")
    _variables_option(user_task)

    activation = commands.add_parser(
        "activate-elements", help="activate elements of an active ad-hoc sub-process"
    )
    activation.add_argument("instance")
    activation.add_argument("ad_hoc_sub_process", help="the ad-hoc sub-process's element id")
    activation.add_argument("elements", nargs="+", help="ids of the elements to activate")
    _variables_option(activation, "local to each activation")

    cancel = commands.add_parser("cancel", help="cancel an instance (it ends canceled)")
    cancel.add_argument("instance")
    cancel.add_argument("--reason", default="canceled from the bpmn CLI")

    publish = commands.add_parser("publish", help="publish a message (buffered for its TTL)")
    publish.add_argument("name")
    publish.add_argument("correlation_key")
    _variables_option(publish)
    publish.add_argument("--ttl", default="PT1H", help="time to live, ISO 8601 (default PT1H)")
    publish.add_argument("--message-id", help="publishing twice with one id correlates once")

    correlate = commands.add_parser(
        "correlate", help="correlate a message now; print the instance, or exit 1"
    )
    correlate.add_argument("name")
    correlate.add_argument("correlation_key")
    _variables_option(correlate)

    signal = commands.add_parser("signal", help="broadcast a signal")
    signal.add_argument("name")
    _variables_option(signal)
    conditions = commands.add_parser(
        "evaluate-conditions",
        help="start the processes whose conditional start event holds on the variables "
        "(Camunda 7's evaluateStartConditions); prints the instances started",
    )
    conditions.add_argument("--definitions", type=Path, required=True, help="as worker.py's")
    conditions.add_argument("--process-id", help="only this process")
    conditions.add_argument(
        "--no-search-attributes", action="store_true", help="do not set the Bpmn* attributes"
    )
    _variables_option(conditions)
    return parser.parse_args(argv)


def _variables_option(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument(
        "--variables", default="{}", help=f"a JSON object{' ' + what if what else ''}"
    )


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise CliError(f"{what} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise CliError(f"{what} must be a JSON object, like '{{\"orderId\": 7}}'")
    return value


def _duration(text: str) -> timedelta:
    duration = parse_duration(text)
    if not isinstance(duration, timedelta):
        raise CliError(f"--ttl {text!r} is not an ISO 8601 duration like 'PT10M'")
    return duration


def _reason(error: WorkflowUpdateFailedError | WorkflowFailureError) -> str:
    cause: BaseException | None = error.cause
    while getattr(cause, "cause", None) is not None:
        cause = getattr(cause, "cause")  # noqa: B009 - the attribute only some errors have
    return str(getattr(cause, "message", None) or cause or error)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


if __name__ == "__main__":
    sys.exit(main())
