"""Evaluating DMN decisions (the ``DecisionGraph`` IR): pure, deterministic, bounded by the
expression evaluator's limits, so a business rule task evaluates in the workflow itself.

The result has two forms. Zeebe's (dmn-scala's): a decision table's output value (one output)
or context (several); a list of those for a hit policy that collects; the aggregate for
COLLECT with SUM, MIN, MAX or COUNT; when no rule matches, the outputs' default entries (one:
its value, several: a context) or null; a literal expression's value. Camunda 7's: the list of
matched rules' output maps, from which ``camunda:mapDecisionResult`` picks. A required
decision's Zeebe result is a variable named by its ``<variable name>`` (else its id) in the
decisions after it. An input entry that is neither true nor false (a comparison with null,
say) fails the evaluation, as in Zeebe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from translator import (
    Decision,
    DecisionGraph,
    DecisionRule,
    DecisionTable,
    LiteralDecision,
)
from translator.expressions import (
    EvaluationContext,
    Expression,
    ExpressionEvaluationError,
    evaluate,
)
from translator.expressions._unary_tests import INPUT


class DecisionFailure(Exception):
    """The decision cannot be evaluated on these variables; ``message`` says why."""

    def __init__(self, decision_id: str, message: str) -> None:
        super().__init__(f"decision {decision_id!r}: {message}")
        self.decision_id = decision_id
        self.message = f"decision {decision_id!r}: {message}"


@dataclass(frozen=True)
class DecisionResult:
    value: Any
    """Zeebe's result (see the module docstring)."""
    rules: list[dict[str, Any]]
    """Camunda 7's: one map of output name to value per matched rule, in hit policy order."""


def evaluate_decision(
    graph: DecisionGraph,
    decision_id: str,
    variables: Mapping[str, Any],
    context: EvaluationContext | None = None,
) -> DecisionResult:
    """Evaluate ``decision_id`` of ``graph`` (its required decisions first) on ``variables``.

    Raises:
        DecisionFailure: an unknown decision, an expression that fails, or a hit policy the
            matches break (UNIQUE with two, ANY with different outputs).
    """
    decision = graph.decisions.get(decision_id)
    if decision is None:
        known = ", ".join(sorted(graph.decisions))
        raise DecisionFailure(decision_id, f"not in {graph.id!r} (its decisions: {known})")
    scope = dict(variables)
    for required in _evaluation_order(graph, decision):
        scope[required.result_name or required.id] = _evaluate(required, scope, context).value
    return _evaluate(decision, scope, context)


def _evaluation_order(graph: DecisionGraph, decision: Decision) -> list[Decision]:
    """The decisions ``decision`` requires, directly or not, each once, requirements first
    (the translator refused cycles)."""
    order: list[Decision] = []
    seen = {decision.id}
    pending = [(decision, iter(decision.required))]
    while pending:
        current, requirements = pending[-1]
        following = next(requirements, None)
        if following is None:
            pending.pop()
            if current is not decision:
                order.append(current)
        elif following not in seen:
            seen.add(following)
            required = graph.decisions[following]
            pending.append((required, iter(required.required)))
    return order


def _evaluate(
    decision: Decision, scope: Mapping[str, Any], context: EvaluationContext | None
) -> DecisionResult:
    logic = decision.logic
    if isinstance(logic, LiteralDecision):
        value = _value(decision, logic.expression, scope, context)
        return DecisionResult(value, [{decision.result_name or decision.id: value}])
    return _Table(decision, logic, context).evaluate(scope)


def _value(
    decision: Decision,
    expression: Expression,
    variables: Mapping[str, Any],
    context: EvaluationContext | None,
) -> Any:
    try:
        return evaluate(expression, variables, context)
    except ExpressionEvaluationError as error:
        message = f"failed to evaluate {expression.source!r}: {error.message}"
        raise DecisionFailure(decision.id, message) from None


class _Table:
    def __init__(
        self, decision: Decision, table: DecisionTable, context: EvaluationContext | None
    ) -> None:
        self.decision = decision
        self.table = table
        self.context = context

    def evaluate(self, scope: Mapping[str, Any]) -> DecisionResult:
        table = self.table
        values = [self._value(i.expression, scope) for i in table.inputs]
        matched = [rule for rule in table.rules if self._matches(rule, values, scope)]
        if not matched:
            return self._defaults(scope)
        policy = table.hit_policy
        if policy == "FIRST":  # the other matches' outputs are not even evaluated
            matched = matched[:1]
        outputs = [self._outputs(rule, scope) for rule in matched]
        if policy == "UNIQUE" and len(outputs) > 1:
            ids = ", ".join(rule.id for rule in matched)
            raise self._failure(f"hit policy UNIQUE, but several rules match: {ids}")
        if policy == "ANY" and any(o != outputs[0] for o in outputs[1:]):
            raise self._failure("hit policy ANY, but the matching rules have different outputs")
        if policy in ("PRIORITY", "OUTPUT ORDER"):
            outputs = sorted(outputs, key=self._rank)  # stable: rule order breaks ties
        if policy in ("FIRST", "PRIORITY", "ANY"):
            outputs = outputs[:1]
        if policy == "COLLECT" and table.aggregation is not None:
            aggregate = self._aggregate(outputs)
            name = table.outputs[0].name or self.decision.id
            return DecisionResult(aggregate, [{name: aggregate}])
        plain = [self._plain(o) for o in outputs]
        if policy in ("UNIQUE", "FIRST", "PRIORITY", "ANY"):
            return DecisionResult(plain[0] if plain else None, outputs)
        return DecisionResult(plain, outputs)

    def _matches(self, rule: DecisionRule, values: list[Any], scope: Mapping[str, Any]) -> bool:
        for test, value in zip(rule.tests, values, strict=True):
            verdict = self._value(test, {**scope, INPUT: value})
            if verdict is False:
                return False
            if verdict is not True:
                raise self._failure(
                    f"input entry {test.source!r} of rule {rule.id!r} is {verdict!r} for the "
                    f"input value {value!r}; it must be true or false"
                )
        return True

    def _defaults(self, scope: Mapping[str, Any]) -> DecisionResult:
        """No rule matched: the outputs' default entries, else null."""
        defaults = {
            output.name or self.decision.id: self._value(output.default, scope)
            for output in self.table.outputs
            if output.default is not None
        }
        if not defaults:
            return DecisionResult(None, [])
        value = next(iter(defaults.values())) if len(defaults) == 1 else defaults
        return DecisionResult(value, [defaults])

    def _outputs(self, rule: DecisionRule, scope: Mapping[str, Any]) -> dict[str, Any]:
        return {
            output.name or self.decision.id: (
                None if expression is None else self._value(expression, scope)
            )
            for output, expression in zip(self.table.outputs, rule.outputs, strict=True)
        }

    def _plain(self, outputs: dict[str, Any]) -> Any:
        """Zeebe's form of one rule's outputs: the value of a single output, else a context."""
        if len(self.table.outputs) == 1:
            return next(iter(outputs.values()))
        return outputs

    def _rank(self, outputs: dict[str, Any]) -> tuple[int, ...]:
        """Lower is higher priority: each output's place among its output values, in order."""
        return tuple(
            _place(output.priorities, outputs[output.name or self.decision.id])
            for output in self.table.outputs
            if output.priorities
        )

    def _aggregate(self, outputs: list[dict[str, Any]]) -> Any:
        """COUNT counts the matched rules; SUM, MIN and MAX take numbers only (dmn-scala)."""
        aggregation = self.table.aggregation
        if aggregation == "COUNT":
            return len(outputs)
        values = [next(iter(o.values())) for o in outputs]
        for value in values:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise self._failure(f"COLLECT {aggregation} needs numbers, but found {value!r}")
        if aggregation == "SUM":
            return sum(values)
        return min(values) if aggregation == "MIN" else max(values)

    def _value(self, expression: Expression, variables: Mapping[str, Any]) -> Any:
        return _value(self.decision, expression, variables, self.context)

    def _failure(self, message: str) -> DecisionFailure:
        return DecisionFailure(self.decision.id, message)


def _place(priorities: tuple[Any, ...], value: Any) -> int:
    for index, candidate in enumerate(priorities):
        if candidate == value and isinstance(candidate, bool) == isinstance(value, bool):
            return index
    return len(priorities)  # a value not listed ranks last
