"""One tokenizer for the three dialects, configured by a ``LexerRules`` table per dialect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from translator.expressions._errors import ExpressionSyntaxError

TokenKind = Literal["name", "number", "string", "op", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    """A token; ``column`` is 1-based in the full source text so errors point at the original."""

    kind: TokenKind
    text: str
    value: str | int | float | None
    column: int

    def describe(self) -> str:
        """How the token is named in an error message."""
        return "end of expression" if self.kind == "end" else repr(self.text)


@dataclass(frozen=True)
class LexerRules:
    """What differs between dialects at the character level."""

    punctuation: tuple[str, ...]
    """Operators and delimiters; matched longest first."""
    quotes: str
    """Characters that open a string literal."""
    escapes: str
    """Characters allowed after a backslash in strings (``u`` for ``\\u0041``); when empty, a
    quote is escaped by doubling it, as SpEL does (``'it''s'``)."""
    backtick_names: bool = False
    """FEEL names written as ```any text```."""
    number_suffixes: str = ""
    """SpEL ``1L``, ``2.5d``."""


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'"}
_ESCAPES |= {"\\": "\\", "/": "/"}


class _Lexer:
    def __init__(self, source: str, start: int, end: int, rules: LexerRules) -> None:
        self.source = source
        self.pos = start
        self.end = end
        self.rules = rules
        self.punctuation = sorted(rules.punctuation, key=len, reverse=True)

    def tokens(self) -> list[Token]:
        found: list[Token] = []
        while True:
            self._skip_space()
            if self.pos >= self.end:
                found.append(Token("end", "", None, self.end + 1))
                return found
            found.append(self._next())

    def _skip_space(self) -> None:
        while self.pos < self.end and self.source[self.pos].isspace():
            self.pos += 1

    def _next(self) -> Token:
        char = self.source[self.pos]
        if _is_digit(char) or (char == "." and _is_digit(self._peek(1))):
            return self._number()
        if char in self.rules.quotes:
            return self._string()
        if char == "`" and self.rules.backtick_names:
            return self._backtick_name()
        if char.isalpha() or char in "_$":
            return self._name()
        for op in self.punctuation:
            if self.source.startswith(op, self.pos, self.end):
                return self._take("op", self.pos + len(op), op)
        raise self._error(f"unexpected character {char!r}", self.pos)

    def _peek(self, offset: int) -> str:
        at = self.pos + offset
        return self.source[at] if at < self.end else ""

    def _take(self, kind: TokenKind, stop: int, value: str | int | float | None) -> Token:
        token = Token(kind, self.source[self.pos : stop], value, self.pos + 1)
        self.pos = stop
        return token

    def _error(self, message: str, at: int) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, self.source, at + 1)

    def _name(self) -> Token:
        stop = self.pos
        while stop < self.end and (self.source[stop].isalnum() or self.source[stop] in "_$"):
            stop += 1
        return self._take("name", stop, self.source[self.pos : stop])

    def _backtick_name(self) -> Token:
        close = self.source.find("`", self.pos + 1, self.end)
        if close < 0:
            raise self._error("unterminated `name`", self.pos)
        return self._take("name", close + 1, self.source[self.pos + 1 : close])

    def _digits(self, stop: int) -> int:
        while stop < self.end and _is_digit(self.source[stop]):
            stop += 1
        return stop

    def _number(self) -> Token:
        stop = self._digits(self.pos)
        is_float = False
        if stop + 1 < self.end and self.source[stop] == "." and _is_digit(self.source[stop + 1]):
            stop, is_float = self._digits(stop + 1), True
        stop, has_exponent = self._exponent(stop)
        is_float = is_float or has_exponent
        text = self.source[self.pos : stop]
        if stop < self.end and self.source[stop] in self.rules.number_suffixes:
            is_float = is_float or self.source[stop] in "dDfF"
            stop += 1
        if stop < self.end and (self.source[stop].isalnum() or self.source[stop] == "_"):
            raise self._error(f"malformed number {self.source[self.pos : stop + 1]!r}", self.pos)
        return self._take("number", stop, self._number_value(text, is_float))

    def _exponent(self, stop: int) -> tuple[int, bool]:
        if stop >= self.end or self.source[stop] not in "eE":
            return stop, False
        digits_at = stop + 1
        if digits_at < self.end and self.source[digits_at] in "+-":
            digits_at += 1
        if digits_at < self.end and _is_digit(self.source[digits_at]):
            return self._digits(digits_at), True
        return stop, False

    def _number_value(self, text: str, is_float: bool) -> int | float:
        if is_float:
            value = float(text)
            if value in (float("inf"), float("-inf")):
                raise self._error(f"number {text!r} is too large", self.pos)
            return value
        if len(text) > 300:
            raise self._error("number is too large", self.pos)
        return int(text)

    def _string(self) -> Token:
        quote = self.source[self.pos]
        chars: list[str] = []
        at = self.pos + 1
        while at < self.end:
            char = self.source[at]
            if char == quote:
                doubled = at + 1 < self.end and self.source[at + 1] == quote
                if self.rules.escapes or not doubled:
                    return self._take("string", at + 1, "".join(chars))
                at += 1
            elif char == "\\" and at + 1 < self.end and self.source[at + 1] in self.rules.escapes:
                char, at = self._escape(at)
            chars.append(char)
            at += 1
        raise self._error("unterminated string", self.pos)

    def _escape(self, at: int) -> tuple[str, int]:
        """The character a backslash escape at ``at`` stands for, and where it ends (other
        backslashes stay literal, so regex text like ``"\\d"`` survives)."""
        code = self.source[at + 1]
        if code == "u":
            return self._unicode_escape(at)
        return _ESCAPES[code], at + 1

    def _unicode_escape(self, at: int) -> tuple[str, int]:
        high = self._hex4(at + 2)
        if 0xD800 <= high < 0xDC00 and self.source.startswith("\\u", at + 6, self.end):
            low = self._hex4(at + 8)
            if 0xDC00 <= low < 0xE000:  # a JSON-style surrogate pair
                return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)), at + 11
        if 0xD800 <= high < 0xE000:
            raise self._error("\\u escape is half of a surrogate pair", at)
        return chr(high), at + 5

    def _hex4(self, at: int) -> int:
        digits = self.source[at : min(at + 4, self.end)]
        if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise self._error("malformed \\u escape", at - 2)
        return int(digits, 16)


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9" and len(char) == 1


def tokenize(source: str, start: int, end: int, rules: LexerRules) -> list[Token]:
    """Tokens of ``source[start:end]``, ending with an ``end`` token."""
    return _Lexer(source, start, end, rules).tokens()
