"""Untrusted input: hostile XML is refused quickly, and no input makes compile_bytes raise
anything but TranslationError (a seeded fuzz loop over mutated real models)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.helpers.fuzz import EDITS, Mutation, fuzz
from translator import TranslationError, compile_bytes

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT.parent / "shared" / "corpus").glob("*.bpmn")) + sorted(
    (ROOT / "examples").rglob("*.bpmn")
)
BPMN_NS = b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE d [{"".join(entities)}]>'
        f"<bpmn:definitions {BPMN_NS.decode()}>"
        '<bpmn:process id="p" isExecutable="true" name="&lol9;"><bpmn:startEvent id="s"/>'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


def test_a_billion_laughs_file_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(TranslationError, match="DTD"):
        compile_bytes(billion_laughs(), "lol.bpmn")
    assert time.monotonic() - started < 1


def test_a_utf16_doctype_is_refused_too() -> None:
    with pytest.raises(TranslationError, match=r"DTD|XML"):
        compile_bytes(
            billion_laughs()
            .replace(b'"1.0"?>', b'"1.0" encoding="UTF-16"?>')
            .decode()
            .encode("utf-16"),
            "lol16.bpmn",
        )


@pytest.mark.parametrize("levels", [100, 10_000])
def test_deeply_nested_xml_is_refused_with_a_clear_problem(levels: int) -> None:
    data = (
        f"<bpmn:definitions {BPMN_NS.decode()}>"
        + "<bpmn:subProcess>" * levels
        + "</bpmn:subProcess>" * levels
        + "</bpmn:definitions>"
    ).encode()
    with pytest.raises(TranslationError, match="nested"):
        compile_bytes(data, "deep.bpmn")


def test_an_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(TranslationError, match="larger than"):
        compile_bytes(b" " * (21 * 1024 * 1024), "big.bpmn")


# --- Fuzzing -----------------------------------------------------------------------------------

TAGS = [
    "process",
    "startEvent",
    "endEvent",
    "subProcess",
    "boundaryEvent",
    "sequenceFlow",
    "timerEventDefinition",
    "timeCycle",
    "userTask",
    "multiInstanceLoopCharacteristics",
]
ATTRIBUTES = [
    "id",
    "sourceRef",
    "targetRef",
    "attachedToRef",
    "isExecutable",
    "default",
    "triggeredByEvent",
    "messageRef",
    "errorRef",
    "cancelActivity",
]


def random_xml(rng: random.Random, _: bytes) -> bytes:
    ids = ["a", "b", "c", "p", ""]

    def element(depth: int) -> str:
        tag = rng.choice(TAGS)
        attributes = " ".join(
            f'{rng.choice(ATTRIBUTES)}="{rng.choice([*ids, "true", "=x", "R/P"])}"'
            for _ in range(rng.randint(0, 3))
        )
        children = "".join(element(depth + 1) for _ in range(rng.randint(0, 3 if depth < 4 else 0)))
        text = rng.choice(["", "PT1M", "${x", "=a +", "0 0 * * * ?"])
        return f"<bpmn:{tag} {attributes}>{text}{children}</bpmn:{tag}>"

    body = "".join(element(0) for _ in range(rng.randint(1, 4)))
    return f"<bpmn:definitions {BPMN_NS.decode()}>{body}</bpmn:definitions>".encode()


MUTATIONS: list[Mutation] = [*EDITS, random_xml]
FUZZ_CASES = 3000
FUZZ_BUDGET_SECONDS = 4.0


def test_fuzzed_models_only_ever_raise_translation_error() -> None:
    seeds = [path.read_bytes() for path in SEEDS if path.stat().st_size < 200_000]
    assert seeds, "no seed models found"
    fuzz(
        compile_bytes,
        seeds,
        MUTATIONS,
        seed=20240601,
        cases=FUZZ_CASES,
        budget_seconds=FUZZ_BUDGET_SECONDS,
    )
