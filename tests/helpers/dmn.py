"""Builders that keep DMN test models short: a file of decisions, a decision table, a literal
expression (DMN 1.3, as Camunda Modeler writes it). Texts are FEEL, XML-escaped here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="{id}" name="{id}" '
    'namespace="http://camunda.org/schema/1.0/dmn">\n'
)

Rule = tuple[Sequence[str], Sequence[str]]
"""A rule's input entries and output entries."""


def dmn(*decisions: str, definitions_id: str = "decisions") -> str:
    return HEADER.format(id=definitions_id) + "\n".join(decisions) + "\n</definitions>\n"


def text(value: str) -> str:
    return f"<text>{escape(value)}</text>"


def requirements(required: Iterable[str]) -> str:
    return "".join(
        f'<informationRequirement><requiredDecision href="#{r}" /></informationRequirement>'
        for r in required
    )


def table(
    decision_id: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    rules: Sequence[Rule],
    *,
    hit_policy: str = "UNIQUE",
    aggregation: str | None = None,
    requires: Iterable[str] = (),
    output_values: dict[str, str] | None = None,
) -> str:
    """A decision table: ``inputs`` are input expressions, ``outputs`` output names."""
    extra = f' aggregation="{aggregation}"' if aggregation else ""
    parts = [
        f'<decision id="{decision_id}" name="{decision_id}">{requirements(requires)}',
        f'<decisionTable id="{decision_id}_table" hitPolicy="{hit_policy}"{extra}>',
    ]
    for index, expression in enumerate(inputs):
        parts.append(
            f'<input id="{decision_id}_in{index}"><inputExpression>{text(expression)}'
            "</inputExpression></input>"
        )
    for name in outputs:
        values = (output_values or {}).get(name)
        listed = f"<outputValues>{text(values)}</outputValues>" if values else ""
        parts.append(f'<output id="{decision_id}_{name}" name="{name}">{listed}</output>')
    for index, (entries, results) in enumerate(rules):
        parts.append(f'<rule id="{decision_id}_r{index}">')
        parts.extend(f"<inputEntry>{text(entry)}</inputEntry>" for entry in entries)
        parts.extend(f"<outputEntry>{text(result)}</outputEntry>" for result in results)
        parts.append("</rule>")
    parts.append("</decisionTable></decision>")
    return "".join(parts)


def literal(decision_id: str, expression: str, requires: Iterable[str] = ()) -> str:
    return (
        f'<decision id="{decision_id}" name="{decision_id}">{requirements(requires)}'
        f'<variable name="{decision_id}" /><literalExpression>{text(expression)}'
        "</literalExpression></decision>"
    )
