"""Built-in connectors: job types that ``worker.py`` serves itself, so models that use Camunda 8's
outbound connectors run unchanged. A connector is one module (``rest.py``): a ``ConnectorSpec``
naming its job type and an object whose ``execute`` turns the task's inputs into a response;
the runtime does the rest (secrets, ``resultVariable``/``resultExpression``/``errorExpression``,
``retryBackoff``, failures, redaction).
"""

from activities.connectors._base import Connector, ConnectorInputs, ConnectorSpec, nest
from activities.connectors._errors import ConnectorError, ConnectorInputError
from activities.connectors._registry import BUILTIN_CONNECTORS
from activities.connectors._runtime import ConnectorRuntime, connector_handler
from activities.connectors._secrets import EnvironmentSecrets, SecretResolver, Secrets
from activities.connectors.rest import REST_JOB_TYPE, RestConnector

__all__ = [
    "BUILTIN_CONNECTORS",
    "REST_JOB_TYPE",
    "Connector",
    "ConnectorError",
    "ConnectorInputError",
    "ConnectorInputs",
    "ConnectorRuntime",
    "ConnectorSpec",
    "EnvironmentSecrets",
    "RestConnector",
    "SecretResolver",
    "Secrets",
    "connector_handler",
    "nest",
]
