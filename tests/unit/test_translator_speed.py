"""Shortcuts the translator takes for speed give the same answers as the slow way."""

from __future__ import annotations

import random
import re

import pytest

from translator import TranslationError, compile_bytes
from translator._xml import _FEW_BANGS, _declares_dtd

SLOW_DTD_SCAN = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def model(prolog: str = "", comments: int = 0) -> bytes:
    noise = "<!-- ! -->" * comments
    return (
        f'<?xml version="1.0"?>{prolog}<bpmn:definitions xmlns:bpmn="{BPMN_NS}">{noise}'
        '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


@pytest.mark.parametrize("comments", [0, _FEW_BANGS - 1, _FEW_BANGS, 10 * _FEW_BANGS])
@pytest.mark.parametrize("declaration", ["<!DOCTYPE d>", '<!ENTITY e "x">'])
def test_a_dtd_is_refused_however_many_exclamation_marks_come_first(
    comments: int, declaration: str
) -> None:
    data = model(comments=comments).replace(b"</bpmn:definitions>", b"") + (
        declaration.encode() + b"</bpmn:definitions>"
    )
    with pytest.raises(TranslationError, match="declares a DTD or entities"):
        compile_bytes(data, "dtd.bpmn")


@pytest.mark.parametrize("comments", [0, _FEW_BANGS + 1])
def test_exclamation_marks_alone_are_no_dtd(comments: int) -> None:
    assert compile_bytes(model(comments=comments), "bangs.bpmn")[0].id == "p"


def test_the_scan_agrees_with_the_regex_on_random_bytes() -> None:
    rng = random.Random(3)
    pieces = [b"<", b"!", b"<!", b"DOCTYPE", b"ENTITY", b"DOC", b"x", b"!DOCTYPE", b"<<!"]
    for _ in range(5000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 200)))
        assert _declares_dtd(data) == bool(SLOW_DTD_SCAN.search(data)), data
