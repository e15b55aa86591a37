"""Result sections and Markdown tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Section:
    """One workload's results: Markdown lines for BENCHMARKS.md, and the numbers behind them."""

    title: str
    lines: list[str] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Why a part did not run (for example a model this interpreter version refuses)."""

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.lines.append("| " + " | ".join(headers) + " |")
        self.lines.append("|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|")
        self.lines.extend("| " + " | ".join(_cell(value) for value in row) + " |" for row in rows)
        self.lines.append("")

    def text(self, *paragraphs: str) -> None:
        for paragraph in paragraphs:
            self.lines.extend([paragraph, ""])

    def markdown(self) -> str:
        body = [f"## {self.title}", ""]
        for reason in self.skipped:
            body.extend([f"> **Skipped:** {reason}", ""])
        return "\n".join(body + self.lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return fmt(value)
    return str(value)


def fmt(value: float) -> str:
    """Three significant figures, enough for numbers this noisy."""
    if math.isnan(value):
        return "–"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def times(value: float) -> str:
    """A ratio, as ``1.23×``."""
    return "–" if math.isnan(value) else f"{fmt(value)}×"


def ms(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{fmt(seconds * 1000)} ms"
