"""The bench's own Temporal dev server, on ports nobody else uses, under ``.stack/bench``.

It starts from an empty database each time (a database that grew over earlier runs would
slow later ones) and is stopped at the end if the bench started it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack import Stack

DEFAULT_PORT = 37233
"""Frontend port; the UI takes port + 1000. Away from the demo's 7233 and the tests' 27233."""


@contextmanager
def temporal_server(root: Path, port: int = DEFAULT_PORT) -> Iterator[str]:
    """Yield the address of a dev server of our own, started (and later stopped) if needed."""
    # Kafka ports are only configuration here: the bench starts Temporal alone.
    server = Stack(
        root=root,
        temporal_port=port,
        temporal_ui_port=port + 1000,
        kafka_port=port + 2000,
        kafka_controller_port=port + 2001,
    )
    was_running = server.is_running(only=["temporal"])
    if not was_running:
        shutil.rmtree(root / "temporal", ignore_errors=True)
    endpoints = server.start(only=["temporal"])
    try:
        yield endpoints.temporal_address
    finally:
        if not was_running:
            server.stop(only=["temporal"])
