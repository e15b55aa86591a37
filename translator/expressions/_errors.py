"""Errors raised while compiling or evaluating an expression.

Exception tree::

    ExpressionError                 .message, .source
    ├── ExpressionSyntaxError       the text is not a valid expression (.column, 1-based)
    └── ExpressionEvaluationError   a valid expression failed on these variables

``EvaluationFailure`` is internal: raised deep inside the evaluator where the source text is not
known, and turned into an ``ExpressionEvaluationError`` at the public boundary.
"""

from __future__ import annotations


class ExpressionError(Exception):
    """Root of the expression errors; carries the modeler-facing message and the source text."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message, source)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.message} in {_excerpt(self.source, None)}"


class ExpressionSyntaxError(ExpressionError):
    """The text cannot be compiled; ``column`` (1-based, in ``source``) says where, if known."""

    def __init__(self, message: str, source: str, column: int | None = None) -> None:
        super().__init__(message, source)
        self.column = column

    def __str__(self) -> str:
        where = f" at column {self.column}" if self.column is not None else ""
        return f"{self.message}{where} in {_excerpt(self.source, self.column)}"


class ExpressionEvaluationError(ExpressionError):
    """A compiled expression could not be evaluated (unknown variable, cost limit, bad types...)."""


class EvaluationFailure(Exception):
    """Internal: an evaluation problem found where the source text is not at hand."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _excerpt(source: str, column: int | None, width: int = 60) -> str:
    """The source quoted for a message; long text is cut to the part around ``column``."""
    if len(source) <= 2 * width:
        return repr(source)
    start = max(0, (column or 1) - 1 - width // 2)
    end = start + width
    before = "..." if start > 0 else ""
    after = "..." if end < len(source) else ""
    return f"{before}{source[start:end]!r}{after}"
