"""FEEL unary tests: the input entries of a DMN decision table (``< 10``, ``"a","b"``,
``[1..5]``, ``not("x")``, ``-``, ``? > limit``).

An entry compiles to one FEEL expression that is true when the input value, bound to the
variable ``?``, passes it. The tests are parsed by the FEEL grammar as the right side of
``? in (...)``, so they take exactly the forms FEEL allows there; a test that names ``?``
itself (``? > limit``, ``starts with(?, "A")``) is a condition that must be true, any other is
a value the input must equal (or, for a list, be in).
"""

from __future__ import annotations

from translator.expressions._ast import (
    Binary,
    Constant,
    FunctionCall,
    InTest,
    Node,
    Range,
    UnaryTest,
    Variable,
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
    negated = _is_negation(stripped)
    tests = stripped[4:-1] if negated else stripped
    shift = len(text) - len(text.lstrip()) + (4 if negated else 0)
    wrapped, positions = _with_named_input(tests)
    try:
        parsed = compile_expression(f"{_PREFIX}{wrapped})", "feel").ast
    except ExpressionSyntaxError as error:
        message, column = error.message.replace("`?`", "?"), error.column
        if column is not None:
            inner = min(max(column - 1 - len(_PREFIX), 0), len(positions) - 1)
            if inner == len(positions) - 1:  # at the parenthesis the wrapper closes
                message = "the unary tests end too early"
            column = shift + positions[inner] + 1
        raise ExpressionSyntaxError(message, text, column) from None
    assert isinstance(parsed, InTest)
    ast = _passes(parsed.tests)
    if negated:
        ast = FunctionCall(name="not", args=(ast,))
    return Expression(dialect="feel", source=text, ast=ast)


def _is_negation(text: str) -> bool:
    """Whether ``text`` is ``not(...)`` as a whole (not ``not(a) or b``)."""
    if not (text.startswith("not(") and text.endswith(")")):
        return False
    depth = 0
    quoted = False
    for index, char in enumerate(text[3:], start=3):
        if quoted:
            quoted = char != '"' or text[index - 1] == "\\"
        elif char == '"':
            quoted = True
        elif char == "(":
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
    quoted = False
    for index, char in enumerate(text):
        if quoted:
            quoted = char != '"' or text[index - 1] == "\\"
        elif char == '"':
            quoted = True
        elif char == "?":
            out.append("`?`")
            positions.extend((index, index, index))
            continue
        out.append(char)
        positions.append(index)
    positions.append(len(text))  # the closing parenthesis the wrapper adds
    return "".join(out), positions


def _passes(tests: tuple[Node, ...]) -> Node:
    """One expression for ``? in (tests)``, where a test naming ``?`` is a condition."""
    compared = tuple(test for test in tests if not _names_input(test))
    conditions = [test for test in tests if _names_input(test)]
    ast: Node | None = None
    if compared:
        ast = InTest(value=Variable(name=INPUT), tests=compared)
    for condition in conditions:
        ast = condition if ast is None else Binary(op="or", left=ast, right=condition)
    assert ast is not None
    return ast


def _names_input(test: Node) -> bool:
    if isinstance(test, UnaryTest | Range):
        return False
    pending: list[object] = [test]
    while pending:
        value = pending.pop()
        if isinstance(value, Variable) and value.name == INPUT:
            return True
        if isinstance(value, tuple):
            pending.extend(value)
        elif hasattr(value, "__dict__") and not isinstance(value, str):
            pending.extend(value.__dict__.values())
    return False
