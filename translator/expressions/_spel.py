"""SpEL (Spring, as tSM uses it) parser for the text inside ``#{...}``.

``#name`` is a process variable, ``#variables`` all of them, a bare name a property of the root
object (``execution.processBusinessKey``). Type references, constructors, bean references and
SpEL functions are refused: they would reach into the JVM in Spring and mean nothing here.
"""

from __future__ import annotations

from typing import ClassVar

from translator.expressions._ast import (
    AllVariables,
    Binary,
    BinaryOp,
    Conditional,
    Constant,
    ContextEntry,
    ContextLiteral,
    Index,
    ListLiteral,
    Member,
    MethodCall,
    Node,
    Projection,
    Selection,
    This,
    ThisProperty,
    Unary,
    Variable,
)
from translator.expressions._lexer import LexerRules, Token
from translator.expressions._parser import InfixTable, Parser

_CONSTANTS = {"true": True, "false": False, "null": None}
_WORDS = frozenset(
    {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "div", "mod", *_CONSTANTS}
    | {"instanceof", "matches", "between", "new"}
)
"""SpEL's reserved words, which it matches ignoring case."""
_UNSUPPORTED = ("instanceof", "matches", "between")


class SpelParser(Parser):
    RULES: ClassVar[LexerRules] = LexerRules(
        punctuation=(
            *(".?[", ".![", "?.", "?:", "==", "!=", "<=", ">=", "&&", "||"),
            *("<", ">", "!", "+", "-", "*", "/", "%", "^", "?", ":"),
            *("(", ")", "[", "]", "{", "}", ".", ",", "#", "@"),
        ),
        quotes="'\"",
        escapes="",
        number_suffixes="lLdDfF",
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
        "^": "**",
    }
    _POWERS: ClassVar[dict[BinaryOp, int]] = {
        "or": 10,
        "and": 20,
        "=": 30,
        "!=": 30,
        "<": 30,
        "<=": 30,
        ">": 30,
        ">=": 30,
        "+": 40,
        "-": 40,
        "*": 50,
        "/": 50,
        "%": 50,
        "**": 60,
    }

    def key(self, token: Token) -> str:
        if token.kind == "name" and token.text.lower() in _WORDS:
            return token.text.lower()
        return super().key(token)

    def _infix_table(self) -> InfixTable:
        operators = {text: (self._POWERS[op], self.binary) for text, op in self.BINARY_OPS.items()}
        unsupported = {word: (30, self._unsupported) for word in _UNSUPPORTED}
        return {
            **operators,
            **unsupported,
            "?": (5, self._ternary),
            "?:": (5, self._elvis),
            ".": (80, self._member),
            "?.": (80, self._member),
            "[": (80, self._index),
            ".?[": (80, self._selection),
            ".![": (80, self._projection),
        }

    def _prefix(self, token: Token) -> Node:
        if token.kind in ("number", "string"):
            return Constant(value=token.value)
        if token.kind == "name":
            return self._name(token)
        handler = {
            "#": self._hash,
            "(": self._parenthesis,
            "{": self._inline,
            "-": self._minus,
            "!": self._not,
        }.get(token.text if token.kind == "op" else "")
        if handler is None:
            if token.text == "@":
                raise self.error("bean references (@name) are not supported", token)
            raise self.error(f"unexpected {token.describe()}", token)
        return handler(token)

    def _name(self, token: Token) -> Node:
        word = self.key(token)
        if word in _CONSTANTS:
            return Constant(value=_CONSTANTS[word])
        if word == "not":
            return self._not(token)
        if word == "new" or (token.text == "T" and self.at("(")):
            raise self.error("type references and constructors are not supported", token)
        if word in _WORDS:
            raise self.error(f"unexpected {token.describe()}", token)
        if self.at("("):
            raise self.error(f"unknown function {token.text!r}", token)
        return ThisProperty(name=token.text)

    def _minus(self, token: Token) -> Node:
        return self.negation(self.expression(70))

    def _not(self, token: Token) -> Node:
        return Unary(op="not", operand=self.expression(70))

    def _hash(self, token: Token) -> Node:
        name = self.expect_name("a variable name after '#'").text
        if self.at("("):
            raise self.error(f"functions (#{name}(...)) are not supported", token)
        if name == "variables":
            return AllVariables()
        if name in ("this", "root"):
            return This()
        return Variable(name=name)

    def _parenthesis(self, token: Token) -> Node:
        inner = self.expression()
        self.expect(")")
        return inner

    def _inline(self, token: Token) -> Node:
        """``{1, 2}`` is a list, ``{a: 1, 'b': 2}`` a map, ``{:}`` the empty map."""
        if self.accept("}"):
            return ListLiteral()
        if self.at(":") and self.peek().text == "}":
            self.index += 2
            return ContextLiteral()
        if self.token.kind in ("name", "string") and self.peek().text == ":":
            return self._inline_map()
        items = [self.expression()]
        while self.accept(","):
            items.append(self.expression())
        self.expect("}")
        return ListLiteral(items=tuple(items))

    def _inline_map(self) -> Node:
        entries = []
        while True:
            key = self.advance()
            if key.kind not in ("name", "string"):
                raise self.error(f"expected a map key, found {key.describe()}", key)
            self.expect(":")
            entries.append(ContextEntry(key=str(key.value), value=self.expression()))
            if not self.accept(","):
                self.expect("}")
                return ContextLiteral(entries=tuple(entries))

    def _ternary(self, token: Token, left: Node) -> Node:
        then = self.expression()
        self.expect(":")
        return Conditional(condition=left, then=then, otherwise=self.expression(4))

    def _elvis(self, token: Token, left: Node) -> Node:
        return Binary(op="?:", left=left, right=self.expression(4))

    def _member(self, token: Token, left: Node) -> Node:
        name = self.expect_name("a property name after '.'").text
        null_safe = token.text == "?."
        if self.accept("("):
            args = self.arguments()
            return MethodCall(target=left, name=name, args=args, null_safe=null_safe)
        return Member(target=left, name=name, null_safe=null_safe)

    def _index(self, token: Token, left: Node) -> Node:
        index = self.expression()
        self.expect("]")
        return Index(target=left, index=index)

    def _selection(self, token: Token, left: Node) -> Node:
        condition = self.expression()
        self.expect("]")
        return Selection(target=left, condition=condition)

    def _projection(self, token: Token, left: Node) -> Node:
        body = self.expression()
        self.expect("]")
        return Projection(target=left, body=body)

    def _unsupported(self, token: Token, left: Node) -> Node:
        raise self.error(f"the {token.text!r} operator is not supported", token)
