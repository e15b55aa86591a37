"""FEEL (Zeebe / Camunda 8): ``=amount > 100``, ``if a then b else c``, ``items[x > 1]``.

The grammar is ``grammars/feel.lark``; ``FeelBuilder`` turns each rule into ``_ast`` nodes.
"""

from __future__ import annotations

import re
from typing import ClassVar

from lark import Token, v_args

from translator.expressions import _temporal
from translator.expressions._ast import (
    Between,
    BinaryOp,
    Conditional,
    Constant,
    ContextEntry,
    ContextLiteral,
    Filter,
    ForLoop,
    FunctionCall,
    InTest,
    Iteration,
    ListLiteral,
    Member,
    Node,
    Quantified,
    Range,
    TestOp,
    UnaryTest,
    Variable,
)
from translator.expressions._functions import FUNCTIONS, SPECIAL_FORMS, arity, describe_arity
from translator.expressions._parsing import (
    Builder,
    DialectParser,
    SyntaxRefusal,
    Unexpected,
    Wording,
    number,
)

_CONSTANTS = {"TRUE": True, "FALSE": False, "NULL": None}
_RESERVED = frozenset({"not", "instance"})
"""Words that cannot be variables beyond those the grammar keeps out (``not`` is a name so
that ``not(x)`` can be a call)."""
_TEST_OPS: dict[str, TestOp] = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TEMPORAL_LITERALS = (
    ("date", _temporal.parse_date),
    ("time", _temporal.parse_time),
    ("date and time", _temporal.parse_date_time),
    ("duration", _temporal.parse_duration),
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'"}
_ESCAPES |= {"\\": "\\", "/": "/"}


@v_args(inline=True)
class FeelBuilder(Builder):
    OPERATORS: ClassVar[dict[str, BinaryOp]] = {
        **_TEST_OPS,
        "or": "or",
        "and": "and",
        "+": "+",
        "-": "-",
        "*": "*",
        "/": "/",
        "**": "**",
    }

    # --- literals and names ----------------------------------------------------------------

    def literal(self, token: Token) -> Node:
        if token.type == "NUMBER":
            return number(token)
        if token.type == "STRING":
            return Constant(value=_string(token))
        return Constant(value=_CONSTANTS[token.type])

    def word(self, token: Token) -> Token:
        return token

    def variable(self, name: Token) -> Node:
        if name.type == "NAME" and name in _RESERVED:
            raise SyntaxRefusal(f"unexpected {str(name)!r}", name.start_pos or 0)
        return Variable(name=_name(name))

    def list_literal(self, *items: Node) -> Node:
        return ListLiteral(items=items)

    def context_entry(self, key: Token, value: Node) -> tuple[Token, ContextEntry]:
        text = _string(key) if key.type == "STRING" else _name(key)
        return key, ContextEntry(key=text, value=value)

    def context_literal(self, *entries: tuple[Token, ContextEntry]) -> Node:
        seen: set[str] = set()
        for token, entry in entries:
            if entry.key in seen:
                raise SyntaxRefusal(f"duplicate context key {entry.key!r}", token.start_pos or 0)
            seen.add(entry.key)
        return ContextLiteral(entries=tuple(entry for _, entry in entries))

    def temporal_literal(self, text: Token) -> Node:
        """``@"2024-01-31"``: the function is chosen by the text, which must be valid now."""
        value = _string(text)
        for function, parse in _TEMPORAL_LITERALS:
            if parse(value) is not None:
                return FunctionCall(name=function, args=(Constant(value=value),))
        message = f"{text} is not a date, time, date and time or duration"
        raise SyntaxRefusal(message, text.start_pos or 0)

    def function_call(self, name: Token, args: tuple[Node, ...] | None) -> Node:
        function = " ".join(str(name).split())
        args = args or ()
        known = arity(function)
        if known is None:
            raise SyntaxRefusal(f"unknown function {function!r}", name.start_pos or 0)
        least, most = known
        if len(args) < least or (most is not None and len(args) > most):
            expected = describe_arity(least, most)
            message = f"function '{function}' takes {expected}, got {len(args)}"
            raise SyntaxRefusal(message, name.start_pos or 0)
        return FunctionCall(name=function, args=args)

    # --- paths and filters -----------------------------------------------------------------

    def path(self, target: Node, name: Token) -> Node:
        return Member(target=target, name=_name(name))

    def filter(self, target: Node, condition: Node) -> Node:
        return Filter(target=target, condition=condition)

    # --- if / for / some / every -----------------------------------------------------------

    def if_expression(self, condition: Node, then: Node, otherwise: Node) -> Node:
        return Conditional(condition=condition, then=then, otherwise=otherwise)

    def for_expression(self, *parts: Iteration | Node) -> Node:
        *iterations, body = parts
        return ForLoop(iterations=_iterations(iterations), body=_node(body))

    def quantified(self, quantifier: Token, *parts: Iteration | Node) -> Node:
        *iterations, condition = parts
        return Quantified(
            quantifier="some" if quantifier.type == "SOME" else "every",
            iterations=_iterations(iterations),
            condition=_node(condition),
        )

    def iteration(self, name: Token, source: Node) -> Iteration:
        return Iteration(name=_name(name), source=source)

    def integer_iteration(self, name: Token, low: Node, high: Node) -> Iteration:
        """``i in 1..3`` iterates the integers from ``low`` to ``high``."""
        return Iteration(name=_name(name), source=Range(low=low, high=high))

    # --- between / in ------------------------------------------------------------------------

    def between(self, value: Node, low: Node, _and: Token, high: Node) -> Node:
        return Between(value=value, low=low, high=high)

    def in_test(self, value: Node, tests: Node | tuple[Node, ...]) -> Node:
        """``x in < 5``, ``x in [1..5]``, ``x in (1, 2, > 10)``, ``x in list``."""
        return InTest(value=value, tests=tests if isinstance(tests, tuple) else (tests,))

    def test_list(self, *tests: Node) -> tuple[Node, ...]:
        return tests

    def unary_test(self, op: Token, operand: Node) -> Node:
        return UnaryTest(op=_TEST_OPS[str(op)], operand=operand)

    def range(self, opening: Token, low: Node, high: Node, closing: Token) -> Node:
        return Range(
            low=low,
            high=high,
            low_inclusive=opening.type == "LSQB",
            high_inclusive=closing.type == "RSQB",
        )


def _name(token: Token) -> str:
    text = str(token)
    return text[1:-1] if token.type == "BACKTICK_NAME" else text


def _node(value: Iteration | Node) -> Node:
    assert not isinstance(value, Iteration)
    return value


def _iterations(values: list[Iteration | Node]) -> tuple[Iteration, ...]:
    return tuple(value for value in values if isinstance(value, Iteration))


def _string(token: Token) -> str:
    """The text of a string literal: escapes decoded, other backslashes kept (regex text such
    as ``"\\d+"`` survives)."""
    text, base = str(token), token.start_pos or 0
    chars: list[str] = []
    at, end = 1, len(text) - 1
    while at < end:
        char = text[at]
        if char == "\\":
            code = text[at + 1]
            if code == "u":
                char, at = _unicode_escape(text, at, end, base)
            elif code in _ESCAPES:
                char, at = _ESCAPES[code], at + 1
        chars.append(char)
        at += 1
    return "".join(chars)


def _unicode_escape(text: str, at: int, end: int, base: int) -> tuple[str, int]:
    """``\\u00e9`` at ``at``, or a JSON-style surrogate pair; where the escape ends."""
    high = _hex4(text, at, end, base)
    if 0xD800 <= high < 0xDC00 and text.startswith("\\u", at + 6, end):
        low = _hex4(text, at + 6, end, base)
        if 0xDC00 <= low < 0xE000:
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)), at + 11
    if 0xD800 <= high < 0xE000:
        raise SyntaxRefusal("\\u escape is half of a surrogate pair", base + at)
    return chr(high), at + 5


def _hex4(text: str, at: int, end: int, base: int) -> int:
    digits = text[at + 2 : min(at + 6, end)]
    if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
        raise SyntaxRefusal("malformed \\u escape", base + at)
    return int(digits, 16)


def _special(error: Unexpected) -> SyntaxRefusal | None:
    kind, opened = error.token.type, error.opened
    if kind == "DOTDOT" and opened and opened[-1].type in ("LSQB", "LPAR"):
        message = "a range such as [1..10] may only follow 'in'"
        return SyntaxRefusal(message, opened[-1].start_pos or 0)
    if kind == "LPAR":
        return SyntaxRefusal("only built-in functions can be called", error.position)
    if "AND" in error.expected and "OR" not in error.expected:  # between low and high
        return SyntaxRefusal(f"expected 'and', found {error.found}", error.position)
    if {"RSQB", "RPAR"} <= error.expected:
        message = f"expected ']' or ')' to close the range, found {error.found}"
        return SyntaxRefusal(message, error.position)
    return None


def _spaced_functions() -> str:
    """The regex alternatives for built-in names with spaces, longest first."""
    names = sorted((n for n in (*FUNCTIONS, *SPECIAL_FORMS) if " " in n), key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(word) for word in name.split()) for name in names)


PARSER = DialectParser(
    "feel.lark",
    FeelBuilder(),
    Wording(
        closers=(
            ("RPAR", "')'"),
            ("RSQB", "']'"),
            ("RBRACE", "'}'"),
            ("_THEN", "'then'"),
            ("_ELSE", "'else'"),
            ("_RETURN", "'return'"),
            ("_SATISFIES", "'satisfies'"),
            ("COLON", "':'"),
        ),
        sole={"_IN": "'in'"},
        openers=frozenset({"LPAR", "LSQB", "LBRACE"}),
        closing=frozenset({"RPAR", "RSQB", "RBRACE"}),
        after={
            "DOT": "a name after '.'",
            "_FOR": "a variable name",
            "SOME": "a variable name",
            "EVERY": "a variable name",
            "COMMA": "a variable name",
            "AT": "a string after '@'",
        },
        key="a context key",
        backtick_names=True,
        special=_special,
    ),
    fill_in={"__SPACED_FUNCTIONS__": _spaced_functions()},
)
