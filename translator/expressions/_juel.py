"""JUEL (Camunda 7 Java EL): ``${amount > 100 && approved}`` and text around it.

The grammar is ``grammars/juel.lark``; ``JuelBuilder`` turns each rule into ``_ast`` nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from lark import Token, v_args

from translator.expressions._ast import (
    BinaryOp,
    Conditional,
    Constant,
    Index,
    Member,
    MethodCall,
    Node,
    Unary,
    Variable,
)
from translator.expressions._parsing import (
    JAVA_EL_OPERATORS,
    Builder,
    DialectParser,
    SyntaxRefusal,
    Wording,
    number,
)

_CONSTANTS = {"TRUE": True, "FALSE": False, "NULL": None}
_RESERVED = frozenset(
    {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "div", "mod", "instanceof"}
)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}


@v_args(inline=True)
class JuelBuilder(Builder):
    OPERATORS: ClassVar[Mapping[str, BinaryOp]] = JAVA_EL_OPERATORS

    def literal(self, token: Token) -> Node:
        if token.type == "NUMBER":
            return number(token)
        if token.type == "STRING":
            return Constant(value=_string(str(token)))
        return Constant(value=_CONSTANTS[token.type])

    def variable(self, name: Token) -> Node:
        if str(name) in _RESERVED:
            raise SyntaxRefusal(f"unexpected {str(name)!r}", name.start_pos or 0)
        return Variable(name=str(name))

    def function_call(self, name: Token, args: tuple[Node, ...] | None) -> Node:
        message = "functions are not supported; call methods on values"
        raise SyntaxRefusal(message, name.start_pos or 0)

    def conditional(self, condition: Node, then: Node, otherwise: Node) -> Node:
        return Conditional(condition=condition, then=then, otherwise=otherwise)

    def logical_not(self, _not: Token, operand: Node) -> Node:
        return Unary(op="not", operand=operand)

    def empty(self, operand: Node) -> Node:
        return Unary(op="empty", operand=operand)

    def member(self, target: Node, name: Token) -> Node:
        return Member(target=target, name=str(name))

    def method_call(self, target: Node, name: Token, args: tuple[Node, ...] | None) -> Node:
        return MethodCall(target=target, name=str(name), args=args or ())

    def index(self, target: Node, index: Node) -> Node:
        return Index(target=target, index=index)


def _string(text: str) -> str:
    """A quoted literal's text: backslash escapes a backslash or a quote, else stays."""
    chars: list[str] = []
    at, end = 1, len(text) - 1
    while at < end:
        char = text[at]
        if char == "\\" and text[at + 1] in _ESCAPES:
            at += 1
            char = text[at]
        chars.append(char)
        at += 1
    return "".join(chars)


PARSER = DialectParser(
    "juel.lark",
    JuelBuilder(),
    Wording(
        closers=(("RPAR", "')'"), ("RSQB", "']'"), ("RBRACE", "'}'"), ("COLON", "':'")),
        openers=frozenset({"LPAR", "LSQB", "_MARKER"}),
        closing=frozenset({"RPAR", "RSQB", "RBRACE"}),
        prefixes=frozenset({"MINUS", "NOT", "_EMPTY"}),
        after={"DOT": "a property name after '.'"},
    ),
)
