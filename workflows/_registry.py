"""The in-memory, content-addressed store of compiled definitions that the interpreter reads.

Reading it from workflow code is deterministic because an entry never changes: a hash always
names the same definition. The worker fills it at start-up (and keeps every version it has
stored, so old instances replay on their own version). The module is passed through the
workflow sandbox so that the sandbox sees the worker's instance.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Generic, TypeVar

from translator import DecisionGraph, ProcessDefinition

Version = TypeVar("Version", ProcessDefinition, DecisionGraph)


class DefinitionRegistry:
    """Process definitions by content hash, plus which hash is the latest of each process id
    and which each version tag names; likewise the DMN decision graphs, by the decision ids
    they hold."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: _Versions[ProcessDefinition] = _Versions()
        self._decisions: _Versions[DecisionGraph] = _Versions()

    def add(self, definition: ProcessDefinition, *, latest: bool = True) -> None:
        """Keep a version; with ``latest``, new instances start it, and its version tag (if
        any) names it. A stored older version's tag names it until a latest one takes it."""
        if not definition.content_hash:
            raise ValueError(f"definition {definition.id!r} has no content hash")
        with self._lock:
            names = [(definition.id, definition.version_tag)]
            self._processes.add(definition, definition.content_hash, names, latest)

    def get(self, content_hash: str) -> ProcessDefinition | None:
        return self._processes.get(content_hash)

    def latest(self, process_id: str, version_tag: str | None = None) -> ProcessDefinition | None:
        """The latest version, or the one tagged ``version_tag``."""
        return self._processes.latest(process_id, version_tag)

    def version_tags(self, process_id: str) -> list[str]:
        return self._processes.tags(process_id)

    def process_ids(self) -> list[str]:
        return self._processes.names()

    def add_decisions(self, graph: DecisionGraph, *, latest: bool = True) -> None:
        """Keep a DMN file's decisions; with ``latest``, each of its decision ids now
        evaluates this version (a later file with the same decision id replaces it)."""
        if not graph.content_hash:
            raise ValueError(f"decisions {graph.id!r} have no content hash")
        with self._lock:
            names = [(d.id, d.version_tag) for d in graph.decisions.values()]
            self._decisions.add(graph, graph.content_hash, names, latest)

    def decision_graph(self, content_hash: str) -> DecisionGraph | None:
        return self._decisions.get(content_hash)

    def latest_decision_graph(
        self, decision_id: str, version_tag: str | None = None
    ) -> DecisionGraph | None:
        """The graph holding the latest version of ``decision_id``, or the one tagged."""
        return self._decisions.latest(decision_id, version_tag)

    def decision_version_tags(self, decision_id: str) -> list[str]:
        return self._decisions.tags(decision_id)

    def decision_ids(self) -> list[str]:
        return self._decisions.names()

    def remove_latest(self, process_id: str) -> None:
        """Stop starting new instances of a process; running ones keep their version."""
        with self._lock:
            self._processes.forget_latest(process_id)


class _Versions(Generic[Version]):
    """Versions by hash; the latest of each name (process or decision id); and what each
    (name, version tag) names: a deployed (latest) version's tag wins, and among stored
    versions, added oldest first, the newest."""

    def __init__(self) -> None:
        self._by_hash: dict[str, Version] = {}
        self._latest: dict[str, str] = {}
        self._tagged: dict[tuple[str, str], str] = {}
        self._deployed_tags: set[tuple[str, str]] = set()

    def add(
        self,
        version: Version,
        content_hash: str,
        names: Iterable[tuple[str, str | None]],
        latest: bool,
    ) -> None:
        self._by_hash[content_hash] = version
        for name, tag in names:
            if latest:
                self._latest[name] = content_hash
            if tag is None:
                continue
            if latest:
                self._deployed_tags.add((name, tag))
            elif (name, tag) in self._deployed_tags:
                continue
            self._tagged[(name, tag)] = content_hash

    def get(self, content_hash: str) -> Version | None:
        return self._by_hash.get(content_hash)

    def latest(self, name: str, tag: str | None) -> Version | None:
        content_hash = self._latest.get(name) if tag is None else self._tagged.get((name, tag))
        return self._by_hash.get(content_hash) if content_hash else None

    def tags(self, name: str) -> list[str]:
        return sorted(tag for known, tag in self._tagged if known == name)

    def names(self) -> list[str]:
        return sorted(self._latest)

    def forget_latest(self, name: str) -> None:
        self._latest.pop(name, None)


REGISTRY = DefinitionRegistry()
"""The registry of this worker process."""
