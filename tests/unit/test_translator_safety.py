"""Untrusted input: hostile XML is refused quickly, and no input makes compile_bytes raise
anything but TranslationError (a seeded fuzz loop over mutated real models)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

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

Mutation = Callable[[random.Random, bytes], bytes]


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    mutable = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        mutable[rng.randrange(len(mutable))] = rng.randrange(256)
    return bytes(mutable)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _edit_tree(rng: random.Random, data: bytes, duplicate: bool) -> bytes:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    elements = [e for e in root.iter() if e is not root and isinstance(e.tag, str)]
    for element in rng.sample(elements, min(len(elements), rng.randint(1, 4))):
        parent = element.getparent()
        if parent is None:
            continue
        if duplicate:
            parent.insert(parent.index(element), etree.fromstring(etree.tostring(element)))
        else:
            parent.remove(element)
    return etree.tostring(root)


def delete_elements(rng: random.Random, data: bytes) -> bytes:
    return _edit_tree(rng, data, duplicate=False)


def duplicate_elements(rng: random.Random, data: bytes) -> bytes:
    return _edit_tree(rng, data, duplicate=True)


def shuffle_attributes(rng: random.Random, data: bytes) -> bytes:
    """Swap the values of two attributes somewhere: ids into refs, text into numbers..."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    attributed = [e for e in root.iter() if isinstance(e.tag, str) and e.attrib]
    for _ in range(rng.randint(1, 6)):
        one, two = rng.choice(attributed), rng.choice(attributed)
        key_one, key_two = rng.choice(list(one.attrib)), rng.choice(list(two.attrib))
        one.attrib[key_one], two.attrib[key_two] = two.attrib[key_two], one.attrib[key_one]
    return etree.tostring(root)


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


MUTATIONS: list[Mutation] = [
    flip_bytes,
    truncate,
    delete_elements,
    duplicate_elements,
    shuffle_attributes,
    random_xml,
]
FUZZ_CASES = 3000
FUZZ_BUDGET_SECONDS = 4.0


def test_fuzzed_models_only_ever_raise_translation_error() -> None:
    rng = random.Random(20240601)
    seeds = [path.read_bytes() for path in SEEDS if path.stat().st_size < 200_000]
    assert seeds, "no seed models found"
    deadline = time.monotonic() + FUZZ_BUDGET_SECONDS
    for case in range(FUZZ_CASES):
        if time.monotonic() > deadline:
            break  # a slow machine runs fewer cases, never a slower suite
        mutation = rng.choice(MUTATIONS)
        data = mutation(rng, rng.choice(seeds))
        try:
            compile_bytes(data, f"fuzz-{case}.bpmn")
        except TranslationError as error:
            assert error.problems
        except Exception as error:  # any other exception is the bug this test hunts
            pytest.fail(
                f"case {case} ({mutation.__name__}) raised {error!r}; input: {data[:2000]!r}"
            )
