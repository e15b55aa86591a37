"""Workload 3: fan-out, a parallel multi-instance of width W against B's ``asyncio.gather``."""

from __future__ import annotations

import asyncio
import tempfile
from collections import defaultdict
from pathlib import Path

from activities import load_definitions
from bench._config import Config
from bench._live import Batch, Live, closed_loop
from bench._models import fanout_model
from bench._report import Section, fmt, ms, times
from bench._stats import interleaved, median, ratio
from bench._systems import SYSTEMS, A, B
from bench._worker import A_JOB_TYPE
from workflows import DefinitionRegistry

TITLE = "3. Fan-out: parallel multi-instance vs asyncio.gather"
RUN_TIMEOUT_S = 300.0


def refusal() -> str | None:
    """Why this interpreter version does not deploy the fan-out model (None: it does).

    Asked exactly as ``worker.py`` asks it, through ``load_definitions``.
    """
    with tempfile.TemporaryDirectory() as folder:
        fanout_model(A_JOB_TYPE).write(Path(folder))
        report = load_definitions(Path(folder), registry=DefinitionRegistry())
    if not report.problems:
        return None
    return "; ".join(problem.message for problem in report.problems)


async def run(live: Live, config: Config) -> Section:
    section = Section(TITLE)
    section.text(
        "One instance whose single service task runs once per element of `items` (W "
        "elements), all in parallel; B starts the same W job activities with "
        "`asyncio.gather`. Completion time is start to result of the instance; events per "
        "item are the instance's history events over W."
    )
    refused = refusal()
    systems = [B] if refused else list(SYSTEMS)
    if refused:
        section.skipped.append(
            f"A (parallel multi-instance) is not supported by this interpreter version: "
            f"the worker refuses the model ({refused}). Only B's numbers are measured."
        )
    results: dict[tuple[int, str], list[Batch]] = defaultdict(list)
    for width in config.fanout_widths:
        for _, key in interleaved([s.key for s in systems], config.repeats):
            system = A if key == "A" else B
            try:
                batch = await asyncio.wait_for(
                    closed_loop(
                        live,
                        system,
                        system.fanout_type,
                        {"items": list(range(width))},
                        instances=1,
                        concurrency=1,
                    ),
                    RUN_TIMEOUT_S,
                )
            # A failing or hanging run is a result to report, not a reason to lose the others.
            except Exception as error:
                cause = error.__cause__ or error
                section.skipped.append(f"{key} failed at width {width}: {cause!r}")
                continue
            results[width, key].append(batch)
    rows = []
    for width in config.fanout_widths:
        seconds = {k: median([b.seconds for b in results[width, k]]) for k in ("A", "B")}
        per_item = {
            k: median([b.history.events / width for b in results[width, k]]) for k in ("A", "B")
        }
        rows.append(
            [
                width,
                ms(seconds["A"]),
                ms(seconds["B"]),
                times(ratio(seconds["A"], seconds["B"])),
                fmt(per_item["A"]),
                fmt(per_item["B"]),
                times(ratio(per_item["A"], per_item["B"])),
            ]
        )
        section.numbers[f"b_seconds_{width}"] = seconds["B"]
        section.numbers[f"b_events_per_item_{width}"] = per_item["B"]
        if results[width, "A"]:
            section.numbers[f"time_ratio_{width}"] = ratio(seconds["A"], seconds["B"])
    section.table(["W", "A time", "B time", "A/B", "A events/item", "B events/item", "A/B"], rows)
    return section
