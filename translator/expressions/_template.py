"""Splitting JUEL/SpEL text into literal parts and ``${...}``/``#{...}`` expression parts."""

from __future__ import annotations

from dataclasses import dataclass

from translator.expressions._errors import ExpressionSyntaxError


@dataclass(frozen=True)
class Segment:
    """Literal ``text``, or (``text`` None) the expression between ``start`` and ``end``."""

    text: str | None
    start: int = 0
    end: int = 0


def split_template(
    source: str, start: int, end: int, markers: tuple[str, ...], backslash_escapes: bool
) -> list[Segment]:
    """The parts of ``source[start:end]``; a backslash before a marker keeps it literal."""
    segments: list[Segment] = []
    text: list[str] = []
    at = start
    while at < end:
        marker = next((m for m in markers if source.startswith(m, at, end)), None)
        if source[at] == "\\" and any(source.startswith(m, at + 1, end) for m in markers):
            text.append(source[at + 1 : at + 3])
            at += 3
        elif marker is None:
            text.append(source[at])
            at += 1
        else:
            if text:
                segments.append(Segment("".join(text)))
                text = []
            close = _closing_brace(source, at, end, backslash_escapes)
            segments.append(Segment(None, at + len(marker), close))
            at = close + 1
    if text:
        segments.append(Segment("".join(text)))
    return segments


def _closing_brace(source: str, opening: int, end: int, backslash_escapes: bool) -> int:
    """Where the ``}`` matching the marker at ``opening`` is, skipping strings and nested braces."""
    depth, quote, at = 0, "", opening + 2
    while at < end:
        char = source[at]
        if quote:
            if char == "\\" and backslash_escapes:
                at += 1  # an escaped character never ends the string
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return at
            depth -= 1
        at += 1
    marker = source[opening : opening + 2]
    raise ExpressionSyntaxError(f"missing '}}' to close {marker!r}", source, opening + 1)
