"""What a connector is: a job type and an object that turns inputs into a response."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from activities.connectors._secrets import SecretResolver


class ConnectorInputs:
    """A connector task's inputs: the job's variables, with Zeebe's dotted input targets
    (``authentication.type``) as nested contexts and ``{{secrets.NAME}}`` resolved on read.

    ``raw`` gives a value as the model wrote it (placeholders kept): use it in messages.
    """

    def __init__(self, variables: Mapping[str, Any], secrets: SecretResolver) -> None:
        self._values = nest(variables)
        self._secrets = secrets

    def raw(self, name: str) -> Any:
        value: Any = self._values
        for part in name.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    def get(self, name: str) -> Any:
        """The input ``name`` (dotted for nested ones) with its secrets resolved; None if unset."""
        return self._secrets.resolve(self.raw(name), name)


def nest(variables: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` → ``{"a": {"b": 1, "c": 2}}``, as Zeebe builds dotted targets."""
    nested: dict[str, Any] = {}
    for name, value in variables.items():
        *parents, leaf = name.split(".")
        node = nested
        for part in parents:
            child = node.get(part)
            # copied, never shared: the job's own variables stay as they were
            node[part] = dict(child) if isinstance(child, Mapping) else {}
            node = node[part]
        existing = node.get(leaf)
        if isinstance(value, Mapping) and isinstance(existing, Mapping):
            node[leaf] = {**existing, **value}
        else:
            node[leaf] = dict(value) if isinstance(value, Mapping) else value
    return nested


class Connector(Protocol):
    """One connector: ``execute`` gets the task's inputs and returns its response (JSON), which
    the runtime hands to ``resultVariable``/``resultExpression``/``errorExpression``."""

    async def execute(self, inputs: ConnectorInputs) -> Any: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ConnectorSpec:
    """A registry entry: the job type a connector serves and how to make one per worker."""

    job_type: str
    create: Callable[[], Connector]
