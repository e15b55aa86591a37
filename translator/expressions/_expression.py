"""``Expression`` (the compiled, JSON-storable form) and ``compile_expression``."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from translator.expressions._ast import Constant, Dialect, Node, Template, depth
from translator.expressions._errors import ExpressionSyntaxError
from translator.expressions._feel import FeelParser
from translator.expressions._juel import JuelParser
from translator.expressions._limits import MAX_DEPTH, MAX_SOURCE_LENGTH
from translator.expressions._parser import Parser
from translator.expressions._spel import SpelParser
from translator.expressions._template import split_template


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


@dataclass(frozen=True)
class _Syntax:
    """How a dialect's text is framed: FEEL is one expression after an optional ``=``; JUEL and
    SpEL are text in which ``markers`` open expressions (``"Dear ${name}"``)."""

    parser: type[Parser]
    markers: tuple[str, ...] = ()
    escapes: str = ""


_SYNTAX: dict[str, _Syntax] = {
    "feel": _Syntax(FeelParser),
    "juel": _Syntax(JuelParser, markers=("${", "#{"), escapes="\\"),
    "spel": _Syntax(SpelParser, markers=("#{",)),
}


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
    syntax = _SYNTAX.get(dialect)
    if syntax is None:
        raise ExpressionSyntaxError(f"unknown expression dialect {dialect!r}", str(source))
    _check_text(source)
    try:
        ast = _parse(source, syntax)
    except RecursionError:
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


def _parse(source: str, syntax: _Syntax) -> Node:
    start = len(source) - len(source.lstrip())
    end = len(source.rstrip())
    if not syntax.markers:
        if source.startswith("=", start):
            start += 1
        return syntax.parser(source, start, end).parse_all()
    segments = split_template(source, start, end, syntax.markers, bool(syntax.escapes))
    parts: list[Node] = [
        Constant(value=segment.text)
        if segment.text is not None
        else syntax.parser(source, segment.start, segment.end).parse_all()
        for segment in segments
    ]
    if len(parts) == 1 and segments[0].text is None:
        return parts[0]  # "${amount}" keeps the value's type
    if all(segment.text is not None for segment in segments):
        return Constant(value="".join(segment.text or "" for segment in segments))
    return Template(parts=tuple(parts))
