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

DEFAULT_PORT = 17233
"""Frontend port; the UI takes port + 1000. Away from the demo's 7233 and the tests' 27233, and
below 32768 where the kernel hands out ephemeral ports (an outgoing connection once took a
bench broker's port up there)."""
KAFKA_PORT_OFFSET = 4000
"""The broker (only the Kafka bridge workload starts one) listens on the frontend port + 4000
(21233 by default) and its KRaft controller on the next port: clear of the UI's + 1000, of
the test stacks' 27233-29093 (plus their offsets) and of the quick bench's 23333."""


def _stack(root: Path, port: int, kafka_port: int | None) -> Stack:
    kafka = port + KAFKA_PORT_OFFSET if kafka_port is None else kafka_port
    return Stack(
        root=root,
        temporal_port=port,
        temporal_ui_port=port + 1000,
        kafka_port=kafka,
        kafka_controller_port=kafka + 1,
    )


@contextmanager
def temporal_server(root: Path, port: int = DEFAULT_PORT) -> Iterator[str]:
    """Yield the address of a dev server of our own, started (and later stopped) if needed."""
    server = _stack(root, port, None)
    was_running = server.is_running(only=["temporal"])
    if not was_running:
        shutil.rmtree(root / "temporal", ignore_errors=True)
    endpoints = server.start(only=["temporal"])
    try:
        yield endpoints.temporal_address
    finally:
        if not was_running:
            server.stop(only=["temporal"])


@contextmanager
def kafka_broker(
    root: Path, port: int = DEFAULT_PORT, kafka_port: int | None = None
) -> Iterator[str]:
    """Yield the bootstrap address of a Kafka broker of our own (KRaft, one node), started
    from empty storage (and later stopped) if it was not running."""
    broker = _stack(root, port, kafka_port)
    was_running = broker.is_running(only=["kafka"])
    if not was_running:
        shutil.rmtree(root / "kafka" / "data", ignore_errors=True)  # the jars in lib/ stay
    endpoints = broker.start(only=["kafka"])
    try:
        yield endpoints.kafka_bootstrap
    finally:
        if not was_running:
            broker.stop(only=["kafka"])
