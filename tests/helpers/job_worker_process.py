"""A job worker as a real OS process, for tests that kill it or stop it with a signal.

``python -m tests.helpers.job_worker_process --address HOST:PORT --job-type T --events FILE``
serves job type ``T`` with ``activities.JobWorker`` (its own SIGTERM/SIGINT handling, nothing
added here). The handler appends one JSON line to FILE when it starts a job and one when it
finishes it (``{"event": "start"|"done", "key", "attempt", "pid"}``), sleeping ``--sleep``
seconds in between, and completes the job with ``{"doneBy": pid}``. ``ready`` on stdout means
the process is connected and about to poll.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities import Job, JobWorker

READY = "ready"


def record(events: Path, event: str, job: Job) -> None:
    line = {"event": event, "key": job.key, "attempt": job.attempt, "pid": os.getpid()}
    # One short append per line: lines of several processes never interleave.
    with events.open("a") as file:
        file.write(json.dumps(line) + "\n")


def read_events(events: Path) -> list[dict[str, Any]]:
    if not events.exists():
        return []
    return [json.loads(line) for line in events.read_text().splitlines() if line.strip()]


async def serve(args: argparse.Namespace) -> None:
    client = await Client.connect(args.address)
    worker = JobWorker(
        client,
        max_concurrent_jobs=args.max_concurrent_jobs,
        shutdown_grace=timedelta(seconds=args.shutdown_grace),
    )

    @worker.job(args.job_type)
    async def handle(job: Job) -> dict[str, Any]:
        record(args.events, "start", job)
        await asyncio.sleep(args.sleep)
        record(args.events, "done", job)
        return {"doneBy": os.getpid()}

    print(READY, flush=True)
    await worker.run()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.helpers.job_worker_process")
    parser.add_argument("--address", required=True)
    parser.add_argument("--job-type", required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds each job takes")
    parser.add_argument("--max-concurrent-jobs", type=int, default=10)
    parser.add_argument("--shutdown-grace", type=float, default=30.0, help="seconds")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
