"""Connector secrets: ``{{secrets.NAME}}`` placeholders resolved inside the activity.

A model (and so the workflow history) only ever holds the placeholder. The connector runtime
resolves it from the worker's environment when the job runs, and redacts every resolved value
from what leaves the activity again (failure messages, BPMN errors, result variables), so a
secret reaches the API it is meant for and nothing else.

By default ``{{secrets.API_TOKEN}}`` reads the environment variable ``BPMN_SECRET_API_TOKEN``:
the prefix keeps the worker's own credentials (``TEMPORAL_API_KEY``, ``KAFKA_SASL_PASSWORD``...)
out of reach of models. ``BPMN_SECRETS_PREFIX`` changes it (empty: Camunda's plain names).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from activities.connectors._errors import ConnectorInputError

PLACEHOLDER = re.compile(r"\{\{\s*secrets\.([A-Za-z0-9_.\-]+)\s*\}\}")
DEFAULT_PREFIX = "BPMN_SECRET_"
PREFIX_VARIABLE = "BPMN_SECRETS_PREFIX"


class Secrets(Protocol):
    """Where secret values come from (the environment here; a vault client would do too)."""

    def lookup(self, name: str) -> str | None:
        """The value of secret ``name``, or None if it is not set."""
        ...

    def describe(self, name: str) -> str:
        """Where an operator sets secret ``name`` (for the message when it is missing)."""
        ...


@dataclass(frozen=True)
class EnvironmentSecrets:
    """Secrets from environment variables: ``{{secrets.NAME}}`` is ``<prefix>NAME``."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    prefix: str | None = None
    """None: ``BPMN_SECRETS_PREFIX`` from ``environ``, else ``BPMN_SECRET_``."""

    def _variable(self, name: str) -> str:
        prefix = self.prefix
        if prefix is None:
            prefix = self.environ.get(PREFIX_VARIABLE, DEFAULT_PREFIX)
        return prefix + name

    def lookup(self, name: str) -> str | None:
        return self.environ.get(self._variable(name))

    def describe(self, name: str) -> str:
        return f"the environment variable {self._variable(name)} of the worker"


class SecretResolver:
    """Resolves placeholders for one job and remembers the values, to redact them later."""

    def __init__(self, secrets: Secrets) -> None:
        self._secrets = secrets
        self._placeholders: dict[str, str] = {}
        """Resolved value → the placeholder that stands for it."""

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every placeholder in its strings replaced by the secret.

        Raises:
            ConnectorInputError: a secret is not set (``where`` names the input).
        """
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda match: self._secret(match.group(1), where), value)
        if isinstance(value, Mapping):
            return {key: self.resolve(item, where) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        return value

    def _secret(self, name: str, where: str) -> str:
        found = self._secrets.lookup(name)
        if found is None:
            raise ConnectorInputError(
                where, f"uses secret {name!r}, which is not set: set {self._secrets.describe(name)}"
            )
        if found:
            self._placeholders[found] = f"{{{{secrets.{name}}}}}"
        return found

    def redact(self, value: Any) -> Any:
        """``value`` with every secret resolved so far replaced by its placeholder."""
        if not self._placeholders:
            return value
        if isinstance(value, str):
            # longest first, so a secret that contains another is replaced whole
            for secret in sorted(self._placeholders, key=len, reverse=True):
                value = value.replace(secret, self._placeholders[secret])
            return value
        if isinstance(value, Mapping):
            return {self.redact(key): self.redact(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        return value
