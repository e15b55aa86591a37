"""How much each workload runs: the quick mode (the test suite, under two minutes in all)
and the full mode (BENCHMARKS.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    quick: bool
    repeats: int
    """Interleaved repetitions of every live measurement; medians are reported."""
    chain_lengths: tuple[int, ...]
    concurrencies: tuple[int, ...]
    replay_tasks: tuple[int, ...]
    replay_min_seconds: float
    """Replay each history repeatedly for at least this long per measurement."""
    fanout_widths: tuple[int, ...]
    ramp_rates: tuple[float, ...]
    """Open-loop start rates (instances/s) tried in order until completions lag."""
    ramp_step_seconds: float
    job_limits: tuple[int, ...]
    """The job-worker workload's ``max_concurrent_jobs`` settings (the SDK's default is 10)."""
    job_batch: int
    """Jobs per measured batch of the job-worker workload, all queued at once."""
    job_repeats: int
    """Interleaved batches per side and limit: the two sides differ by little, so more
    repeats than elsewhere, to see that difference through the machine's noise."""
    bridge_round_trips: int
    """Kafka Task round trips per side, repeat and concurrency (the bridge workload)."""
    bridge_concurrencies: tuple[int, ...]
    """Round trips in flight at once: 1 is the bare latency; more make responses arrive
    while the consumer is still busy with earlier ones (where fetch settings matter)."""
    bridge_batch: int
    """Responses waiting in Kafka for as many instances when the bridge starts."""
    spiff_tasks: int
    compile_repeats: int
    large_model_nodes: int

    def chain_instances(self, tasks: int, concurrency: int) -> int:
        """Instances per closed-loop batch: a few sequential ones at concurrency 1 (each job is
        a round trip to the server there), two waves otherwise. A single wave of 100 is all
        ramp-up and tail (every instance starts at once and they finish together): its rate
        moved A/B by ±15 % from run to run; in two, the second starts as the first finishes."""
        if self.quick:
            return max(3, concurrency)
        if concurrency == 1:
            return max(5, 40 // tasks)
        return 2 * concurrency


QUICK = Config(
    quick=True,
    repeats=1,
    chain_lengths=(1, 5),
    concurrencies=(1, 10),
    replay_tasks=(10, 100),
    replay_min_seconds=0.2,
    fanout_widths=(10,),
    ramp_rates=(4.0, 8.0),
    ramp_step_seconds=2.0,
    job_limits=(10,),
    job_batch=200,
    job_repeats=1,
    bridge_round_trips=5,
    bridge_concurrencies=(1, 5),
    bridge_batch=20,
    spiff_tasks=100,
    compile_repeats=1,
    large_model_nodes=10_000,
)

FULL = Config(
    quick=False,
    repeats=3,
    chain_lengths=(1, 5, 20),
    concurrencies=(1, 10, 100),
    replay_tasks=(10, 100, 1000),
    replay_min_seconds=1.0,
    fanout_widths=(10, 100, 1000),
    ramp_rates=(5.0, 7.0, 10.0, 13.0, 16.0, 20.0, 25.0, 30.0, 36.0, 43.0, 50.0, 60.0),
    ramp_step_seconds=6.0,
    job_limits=(10, 100),
    job_batch=1000,
    job_repeats=7,
    bridge_round_trips=100,
    bridge_concurrencies=(1, 10),
    bridge_batch=1000,
    spiff_tasks=100,
    compile_repeats=5,
    large_model_nodes=10_000,
)
