"""``Expression`` (the compiled, JSON-storable form) and ``compile_expression``."""

from __future__ import annotations

import json
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from translator.expressions import _feel, _juel, _spel
from translator.expressions._ast import Constant, Dialect, Node, depth
from translator.expressions._errors import ExpressionSyntaxError
from translator.expressions._limits import MAX_DEPTH, MAX_SOURCE_LENGTH
from translator.expressions._parsing import DialectParser


class Expression(BaseModel):
    """A compiled expression: the original text and its syntax tree, storable in the IR JSON.

    Attributes:
        dialect: ``"feel"``, ``"juel"`` or ``"spel"``.
        source: The text as written in the model, e.g. ``"=amount > 100"``.
        ast: The syntax tree ``evaluate`` walks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dialect: Dialect
    source: str
    ast: Node

    def __str__(self) -> str:
        return self.source


_PARSERS: dict[str, DialectParser] = {
    "feel": _feel.PARSER,
    "juel": _juel.PARSER,
    "spel": _spel.PARSER,
}
"""FEEL is one expression after an optional ``=``; JUEL and SpEL are text in which ``${...}``
or ``#{...}`` are expressions (``"Dear ${name}"``), so their grammars start with the text."""


def compile_expression(source: str, dialect: Dialect) -> Expression:
    """Parse an expression written with its marker: ``=a + 1``, ``${a + 1}``, ``#{#a + 1}``.

    Args:
        source: The text from the model. FEEL's leading ``=`` is optional; JUEL and SpEL text
            without a marker is a literal string, and mixed text (``"Hi ${name}"``) a template.
        dialect: Which language the text is in.

    Returns:
        The compiled expression.

    Raises:
        ExpressionSyntaxError: The text is not valid in ``dialect`` or exceeds the size limits;
            the message names the column.
    """
    if isinstance(source, str) and isinstance(dialect, str) and len(source) <= CACHED_LENGTH:
        outcome = _cached(source, dialect)
        if isinstance(outcome, Expression):
            return outcome
        raise ExpressionSyntaxError(outcome.message, outcome.source, outcome.column)
    return _compile(source, dialect)


CACHE_SIZE = 1024
CACHED_LENGTH = 500
"""Compiled expressions are kept by ``(source, dialect)``, the last ``CACHE_SIZE`` of at most
``CACHED_LENGTH`` characters (which bounds the cache's memory): models repeat the same
expressions (``=x``, ``${approved}``...), and an ``Expression`` is frozen, so one is shared."""


@lru_cache(maxsize=CACHE_SIZE)
def _cached(source: str, dialect: Dialect) -> Expression | ExpressionSyntaxError:
    """The expression, or the syntax error to raise (a new one each time, from its parts):
    wording an error message asks the parser which tokens it expected, which costs more than
    the parse."""
    try:
        return _compile(source, dialect)
    except ExpressionSyntaxError as error:
        return ExpressionSyntaxError(error.message, error.source, error.column)


def text_expression(text: str) -> Expression:
    """The FEEL expression whose value is ``text``: what ``compile_expression("=" +
    json.dumps(text), "feel")`` returns, without parsing the string literal it just wrote.

    An attribute without ``=`` (an assignee, a message name, a header) is such a literal; they
    are nearly half the expressions of the corpus models.

    Raises:
        ExpressionSyntaxError: as ``compile_expression`` would (the text is too long).
    """
    source = "=" + json.dumps(text)
    if not _is_unicode(text):  # a lone surrogate: the parser words that error
        return compile_expression(source, "feel")
    _check_text(source)
    return Expression(dialect="feel", source=source, ast=Constant(value=text))


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clear_expression_cache() -> None:
    """Forget every compiled expression, so the next compile of each parses it again (what a
    first compile costs, which is what the benchmark measures)."""
    _cached.cache_clear()


def _compile(source: str, dialect: Dialect) -> Expression:
    parser = _PARSERS.get(dialect)
    if parser is None:
        raise ExpressionSyntaxError(f"unknown expression dialect {dialect!r}", str(source))
    _check_text(source)
    start = len(source) - len(source.lstrip())
    end = len(source.rstrip())
    if dialect == "feel":
        if source.startswith("=", start):
            start += 1
        if not source[start:end].strip():
            raise ExpressionSyntaxError("expression is empty", source, end + 1)
    try:
        ast = parser.parse(source, start, end)
    except RecursionError:  # the parsers do not recurse; kept as a last line of defence
        raise ExpressionSyntaxError("expression is nested too deeply", source) from None
    if depth(ast) > MAX_DEPTH:
        message = f"expression is nested more than {MAX_DEPTH} levels deep"
        raise ExpressionSyntaxError(message, source)
    return Expression(dialect=dialect, source=source, ast=ast)


def _check_text(source: str) -> None:
    if not isinstance(source, str):
        raise ExpressionSyntaxError("expression must be text", repr(source))
    if len(source) > MAX_SOURCE_LENGTH:
        message = f"expression is longer than {MAX_SOURCE_LENGTH} characters"
        raise ExpressionSyntaxError(message, source)
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as error:  # lone surrogates cannot be stored as JSON text
        raise ExpressionSyntaxError("invalid character", source, error.start + 1) from None
