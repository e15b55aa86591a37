"""Helpers for the asyncio tasks a workflow runs side by side (deterministic on Temporal's
event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def while_running(step: Awaitable[T], companions: Sequence[asyncio.Task[Any]]) -> T:
    """Await ``step``, then cancel ``companions`` however it ended; except when the workflow
    is evicted from the worker's cache (GeneratorExit: nothing may be awaited any more)."""
    try:
        result = await step
    except GeneratorExit:
        raise
    except BaseException:
        await cancel_all(companions)
        raise
    await cancel_all(companions)
    return result


async def cancel_all(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
