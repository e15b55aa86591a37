"""On a test timeout, print where every asyncio task of the test's event loop is waiting.

pytest-timeout prints the threads' stacks; an async test that hangs shows only the event loop
idle in ``select`` there. The awaited call that never returned is in the tasks' await chains.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO


def _await_chain(awaitable: Any) -> Iterator[str]:
    """One line per coroutine or generator the task is suspended in, outermost first, then
    the future at the bottom (an RPC, a queue, a lock...)."""
    seen = 0
    while awaitable is not None and seen < 100:
        seen += 1
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None and not hasattr(awaitable, "cr_await"):
            yield f"    awaiting {awaitable!r}"[:400]
            return
        if frame is not None:
            code = frame.f_code
            yield f"    {code.co_filename}:{frame.f_lineno} in {code.co_name}"
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)


def print_asyncio_tasks(out: TextIO = sys.stderr) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        print("hang report: no event loop running in the main thread", file=out)
        return
    tasks = asyncio.all_tasks(loop)
    print(f"hang report: {len(tasks)} asyncio tasks", file=out)
    for task in tasks:
        print(f"  task {task.get_name()}:", file=out)
        for line in _await_chain(task.get_coro()):
            print(line, file=out)
    out.flush()


def wrap_timeout_handler() -> None:
    """Make the SIGALRM handler pytest-timeout just installed print the tasks first."""
    handler = signal.getsignal(signal.SIGALRM)
    if not callable(handler):
        return

    def report_then_time_out(signum: int, frame: FrameType | None) -> None:
        print_asyncio_tasks()
        handler(signum, frame)

    signal.signal(signal.SIGALRM, report_then_time_out)
