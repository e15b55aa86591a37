"""JUEL (Camunda 7 Java EL) parser for the text inside ``${...}``: ``amount > 100 && approved``."""

from __future__ import annotations

from typing import ClassVar

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
from translator.expressions._lexer import LexerRules, Token
from translator.expressions._parser import InfixTable, Parser

_CONSTANTS = {"true": True, "false": False, "null": None}
_RESERVED = frozenset(
    {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "div", "mod", "instanceof"}
)


class JuelParser(Parser):
    RULES: ClassVar[LexerRules] = LexerRules(
        punctuation=(
            *("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%"),
            *("?", ":", "(", ")", "[", "]", ".", ","),
        ),
        quotes="'\"",
        escapes="\\'\"",
    )
    BINARY_OPS: ClassVar[dict[str, BinaryOp]] = {
        "||": "or",
        "or": "or",
        "&&": "and",
        "and": "and",
        "==": "=",
        "eq": "=",
        "!=": "!=",
        "ne": "!=",
        "<": "<",
        "lt": "<",
        "<=": "<=",
        "le": "<=",
        ">": ">",
        "gt": ">",
        ">=": ">=",
        "ge": ">=",
        "+": "+",
        "-": "-",
        "*": "*",
        "/": "/",
        "div": "/",
        "%": "%",
        "mod": "%",
    }
    _POWERS: ClassVar[dict[BinaryOp, int]] = {
        "or": 10,
        "and": 20,
        "=": 30,
        "!=": 30,
        "<": 35,
        "<=": 35,
        ">": 35,
        ">=": 35,
        "+": 40,
        "-": 40,
        "*": 50,
        "/": 50,
        "%": 50,
    }

    def _infix_table(self) -> InfixTable:
        operators = {text: (self._POWERS[op], self.binary) for text, op in self.BINARY_OPS.items()}
        return {
            **operators,
            "?": (5, self._ternary),
            ".": (80, self._member),
            "[": (80, self._index),
        }

    def _prefix(self, token: Token) -> Node:
        if token.kind in ("number", "string"):
            return Constant(value=token.value)
        if token.kind == "name":
            return self._name(token)
        if token.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.text == "-":
            return self.negation(self.expression(60))
        if token.text == "!":
            return Unary(op="not", operand=self.expression(60))
        raise self.error(f"unexpected {token.describe()}", token)

    def _name(self, token: Token) -> Node:
        if token.text in _CONSTANTS:
            return Constant(value=_CONSTANTS[token.text])
        if token.text == "empty":
            return Unary(op="empty", operand=self.expression(60))
        if token.text == "not":
            return Unary(op="not", operand=self.expression(60))
        if token.text in _RESERVED:
            raise self.error(f"unexpected {token.describe()}", token)
        if self.at("(") or self.at(":"):
            raise self.error("functions are not supported; call methods on values", token)
        return Variable(name=token.text)

    def _ternary(self, token: Token, left: Node) -> Node:
        then = self.expression()
        self.expect(":")
        return Conditional(condition=left, then=then, otherwise=self.expression(4))

    def _member(self, token: Token, left: Node) -> Node:
        name = self.expect_name("a property name after '.'").text
        if self.accept("("):
            return MethodCall(target=left, name=name, args=self.arguments())
        return Member(target=left, name=name)

    def _index(self, token: Token, left: Node) -> Node:
        index = self.expression()
        self.expect("]")
        return Index(target=left, index=index)
