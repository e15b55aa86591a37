"""Runs connectors as job workers: secrets in, the response through the task headers, and
every failure turned into what the job wire contract knows (a BPMN error or a failed attempt),
with secrets redacted from all of it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities._jobs import BpmnError, Handler, Job, JobFailure, JobWorker
from activities.connectors._base import Connector, ConnectorInputs, ConnectorSpec
from activities.connectors._errors import ConnectorError
from activities.connectors._outcome import check_failure, check_response, result_variables
from activities.connectors._registry import BUILTIN_CONNECTORS
from activities.connectors._secrets import EnvironmentSecrets, SecretResolver, Secrets
from translator import RETRY_BACKOFF_HEADER, parse_retry_backoff

logger = logging.getLogger(__name__)


def connector_handler(connector: Connector, secrets: Secrets) -> Handler:
    """The job handler that runs ``connector`` for one job."""

    async def run_connector(job: Job) -> dict[str, Any]:
        resolver = SecretResolver(secrets)
        try:
            variables = await _call(connector, job, resolver)
        except BpmnError as error:
            raise BpmnError(
                error.code, resolver.redact(error.message), resolver.redact(error.variables)
            ) from None
        except JobFailure as failure:
            raise JobFailure(
                resolver.redact(failure.message),
                retries=failure.retries,
                retry_backoff=failure.retry_backoff,
            ) from None
        except ConnectorError as error:
            raise JobFailure(
                resolver.redact(error.message),
                retries=None if error.retryable else 0,
                retry_backoff=error.retry_after or _retry_backoff(job),
            ) from None
        except Exception as error:  # a bug: still retried, still no secret in the message
            message = resolver.redact(f"connector failed: {type(error).__name__}: {error}")
            logger.warning("Job %s (%s): %s", job.key, job.type, message)
            raise JobFailure(message, retry_backoff=_retry_backoff(job)) from None
        redacted: dict[str, Any] = resolver.redact(variables)
        return redacted

    return run_connector


async def _call(connector: Connector, job: Job, resolver: SecretResolver) -> dict[str, Any]:
    try:
        response = await connector.execute(ConnectorInputs(job.variables, resolver))
    except ConnectorError as failure:
        check_failure(job.headers, job.variables, failure)
        raise
    check_response(job.headers, job.variables, response)
    return result_variables(job.headers, response)


def _retry_backoff(job: Job) -> timedelta | None:
    return parse_retry_backoff(job.headers.get(RETRY_BACKOFF_HEADER, ""))


class ConnectorRuntime:
    """The built-in connectors of a worker: one Temporal worker per connector job type, so a
    model's connector task runs here unchanged (activity type = task queue = job type).

    Example::

        runtime = ConnectorRuntime(client)
        await runtime.run()  # until cancelled; then jobs in hand finish and clients close
    """

    def __init__(
        self,
        client: Client,
        connectors: Iterable[ConnectorSpec] | None = None,
        *,
        secrets: Secrets | None = None,
        max_concurrent_jobs: int = 50,
        shutdown_grace: timedelta = timedelta(seconds=30),
    ) -> None:
        """Args:
        client: a connected Temporal client.
        connectors: which connectors to run (default: all built-in ones).
        secrets: where ``{{secrets.NAME}}`` comes from (default: the environment).
        max_concurrent_jobs: jobs in hand per connector type at most.
        shutdown_grace: how long jobs in hand may take to finish on shutdown.
        """
        specs = BUILTIN_CONNECTORS.values() if connectors is None else connectors
        self._connectors = {spec.job_type: spec.create() for spec in specs}
        self._jobs = JobWorker(
            client, max_concurrent_jobs=max_concurrent_jobs, shutdown_grace=shutdown_grace
        )
        for job_type, connector in self._connectors.items():
            self._jobs.job(job_type)(connector_handler(connector, secrets or EnvironmentSecrets()))
        # httpx logs every request URL at INFO, and a URL may carry a resolved secret.
        http_log = logging.getLogger("httpx")
        if http_log.getEffectiveLevel() < logging.WARNING:
            http_log.setLevel(logging.WARNING)

    @property
    def job_types(self) -> list[str]:
        return list(self._connectors)

    def workers(self) -> list[Worker]:
        """The Temporal workers, to run them yourself (``aclose()`` the runtime afterwards)."""
        return self._jobs.workers()

    async def run(self) -> None:
        """Take connector jobs until cancelled; then let jobs in hand finish and close."""
        try:
            await self._jobs.run()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        for connector in self._connectors.values():
            await connector.aclose()
