"""Shortcuts the translator takes for speed give the same answers as the slow way."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable

import pytest
from lark.exceptions import UnexpectedInput

from translator import TranslationError, compile_bytes
from translator._xml import _FEW_BANGS, _declares_dtd
from translator.expressions import Expression, ExpressionSyntaxError, compile_expression
from translator.expressions._expression import _PARSERS, text_expression
from translator.expressions._limits import MAX_SOURCE_LENGTH
from translator.expressions._parsing import SyntaxRefusal, _acceptable, _Reading

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


# --- expressions -------------------------------------------------------------------------------

TEXT_PIECES = ["a", " ", '"', "\\", "\\u00e9", "\n", "\t", "\x00", "é", "😀", "\u2028", "=", "${x}"]


def test_a_text_expression_is_the_parsed_string_literal() -> None:
    rng = random.Random(5)
    texts = ["", "demo", "\ud800", "a\udc00b", "x" * (MAX_SOURCE_LENGTH - 3)]
    texts += ["x" * (MAX_SOURCE_LENGTH - 2), "😀" * (MAX_SOURCE_LENGTH // 12 + 1)]
    texts += ["".join(rng.choices(TEXT_PIECES, k=rng.randint(0, 40))) for _ in range(3000)]
    for text in texts:
        parsed = _outcome(compile_expression, "=" + json.dumps(text), "feel")
        assert _outcome(text_expression, text) == parsed, text


def _outcome(compile_one: Callable[..., Expression], *args: str) -> object:
    try:
        return compile_one(*args)
    except ExpressionSyntaxError as error:
        return str(error)


BROKEN = {
    "feel": ["=a +", "=f(1,", "={a: }", "=if x then", "=[1..", "=some x in", "=a.", "=(1"],
    "juel": ["${a ==", "${a ? b", "${f(", "${a[", "${not}", "x ${"],
    "spel": ["#{#a.?[x >", "#{T(java.lang.Math).", "#{{1,", "#{a ?:", "#{new }"],
}


@pytest.mark.parametrize("dialect", sorted(BROKEN))
def test_acceptable_terminals_are_what_lark_finds_by_trying_each(dialect: str) -> None:
    rng = random.Random(11)
    parser = _PARSERS[dialect]
    checked = 0
    for text in BROKEN[dialect] + [_mutated(rng, BROKEN[dialect]) for _ in range(300)]:
        reading = _Reading(parser._wording)
        try:
            reading.run(parser._lark, text)
        except UnexpectedInput:
            interactive = reading.interactive
            assert interactive is not None
            assert _acceptable(interactive.parser_state) == interactive.accepts(), text
            checked += 1
        except SyntaxRefusal:
            pass
    assert checked > 100


def _mutated(rng: random.Random, texts: list[str]) -> str:
    chars = list(rng.choice(texts))
    for _ in range(rng.randint(1, 4)):
        chars.insert(rng.randint(0, len(chars)), rng.choice('()[]{},.=<>+-*? ab1"#$:'))
    return "".join(chars)
