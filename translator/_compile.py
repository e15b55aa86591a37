"""compile_bytes / compile_file: BPMN XML in, validated ProcessDefinitions out."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from lxml import etree

from translator import _dialects as dialects
from translator._context import CompileContext
from translator._errors import TranslationError
from translator._model import ProcessDefinition
from translator._namespaces import bpmn
from translator._scopes import Scope, compile_scope
from translator._templates import KafkaTaskTemplate
from translator._xml import MAX_FILE_BYTES, forget_children, parse_definitions, read_model_file

__all__ = ["MAX_FILE_BYTES", "compile_bytes", "compile_file"]

PROCESS = bpmn("process")


def compile_file(
    path: str | Path, *, templates: Mapping[str, KafkaTaskTemplate] | None = None
) -> list[ProcessDefinition]:
    """Compile every executable process of a ``.bpmn`` file (``templates``: the Kafka Task
    templates its models may name, by id).

    Raises:
        TranslationError: the file cannot be read or has problems; ``problems`` lists them all.
    """
    path = Path(path)
    data = read_model_file(path)
    return compile_bytes(data, str(path), templates=templates)


def compile_bytes(
    data: bytes, name: str, *, templates: Mapping[str, KafkaTaskTemplate] | None = None
) -> list[ProcessDefinition]:
    """Compile every executable process in ``data``; ``name`` is used in messages.

    Processes with ``isExecutable`` other than ``true`` are skipped, as Camunda does; so are
    pools, lanes, message flows and diagrams, which say nothing about execution.

    Raises:
        TranslationError: the XML is not BPMN or a process has problems; all are listed.
    """
    with _collector_paused():
        return _compile_bytes(data, name, templates or {})


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a file compiles.

    Compiling allocates many small objects that all stay alive (the IR), so the collector's
    generational passes find nothing to free and cost a third of a large model's compile
    time. Reference counting still frees everything as usual; the collector runs again after.
    It is only switched back on if it was on before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compile_bytes(
    data: bytes, name: str, templates: Mapping[str, KafkaTaskTemplate]
) -> list[ProcessDefinition]:
    ctx = CompileContext(name, templates=templates)
    root = parse_definitions(ctx, data)
    if root is None:
        raise TranslationError(ctx.problems)
    ctx.index_root(root)
    definitions = []
    try:
        for process in root.iterchildren(PROCESS):
            if process.get("isExecutable", "false").strip().lower() != "true":
                continue
            definition = _compile_process(ctx, process)
            if definition is not None:
                definitions.append(definition)
    finally:
        dialects.forget_extensions()
        forget_children()
    if ctx.problems:
        raise TranslationError(ctx.problems)
    return definitions


def _compile_process(ctx: CompileContext, process: etree._Element) -> ProcessDefinition | None:
    process_id = process.get("id")
    if not process_id:
        ctx.problem(process, "process has no id")
        return None
    if dialects.listeners(ctx, process):
        ctx.problem(process, "listeners on a process are not supported yet")
    job_listeners = dialects.job_listeners(ctx, process)
    scope = compile_scope(ctx, process)
    start = _none_start(ctx, process, scope)
    if start is False or ctx.problems:
        # A file with a problem is refused whole: no definition of it is returned, so none
        # is built (nor hashed).
        return None
    # Validate the definition's own fields, then put in the nodes and flows, which were
    # validated as they were built: validating them again would walk the whole graph.
    empty = ProcessDefinition(
        id=process_id,
        name=process.get("name"),
        source=ctx.source,
        start_event=start,
        nodes={},
        flows={},
        job_listeners=job_listeners,
        version_tag=dialects.version_tag(process),
    )
    definition = empty.model_copy(update={"nodes": scope.nodes, "flows": scope.flows})
    return definition.with_content_hash()


def _none_start(ctx: CompileContext, process: etree._Element, scope: Scope) -> str | bool | None:
    """The none start event's id; None if only triggered starts exist; False on a problem."""
    starts = [node.id for node in scope.nodes.values() if node.kind == "startEvent"]
    triggered = [n for n in scope.nodes.values() if n.kind == "triggeredStartEvent"]
    if len(starts) > 1:
        ctx.problem(process, f"process has {len(starts)} none start events, expected one")
        return False
    if not starts and not triggered:
        if not ctx.problems:
            ctx.problem(
                process,
                "process has no none start event and no other start event: nothing can start it",
            )
        return False
    return starts[0] if starts else None
