"""Workload 5: saturation, an open-loop ramp of starts on a 3-task process until completions lag.

Open loop: starts are issued on a fixed schedule whatever the system does (as real traffic
arrives), unlike workload 1's closed loop. Each step holds a rate for a while; the system
keeps up at that rate if, at the end of the step, the instances started but not completed
are at most ``LAG_SECONDS`` worth of arrivals. The sustainable rate is the last step it
kept up with.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench._config import Config
from bench._live import Live
from bench._report import Section, fmt, times
from bench._stats import interleaved, median, ratio
from bench._systems import SYSTEMS, A, B, System

TITLE = "5. Saturation: open-loop ramp on a 3-task process"
TASKS = 3
LAG_SECONDS = 2.0
DRAIN_TIMEOUT_S = 180.0


@dataclass
class _Counts:
    started: int = 0
    completed: int = 0
    running: set[asyncio.Task[Any]] = field(default_factory=set)


async def ramp(live: Live, system: System, config: Config) -> float:
    """The highest rate (instances/s) of the ladder that ``system`` kept up with."""
    counts = _Counts()
    loop = asyncio.get_running_loop()

    async def one() -> None:
        handle = await system.start(live.client, system.chain(TASKS), {"tasks": TASKS})
        await handle.result()
        counts.completed += 1

    sustainable = 0.0
    for rate in config.ramp_rates:
        began = loop.time()
        arrivals = round(rate * config.ramp_step_seconds)
        for index in range(arrivals):
            await asyncio.sleep(max(0.0, began + index / rate - loop.time()))
            counts.started += 1
            task = asyncio.create_task(one())
            counts.running.add(task)
            task.add_done_callback(counts.running.discard)
        await asyncio.sleep(max(0.0, began + config.ramp_step_seconds - loop.time()))
        if counts.started - counts.completed > rate * LAG_SECONDS:
            break
        sustainable = rate
    # Let the backlog finish so that it does not load the next run.
    if counts.running:
        await asyncio.wait(counts.running, timeout=DRAIN_TIMEOUT_S)
        for task in counts.running:
            task.cancel()
    return sustainable


async def run(live: Live, config: Config) -> Section:
    section = Section(TITLE)
    rates = ", ".join(fmt(rate) for rate in config.ramp_rates)
    section.text(
        f"Starts at a fixed rate for {fmt(config.ramp_step_seconds)} s per step, rates "
        f"{rates} instances/s, until the backlog (started - completed) at the end of a step "
        f"exceeds {fmt(LAG_SECONDS)} s of arrivals. The sustainable rate is the last step "
        "kept up with (0 if the first step already lagged; the top rate if none did)."
    )
    found: dict[str, list[float]] = defaultdict(list)
    for _, key in interleaved([s.key for s in SYSTEMS], config.repeats):
        found[key].append(await ramp(live, A if key == "A" else B, config))
    a, b = median(found["A"]), median(found["B"])
    section.table(
        ["A inst/s", "B inst/s", "A/B", "A runs", "B runs"],
        [
            [
                fmt(a),
                fmt(b),
                times(ratio(a, b)),
                ", ".join(fmt(x) for x in found["A"]),
                ", ".join(fmt(x) for x in found["B"]),
            ]
        ],
    )
    section.numbers["sustainable_a"] = a
    section.numbers["sustainable_b"] = b
    section.numbers["sustainable_ratio"] = ratio(a, b)
    return section
