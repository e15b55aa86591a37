"""A worker process for one system, so its CPU time can be read from outside (/proc).

``python -m bench._worker --system a|b|sdk|bare|wait --address HOST:PORT [--models DIR]``
runs either the interpreter as ``worker.py`` wires it (A) or the hand-written workflows (B),
each with the bench's job handler on its own job type, or only a job worker: the handler
through our SDK (``JobWorker.run``) or as a bare temporalio activity worker, for the
job-worker workload; or (``wait``) the Kafka bridge workload's floor workflow. Each lives
for a whole workload; the parent reads its CPU counters around each measured run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from temporalio.client import Client
from temporalio.worker import Worker

from activities import JobWorker, KafkaPublisher, load_definitions
from bench import _baseline
from bench._jobs import bare_step, step
from worker import interpreter_worker, workflow_runner

A_TASK_QUEUE = "bench-a"
A_JOB_TYPE = "bench-a-step"
SDK_JOB_TYPE = "bench-jobs-sdk"
BARE_JOB_TYPE = "bench-jobs-bare"
MAX_CONCURRENT_JOBS = 1000
"""High enough that the job workers never throttle a run (the same for A and B)."""
READY = "bench worker ready"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_ROOT = Path(__file__).resolve().parent.parent


async def _serve(args: argparse.Namespace) -> None:
    client = await Client.connect(args.address)
    jobs = JobWorker(client, max_concurrent_jobs=args.max_concurrent_jobs)
    if args.system == "sdk":
        jobs.job(SDK_JOB_TYPE)(step)
        print(READY, flush=True)
        await jobs.run()  # the SDK's own entry point, SIGTERM handling included
        return
    if args.system == "bare":
        workers = [
            Worker(
                client,
                task_queue=BARE_JOB_TYPE,
                activities=[bare_step(BARE_JOB_TYPE)],
                max_concurrent_activities=args.max_concurrent_jobs,
            )
        ]
    elif args.system == "wait":
        workers = [
            Worker(
                client,
                task_queue=_baseline.KAFKA_WAIT_TASK_QUEUE,
                workflows=[_baseline.KafkaWaitWorkflow],
                workflow_runner=workflow_runner(),
            )
        ]
    elif args.system == "a":
        load_definitions(args.models)
        # No Kafka task in the bench models: the publisher is never started.
        workers = [interpreter_worker(client, A_TASK_QUEUE, KafkaPublisher("127.0.0.1:9"))]
        jobs.job(A_JOB_TYPE)(step)
    else:
        workers = [
            Worker(
                client,
                task_queue=_baseline.TASK_QUEUE,
                workflows=_baseline.WORKFLOWS,
                workflow_runner=workflow_runner(),
            )
        ]
        jobs.job(_baseline.JOB_TYPE)(step)
    workers.extend(jobs.workers())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = [asyncio.create_task(w.run()) for w in workers]
    print(READY, flush=True)
    await stop.wait()
    await asyncio.gather(*(w.shutdown() for w in workers))
    await asyncio.gather(*running, return_exceptions=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._worker")
    parser.add_argument("--system", choices=["a", "b", "sdk", "bare", "wait"], required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--models", type=Path)
    parser.add_argument("--max-concurrent-jobs", type=int, default=MAX_CONCURRENT_JOBS)
    asyncio.run(_serve(parser.parse_args(argv)))


def terminate(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM, so the process shuts down as a user's would; SIGKILL if it takes ``grace`` s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WorkerProcess:
    """One system's worker as a child process, with its CPU time readable at any moment."""

    def __init__(self, system: str, address: str, models: Path, log: Path, *options: str) -> None:
        self.system = system
        self._argv = [
            sys.executable,
            "-m",
            "bench._worker",
            "--system",
            system,
            "--address",
            address,
            "--models",
            str(models),
            *options,
        ]
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> WorkerProcess:
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self._argv, stdout=subprocess.PIPE, stderr=log, cwd=_ROOT
            )
        assert self._process.stdout is not None
        # An empty line means the child died before it was ready.
        line = self._process.stdout.readline().decode()
        if READY not in line:
            self._process.kill()
            raise RuntimeError(f"bench worker {self.system} did not start; see {self._log}")
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker process so far (all its threads)."""
        assert self._process is not None
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of proc(5); the split starts at field 3.
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        terminate(self._process)
        with contextlib.suppress(Exception):
            assert self._process.stdout is not None
            self._process.stdout.close()


if __name__ == "__main__":
    main()
