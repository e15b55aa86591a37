"""Connector failures, and whether retrying can help.

Exception tree::

    BpmnTemporalError
    └── ConnectorError           a call failed; ``retryable`` says whether to try again
        └── ConnectorInputError  an input is missing or unusable (never retried)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from translator import BpmnTemporalError


class ConnectorError(BpmnTemporalError):
    """A connector call failed.

    Args:
        message: what an operator reads in the incident (secrets are redacted by the runtime).
        code: what ``errorExpression`` sees as ``error.code`` (the REST connector: the status).
        retryable: False fails the job at once (an incident), True leaves it to its retries.
        response: what ``errorExpression`` sees as ``error.response``, if there was one.
        retry_after: the server asked to wait this long before trying again.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = True,
        response: Any = None,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.response = response
        self.retry_after = retry_after


class ConnectorInputError(ConnectorError):
    """An input is missing or unusable: retrying cannot help, so the job fails at once."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"input {name!r} {problem}", code="INVALID_INPUT", retryable=False)
        self.name = name
