"""``python -m bench``: every workload in one run, written to BENCHMARKS.md."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from temporalio.client import Client

from activities import load_definitions
from bench import _chain, _compile, _fanout, _job_workers, _kafka_bridge, _replay, _saturation
from bench._config import FULL, QUICK, Config
from bench._live import Live, worker_processes
from bench._report import Section, fmt, times
from bench._server import DEFAULT_PORT, KAFKA_PORT_OFFSET, kafka_broker, temporal_server

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("compile", "chain", "fanout", "saturation", "jobs", "bridge", "replay", "spiff")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the BPMN interpreter against a hand-written Temporal workflow "
        "and SpiffWorkflow; write medians and ratios to a Markdown file.",
    )
    parser.add_argument("--quick", action="store_true", help="the fast mode (a smoke run)")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, help="also write every number as JSON here")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=ROOT / ".stack" / "bench",
        help="the bench's dev server, worker logs, models and histories (git-ignored)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="dev server port (UI on port + 1000)"
    )
    parser.add_argument(
        "--kafka-port",
        type=int,
        help=f"Kafka broker port for the bridge workload (default port + {KAFKA_PORT_OFFSET}; "
        "its KRaft controller takes the next one)",
    )
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument(
        "--only",
        default=",".join(WORKLOADS),
        help=f"comma-separated workloads to run, of {', '.join(WORKLOADS)}",
    )
    return parser.parse_args(argv)


async def _live_workloads(
    config: Config, selected: set[str], state: Path, port: int, kafka_port: int | None
) -> list[Section]:
    sections: list[Section] = []
    with temporal_server(state, port) as address, worker_processes(address, state) as workers:
        live = Live(await Client.connect(address), workers, address, state)
        await _chain.warm_up(live)
        if "chain" in selected:
            sections.append(await _chain.run(live, config))
        if "fanout" in selected:
            sections.append(await _fanout.run(live, config))
        if "saturation" in selected:
            sections.append(await _saturation.run(live, config))
        if "jobs" in selected:
            sections.append(await _job_workers.run(live, config))
        if "bridge" in selected:
            with kafka_broker(state, port, kafka_port) as kafka:
                sections.append(await _kafka_bridge.run(live, config, kafka))
        if selected & {"replay", "spiff"}:
            histories = await _replay.record_histories(live, config, state / "histories")
    # The dev server is stopped here: replays below run with no server at all.
    if selected & {"replay", "spiff"}:
        load_definitions(state / "models")  # the versions the recorded histories pinned
        replay, medians = await _replay.run_replay(config, histories)
        if "replay" in selected:
            sections.append(replay)
        if "spiff" in selected:
            sections.append(_replay.run_spiff(config, medians))
    return sections


def _machine() -> list[str]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    cli = Path(sys.executable).parent / "temporal"
    try:
        temporal_cli = subprocess.run(
            [str(cli), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError:
        temporal_cli = "temporal CLI not found"
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("temporalio", "spiffworkflow", "lxml")
    )
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores{memory}, {platform.platform()}",
        f"- Python {platform.python_version()}; {versions}; {temporal_cli} (dev server, SQLite)",
        f"- Load average at start (1/5/15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def _commit() -> str:
    # Set when the bench runs from an exported snapshot of a commit (no .git there), which
    # keeps a long run safe from edits to the working tree: the workflow sandbox re-imports
    # workflow modules from disk for every new run.
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        return "unknown"


def _summary(sections: list[Section]) -> list[str]:
    """The issue's targets next to what was measured (worst case over the configurations)."""
    numbers = {
        f"{section.title}:{key}": value
        for section in sections
        for key, value in section.numbers.items()
    }

    def pick(title: str, prefix: str) -> list[float]:
        return [
            v for k, v in numbers.items() if k.startswith(f"{title}:{prefix}") and not math.isnan(v)
        ]

    rows: list[list[str]] = []

    def add(target: str, values: list[float], worst: str, ok: bool | None) -> None:
        if not values:
            rows.append([target, "not measured", "–"])
            return
        spread = f"(range {times(min(values))} – {times(max(values))})" if len(values) > 1 else ""
        verdict = "–" if ok is None else ("met" if ok else "**missed**")
        rows.append([target, f"{worst} {spread}".strip(), verdict])

    chain = _chain.TITLE
    for label, prefix, best_is_low, bound in (
        ("events/instance A/B = 1.00", "events_ratio", True, 1.0),
        ("throughput A/B ≥ 0.9", "throughput_ratio", False, 0.9),
        ("worker CPU/instance A/B ≤ 1.3", "cpu_ratio", True, 1.3),
    ):
        values = pick(chain, prefix)
        if values:
            worst = max(values) if best_is_low else min(values)
            ok = worst <= bound if best_is_low else worst >= bound
            add(label, values, f"worst {times(worst)}", ok)
        else:
            add(label, values, "", None)
    replay = pick(_replay.REPLAY_TITLE, "replay_ratio")
    if replay:
        add("replay A/B ≤ 1.5", replay, f"worst {times(max(replay))}", max(replay) <= 1.5)
    fanout = pick(_fanout.TITLE, "time_ratio")
    add(
        "fan-out completion time A/B (no target)",
        fanout,
        f"worst {times(max(fanout, default=math.nan))}",
        None,
    )
    spiff = pick(_replay.SPIFF_TITLE, "ours_over_spiff")
    if spiff:
        add("per step, ours in replay / SpiffWorkflow (no target)", spiff, times(spiff[0]), None)
    saturation = pick(_saturation.TITLE, "sustainable_ratio")
    if saturation:
        add("sustainable rate A/B (no target)", saturation, times(saturation[0]), None)
    jobs = pick(_job_workers.TITLE, "throughput_ratio")
    if jobs:
        add("job worker jobs/s SDK/bare ≥ 0.9", jobs, f"worst {times(min(jobs))}", min(jobs) >= 0.9)
    bridge = _kafka_bridge.TITLE
    bound = _kafka_bridge.TARGET_P50_RATIO
    for leg, key in (("request → signal", "signal"), ("request → completed", "completed")):
        p50 = pick(bridge, f"{key}_c1_p50_ratio")
        if p50:
            label = f"Kafka round trip p50 ({leg}) ours/floor ≤ {bound}"
            add(label, p50, times(p50[0]), p50[0] <= bound)
    rate = pick(bridge, "ours_per_second")
    if rate:
        target = _kafka_bridge.TARGET_PER_SECOND
        add(f"bridge correlations/s ≥ {target:,.0f}", rate, f"{fmt(rate[0])}/s", rate[0] >= target)
    for key, label in (
        ("corpus_speedup", "compile, corpus: Spiff/ours ≥ 3"),
        ("large_speedup", "compile, 10,000 nodes: Spiff/ours ≥ 3"),
    ):
        values = pick(_compile.TITLE, key)
        if values:
            add(label, values, times(values[0]), values[0] >= _compile.TARGET_SPEEDUP)
    large = pick(_compile.TITLE, "large_seconds")
    if large:
        rows.append(
            [
                "compile, 10,000 nodes < 1 s",
                f"{fmt(large[0])} s",
                "met" if large[0] < _compile.TARGET_LARGE_S else "**missed**",
            ]
        )
    lines = ["| target | measured | |", "|---|---|---|"]
    lines.extend(f"| {' | '.join(row)} |" for row in rows)
    return [*lines, ""]


def render(
    sections: list[Section], command: str, config: Config, seconds: float, machine: list[str]
) -> str:
    mode = "quick" if config.quick else "full"
    header = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench` (bench/); do not edit by hand.",
        "",
        f"- Command: `{command}` ({mode} mode, {config.repeats} interleaved repeat(s) of every "
        f"live measurement, {fmt(seconds / 60)} min in all)",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, commit {_commit()}",
        *machine,
        "",
        "Numbers are medians of repeated runs, interleaved A/B/B/A so that drift hits both "
        "sides alike; read the ratios, not the absolute times. This machine has 2 cores that "
        "the dev server, both worker processes and the load generator share (and other "
        "engineers' jobs too): expect ±10-20 % noise on a ratio, more on p99 latencies and on "
        "runs of few instances.",
        "",
        "A is the BPMN interpreter (`workflows.BpmnInterpreter` as `worker.py` wires it); B is "
        "a hand-written Temporal workflow (bench/_baseline.py) calling the same job activity.",
        "",
        "## Targets",
        "",
        *_summary(sections),
    ]
    return "\n".join(header + [section.markdown() for section in sections])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = QUICK if args.quick else FULL
    selected = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = selected - set(WORKLOADS)
    if unknown:
        print(f"error: unknown workload(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    state = args.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    machine = _machine()
    began = time.perf_counter()
    sections: list[Section] = []
    if "compile" in selected:
        sections.append(_compile.run(config, args.corpus))
    if selected - {"compile"}:
        sections.extend(
            asyncio.run(_live_workloads(config, selected, state, args.port, args.kafka_port))
        )
    order = {title: i for i, title in enumerate(_ORDER)}
    sections.sort(key=lambda s: order.get(s.title, len(order)))
    command = "python -m bench" + (" " + shlex.join(argv) if argv else "")
    if argv is None:
        command = "python -m bench" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    text = render(sections, command, config, time.perf_counter() - began, machine)
    args.output.write_text(text)
    if args.json:
        args.json.write_text(
            json.dumps({s.title: {"numbers": s.numbers, "skipped": s.skipped} for s in sections})
        )
    print(text)
    return 0


_ORDER = (
    _chain.TITLE,
    _replay.REPLAY_TITLE,
    _fanout.TITLE,
    _replay.SPIFF_TITLE,
    _saturation.TITLE,
    _job_workers.TITLE,
    _kafka_bridge.TITLE,
    _compile.TITLE,
)
