"""Fuzzing the compilers: seeded mutations of real files, and a loop that fails on any
exception but ``TranslationError`` (which must carry its problems)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import pytest
from lxml import etree

from translator import TranslationError

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


EDITS: list[Mutation] = [
    flip_bytes,
    truncate,
    delete_elements,
    duplicate_elements,
    shuffle_attributes,
]
"""Mutations that apply to any XML file."""


def fuzz(
    compile_one: Callable[[bytes, str], object],
    seeds: Sequence[bytes],
    mutations: Sequence[Mutation],
    *,
    seed: int,
    cases: int,
    budget_seconds: float,
) -> int:
    """Compile ``cases`` mutated seeds (fewer if ``budget_seconds`` runs out: a slow machine
    runs fewer cases, never a slower suite); return how many ran."""
    rng = random.Random(seed)
    deadline = time.monotonic() + budget_seconds
    for case in range(cases):
        if time.monotonic() > deadline:
            return case
        mutation = rng.choice(mutations)
        data = mutation(rng, rng.choice(seeds))
        try:
            compile_one(data, f"fuzz-{case}")
        except TranslationError as error:
            assert error.problems
        except Exception as error:  # any other exception is the bug this loop hunts
            pytest.fail(
                f"case {case} ({mutation.__name__}) raised {error!r}; input: {data[:2000]!r}"
            )
    return cases
