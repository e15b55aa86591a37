"""Connection settings for real clusters: Kafka SASL/TLS and Temporal TLS/API key, from env.

| env | meaning |
|---|---|
| KAFKA_SECURITY_PROTOCOL | PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL |
| KAFKA_SASL_MECHANISM | PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 |
| KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD | SASL credentials |
| KAFKA_SSL_CAFILE / KAFKA_SSL_CERTFILE / KAFKA_SSL_KEYFILE | TLS trust and client certificate |
| TEMPORAL_TLS_CA / TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY | Temporal mTLS (PEM file paths) |
| TEMPORAL_API_KEY | Temporal Cloud API key (implies TLS) |
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, TLSConfig

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class ConfigurationError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @classmethod
    def from_env(cls, bootstrap_servers: str, env: Mapping[str, str] = os.environ) -> KafkaSettings:
        settings = cls(
            bootstrap_servers=bootstrap_servers,
            security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
            sasl_mechanism=env.get("KAFKA_SASL_MECHANISM") or None,
            sasl_username=env.get("KAFKA_SASL_USERNAME") or None,
            sasl_password=env.get("KAFKA_SASL_PASSWORD") or None,
            ssl_cafile=env.get("KAFKA_SSL_CAFILE") or None,
            ssl_certfile=env.get("KAFKA_SSL_CERTFILE") or None,
            ssl_keyfile=env.get("KAFKA_SSL_KEYFILE") or None,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigurationError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol!r}; use one of "
                + ", ".join(SECURITY_PROTOCOLS)
            )
        if self.security_protocol.startswith("SASL"):
            if (self.sasl_mechanism or "").upper() not in SASL_MECHANISMS:
                raise ConfigurationError(
                    f"KAFKA_SASL_MECHANISM={self.sasl_mechanism!r}; use one of "
                    + ", ".join(SASL_MECHANISMS)
                )
            if not self.sasl_username or not self.sasl_password:
                raise ConfigurationError("SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.endswith("SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            options["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = (self.sasl_mechanism or "").upper()
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options


async def connect_temporal(
    address: str, namespace: str, env: Mapping[str, str] = os.environ
) -> Client:
    """Connect with TLS / API key when the environment asks for them, traced when
    OpenTelemetry is installed."""
    return await Client.connect(
        address, namespace=namespace, interceptors=tracing_interceptors(), **temporal_options(env)
    )


def temporal_options(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    options: dict[str, Any] = {}
    cert, key, ca = (
        env.get("TEMPORAL_TLS_CERT"),
        env.get("TEMPORAL_TLS_KEY"),
        env.get("TEMPORAL_TLS_CA"),
    )
    if bool(cert) != bool(key):
        raise ConfigurationError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
    if cert or ca:
        options["tls"] = TLSConfig(
            server_root_ca_cert=_read(ca, "TEMPORAL_TLS_CA"),
            client_cert=_read(cert, "TEMPORAL_TLS_CERT"),
            client_private_key=_read(key, "TEMPORAL_TLS_KEY"),
        )
    if env.get("TEMPORAL_API_KEY"):
        options["api_key"] = env["TEMPORAL_API_KEY"]
        options.setdefault("tls", True)
    return options


def tracing_interceptors() -> list[Any]:
    """temporalio's OpenTelemetry interceptor, when OpenTelemetry is installed (the
    ``opentelemetry`` extra): traces cross into workflows and activities, and a Kafka Task's
    ``traceId`` header is the trace the instance was started in."""
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        return []
    return [TracingInterceptor()]


def _read(path: str | None, variable: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"{variable}={path}: {error.strerror}") from None
