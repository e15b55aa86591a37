"""The in-memory, content-addressed store of compiled definitions that the interpreter reads.

Reading it from workflow code is deterministic because an entry never changes: a hash always
names the same definition. The worker fills it at start-up (and keeps every version it has
stored, so old instances replay on their own version). The module is passed through the
workflow sandbox so that the sandbox sees the worker's instance.
"""

from __future__ import annotations

import threading

from translator import ProcessDefinition


class DefinitionRegistry:
    """Definitions by content hash, plus which hash is the latest of each process id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hash: dict[str, ProcessDefinition] = {}
        self._latest: dict[str, str] = {}

    def add(self, definition: ProcessDefinition, *, latest: bool = True) -> None:
        if not definition.content_hash:
            raise ValueError(f"definition {definition.id!r} has no content hash")
        with self._lock:
            self._by_hash[definition.content_hash] = definition
            if latest:
                self._latest[definition.id] = definition.content_hash

    def get(self, content_hash: str) -> ProcessDefinition | None:
        return self._by_hash.get(content_hash)

    def latest(self, process_id: str) -> ProcessDefinition | None:
        content_hash = self._latest.get(process_id)
        return self._by_hash.get(content_hash) if content_hash else None

    def process_ids(self) -> list[str]:
        return sorted(self._latest)

    def remove_latest(self, process_id: str) -> None:
        """Stop starting new instances of a process; running ones keep their version."""
        with self._lock:
            self._latest.pop(process_id, None)


REGISTRY = DefinitionRegistry()
"""The registry of this worker process."""
