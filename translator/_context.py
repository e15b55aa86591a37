"""State shared by the element handlers while one file compiles: where we are, what went wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lxml import etree

from translator._errors import Problem
from translator.expressions import (
    Dialect,
    Expression,
    ExpressionSyntaxError,
    compile_expression,
)


@dataclass
class CompileContext:
    """Collects problems for one file so that all of them are reported in one pass."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def problem(self, element: etree._Element | None, message: str) -> None:
        element_id = element.get("id") if element is not None else None
        line = element.sourceline if element is not None else None
        line = line if isinstance(line, int) else None
        self.problems.append(Problem(self.source, message, element_id, line))

    def expression(
        self, element: etree._Element, text: str, dialect: Dialect, what: str
    ) -> Expression | None:
        """Compile ``text``; on a syntax error record a problem and return None."""
        try:
            return compile_expression(text, dialect)
        except ExpressionSyntaxError as error:
            self.problem(element, f"{what} is not a valid expression: {error}")
            return None

    def value_or_expression(
        self, element: etree._Element, text: str, what: str
    ) -> Expression | None:
        """A Zeebe/Camunda attribute that is an expression when marked, else a literal string."""
        stripped = text.strip()
        dialect = expression_dialect(stripped)
        if dialect is None:
            return self.expression(element, "=" + json.dumps(text), "feel", what)
        return self.expression(element, stripped, dialect, what)


def expression_dialect(text: str) -> Dialect | None:
    """Which language a marked expression is in: ``=`` FEEL, ``${`` JUEL, ``#{`` SpEL (tSM)."""
    if text.startswith("="):
        return "feel"
    if text.startswith("${"):
        return "juel"
    if text.startswith("#{"):
        return "spel"
    return None
