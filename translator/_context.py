"""State shared by the element handlers while one file compiles: where we are, what went wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from translator._errors import Problem
from translator._namespaces import local_name
from translator._templates import KafkaTaskTemplate
from translator.expressions import (
    Dialect,
    Expression,
    ExpressionSyntaxError,
    compile_expression,
)
from translator.expressions._expression import text_expression


@dataclass
class CompileContext:
    """Collects problems for one file so that all of them are reported in one pass."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    root_elements: dict[str, etree._Element] = field(default_factory=dict)
    """Children of ``<definitions>`` by id: messages, errors, signals, escalations..."""
    node_ids: set[str] = field(default_factory=set)
    """Ids of the flow nodes compiled so far, to find duplicates across scopes."""
    root: etree._Element | None = None
    templates: Mapping[str, KafkaTaskTemplate] = field(default_factory=dict)
    """Kafka Task templates models may name (``camunda:modelerTemplate``)."""
    compensation: bool = False
    """Whether a compensation event definition was read: only then are scopes checked for
    compensation's rules (most models have none, and the check reads every element)."""
    _all_ids: set[str] | None = field(default=None, repr=False)
    _problem_ids: set[str | None] = field(default_factory=set, repr=False)
    """The element ids of ``problems`` (None for a problem of the file), so that asking
    whether an element has a problem does not scan every problem found so far."""

    @property
    def all_ids(self) -> set[str]:
        """Every id in the file (``""`` for an element without one), to tell an unknown
        reference from one into another scope. Only messages need it: read on first use."""
        if self._all_ids is None:
            root = self.root
            self._all_ids = (
                set()
                if root is None
                else {e.get("id", "") for e in root.iter() if isinstance(e.tag, str)}
            )
        return self._all_ids

    def index_root(self, root: etree._Element) -> None:
        self.root = root
        self._all_ids = None
        for child in root:
            element_id = child.get("id") if isinstance(child.tag, str) else None
            if element_id:
                self.root_elements[element_id] = child

    def refers_to(
        self, element: etree._Element, ref: str | None, tag: str
    ) -> etree._Element | None:
        """The root element ``ref`` names, if it is a ``tag``; else a problem and None."""
        if not ref:
            return None
        target = self.root_elements.get(ref.strip())
        if target is None or target.tag != tag:
            self.problem(element, f"refers to unknown {local_name(tag)} {ref!r}")
            return None
        return target

    def has_problem(self, element: etree._Element) -> bool:
        return element.get("id") in self._problem_ids

    def has_problem_id(self, element_id: str | None) -> bool:
        """``has_problem`` for an element whose id the caller has read already."""
        return element_id in self._problem_ids

    def problem(self, element: etree._Element | None, message: str) -> None:
        element_id = element.get("id") if element is not None else None
        line = element.sourceline if element is not None else None
        line = line if isinstance(line, int) else None
        self.problem_at(element_id, line, message)

    def problem_at(self, element_id: str | None, line: int | None, message: str) -> None:
        """Record a problem; every problem goes through here (``has_problem`` reads them)."""
        self.problems.append(Problem(self.source, message, element_id, line))
        self._problem_ids.add(element_id)

    def expression(
        self, element: etree._Element, text: str, dialect: Dialect, what: str
    ) -> Expression | None:
        """Compile ``text``; on a syntax error record a problem and return None."""
        try:
            return compile_expression(text, dialect)
        except ExpressionSyntaxError as error:
            return self._invalid(element, what, error)

    def _invalid(
        self, element: etree._Element, what: str, error: ExpressionSyntaxError
    ) -> Expression | None:
        """Record ``error`` as a problem of ``element``; None stands for the expression."""
        self.problem(element, f"{what} is not a valid expression: {error}")
        return None

    def marked_expression(
        self, element: etree._Element, text: str, what: str, hint: str = ""
    ) -> Expression | None:
        """Text that must be an expression (FEEL ``=``, JUEL ``${}``/``#{}``): a condition."""
        stripped = text.strip()
        dialect = expression_dialect(stripped)
        if dialect is None:
            self.problem(
                element,
                f"{what} {stripped!r} is not an expression: write FEEL as '=amount > 100' "
                f"(Zeebe) or JUEL as '${{amount > 100}}' (Camunda 7){hint}",
            )
            return None
        # Outside tSM fields, #{...} is Camunda 7's deferred JUEL, not SpEL.
        return self.expression(element, stripped, "juel" if dialect == "spel" else dialect, what)

    def value_or_expression(
        self, element: etree._Element, text: str, what: str
    ) -> Expression | None:
        """A Zeebe/Camunda attribute that is an expression when marked, else a literal string."""
        stripped = text.strip()
        dialect = expression_dialect(stripped)
        try:
            if dialect is None:
                return text_expression(text)
            return compile_expression(stripped, dialect)
        except ExpressionSyntaxError as error:
            return self._invalid(element, what, error)


def expression_dialect(text: str) -> Dialect | None:
    """Which language a marked expression is in: ``=`` FEEL, ``${`` JUEL, ``#{`` SpEL (tSM)."""
    if text.startswith("="):
        return "feel"
    if text.startswith("${"):
        return "juel"
    if text.startswith("#{"):
        return "spel"
    return None
