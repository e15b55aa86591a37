"""FEEL unary tests: the input entries of a DMN decision table (``< 10``, ``"a","b"``,
``[1..5]``, ``not("x")``, ``-``, ``? > limit``).

An entry compiles to one FEEL expression that is true when the input value, bound to the
variable ``?``, passes it. The tests are parsed by the FEEL grammar as the right side of
``? in (...)``, so they take exactly the forms FEEL allows there. As feel-scala (Zeebe's and
Camunda 7's FEEL) decides them:

- a comparison (``< 10``) or range (``[1..5]``) compares the input;
- a literal, a name or a path (``"Fall"``, ``limit``, ``order.tier``) is a value the input must
  equal, or, for a list, be in;
- any other expression passes when it is ``true`` (``? > limit``, ``starts with(?, "A")``,
  ``amount > 100``), and otherwise when the input equals its value or is in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from translator.expressions._ast import (
    Binary,
    Conditional,
    Constant,
    FunctionCall,
    InTest,
    ListLiteral,
    Member,
    Node,
    Range,
    UnaryTest,
    Variable,
    walk,
)
from translator.expressions._errors import ExpressionSyntaxError
from translator.expressions._expression import Expression, compile_expression

INPUT = "?"
"""The variable the tested value is bound to."""
_PREFIX = "`?` in ("
_ANY = frozenset({"", "-"})


def compile_unary_tests(text: str) -> Expression:
    """``text`` as an expression of the variable ``?`` (and any others) that is true when the
    value passes; ``-`` or nothing passes everything.

    Raises:
        ExpressionSyntaxError: The text is not FEEL unary tests (the column is in ``text``).
    """
    stripped = text.strip()
    if stripped in _ANY:
        return Expression(dialect="feel", source=text, ast=Constant(value=True))
    inner = _negated(stripped)
    negated = inner is not None
    tests = inner if inner is not None else stripped
    shift = len(text) - len(text.lstrip()) + (len(stripped) - len(tests) - 1 if negated else 0)
    wrapped, positions = _with_named_input(tests)
    try:
        parsed = compile_expression(f"{_PREFIX}{wrapped})", "feel").ast
    except ExpressionSyntaxError as error:
        message, column = error.message.replace("`?`", "?"), error.column
        if column is not None:
            at = min(max(column - 1 - len(_PREFIX), 0), len(positions) - 1)
            if at == len(positions) - 1:  # at the parenthesis the wrapper closes
                message = "the unary tests end too early"
            column = shift + positions[at] + 1
        raise ExpressionSyntaxError(message, text, column) from None
    if not isinstance(parsed, InTest) or parsed.value != Variable(name=INPUT):
        # A parenthesis of the text closed the wrapper early: "1) or (true".
        raise ExpressionSyntaxError("unbalanced parentheses in the unary tests", text)
    ast = _passes(parsed.tests)
    if negated:
        ast = FunctionCall(name="not", args=(ast,))
    return Expression(dialect="feel", source=text, ast=ast)


_NEGATION = re.compile(r"not\s*\(")


def _negated(text: str) -> str | None:
    """The tests inside ``not( ... )`` when that is the whole text (not ``not(a) or b``)."""
    opening = _NEGATION.match(text)
    if opening is None or not text.endswith(")"):
        return None
    inner = opening.end() - 1  # the "("
    return text[inner + 1 : -1] if _closes_at_end(text, inner) else None


def _closes_at_end(text: str, start: int) -> bool:
    """Whether the parenthesis at ``start`` closes at the end of ``text``."""
    depth = 0
    for index, char, in_string in _characters(text, start):
        if in_string:
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index == len(text) - 1
    return False


def _with_named_input(text: str) -> tuple[str, list[int]]:
    """``text`` with each ``?`` outside strings written as the name `` `?` ``, and for each
    character of the result the position it came from (to word errors against ``text``)."""
    out: list[str] = []
    positions: list[int] = []
    for index, char, in_string in _characters(text):
        if char == "?" and not in_string:
            out.append("`?`")
            positions.extend((index, index, index))
        else:
            out.append(char)
            positions.append(index)
    positions.append(len(text))  # the closing parenthesis the wrapper adds
    return "".join(out), positions


def _characters(text: str, start: int = 0) -> Iterator[tuple[int, str, bool]]:
    """Each character from ``start`` on, and whether it is part of a FEEL string literal
    (its quotes included)."""
    quoted = False
    for index, char in enumerate(text[start:], start=start):
        if quoted:
            yield index, char, True
            quoted = char != '"' or text[index - 1] == "\\"
        else:
            quoted = char == '"'
            yield index, char, quoted


def _passes(tests: tuple[Node, ...]) -> Node:
    """One expression for ``? in (tests)`` with feel-scala's reading of each test."""
    compared = tuple(test for test in tests if isinstance(test, _COMPARED))
    ast: Node | None = InTest(value=INPUT_VARIABLE, tests=compared) if compared else None
    for test in tests:
        if isinstance(test, _COMPARED):
            continue
        condition = test if _names_input(test) else _expression_test(test)
        ast = condition if ast is None else Binary(op="or", left=ast, right=condition)
    assert ast is not None
    return ast


def _expression_test(test: Node) -> Node:
    """feel-scala's reading of an expression that does not name ``?``: true passes; so does
    an input it equals or a list holds; false fails; so does any other value the input is
    not; only a comparison that cannot be made (other types) stays null."""
    compared = InTest(value=INPUT_VARIABLE, tests=(test,))
    return Conditional(
        condition=Binary(op="=", left=test, right=Constant(value=True)),
        then=Constant(value=True),
        otherwise=Conditional(
            condition=compared,
            then=Constant(value=True),
            otherwise=Conditional(
                condition=Binary(op="=", left=test, right=Constant(value=False)),
                then=Constant(value=False),
                otherwise=compared,
            ),
        ),
    )


_COMPARED = (UnaryTest, Range, Constant, Variable, Member, ListLiteral)
"""Tests the input is compared with (or, for a list, looked up in)."""
INPUT_VARIABLE = Variable(name=INPUT)


def _names_input(test: Node) -> bool:
    return any(isinstance(node, Variable) and node.name == INPUT for node in walk(test))
