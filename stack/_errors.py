"""The stack's one error type."""

from __future__ import annotations

__all__ = ["StackError"]


class StackError(Exception):
    """A stack component could not be started or stopped.

    The message is one line that says why and names the component's log file, e.g.
    ``Kafka did not become healthy within 90 s (process exited with code 1); see
    .stack/kafka/kafka.log``, so the CLI can print it as is.
    """
