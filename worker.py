"""Run BPMN processes: ``python worker.py --definitions DIR``.

Loads every ``.bpmn`` under DIR, runs the interpreter workflow and the built-in activities on
the task queue ``bpmn``, the built-in connectors (unless ``--no-connectors``) on their job
types' task queues, and (unless ``--no-bridge``) the Kafka correlation bridge; keeps one
Temporal Schedule per timer start event; with ``--external-task-api`` serves Camunda 7's
external-task REST API. Stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import (
    BridgeConfig,
    ConfigurationError,
    CorrelationBridge,
    KafkaPublisher,
    KafkaSettings,
    LoadReport,
    connect_temporal,
    ensure_search_attributes,
    load_definitions,
    make_cancel_instance,
    make_resolve_decision,
    make_resolve_definition,
    make_start_by_event,
    make_subscribe_message,
    sync_timer_start_schedules,
)
from activities.connectors import ConnectorRuntime
from activities.external_tasks import serve_external_task_api
from workflows import (
    DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    DEFAULT_TASK_QUEUE,
    REGISTRY,
    BpmnInterpreter,
    MessageMailbox,
    StandaloneJobWorkflow,
)

logger = logging.getLogger("worker")

# Modules the workflow sandbox shares with the worker instead of re-importing them for every
# instance: the IR, the content-addressed registry the worker fills, and the interpreter itself
# (deterministic by review and by the replay tests; re-importing it per instance cost 1.5-2.7x
# in replay, see BENCHMARKS.md). Everything else a workflow imports stays sandboxed.
PASSTHROUGH_MODULES = ("translator", "workflows", "pydantic", "opentelemetry")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


DEFAULT_MESSAGE_TOPIC = "bpmn-messages"


def interpreter_worker(
    client: Client,
    task_queue: str,
    publisher: KafkaPublisher,
    *,
    continue_as_new_after_events: int = DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    search_attributes: bool = False,
) -> Worker:
    """The Temporal worker for the interpreter and the built-in activities."""
    resolve = make_resolve_definition(
        continue_as_new_after_events=continue_as_new_after_events,
        search_attributes=search_attributes,
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BpmnInterpreter, StandaloneJobWorkflow, MessageMailbox],
        activities=[
            resolve,
            make_resolve_decision(),
            publisher.publish,
            make_subscribe_message(client),
            make_start_by_event(
                client,
                REGISTRY,
                continue_as_new_after_events=continue_as_new_after_events,
                search_attributes=search_attributes,
            ),
            make_cancel_instance(client),
        ],
        workflow_runner=workflow_runner(),
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="worker.py", description="Run BPMN processes as Temporal workflows."
    )
    parser.add_argument(
        "--definitions",
        type=Path,
        required=True,
        help="folder of .bpmn files; every executable process in it is deployed",
    )
    parser.add_argument(
        "--templates",
        type=Path,
        help="folder of Kafka Task templates (*.json) models may name "
        "(default: the definitions folder's templates/ subfolder)",
    )
    parser.add_argument(
        "--temporal-address",
        default=os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        help="Temporal frontend host:port (env TEMPORAL_ADDRESS, default 127.0.0.1:7233)",
    )
    parser.add_argument(
        "--namespace",
        default=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        help="Temporal namespace (env TEMPORAL_NAMESPACE, default 'default')",
    )
    parser.add_argument(
        "--task-queue",
        default=os.environ.get("BPMN_TASK_QUEUE", DEFAULT_TASK_QUEUE),
        help=f"task queue of the interpreter (env BPMN_TASK_QUEUE, default {DEFAULT_TASK_QUEUE!r})",
    )
    parser.add_argument(
        "--kafka-bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--response-topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="extra Kafka response topic for the bridge (repeatable); topics used by the "
        "deployed models are always listened on",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="folder keeping every compiled version, so old instances replay on their own "
        "model after a .bpmn changes (default: DIR/.bpmn-store)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse to start when any .bpmn file has problems (default: skip that file)",
    )
    parser.add_argument(
        "--message-topic",
        action="append",
        metavar="T",
        default=None,
        help="Kafka topic of BPMN messages to publish (repeatable; default bpmn-messages; "
        "--message-topic '' for none)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-bridge", action="store_true", help="do not run the Kafka bridge")
    mode.add_argument(
        "--bridge-only", action="store_true", help="run only the Kafka bridge, no workflows"
    )
    parser.add_argument(
        "--no-connectors",
        action="store_true",
        help="do not serve the built-in connector job types (io.camunda:http-json:1); "
        "another worker does, or none should",
    )
    parser.add_argument(
        "--continue-as-new-after-events",
        type=int,
        default=DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
        metavar="N",
        help="an instance continues as new at its next safe point once its history has N "
        "events (recorded per instance when it starts)",
    )
    parser.add_argument(
        "--no-search-attributes",
        action="store_true",
        help="do not register or set the BpmnProcessId/BpmnDefinitionHash/BpmnBusinessKey "
        "search attributes (the memo still carries them)",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--external-task-api",
        metavar="HOST:PORT",
        help="also serve Camunda 7's external-task REST API at http://HOST:PORT/engine-rest "
        "(fetchAndLock, complete, failure, bpmnError, extendLock, unlock)",
    )
    args = parser.parse_args(argv)
    if args.external_task_api:
        host, _, port = args.external_task_api.rpartition(":")
        if not host or not port.isdigit():
            parser.error(f"--external-task-api: expected HOST:PORT, not {args.external_task_api!r}")
        args.external_task_api = (host.strip("[]"), int(port))
    topics = args.message_topic if args.message_topic is not None else [DEFAULT_MESSAGE_TOPIC]
    args.message_topic = [topic for topic in topics if topic]
    return args


async def serve(
    args: argparse.Namespace, kafka: KafkaSettings, report: LoadReport, stop: asyncio.Event
) -> None:
    client = await connect_temporal(args.temporal_address, args.namespace)
    publisher = KafkaPublisher(kafka)
    tasks: list[asyncio.Task[Any]] = []
    worker = None
    if not args.bridge_only:
        search_attributes = not args.no_search_attributes and await ensure_search_attributes(
            client, args.namespace
        )
        worker = interpreter_worker(
            client,
            args.task_queue,
            publisher,
            continue_as_new_after_events=args.continue_as_new_after_events,
            search_attributes=search_attributes,
        )
        tasks.append(asyncio.create_task(worker.run()))
        schedules = await sync_timer_start_schedules(client, report.deployed, args.task_queue)
        if schedules.created or schedules.updated or schedules.deleted:
            logger.info(
                "Timer start schedules: created %s, updated %s, deleted %s",
                schedules.created or "none",
                schedules.updated or "none",
                schedules.deleted or "none",
            )
    if not args.bridge_only and not args.no_connectors:
        connectors = ConnectorRuntime(client)
        tasks.append(asyncio.create_task(connectors.run()))
        logger.info("Connectors: %s", ", ".join(connectors.job_types))
    if args.external_task_api and not args.bridge_only:
        host, port = args.external_task_api
        tasks.append(asyncio.create_task(serve_external_task_api(client, host, port)))
        logger.info("Camunda 7 external-task API at http://%s:%s/engine-rest", host, port)
    if not args.no_bridge:
        topics = tuple(sorted(report.response_topics() | set(args.response_topic)))
        config = BridgeConfig(
            kafka, topics, tuple(args.message_topic or ()), task_queue=args.task_queue
        )
        bridge = CorrelationBridge(client, config)
        tasks.append(asyncio.create_task(bridge.run()))
    logger.info(
        "Worker ready on task queue %r at %s (namespace %s); processes: %s; decisions: %s",
        args.task_queue,
        args.temporal_address,
        args.namespace,
        ", ".join(d.id for d in report.deployed) or "none",
        ", ".join(d for graph in report.decisions for d in graph.decisions) or "none",
    )
    stopped: asyncio.Task[Any] = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    logger.info("Shutting down")
    if worker is not None:
        await worker.shutdown()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await publisher.close()
    for task in done:
        if task is not stopped and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.definitions.is_dir():
        print(f"error: --definitions {args.definitions} is not a folder", file=sys.stderr)
        return 2
    try:
        kafka = KafkaSettings.from_env(args.kafka_bootstrap_servers)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    store = args.store or args.definitions / ".bpmn-store"
    report = load_definitions(args.definitions, store=store, templates=args.templates)
    for problem in report.problems:
        logger.error("Not deployed: %s", problem)
    if report.problems and args.strict:
        print(
            f"error: {len(report.problems)} problem(s) in {', '.join(report.files_with_problems)}"
            " (--strict); see the log above",
            file=sys.stderr,
        )
        return 1

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(args, kafka, report, stop)

    try:
        asyncio.run(run())
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # e.g. Temporal unreachable at start-up
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
