"""FEEL (Zeebe / Camunda 8) parser: ``=amount > 100``, ``if a then b else c``, ``items[x > 1]``."""

from __future__ import annotations

from typing import ClassVar

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
from translator.expressions._functions import FUNCTION_WORDS, arity, describe_arity
from translator.expressions._lexer import LexerRules, Token
from translator.expressions._parser import InfixTable, Parser

_CONSTANTS = {"true": True, "false": False, "null": None}
_RESERVED = frozenset(
    {"then", "else", "return", "satisfies", "and", "or", "in", "between", "not", "instance"}
)
_TEST_OPS: dict[str, TestOp] = {
    "=": "=",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_TEMPORAL_LITERALS = (
    ("date", _temporal.parse_date),
    ("time", _temporal.parse_time),
    ("date and time", _temporal.parse_date_time),
    ("duration", _temporal.parse_duration),
)


class FeelParser(Parser):
    RULES: ClassVar[LexerRules] = LexerRules(
        punctuation=(
            *("..", "**", "<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "/"),
            *("(", ")", "[", "]", "{", "}", ",", ".", ":", "@"),
        ),
        quotes='"',
        escapes="ntrbf\"'\\/u",
        backtick_names=True,
    )
    BINARY_OPS: ClassVar[dict[str, BinaryOp]] = {
        **_TEST_OPS,
        "or": "or",
        "and": "and",
        "+": "+",
        "-": "-",
        "*": "*",
        "/": "/",
        "**": "**",
    }

    range_requested = False
    """Set just before parsing the operand of ``in`` or an iteration source, where ranges such
    as ``[1..10]`` may appear; the next prefix token takes the permission."""
    range_permitted = False

    def _infix_table(self) -> InfixTable:
        comparisons = {op: (30, self.binary) for op in _TEST_OPS}
        return {
            "or": (10, self.binary),
            "and": (20, self.binary),
            **comparisons,
            "between": (30, self._between),
            "in": (30, self._in),
            "+": (40, self.binary),
            "-": (40, self.binary),
            "*": (50, self.binary),
            "/": (50, self.binary),
            "**": (60, self.binary),
            ".": (80, self._path),
            "[": (80, self._filter),
            "(": (80, self._call_value),
        }

    def _prefix(self, token: Token) -> Node:
        self.range_permitted, self.range_requested = self.range_requested, False
        if token.kind in ("number", "string"):
            return Constant(value=token.value)
        if token.kind == "name":
            return self._name(token)
        handler = {
            "(": self._parenthesis,
            "[": self._bracket,
            "]": self._open_range,
            "{": self._context,
            "-": self._minus,
            "@": self._temporal_literal,
        }.get(token.text if token.kind == "op" else "")
        if handler is None:
            raise self.error(f"unexpected {token.describe()}", token)
        return handler(token)

    # --- names, keywords, calls --------------------------------------------------------------

    def _name(self, token: Token) -> Node:
        if token.text in _CONSTANTS:
            return Constant(value=_CONSTANTS[token.text])
        keyword = {
            "if": self._if,
            "for": self._for,
            "some": self._quantified,
            "every": self._quantified,
        }.get(token.text)
        if keyword is not None:
            return keyword(token)
        function = self._function_name(token)
        if function is not None:
            return self._call(function, token)
        if self.at("("):
            self.advance()
            self.arguments()  # a missing ')' is reported first, as the text is read left to right
            raise self.error(f"unknown function {token.text!r}", token)
        if token.text in _RESERVED:
            raise self.error(f"unexpected {token.describe()}", token)
        return Variable(name=str(token.value))

    def _function_name(self, first: Token) -> str | None:
        """The longest built-in name starting at ``first`` and followed by ``(``, consumed."""
        for count in range(FUNCTION_WORDS, 0, -1):
            rest = [self.peek(offset) for offset in range(count - 1)]
            name = " ".join([first.text, *(token.text for token in rest)])
            opening = self.peek(count - 1)
            if all(t.kind == "name" for t in rest) and opening.text == "(" and arity(name):
                self.index += count
                return name
        return None

    def _call(self, name: str, token: Token) -> Node:
        args = self.arguments()
        least, most = arity(name) or (0, None)
        if len(args) < least or (most is not None and len(args) > most):
            expected = describe_arity(least, most)
            raise self.error(f"function '{name}' takes {expected}, got {len(args)}", token)
        return FunctionCall(name=name, args=args)

    def _call_value(self, token: Token, left: Node) -> Node:
        raise self.error("only built-in functions can be called", token)

    # --- if / for / some / every -------------------------------------------------------------

    def _if(self, token: Token) -> Node:
        condition = self.expression()
        self.expect("then")
        then = self.expression()
        self.expect("else")
        return Conditional(condition=condition, then=then, otherwise=self.expression())

    def _for(self, token: Token) -> Node:
        iterations = self._iterations()
        self.expect("return")
        return ForLoop(iterations=iterations, body=self.expression())

    def _quantified(self, token: Token) -> Node:
        iterations = self._iterations()
        self.expect("satisfies")
        quantifier = "some" if token.text == "some" else "every"
        return Quantified(quantifier=quantifier, iterations=iterations, condition=self.expression())

    def _iterations(self) -> tuple[Iteration, ...]:
        """``x in xs, i in 1..3``."""
        iterations = []
        while True:
            name = self.expect_name("a variable name")
            self.expect("in")
            self.range_requested = True
            source = self.expression()
            if self.accept(".."):
                source = Range(low=source, high=self.expression())
            iterations.append(Iteration(name=str(name.value), source=source))
            if not self.accept(","):
                return tuple(iterations)

    # --- literals ----------------------------------------------------------------------------

    def _parenthesis(self, token: Token) -> Node:
        permitted = self.range_permitted
        inner = self.expression()
        if self.accept(".."):
            return self._range_rest(inner, False, permitted, token)
        self.expect(")")
        return inner

    def _bracket(self, token: Token) -> Node:
        permitted = self.range_permitted
        if self.accept("]"):
            return ListLiteral()
        first = self.expression()
        if self.accept(".."):
            return self._range_rest(first, True, permitted, token)
        items = [first]
        while self.accept(","):
            items.append(self.expression())
        self.expect("]")
        return ListLiteral(items=tuple(items))

    def _open_range(self, token: Token) -> Node:
        permitted = self.range_permitted
        low = self.expression()
        self.expect("..")
        return self._range_rest(low, False, permitted, token)

    def _range_rest(self, low: Node, low_inclusive: bool, permitted: bool, start: Token) -> Node:
        """``high]`` or ``high)`` / ``high[`` after ``low..``."""
        if not permitted:
            raise self.error("a range such as [1..10] may only follow 'in'", start)
        high = self.expression()
        if not self.accept("]"):
            if not (self.accept(")") or self.accept("[")):
                raise self.error(
                    f"expected ']' or ')' to close the range, found {self.token.describe()}"
                )
            return Range(low=low, high=high, low_inclusive=low_inclusive, high_inclusive=False)
        return Range(low=low, high=high, low_inclusive=low_inclusive)

    def _context(self, token: Token) -> Node:
        entries: list[ContextEntry] = []
        while not self.accept("}"):
            if entries:
                self.expect(",")
            key = self.advance()
            if key.kind not in ("name", "string"):
                raise self.error(f"expected a context key, found {key.describe()}", key)
            if any(entry.key == key.value for entry in entries):
                raise self.error(f"duplicate context key {key.value!r}", key)
            self.expect(":")
            entries.append(ContextEntry(key=str(key.value), value=self.expression()))
        return ContextLiteral(entries=tuple(entries))

    def _minus(self, token: Token) -> Node:
        return self.negation(self.expression(55))

    def _temporal_literal(self, token: Token) -> Node:
        """``@"2024-01-31"``: the function is chosen by the text, which must be valid now."""
        text = self.advance()
        if text.kind != "string":
            raise self.error("expected a string after '@'", text)
        for function, parse in _TEMPORAL_LITERALS:
            if parse(str(text.value)) is not None:
                return FunctionCall(name=function, args=(Constant(value=text.value),))
        raise self.error(f"{text.text} is not a date, time, date and time or duration", text)

    # --- infix -------------------------------------------------------------------------------

    def _path(self, token: Token, left: Node) -> Node:
        name = self.expect_name("a name after '.'")
        return Member(target=left, name=str(name.value))

    def _filter(self, token: Token, left: Node) -> Node:
        condition = self.expression()
        self.expect("]")
        return Filter(target=left, condition=condition)

    def _between(self, token: Token, left: Node) -> Node:
        low = self.expression(30)
        self.expect("and")
        return Between(value=left, low=low, high=self.expression(30))

    def _in(self, token: Token, left: Node) -> Node:
        """``x in < 5``, ``x in [1..5]``, ``x in (1, 2, > 10)``, ``x in list``."""
        if not self.accept("("):
            return InTest(value=left, tests=(self._test(),))
        first = self._test()
        if self.accept(".."):
            return InTest(value=left, tests=(self._range_rest(first, False, True, token),))
        tests = [first]
        while self.accept(","):
            tests.append(self._test())
        self.expect(")")
        return InTest(value=left, tests=tuple(tests))

    def _test(self) -> Node:
        op = _TEST_OPS.get(self.token.text) if self.token.kind == "op" else None
        if op is None:
            self.range_requested = True
            return self.expression(30)
        self.advance()
        return UnaryTest(op=op, operand=self.expression(30))
