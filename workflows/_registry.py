"""The in-memory, content-addressed store of compiled definitions that the interpreter reads.

Reading it from workflow code is deterministic because an entry never changes: a hash always
names the same definition. The worker fills it at start-up (and keeps every version it has
stored, so old instances replay on their own version). The module is passed through the
workflow sandbox so that the sandbox sees the worker's instance.
"""

from __future__ import annotations

import threading

from translator import DecisionGraph, ProcessDefinition


class DefinitionRegistry:
    """Definitions by content hash, plus which hash is the latest of each process id; and
    likewise the DMN decision graphs, and which graph holds the latest of each decision id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hash: dict[str, ProcessDefinition] = {}
        self._latest: dict[str, str] = {}
        self._tagged = _Tags()
        self._graphs: dict[str, DecisionGraph] = {}
        self._latest_decisions: dict[str, str] = {}
        self._tagged_decisions = _Tags()

    def add(self, definition: ProcessDefinition, *, latest: bool = True) -> None:
        """Keep a version; with ``latest``, new instances start it, and its version tag (if
        any) names it. A stored older version's tag names it until a latest one takes it."""
        if not definition.content_hash:
            raise ValueError(f"definition {definition.id!r} has no content hash")
        with self._lock:
            self._by_hash[definition.content_hash] = definition
            if latest:
                self._latest[definition.id] = definition.content_hash
            self._tagged.add(definition.id, definition.version_tag, definition.content_hash, latest)

    def get(self, content_hash: str) -> ProcessDefinition | None:
        return self._by_hash.get(content_hash)

    def latest(self, process_id: str, version_tag: str | None = None) -> ProcessDefinition | None:
        """The latest version, or the one tagged ``version_tag``."""
        if version_tag is None:
            content_hash = self._latest.get(process_id)
        else:
            content_hash = self._tagged.get(process_id, version_tag)
        return self._by_hash.get(content_hash) if content_hash else None

    def version_tags(self, process_id: str) -> list[str]:
        return self._tagged.tags_of(process_id)

    def process_ids(self) -> list[str]:
        return sorted(self._latest)

    def add_decisions(self, graph: DecisionGraph, *, latest: bool = True) -> None:
        """Keep a DMN file's decisions; with ``latest``, each of its decision ids now
        evaluates this version (a later file with the same decision id replaces it)."""
        if not graph.content_hash:
            raise ValueError(f"decisions {graph.id!r} have no content hash")
        with self._lock:
            self._graphs[graph.content_hash] = graph
            for decision in graph.decisions.values():
                if latest:
                    self._latest_decisions[decision.id] = graph.content_hash
                tags = self._tagged_decisions
                tags.add(decision.id, decision.version_tag, graph.content_hash, latest)

    def decision_graph(self, content_hash: str) -> DecisionGraph | None:
        return self._graphs.get(content_hash)

    def latest_decision_graph(
        self, decision_id: str, version_tag: str | None = None
    ) -> DecisionGraph | None:
        """The graph holding the latest version of ``decision_id``, or the one tagged."""
        if version_tag is None:
            content_hash = self._latest_decisions.get(decision_id)
        else:
            content_hash = self._tagged_decisions.get(decision_id, version_tag)
        return self._graphs.get(content_hash) if content_hash else None

    def decision_version_tags(self, decision_id: str) -> list[str]:
        return self._tagged_decisions.tags_of(decision_id)

    def decision_ids(self) -> list[str]:
        return sorted(self._latest_decisions)

    def remove_latest(self, process_id: str) -> None:
        """Stop starting new instances of a process; running ones keep their version."""
        with self._lock:
            self._latest.pop(process_id, None)


class _Tags:
    """Which version each (id, version tag) names. A deployed (latest) version's tag wins;
    among stored versions, added oldest first, the newest does."""

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, str], str] = {}
        self._deployed: set[tuple[str, str]] = set()

    def add(self, element_id: str, tag: str | None, content_hash: str, latest: bool) -> None:
        if tag is None:
            return
        key = (element_id, tag)
        if latest:
            self._deployed.add(key)
        elif key in self._deployed:
            return
        self._hashes[key] = content_hash

    def get(self, element_id: str, tag: str) -> str | None:
        return self._hashes.get((element_id, tag))

    def tags_of(self, element_id: str) -> list[str]:
        return sorted(tag for known, tag in self._hashes if known == element_id)


REGISTRY = DefinitionRegistry()
"""The registry of this worker process."""
