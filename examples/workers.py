"""Example job workers for the order process: ``python -m examples.workers``.

Written with the project's job-worker SDK; any Temporal SDK would do (activity type = task
queue = job type, input and result are JSON objects).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from temporalio.client import Client

from activities import Job, JobWorker

logger = logging.getLogger("examples.workers")


def register(worker: JobWorker) -> None:
    @worker.job("check-order")
    async def check_order(job: Job) -> dict[str, Any]:
        amount = job.variables.get("amount", 0)
        logger.info("check-order %s: amount %s", job.process_instance_id, amount)
        return {
            "checked": True,
            "approvalRequest": {"orderId": job.variables.get("orderId"), "amount": amount},
        }

    @worker.job("send-confirmation")
    async def send_confirmation(job: Job) -> dict[str, Any]:
        channel = job.headers.get("channel", "email")
        logger.info("send-confirmation %s via %s", job.process_instance_id, channel)
        return {"confirmation": f"sent by {channel}"}


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    client = await Client.connect(os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"))
    worker = JobWorker(client)
    register(worker)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
