"""The built-in connectors by job type. A new one: a module with a ``ConnectorSpec``, added here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from activities.connectors import rest
from activities.connectors._base import ConnectorSpec

BUILTIN_CONNECTORS: Mapping[str, ConnectorSpec] = MappingProxyType(
    {spec.job_type: spec for spec in (rest.CONNECTOR,)}
)
