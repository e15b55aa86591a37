"""Running the external-task API: an async context manager, or a coroutine that serves forever."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from aiohttp import web
from temporalio.client import Client

from activities.external_tasks._api import create_app
from activities.external_tasks._service import ExternalTaskConfig, ExternalTaskService

logger = logging.getLogger(__name__)


class ExternalTaskApi:
    """Camunda 7's external-task REST API on Temporal, served while the context is open::

        async with ExternalTaskApi(client, "127.0.0.1", 8080) as api:
            ...  # clients use api.base_url, e.g. http://127.0.0.1:8080/engine-rest

    Leaving the context answers the waiting fetches, stops polling Temporal and hands the
    tasks in hand back to Temporal (their attempts fail with a retryable error, so the jobs
    are offered again at once).
    """

    def __init__(
        self,
        client: Client,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        config: ExternalTaskConfig | None = None,
    ) -> None:
        """Args:
        client: a connected Temporal client (its namespace is the one served).
        host: interface to listen on.
        port: TCP port; 0 picks a free one (see ``port`` once started).
        config: tuning; see ``ExternalTaskConfig``.
        """
        self.service = ExternalTaskService(client, config)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The URL clients are configured with (Camunda's ``engine-rest`` base URL)."""
        return f"http://{self.host}:{self.port}{self.service.config.base_path.rstrip('/')}"

    async def start(self) -> None:
        app = create_app(self.service, self.service.config.base_path)
        # A long-polling fetch whose client disconnects is cancelled, so it locks nothing.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        logger.info("Camunda 7 external-task API at %s", self.base_url)

    async def stop(self) -> None:
        await self.service.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ExternalTaskApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve_external_task_api(
    client: Client, host: str, port: int, *, config: ExternalTaskConfig | None = None
) -> None:
    """Serve the external-task API until cancelled (then stop it cleanly)."""
    async with ExternalTaskApi(client, host, port, config=config):
        await asyncio.Event().wait()
