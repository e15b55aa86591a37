"""Loading a folder of ``.bpmn`` and ``.dmn`` files into the registry, and pinning a version
per instance (of a process) or per evaluation (of a decision).

Every compiled version is also written to a store folder (``<hash>.json``; decisions in its
``decisions`` folder), and every stored version is loaded at start-up, so instances started on
an older model replay on it after the file changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from translator import (
    DecisionGraph,
    KafkaTaskTemplate,
    Problem,
    ProcessDefinition,
    TranslationError,
    TriggeredStartEvent,
    compile_dmn_file,
    compile_file,
    parse_template,
)
from workflows import (
    DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    REGISTRY,
    RESOLVE_DECISION_ACTIVITY,
    RESOLVE_DEFINITION_ACTIVITY,
    DefinitionPin,
    DefinitionRegistry,
    unrunnable_nodes,
    unrunnable_reason,
)

logger = logging.getLogger(__name__)
Stored = TypeVar("Stored", ProcessDefinition, DecisionGraph)


@dataclass
class LoadReport:
    """What loading a definitions folder found."""

    deployed: list[ProcessDefinition] = field(default_factory=list)
    decisions: list[DecisionGraph] = field(default_factory=list)
    """The DMN files deployed (each a graph of decisions)."""
    problems: list[Problem] = field(default_factory=list)
    files_with_problems: list[str] = field(default_factory=list)

    def response_topics(self) -> set[str]:
        return {topic for d in self.deployed for topic in d.response_topics()}


def load_definitions(
    folder: Path,
    *,
    store: Path | None = None,
    registry: DefinitionRegistry = REGISTRY,
    templates: Path | None = None,
) -> LoadReport:
    """Compile every ``*.bpmn`` and ``*.dmn`` under ``folder`` into ``registry``, with the
    Kafka Task templates (``*.json``) in ``templates`` (default: ``folder/templates`` if it
    exists).

    A broken file is reported (file, element, line) in the returned report and skipped; the
    others still deploy. Nothing is logged but what deployed: the caller says what did not
    (the worker logs it, ``bpmn check`` prints it).
    """
    report = LoadReport()
    if store is not None:
        _load_stored_versions(store, registry)
        _load_stored_decisions(store / DECISIONS_FOLDER, registry)
    _load_decisions(folder, store, registry, report)
    known = load_templates(templates or folder / "templates", report)
    for path in sorted(folder.rglob("*.bpmn")):
        try:
            definitions = compile_file(path, templates=known)
        except TranslationError as error:
            report.problems.extend(error.problems)
            report.files_with_problems.append(str(path))
            continue
        for definition in definitions:
            refused = _unrunnable_problems(definition)
            if refused:
                report.problems.extend(refused)
                report.files_with_problems.append(str(path))
                continue
            registry.add(definition)
            if store is not None:
                _store_version(store, definition)
            report.deployed.append(definition)
            logger.info(
                "Deployed %s (version %s) from %s",
                definition.id,
                definition.content_hash[:12],
                path,
            )
    return report


DECISIONS_FOLDER = "decisions"


def _load_decisions(
    folder: Path, store: Path | None, registry: DefinitionRegistry, report: LoadReport
) -> None:
    for path in sorted(folder.rglob("*.dmn")):
        try:
            graph = compile_dmn_file(path)
        except TranslationError as error:
            report.problems.extend(error.problems)
            report.files_with_problems.append(str(path))
            continue
        registry.add_decisions(graph)
        if store is not None:
            _write_version(store / DECISIONS_FOLDER, graph.content_hash, graph.model_dump_json())
        report.decisions.append(graph)
        logger.info(
            "Deployed decisions %s (version %s) from %s",
            ", ".join(graph.decisions),
            graph.content_hash[:12],
            path,
        )


def load_templates(folder: Path, report: LoadReport) -> dict[str, KafkaTaskTemplate]:
    """The Kafka Task templates in ``folder`` by id; a broken one is reported and skipped."""
    templates: dict[str, KafkaTaskTemplate] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            template = parse_template(path.read_bytes(), str(path))
        except TranslationError as error:
            report.problems.extend(error.problems)
            report.files_with_problems.append(str(path))
            continue
        if template.id in templates:
            logger.warning("Template %r in %s replaces an earlier one", template.id, path)
        templates[template.id] = template
        logger.info("Kafka Task template %r from %s", template.id, path)
    return templates


def _unrunnable_problems(definition: ProcessDefinition) -> list[Problem]:
    problems = [
        Problem(
            definition.source,
            f"process {definition.id!r} is not deployed: this worker cannot run "
            f"{unrunnable_reason(node, definition)} yet",
            node.id,
            node.line,
        )
        for node in unrunnable_nodes(definition)
    ]
    if definition.start_event is None and not any(
        isinstance(node, TriggeredStartEvent) for node in definition.nodes.values()
    ):
        problems.append(
            Problem(
                definition.source,
                f"process {definition.id!r} is not deployed: it has no start event",
            )
        )
    return problems


def _store_version(store: Path, definition: ProcessDefinition) -> None:
    _write_version(store, definition.content_hash, definition.model_dump_json())


def _write_version(store: Path, content_hash: str, text: str) -> None:
    store.mkdir(parents=True, exist_ok=True)
    target = store / f"{content_hash}.json"
    if not target.exists():
        partial = target.with_suffix(".tmp")
        partial.write_text(text)
        partial.replace(target)


def _load_stored_versions(store: Path, registry: DefinitionRegistry) -> None:
    for definition in _stored(store, ProcessDefinition):
        registry.add(definition, latest=False)


def _load_stored_decisions(store: Path, registry: DefinitionRegistry) -> None:
    for graph in _stored(store, DecisionGraph):
        registry.add_decisions(graph, latest=False)


def _stored(store: Path, kind: type[Stored]) -> Iterator[Stored]:
    """The versions of ``kind`` kept in ``store``, oldest first (a version tag several carry
    then names the latest stored); an unreadable one is logged and skipped."""
    if not store.is_dir():
        return
    for path in sorted(store.glob("*.json"), key=_stored_at):
        try:
            yield kind.model_validate_json(path.read_bytes())
        except (OSError, ValueError) as error:
            logger.warning("Ignoring unreadable stored version %s: %s", path, error)


def _stored_at(path: Path) -> tuple[int, str]:
    try:
        return path.stat().st_mtime_ns, path.name
    except OSError:
        return 0, path.name


def make_resolve_definition(  # type: ignore[no-untyped-def]
    registry: DefinitionRegistry = REGISTRY,
    *,
    continue_as_new_after_events: int = DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS,
    search_attributes: bool = False,
):
    """The local activity that pins the latest version of a process id to a new instance,
    with the worker settings that shape the instance's history (recorded with it)."""

    @activity.defn(name=RESOLVE_DEFINITION_ACTIVITY)
    async def resolve_definition(
        process_id: str, version_tag: str | None = None
    ) -> dict[str, object]:
        definition = registry.latest(process_id, version_tag)
        if definition is None and version_tag is not None:
            tags = registry.version_tags(process_id)
            raise _untagged("BPMN process", "UnknownProcess", process_id, version_tag, tags)
        if definition is None:
            ids = registry.process_ids()
            raise _not_deployed("BPMN process", "UnknownProcess", process_id, ids)
        return DefinitionPin(
            content_hash=definition.content_hash,
            continue_as_new_after_events=continue_as_new_after_events,
            search_attributes=search_attributes,
        ).model_dump(mode="json")

    return resolve_definition


def make_resolve_decision(registry: DefinitionRegistry = REGISTRY):  # type: ignore[no-untyped-def]
    """The local activity that pins, for one evaluation, the DMN file holding the latest
    version of a decision id (a business rule task evaluates the latest, as in Zeebe)."""

    @activity.defn(name=RESOLVE_DECISION_ACTIVITY)
    async def resolve_decision(decision_id: str, version_tag: str | None = None) -> str:
        graph = registry.latest_decision_graph(decision_id, version_tag)
        if graph is None and version_tag is not None:
            tags = registry.decision_version_tags(decision_id)
            raise _untagged("decision", "UnknownDecision", decision_id, version_tag, tags)
        if graph is None:
            raise _not_deployed("decision", "UnknownDecision", decision_id, registry.decision_ids())
        return graph.content_hash

    return resolve_decision


def _untagged(
    what: str, error_type: str, wanted: str, tag: str, tags: list[str]
) -> ApplicationError:
    known = ", ".join(tags) or "none"
    return ApplicationError(
        f"no version of {what} {wanted!r} is tagged {tag!r}; its version tags: {known}",
        type=error_type,
        non_retryable=True,
    )


def _not_deployed(what: str, error_type: str, wanted: str, deployed: list[str]) -> ApplicationError:
    """Nothing is deployed under ``wanted``: say what is (non-retryable: retrying will not
    deploy it)."""
    known = ", ".join(deployed) or "none"
    return ApplicationError(
        f"no {what} {wanted!r} is deployed; deployed {what.split()[-1]} ids: {known}",
        type=error_type,
        non_retryable=True,
    )
