"""Workload 1: a chain of N no-op service tasks at concurrency C, A against B."""

from __future__ import annotations

import uuid
from collections import defaultdict

from bench._config import Config
from bench._live import Batch, HistorySize, Live, closed_loop, extra_events, history_size
from bench._report import Section, fmt, ms, times
from bench._stats import interleaved, median, paired_ratio, percentile, ratio
from bench._systems import SYSTEMS, System

TITLE = "1. Sequential chain of no-op service tasks"


async def warm_up(live: Live) -> None:
    """First instances pay for imports and caches; none of that is measured."""
    for system in SYSTEMS:
        await closed_loop(live, system, system.chain(5), {"tasks": 5}, instances=10, concurrency=10)


async def run(live: Live, config: Config) -> Section:
    section = Section(TITLE)
    section.text(
        "Closed loop: C instances in flight until the batch is done. A runs the chain as a "
        "BPMN model; B is a hand-written workflow calling the same job activity with the same "
        "payload and options. Worker CPU is the worker process's user+system time (the "
        "interpreter or workflow worker and its job worker share one process per system). "
        "History is the events (and their protobuf bytes) of one instance."
    )
    results: dict[tuple[int, int, str], list[Batch]] = defaultdict(list)
    for tasks in config.chain_lengths:
        for concurrency in config.concurrencies:
            instances = config.chain_instances(tasks, concurrency)
            for _, key in interleaved([s.key for s in SYSTEMS], config.repeats):
                system = _system(key)
                batch = await closed_loop(
                    live,
                    system,
                    system.chain(tasks),
                    {"tasks": tasks},
                    instances=instances,
                    concurrency=concurrency,
                )
                results[tasks, concurrency, key].append(batch)
    throughput_rows, cost_rows = [], []
    for tasks in config.chain_lengths:
        for concurrency in config.concurrencies:
            a, b = results[tasks, concurrency, "A"], results[tasks, concurrency, "B"]
            rate = {k: median([x.per_second for x in v]) for k, v in (("A", a), ("B", b))}
            p50 = {
                k: median([percentile(x.latencies, 50) for x in v]) for k, v in (("A", a), ("B", b))
            }
            p99 = {
                k: median([percentile(x.latencies, 99) for x in v]) for k, v in (("A", a), ("B", b))
            }
            cpu = {k: median([x.cpu_per_instance for x in v]) for k, v in (("A", a), ("B", b))}
            events = {k: median([x.history.events for x in v]) for k, v in (("A", a), ("B", b))}
            size = {k: median([x.history.bytes for x in v]) for k, v in (("A", a), ("B", b))}
            rate_ratio = paired_ratio([x.per_second for x in a], [x.per_second for x in b])
            cpu_ratio = paired_ratio(
                [x.cpu_per_instance for x in a], [x.cpu_per_instance for x in b]
            )
            throughput_rows.append(
                [
                    tasks,
                    concurrency,
                    a[0].instances,
                    fmt(rate["A"]),
                    fmt(rate["B"]),
                    times(rate_ratio),
                    ms(p50["A"]),
                    ms(p50["B"]),
                    ms(p99["A"]),
                    ms(p99["B"]),
                ]
            )
            cost_rows.append(
                [
                    tasks,
                    concurrency,
                    ms(cpu["A"]),
                    ms(cpu["B"]),
                    times(cpu_ratio),
                    fmt(events["A"]),
                    fmt(events["B"]),
                    times(ratio(events["A"], events["B"])),
                    fmt(size["A"]),
                    fmt(size["B"]),
                    times(ratio(size["A"], size["B"])),
                ]
            )
            tag = f"n{tasks}_c{concurrency}"
            section.numbers[f"throughput_ratio_{tag}"] = rate_ratio
            section.numbers[f"cpu_ratio_{tag}"] = cpu_ratio
            section.numbers[f"events_ratio_{tag}"] = ratio(events["A"], events["B"])
            section.numbers[f"bytes_ratio_{tag}"] = ratio(size["A"], size["B"])
    section.text(
        "Throughput and latency (medians over the repeats; target: A/B ≥ 0.9). The A/B columns "
        "of rates and CPU are the median of the per-repeat ratios, each A batch against the B "
        "batch run next to it: the dev server slows as its database grows over a run (a side's "
        "rate moved by a quarter within one run here), which a ratio of medians does not cancel."
    )
    section.table(
        ["N", "C", "instances", "A inst/s", "B inst/s", "A/B", "A p50", "B p50", "A p99", "B p99"],
        throughput_rows,
    )
    section.text("Cost per instance (targets: CPU A/B ≤ 1.3, events A/B = 1.00):")
    lowest = config.concurrencies[0]
    differences = [
        f"N={tasks}: "
        + extra_events(
            results[tasks, lowest, "A"][-1].history, results[tasks, lowest, "B"][-1].history
        )
        for tasks in config.chain_lengths
    ]
    section.table(
        [
            "N",
            "C",
            "A CPU",
            "B CPU",
            "A/B",
            "A events",
            "B events",
            "A/B",
            "A bytes",
            "B bytes",
            "A/B",
        ],
        cost_rows,
    )
    section.text(
        "A's instances are started as `activities.start_instance` starts them: the version "
        "pinned and the memo set by the starter. Events A has that B does not (one instance, "
        "lowest concurrency): " + "; ".join(differences) + "."
    )
    by_type = []
    for tasks in config.chain_lengths:
        self_pinned = await _started_by_type(live, tasks)
        section.numbers[f"events_started_by_type_n{tasks}"] = self_pinned.events
        extra = extra_events(self_pinned, results[tasks, lowest, "A"][-1].history)
        by_type.append(f"N={tasks}: {fmt(self_pinned.events)} events ({extra})")
    section.text(
        "Started by its workflow type and variables alone (Temporal CLI, any SDK), an instance "
        "pins its version itself: " + "; ".join(by_type) + ". MARKER_RECORDED is the local "
        "activity that resolves the version; WORKFLOW_PROPERTIES_MODIFIED is the memo upsert."
    )
    return section


async def _started_by_type(live: Live, tasks: int) -> HistorySize:
    a = _system("A")
    handle = await live.client.start_workflow(
        a.chain(tasks), {"tasks": tasks}, id=f"bench-a-{uuid.uuid4()}", task_queue=a.task_queue
    )
    await handle.result()
    return await history_size(handle)


def _system(key: str) -> System:
    return next(system for system in SYSTEMS if system.key == key)
