"""Compile time (issue 3): our translator against SpiffWorkflow's BPMN parser, same files, same run.

Both sides start from the file's bytes and end with everything built that an engine needs
to run it: ours with ``translator.compile_bytes`` (XML, dialects, validation, expressions
compiled to ASTs, content hash); SpiffWorkflow with its stock ``BpmnParser`` (lxml parse,
``find_all_specs``: every process's task specs). A file one side refuses still counts, with
the time it took to say so.

Every compile of ours is a first compile: the translator keeps the expressions it parsed (models
repeat ``=x`` and ``${approved}``), and repeats of one file would otherwise find all of its
expressions parsed already, which no worker loading a folder sees. SpiffWorkflow parses no
expressions at this point (it evaluates Python text when the instance runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import translator
from bench._config import Config
from bench._models import large_model
from bench._report import Section, ms, times
from bench._spiff import parse_file_specs
from bench._stats import median, ratio
from translator._context import CompileContext
from translator._xml import parse_definitions
from translator.expressions._expression import clear_expression_cache

TITLE = "Compile time: translator vs SpiffWorkflow's parser"
TARGET_SPEEDUP = 3.0
TARGET_LARGE_S = 1.0


@dataclass(frozen=True)
class Timing:
    seconds: float
    accepted: bool


def _ours(data: bytes, name: str) -> bool:
    try:
        translator.compile_bytes(data, name)
    except translator.TranslationError:
        return False
    return True


def _spiff(data: bytes, name: str) -> bool:
    try:
        parse_file_specs(data, name)
    # SpiffWorkflow raises its ValidationException and, on files it does not expect, plain
    # Python errors: any of them is its verdict "refused".
    except Exception:
        return False
    return True


def _xml_only(data: bytes, name: str) -> bool:
    """Only what the translator does before compiling: the DTD scan, lxml's parse (and the
    tree's free), the depth check. SpiffWorkflow parses with the same lxml."""
    return parse_definitions(CompileContext(name), data) is not None


SIDES: dict[str, Callable[[bytes, str], bool]] = {"ours": _ours, "spiff": _spiff, "xml": _xml_only}


def _time(compile_one: Callable[[bytes, str], bool], data: bytes, name: str) -> tuple[float, bool]:
    clear_expression_cache()
    began = time.perf_counter()
    accepted = compile_one(data, name)
    return time.perf_counter() - began, accepted


def _measure(
    data: bytes, name: str, repeats: int, *, spiff_first: bool, xml: bool = True
) -> dict[str, Timing]:
    """Each side's median over ``repeats`` compiles of ``data`` in a row.

    One side's repeats run as a block, not alternating with the other's: a call right after
    the other library ran finds its code and tables gone from the CPU caches, which costs the
    side with the shorter call the most (ours by a quarter on the corpus, measured). Which side
    goes first alternates from file to file, so neither always follows the other. ``xml``
    also times the translator's XML parse alone (reported for the corpus only).
    """
    ours = ("ours", "xml") if xml else ("ours",)
    sides = ("spiff", *ours) if spiff_first else (*ours, "spiff")
    timings = {}
    for side in sides:
        samples = [_time(SIDES[side], data, name) for _ in range(repeats)]
        timings[side] = Timing(median([s for s, _ in samples]), samples[-1][1])
    return timings


def run(config: Config, corpus: Path) -> Section:
    section = Section(TITLE)
    section.text(
        "Per file, each side's median of repeats in a row (every one of ours a first compile: "
        "no expression parsed before); the corpus row adds those medians up. The XML row "
        "times only the translator's DTD scan, lxml parse (and free) and depth check: "
        "SpiffWorkflow parses with the same lxml, so its ratio is the most a translator built "
        "on lxml could reach. "
        f"Targets: at least {TARGET_SPEEDUP:g}× faster than SpiffWorkflow's parser; the "
        f"{config.large_model_nodes:,}-node model in under {TARGET_LARGE_S:g} s."
    )
    files = sorted(corpus.glob("*.bpmn")) if corpus.is_dir() else []
    rows = []
    if not files:
        section.skipped.append(f"no corpus at {corpus}")
    else:
        _measure(files[0].read_bytes(), files[0].name, 1, spiff_first=False)  # imports, caches
        timings = [
            _measure(path.read_bytes(), path.name, config.compile_repeats, spiff_first=i % 2 == 1)
            for i, path in enumerate(files)
        ]
        ours = sum(t["ours"].seconds for t in timings)
        spiff = sum(t["spiff"].seconds for t in timings)
        both = [t for t in timings if t["ours"].accepted and t["spiff"].accepted]
        ours_both = sum(t["ours"].seconds for t in both)
        spiff_both = sum(t["spiff"].seconds for t in both)
        accepted_ours = sum(t["ours"].accepted for t in timings)
        accepted_spiff = sum(t["spiff"].accepted for t in timings)
        rows.append(
            [
                f"corpus, all {len(files)} files",
                f"{accepted_ours} / {accepted_spiff}",
                ms(ours),
                ms(spiff),
                times(ratio(spiff, ours)),
            ]
        )
        rows.append(
            [
                "corpus, files both accept",
                f"{len(both)} / {len(both)}",
                ms(ours_both),
                ms(spiff_both),
                times(ratio(spiff_both, ours_both)),
            ]
        )
        xml = sum(t["xml"].seconds for t in timings)
        rows.append(
            [
                "corpus, the translator's XML parse alone",
                "–",
                ms(xml),
                ms(spiff),
                times(ratio(spiff, xml)),
            ]
        )
        section.numbers["corpus_xml_seconds"] = xml
        section.numbers["corpus_speedup"] = ratio(spiff, ours)
        section.numbers["corpus_both_speedup"] = ratio(spiff_both, ours_both)
    model = large_model(config.large_model_nodes)
    large = _measure(
        model.xml.encode(), "large.bpmn", config.compile_repeats, spiff_first=False, xml=False
    )
    rows.append(
        [
            f"generated, {config.large_model_nodes:,} flow nodes",
            f"{int(large['ours'].accepted)} / {int(large['spiff'].accepted)}",
            ms(large["ours"].seconds),
            ms(large["spiff"].seconds),
            times(ratio(large["spiff"].seconds, large["ours"].seconds)),
        ]
    )
    section.numbers["large_seconds"] = large["ours"].seconds
    section.numbers["large_speedup"] = ratio(large["spiff"].seconds, large["ours"].seconds)
    section.table(
        ["input", "accepted (ours / Spiff)", "translator", "SpiffWorkflow", "Spiff / ours"],
        rows,
    )
    return section
