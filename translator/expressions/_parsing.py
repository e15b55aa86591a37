"""Parsing with Lark: each dialect is a grammar file in ``grammars/`` plus a builder that turns
what the grammar matched into the ``_ast`` nodes.

Why Lark (PyPI ``lark``):

- It is well kept (MIT, maintained since 2017, typed, no dependencies of its own) and widely
  used, so parsing is not code we maintain.
- The grammar is data: ``grammars/feel.lark`` reads like the FEEL grammar of DMN 1.3 and can be
  reviewed against it, instead of precedence hidden in parser code.
- Its LALR(1) parser runs in linear time without recursion, so hostile text can neither take
  quadratic time nor overflow the stack; nothing is evaluated (no ``eval``), and the parsers are
  built once, at import.
- Its contextual lexer only looks for the tokens the grammar allows at each point, so keywords
  still work as names where no keyword can stand (``order.then``, ``{then: 1}``), and JUEL/SpEL
  literal text around ``${...}``/``#{...}`` is one grammar with the expressions inside it.

The builders run while Lark reduces (an "inline" transformer), so no parse tree is built and a
semantic problem (an unknown function, a duplicate context key) is reported as soon as its rule
is complete. Nesting is bounded twice: more than ``MAX_DEPTH`` brackets (or prefix operators in
a row) open at once are refused as the tokens arrive, and ``compile_expression`` refuses trees
deeper than ``MAX_DEPTH``, which bounds the evaluator's recursion.

Lark builds the tables, the lexer's scanners and the error messages; a loop of our own
(``_FastPath``) drives the table for the texts it accepts, in about 55% of the time of Lark's
general loop (the corpus's expressions: 48 us each with Lark's loop, 30 us with ours). Any
text it does not accept is parsed again by Lark's loop, which words the error, so the two can
never disagree on what is accepted (a differential fuzz test holds them to it).

Lark's errors never escape: ``UnexpectedInput`` becomes an ``ExpressionSyntaxError`` whose
message names what was expected in the modeler's terms ("expected ')', found end of
expression", "expected a context key, found '1'") and whose column points into the source.

Measured against the hand-written lexer and Pratt parsers Lark replaced, on the development
machine: a corpus expression took 23 us with them, 48 us with Lark's own loop, and takes 30 us
with the fast path. LALR passes each operand up through one rule per precedence level, which
is most of the difference. Building the three parsers adds about 110 ms to the import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, ClassVar, cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser_state import ParserState
from lark.utils import TextSlice
from pydantic import BaseModel

from translator.expressions._ast import (
    Binary,
    BinaryOp,
    Constant,
    Node,
    Template,
    Unary,
)
from translator.expressions._errors import ExpressionSyntaxError
from translator.expressions._limits import MAX_DEPTH

MARKER = "_MARKER"
"""The terminal of ``${``/``#{`` in the JUEL and SpEL grammars."""

_END = "$END"
_MALFORMED_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]*)?[\w$]?")
"""For the message only: the number as far as it went, and the character that broke it."""
_QUOTES = "'\""


class SyntaxRefusal(Exception):
    """Internal: a builder refuses the text at ``position`` (0-based in the parsed text)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Unexpected:
    """A token the parser could not take, for a dialect's ``Wording.special``."""

    token: Token
    found: str
    """How the token reads in a message: ``'2'``, ``end of expression``."""
    position: int
    expected: frozenset[str]
    """The terminals the parser could have taken instead."""
    opened: tuple[Token, ...]
    """The brackets still open, innermost last."""


@dataclass(frozen=True)
class Wording:
    """How a dialect's terminals read in error messages, and which of them open brackets.

    The grammar decides *what* is wrong; this table only chooses the words, in the order a
    modeler would want them: a missing ``)`` before anything else.
    """

    closers: tuple[tuple[str, str], ...]
    """(terminal, as written) that close a construct; the first one the parser expected is
    named in "expected ..., found ..."."""
    openers: frozenset[str]
    """Terminals that open a bracket (counted against ``MAX_DEPTH``)."""
    closing: frozenset[str]
    """Terminals that close one."""
    prefixes: frozenset[str] = frozenset({"MINUS"})
    """Terminals of prefix operators: a run of them nests as brackets do (``- - -1``)."""
    sole: Mapping[str, str] = field(default_factory=dict)
    """Terminals named when they are the only thing the parser could take (FEEL ``in``)."""
    after: Mapping[str, str] = field(default_factory=dict)
    """Where only a name may follow a terminal: that terminal -> what the modeler should write."""
    key: str = ""
    """What a context or map key is called (where only names and strings may stand)."""
    unexpected_character: Mapping[str, str] = field(default_factory=dict)
    """Characters no token starts with that deserve their own message (SpEL ``@bean``)."""
    backtick_names: bool = False
    special: Callable[[Unexpected], SyntaxRefusal | None] | None = None
    """A dialect's own readings of an unexpected token (FEEL: a range outside ``in``)."""


class DialectParser:
    """One dialect's grammar, built once into a Lark LALR(1) parser with its builder inlined."""

    def __init__(
        self,
        grammar: str,
        builder: Transformer[Token, Any],
        wording: Wording,
        fill_in: Mapping[str, str] | None = None,
    ) -> None:
        text = files(__package__).joinpath("grammars", grammar).read_text("utf-8")
        for placeholder, value in (fill_in or {}).items():
            text = text.replace(placeholder, value)
        self._lark = Lark(
            text,
            parser="lalr",
            lexer="contextual",
            transformer=builder,
            maybe_placeholders=True,
        )
        _plain_rule_names(self._lark)
        self._wording = wording
        self._fast = _FastPath(self._lark, wording)

    def parse(self, source: str, start: int, end: int) -> Node:
        """``source[start:end]`` as a tree; errors carry columns in ``source``."""
        text = source[start:end]
        result = self._fast.parse(text)
        if isinstance(result, BaseModel):
            return cast(Node, result)
        reading = _Reading(self._wording)
        try:
            result = reading.run(self._lark, text)
        except UnexpectedInput as error:
            refusal = reading.explain(error, text)
        except SyntaxRefusal as raised:
            refusal = raised
        except LarkError as error:  # not expected from an LALR parse; never let one escape
            message = f"cannot parse the expression ({error})"
            raise ExpressionSyntaxError(message, source) from None
        else:
            if isinstance(result, BaseModel):  # every rule has a builder method: never a Tree
                return cast(Node, result)
            raise ExpressionSyntaxError("cannot parse the expression", source)
        raise ExpressionSyntaxError(refusal.message, source, start + refusal.position + 1)


def _plain_rule_names(lark: Lark) -> None:
    """Make each rule's name a plain ``str``, as the parse table's keys are.

    Lark names rules with its ``Token`` (a ``str`` with its own ``__eq__``), and after every
    reduction looks the rule's name up among the table's ``str`` keys, so each lookup called
    that Python ``__eq__``: a tenth of the parse time. The text is the same.
    """
    for rule in lark.rules:
        rule.origin.name = str(rule.origin.name)


_Reduction = tuple[int, Callable[[list[Any]], Any] | None, str]
"""A rule as the fast path reduces it: how many values it takes, its builder (None: it passes
its one value on unchanged), the rule's name."""


class _FastPath:
    """Lark's LALR(1) table and its contextual lexer's scanners, driven by a loop of our own.

    Lark's own loop (``ParserState.feed_token`` behind ``iter_parse``) pays for generality: an
    ``assert`` that compares a rule with an int in Python on every action, a call per rule
    that only passes its one child on (each FEEL operand climbs about ten precedence levels),
    line and column counting. This loop takes the same actions from the same table, with
    the same scanners and builders, in about 55% of the time (the corpus's expressions).

    It only ever accepts: on anything else (a token with no action, a character no token
    starts with, a builder's refusal, more nesting tokens than ``MAX_DEPTH`` in all) it
    returns None and ``_Reading`` parses the text again, the way that words the error.
    """

    def __init__(self, lark: Lark, wording: Wording) -> None:
        frontend = lark.parser
        parser = frontend.parser.parser
        table = parser.parse_table
        [start] = frontend.parser_conf.start
        self._start_state: int = table.start_states[start]
        self._end_state: int = table.end_states[start]
        callbacks = parser.callbacks
        self._token_builders = {
            name: builder for name, builder in callbacks.items() if isinstance(name, str)
        }
        reductions: dict[Any, _Reduction] = {}
        self._actions: dict[int, dict[str, int | _Reduction]] = {}
        for state, actions in table.states.items():
            self._actions[state] = {}
            for symbol, (action, argument) in actions.items():
                if action is not Shift and argument not in reductions:
                    reductions[argument] = _reduction(argument, callbacks[argument])
                shift = action is Shift
                self._actions[state][symbol] = argument if shift else reductions[argument]
        self._scanners = {
            state: (lexer.scanner.match, lexer.ignore_types, lexer.callback)
            for state, lexer in frontend.lexer.lexers.items()
        }
        self._nesting = wording.openers | wording.prefixes

    def parse(self, text: str) -> Any:
        """The builders' result for ``text``, or None if it is not accepted here."""
        try:
            return self._run(text)
        except (KeyError, SyntaxRefusal, LarkError, _Declined):
            return None

    def _run(self, text: str) -> Any:
        actions = self._actions
        stack = [self._start_state]
        values: list[Any] = []
        for token in self._tokens(text, stack):
            kind = token.type
            while True:
                action = actions[stack[-1]][kind]
                if isinstance(action, int):
                    stack.append(action)
                    builder = self._token_builders.get(kind)
                    values.append(token if builder is None else builder(token))
                    break
                self._reduce(stack, values, action)
        while stack[-1] != self._end_state:
            action = actions[stack[-1]][_END]
            if isinstance(action, int):
                raise _Declined  # LALR never shifts the end; never accept what Lark would not
            self._reduce(stack, values, action)
        return values[-1]

    def _reduce(self, stack: list[int], values: list[Any], reduction: _Reduction) -> None:
        size, builder, name = reduction
        if builder is None:  # passes its one value on
            del stack[-1]
        else:
            taken = values[-size:] if size else []
            if size:
                del stack[-size:]
                del values[-size:]
            values.append(builder(taken))
        goto = self._actions[stack[-1]][name]
        assert isinstance(goto, int)
        stack.append(goto)

    def _tokens(self, text: str, stack: list[int]) -> Iterator[Token]:
        """The contextual lexer's tokens: each scanned with the scanner of the parser's
        state, as Lark does, without counting lines (columns come from ``start_pos``)."""
        sliced = TextSlice.cast_from(text)
        position, end, nesting = 0, len(text), 0
        while position < end:
            match, ignored, token_builders = self._scanners[stack[-1]]
            found = match(sliced, position)
            if found is None:
                raise _Declined  # no token starts here
            value, kind = found
            if kind in ignored:
                position += len(value)
                continue
            token = Token(kind, value, position)
            position += len(value)
            if kind in token_builders:
                token = token_builders[kind](token)
            if token.type in self._nesting:
                nesting += 1
                if nesting >= MAX_DEPTH:
                    raise _Declined  # maybe too deep: _Reading counts what is open
            yield token


class _Declined(Exception):
    """Internal: the fast path leaves this text to ``_Reading``."""


def _reduction(rule: Any, builder: Callable[[list[Any]], Any]) -> _Reduction:
    passes_on = len(rule.expansion) == 1 and isinstance(builder, ExpandSingleChild)
    return len(rule.expansion), None if passes_on else builder, str(rule.origin.name)


_NO_ACTION = (None, None)


def _acceptable(state: ParserState[int]) -> set[str]:
    """The terminals the parser could take in ``state``, exactly (the LALR table's own list
    is merged over contexts).

    What Lark's ``InteractiveParser.accepts`` answers, without copying the parser and its lexer
    for every candidate: only the state stack changes while reductions run, and no builder is
    called. An error message costs a quarter of a millisecond less.
    """
    states = state.parse_conf.states
    end_state = state.parse_conf.end_state
    return {
        terminal
        for terminal in states[state.position]
        if terminal.isupper() and _takes(states, end_state, state.state_stack, terminal)
    }


def _takes(
    states: Mapping[int, Mapping[str, tuple[Any, Any]]],
    end_state: int,
    state_stack: list[int],
    terminal: str,
) -> bool:
    """Whether the parser, its states stacked as ``state_stack``, can shift ``terminal`` (or,
    at the end, finish): reduce as the table says until it shifts, finishes or has no action."""
    stack = list(state_stack)
    while True:
        action, rule = states[stack[-1]].get(terminal, _NO_ACTION)
        if action is None:
            return False
        if action is Shift:
            return True
        if size := len(rule.expansion):
            del stack[-size:]
        _, reached = states[stack[-1]][rule.origin.name]
        stack.append(reached)
        if terminal == _END and reached == end_state:
            return True


class _Reading:
    """One parse: feeds Lark's tokens to the parser while keeping what error messages need
    (the previous token and the brackets still open), and refuses deep bracket nesting."""

    def __init__(self, wording: Wording) -> None:
        self.wording = wording
        self.opened: list[Token] = []
        self.prefix_run = 0
        self.previous: Token | None = None
        self.last: Token | None = None
        self.last_fed = True
        self.interactive: InteractiveParser | None = None

    def run(self, lark: Lark, text: str) -> Any:
        interactive = self.interactive = lark.parse_interactive(text)
        for token in interactive.iter_parse():
            self._settle()
            nests = token.type in self.wording.openers or token.type in self.wording.prefixes
            if nests and len(self.opened) + self.prefix_run >= MAX_DEPTH:
                message = f"expression is nested more than {MAX_DEPTH} levels deep"
                raise SyntaxRefusal(message, token.start_pos or 0)
            self.last, self.last_fed = token, False
        self._settle()
        return interactive.feed_eof(self.last)  # type: ignore[no-untyped-call]

    def _settle(self) -> None:
        """The last token was accepted by the parser: remember it."""
        token = self.last
        if token is None or self.last_fed:
            return
        self.last_fed = True
        self.prefix_run = self.prefix_run + 1 if token.type in self.wording.prefixes else 0
        if token.type in self.wording.openers:
            self.opened.append(token)
        elif token.type in self.wording.closing and self.opened:
            self.opened.pop()
        self.previous = token

    # --- error messages --------------------------------------------------------------------

    def explain(self, error: UnexpectedInput, text: str) -> SyntaxRefusal:
        """Lark's error in the modeler's words."""
        if isinstance(error, UnexpectedToken) and error.token is not self.last:
            self._settle()  # the lexer's fallback or $END: the last token itself was fine
        if isinstance(error, UnexpectedCharacters):
            self._settle()
            return self._bad_character(text, error.pos_in_stream or 0)
        if not isinstance(error, UnexpectedToken):
            return SyntaxRefusal("cannot parse the expression", 0)
        token: Token = error.token
        if token.type == "TEXT":  # JUEL/SpEL: only literal text matches here, no token does
            return self._bad_character(text, token.start_pos or 0)
        # Lark's expected set is the LALR state's, merged over contexts; what this parser
        # could take here, tried token by token, is exact.
        interactive = self.interactive
        expected: set[str] = (
            _acceptable(interactive.parser_state)
            if interactive is not None
            else set(error.expected)
        )
        return self._unexpected(token, expected, text)

    def _bad_character(self, text: str, position: int) -> SyntaxRefusal:
        char = text[position]
        marker = self._marker()
        if char in _QUOTES and marker is not None:
            return self._missing_brace(marker)
        if char in _QUOTES:
            return SyntaxRefusal("unterminated string", position)
        if char == "`" and self.wording.backtick_names:
            return SyntaxRefusal("unterminated `name`", position)
        malformed = _MALFORMED_NUMBER.match(text, position)
        if malformed:
            return SyntaxRefusal(f"malformed number {malformed.group()!r}", position)
        special = self.wording.unexpected_character.get(char)
        return SyntaxRefusal(special or f"unexpected character {char!r}", position)

    def _unexpected(self, token: Token, expected: set[str], text: str) -> SyntaxRefusal:
        at_end = token.type == _END
        position = len(text) if at_end else token.start_pos or 0
        marker = self._marker()
        closes_marker = marker is not None and token.type == "RBRACE" and self._innermost_brace()
        if at_end and marker is not None:
            return self._missing_brace(marker)
        if (at_end or closes_marker) and self.previous is not None and self.previous is marker:
            return SyntaxRefusal("expression is empty", position)
        found = "end of expression" if at_end or closes_marker else repr(str(token))
        previous = self.previous.type if self.previous is not None else ""
        name_only = "NAME" in expected and "NUMBER" not in expected
        if name_only and "STRING" in expected and self.wording.key:
            return SyntaxRefusal(f"expected {self.wording.key}, found {found}", position)
        if previous in self.wording.after and "NUMBER" not in expected:
            what = self.wording.after[previous]
            return SyntaxRefusal(f"expected {what}, found {found}", position)
        if len(expected) == 1 and (sole := self.wording.sole.get(next(iter(expected)))):
            return SyntaxRefusal(f"expected {sole}, found {found}", position)
        unexpected = Unexpected(token, found, position, frozenset(expected), tuple(self.opened))
        special = self.wording.special and self.wording.special(unexpected)
        if special:
            return special
        for terminal, written in self.wording.closers:
            if terminal in expected and not (terminal == "RBRACE" and self._innermost_brace()):
                return SyntaxRefusal(f"expected {written}, found {found}", position)
        return SyntaxRefusal(f"unexpected {found}", position)

    def _marker(self) -> Token | None:
        return next((token for token in self.opened if token.type == MARKER), None)

    def _innermost_brace(self) -> bool:
        """Whether the innermost open brace is the ``${``/``#{`` marker (not a SpEL ``{``)."""
        braces = [token for token in self.opened if token.type in (MARKER, "LBRACE")]
        return bool(braces) and braces[-1].type == MARKER

    @staticmethod
    def _missing_brace(marker: Token) -> SyntaxRefusal:
        return SyntaxRefusal(f"missing '}}' to close {str(marker)!r}", marker.start_pos or 0)


# --- what the three builders share ---------------------------------------------------------

JAVA_EL_OPERATORS: Mapping[str, BinaryOp] = {
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
"""The binary operators JUEL and SpEL share, as symbol and as word (SpEL matches the words
ignoring case), mapped to the tree's operators."""


@v_args(inline=True)
class Builder(Transformer[Token, Any]):
    """Base of the dialect builders: Lark calls the method named after each grammar rule (or
    its ``-> alias``) with the rule's values as it reduces, bottom-up, without recursion."""

    OPERATORS: ClassVar[Mapping[str, BinaryOp]]
    """Operator as written (lower case for SpEL) -> the tree's operator."""

    def binary(self, left: Node, op: Token, right: Node) -> Node:
        return Binary(op=self.OPERATORS[self.operator(op)], left=left, right=right)

    def operator(self, op: Token) -> str:
        return str(op)

    def negation(self, minus: Token, operand: Node) -> Node:
        """Unary minus; folds ``-3`` into a constant so ``items[-1]`` stays a plain index."""
        value = operand.value if isinstance(operand, Constant) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Constant(value=-value)
        return Unary(op="-", operand=operand)

    def arguments(self, *args: Node) -> tuple[Node, ...]:
        return args

    def template(self, *parts: Token | Node) -> Node:
        """JUEL/SpEL text: literal text and ``${...}`` parts. One expression alone keeps its
        value's type; text alone is a constant; anything else a template of the parts."""
        joined: list[Node] = []
        text: list[str] = []
        for part in parts:
            if isinstance(part, Token):
                text.append(str(part)[1:] if part.type == "ESCAPED_MARKER" else str(part))
                continue
            if text:
                joined.append(Constant(value="".join(text)))
                text = []
            joined.append(part)
        if text or not joined:
            joined.append(Constant(value="".join(text)))
        if len(joined) == 1:
            return joined[0]
        return Template(parts=tuple(joined))


def number(token: Token, suffixes: str = "") -> Constant:
    """A number literal; ``suffixes`` are SpEL's ``L``/``d``/``f`` (``d`` and ``f`` make floats)."""
    text = str(token)
    is_float = any(char in text for char in ".eE")
    if text[-1] in suffixes:
        is_float = is_float or text[-1] in "dDfF"
        text = text[:-1]
    position = token.start_pos or 0
    if is_float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise SyntaxRefusal(f"number {text!r} is too large", position)
        return Constant(value=value)
    if len(text) > 300:
        raise SyntaxRefusal("number is too large", position)
    return Constant(value=int(text))
