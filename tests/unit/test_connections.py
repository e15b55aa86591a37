"""Connection settings for real clusters, read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import TLSConfig

from activities import ConfigurationError, KafkaSettings, temporal_options


def test_plaintext_is_the_default() -> None:
    options = KafkaSettings.from_env("k:9092", {}).client_options()
    assert options == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "scram-sha-512"])
def test_sasl_over_tls(mechanism: str) -> None:
    env = {
        "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "KAFKA_SASL_MECHANISM": mechanism,
        "KAFKA_SASL_USERNAME": "bridge",
        "KAFKA_SASL_PASSWORD": "secret",
    }
    options = KafkaSettings.from_env("k:9093", env).client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism.upper()
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("bridge", "secret")
    assert options["ssl_context"] is not None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "KAFKA_SASL_MECHANISM"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN"},
            "KAFKA_SASL_USERNAME",
        ),
    ],
)
def test_invalid_kafka_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        KafkaSettings.from_env("k:9092", env)


def test_temporal_mtls_and_api_key(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_bytes(name.encode())
    options = temporal_options(
        {
            "TEMPORAL_TLS_CA": str(tmp_path / "ca.pem"),
            "TEMPORAL_TLS_CERT": str(tmp_path / "cert.pem"),
            "TEMPORAL_TLS_KEY": str(tmp_path / "key.pem"),
        }
    )
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.server_root_ca_cert, tls.client_cert) == (b"ca.pem", b"cert.pem")
    assert temporal_options({"TEMPORAL_API_KEY": "k"}) == {"api_key": "k", "tls": True}
    assert temporal_options({}) == {}
    with pytest.raises(ConfigurationError, match="go together"):
        temporal_options({"TEMPORAL_TLS_CERT": "x"})
    with pytest.raises(ConfigurationError, match="TEMPORAL_TLS_CA"):
        temporal_options({"TEMPORAL_TLS_CA": str(tmp_path / "missing.pem")})
