"""Medians, percentiles and ratios: the only numbers the bench reports."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest-rank: a value that was observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of ``numerators[i] / denominators[i]``: each pair measured next to each other
    in time (one repeat of ``interleaved``), so a drift over the run (the dev server slows as its
    database grows) cancels within a pair instead of skewing one side's median."""
    return median([ratio(n, d) for n, d in zip(numerators, denominators, strict=True)])


def interleaved(systems: Sequence[str], repeats: int) -> list[tuple[int, str]]:
    """(repeat, system) in ABBA order, so drift (a noisy neighbour, a warming cache) hits
    every system alike instead of favouring whichever runs first."""
    order: list[tuple[int, str]] = []
    for repeat in range(repeats):
        names = list(systems) if repeat % 2 == 0 else list(reversed(systems))
        order.extend((repeat, name) for name in names)
    return order
