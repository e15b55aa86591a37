"""The Pratt-parser machinery the three dialect parsers share: a token cursor and the loop.

A dialect parser supplies ``_prefix`` (how an expression starts at this token) and an infix
table (token text -> binding power and handler), which reads as the dialect's operator
precedence chart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import ClassVar

from translator.expressions._ast import Binary, BinaryOp, Constant, Node, Unary
from translator.expressions._errors import ExpressionSyntaxError
from translator.expressions._lexer import LexerRules, Token, tokenize
from translator.expressions._limits import MAX_DEPTH

InfixHandler = Callable[[Token, Node], Node]
InfixTable = Mapping[str, tuple[int, InfixHandler]]


class Parser:
    """Base class: cursor over tokens, error helpers, and the precedence-climbing loop."""

    RULES: ClassVar[LexerRules]
    BINARY_OPS: ClassVar[Mapping[str, BinaryOp]]
    """Spelling in this dialect -> normalised operator of the tree."""

    def __init__(self, source: str, start: int, end: int) -> None:
        self.source = source
        self.tokens = tokenize(source, start, end, self.RULES)
        self.index = 0
        self.nesting = 0
        self.infix = self._infix_table()

    # --- entry point ---------------------------------------------------------------------

    def parse_all(self) -> Node:
        """The whole token range as one expression."""
        if self.at_end():
            raise self.error("expression is empty")
        node = self.expression()
        if not self.at_end():
            raise self.error(f"unexpected {self.token.describe()}")
        return node

    def expression(self, min_power: int = 0) -> Node:
        """Parse operators binding tighter than ``min_power`` (the Pratt loop)."""
        with self._nested():
            left = self._prefix(self.advance())
            while True:
                rule = self.infix.get(self.key(self.token))
                if rule is None or rule[0] <= min_power:
                    return left
                left = rule[1](self.advance(), left)

    def _prefix(self, token: Token) -> Node:
        raise NotImplementedError

    def _infix_table(self) -> InfixTable:
        raise NotImplementedError

    # --- cursor --------------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def at_end(self) -> bool:
        return self.token.kind == "end"

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        if token.kind != "end":
            self.index += 1
        return token

    def key(self, token: Token) -> str:
        """The text operator tables are keyed by (SpEL overrides it: its words ignore case)."""
        return token.text if token.kind in ("op", "name") else ""

    def at(self, text: str) -> bool:
        return self.key(self.token) == text

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.advance()
            return True
        return False

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.error(f"expected {text!r}, found {self.token.describe()}")
        return self.advance()

    def expect_name(self, what: str) -> Token:
        if self.token.kind != "name":
            raise self.error(f"expected {what}, found {self.token.describe()}")
        return self.advance()

    def error(self, message: str, token: Token | None = None) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.source, (token or self.token).column)

    @contextmanager
    def _nested(self) -> Iterator[None]:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.error(f"expression is nested more than {MAX_DEPTH} levels deep")
        try:
            yield
        finally:
            self.nesting -= 1

    # --- handlers every dialect uses -----------------------------------------------------

    def binary(self, token: Token, left: Node) -> Node:
        """A left-associative binary operator."""
        text = self.key(token)
        right = self.expression(self.infix[text][0])
        return Binary(op=self.BINARY_OPS[text], left=left, right=right)

    def negation(self, operand: Node) -> Node:
        """Unary minus; folds ``-3`` into a constant so ``items[-1]`` stays a plain index."""
        value = operand.value if isinstance(operand, Constant) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Constant(value=-value)
        return Unary(op="-", operand=operand)

    def arguments(self) -> tuple[Node, ...]:
        """``a, b)`` after an opening parenthesis."""
        args: list[Node] = []
        if not self.accept(")"):
            args.append(self.expression())
            while self.accept(","):
                args.append(self.expression())
            self.expect(")")
        return tuple(args)
