"""One evaluator for the three dialects; operators and lookups differ by ``expr.dialect``.

The evaluator walks the tree recursively (its depth is capped at compile time), counts every node
visit and loop iteration against ``MAX_STEPS``, and turns every failure into an
``ExpressionEvaluationError``. It reads no clock, no randomness and no I/O, so it is safe inside
deterministic workflow code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from translator.expressions._ast import (
    AllVariables,
    Between,
    Binary,
    Conditional,
    Constant,
    ContextLiteral,
    Filter,
    ForLoop,
    FunctionCall,
    Index,
    InTest,
    Iteration,
    ListLiteral,
    Member,
    MethodCall,
    Node,
    Projection,
    Quantified,
    Range,
    Selection,
    Template,
    ThisProperty,
    Unary,
    UnaryTest,
    Variable,
)
from translator.expressions._errors import EvaluationFailure, ExpressionEvaluationError
from translator.expressions._expression import Expression
from translator.expressions._functions import FUNCTIONS, InvalidArgument
from translator.expressions._limits import MAX_STEPS, MAX_STRING_LENGTH
from translator.expressions._methods import call_method
from translator.expressions._operators import OPERATORS
from translator.expressions._temporal import temporal_property
from translator.expressions._values import (
    ExecutionView,
    VariableWrites,
    is_list,
    is_map,
    is_number,
    kind,
    lookup,
    to_plain,
)


@dataclass(frozen=True)
class EvaluationContext:
    """Bindings besides the process variables.

    Attributes:
        execution: What JUEL/SpEL ``execution.<name>`` reads, e.g. ``processBusinessKey``,
            ``processInstanceId``.
        now: The current time for FEEL ``now()``/``today()``; in a workflow pass
            ``workflow.now()``. Using those functions without it is an evaluation error.
    """

    execution: Mapping[str, Any] = field(default_factory=dict)
    now: datetime | None = None
    writes: VariableWrites | None = None
    """Where ``execution.setVariable(...)`` writes; None: nowhere (an evaluation error)."""


def evaluate(
    expr: Expression, variables: Mapping[str, Any], context: EvaluationContext | None = None
) -> Any:
    """Evaluate a compiled expression against process variables.

    Args:
        expr: The result of ``compile_expression``.
        variables: The process variables in scope.
        context: Extra bindings (``execution``, the clock).

    Returns:
        A JSON-compatible value; FEEL dates, times and durations as ISO 8601 text.

    Raises:
        ExpressionEvaluationError: On any failure, including exceeding the cost limits.
    """
    try:
        evaluator = _Evaluator(expr, variables, context or EvaluationContext())
        return to_plain(evaluator.visit(expr.ast))
    except EvaluationFailure as failure:
        raise ExpressionEvaluationError(failure.message, expr.source) from None
    except RecursionError:
        message = "the data is nested too deeply to evaluate"
        raise ExpressionEvaluationError(message, expr.source) from None
    except Exception as error:  # the contract: callers see only ExpressionEvaluationError
        message = f"internal error: {type(error).__name__}: {error}"
        raise ExpressionEvaluationError(message, expr.source) from error


class _Evaluator:
    def __init__(
        self, expr: Expression, variables: Mapping[str, Any], context: EvaluationContext
    ) -> None:
        self.dialect = expr.dialect
        self.source = expr.source
        self.ops = OPERATORS[expr.dialect]
        self.variables = variables
        self.clock = context.now
        self.execution = ExecutionView(context.execution, variables, context.writes)
        self.steps = 0
        self.scopes: list[Mapping[str, Any]] = []  # FEEL iteration variables, filter items
        self.this: list[Any] = [{"execution": self.execution}]  # SpEL #this; the root first
        self.handlers: dict[str, Callable[[Any], Any]] = {
            "constant": lambda node: node.value,
            "variable": self._variable,
            "all_variables": self._all_variables,
            "this": lambda node: self.this[-1],
            "this_property": self._this_property,
            "member": self._member,
            "index": self._index,
            "filter": self._filter,
            "selection": self._selection,
            "projection": self._projection,
            "function_call": self._function_call,
            "method_call": self._method_call,
            "unary": self._unary,
            "binary": self._binary,
            "conditional": self._conditional,
            "between": self._between,
            "in_test": self._in_test,
            "unary_test": self._misplaced,
            "range": self._misplaced,
            "list": self._list,
            "context": self._context,
            "quantified": self._quantified,
            "for": self._for,
            "template": self._template,
        }

    def visit(self, node: Node) -> Any:
        self._tick()
        return self.handlers[node.kind](node)

    def _tick(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise EvaluationFailure(f"the expression took more than {MAX_STEPS} steps")

    def _charge(self, *values: Any) -> None:
        """Count the work functions and operators do on big values as steps too, so a loop
        calling ``list contains(hugeList, x)`` is bounded like a loop doing it by hand."""
        self._tick(sum(_size(value) for value in values))

    def _built(self, value: Any) -> Any:
        """Cap and charge what a function or operator builds."""
        self._charge(_capped(value))
        return value

    # --- names -------------------------------------------------------------------------------

    def _variable(self, node: Variable) -> Any:
        for scope in reversed(self.scopes):
            if node.name in scope:
                return scope[node.name]
        if self.dialect == "juel" and node.name == "execution":
            return self.execution
        if node.name in self.variables:
            return self.variables[node.name]
        if self.dialect == "juel":  # Camunda's words, which modelers search for
            raise EvaluationFailure(
                f"Unknown property used in expression: {self.source}. "
                f"Cause: Cannot resolve identifier '{node.name}'"
            )
        return None

    def _all_variables(self, node: AllVariables) -> Any:
        self._charge(self.variables)
        return dict(self.variables)

    def _this_property(self, node: ThisProperty) -> Any:
        current = self.this[-1]
        if len(self.this) == 1 and node.name not in current:
            raise EvaluationFailure(
                f"unknown name '{node.name}' (process variables are written #{node.name})"
            )
        return self._property(current, node.name, null_safe=False)

    # --- access ------------------------------------------------------------------------------

    def _member(self, node: Member) -> Any:
        return self._property(self.visit(node.target), node.name, node.null_safe)

    def _property(self, target: Any, name: str, null_safe: bool) -> Any:
        if isinstance(target, ExecutionView):
            target = target.properties
        if is_map(target):
            return target.get(name)
        if target is None and (null_safe or self.dialect != "spel"):
            return None
        if self.dialect == "feel":
            if is_list(target):  # FEEL: a path on a list reads it from every item
                self._charge(target)
                return [self._property(item, name, null_safe) for item in target]
            return temporal_property(target, name)
        raise EvaluationFailure(f"cannot read property '{name}' of {kind(target)}")

    def _index(self, node: Index) -> Any:
        target, key = self.visit(node.target), self.visit(node.index)
        if isinstance(target, ExecutionView):
            target = target.properties
        if is_map(target):
            return lookup(target, key)
        if target is None and self.dialect == "juel":
            return None
        if is_list(target) or (isinstance(target, str) and self.dialect == "spel"):
            return self._item_at(target, key)
        raise EvaluationFailure(f"cannot index {kind(target)} with [{kind(key)}]")

    def _item_at(self, items: Sequence[Any], key: Any) -> Any:
        """Java indexing from 0: JUEL answers null outside the list, SpEL fails."""
        if self.dialect == "juel" and isinstance(key, str):  # EL coerces "2" to 2
            key = _whole_number(key)
        if not is_number(key) or key != int(key):
            raise EvaluationFailure(f"a list index must be a whole number, not {kind(key)}")
        if 0 <= key < len(items):
            return items[int(key)]
        if self.dialect == "juel":
            return None
        raise EvaluationFailure(f"index {key} is out of range for size {len(items)}")

    def _filter(self, node: Filter) -> Any:
        target = self.visit(node.target)
        if target is None:
            return None
        items = list(target) if is_list(target) else [target]  # FEEL: a value is a 1-item list
        if isinstance(node.condition, Constant) and is_number(node.condition.value):
            return self._feel_item(items, node.condition.value)
        kept = []
        for position, item in enumerate(items):
            self._tick()
            with self._scope(item if is_map(item) else {}), self._scope({"item": item}):
                verdict = self.visit(node.condition)
            if position == 0 and is_number(verdict):  # items[i + 1] is an index, not a filter
                return self._feel_item(items, verdict)
            if verdict is True:
                kept.append(item)
        return kept

    @staticmethod
    def _feel_item(items: list[Any], position: Any) -> Any:
        """FEEL indexing: 1 is the first item, -1 the last, anything else null."""
        if not is_number(position) or position != int(position):
            return None
        index = int(position) - 1 if position > 0 else len(items) + int(position)
        return items[index] if position != 0 and 0 <= index < len(items) else None

    def _selection(self, node: Selection) -> Any:
        return [item for item, keep in self._each_this(node.target, node.condition) if keep]

    def _projection(self, node: Projection) -> Any:
        return self._built([value for _, value in self._each_this(node.target, node.body)])

    def _each_this(self, target_node: Node, body: Node) -> Iterator[tuple[Any, Any]]:
        """SpEL ``.?[...]``/``.![...]``: ``body`` evaluated with ``#this`` as each element."""
        target = self.visit(target_node)
        if not is_list(target):
            raise EvaluationFailure(f"selection and projection need a list, not {kind(target)}")
        for item in target:
            self._tick()
            self.this.append(item)
            try:
                value = self.visit(body)
            finally:
                self.this.pop()
            yield item, value

    # --- calls -------------------------------------------------------------------------------

    def _function_call(self, node: FunctionCall) -> Any:
        if node.name == "is defined":
            return self._is_defined(node.args[0])
        builtin = FUNCTIONS[node.name]
        args = [self.visit(arg) for arg in node.args]
        self._charge(*args)
        if builtin.needs_clock:
            if self.clock is None:
                raise EvaluationFailure(f"{node.name}() needs the current time, which is not set")
            args.insert(0, self.clock)
        try:
            result = builtin.impl(*args)
        except (InvalidArgument, ArithmeticError, ValueError):
            return None  # FEEL: a function given unusable arguments is null
        return self._built(result)

    def _is_defined(self, node: Node) -> bool:
        """FEEL ``is defined(x)``: false for a missing variable or key, even where x is null."""
        if isinstance(node, Variable):
            return node.name in self.variables or any(node.name in s for s in self.scopes)
        if isinstance(node, Member):
            if not self._is_defined(node.target):
                return False
            target = self.visit(node.target)
            return not is_map(target) or node.name in target
        self.visit(node)
        return True

    def _method_call(self, node: MethodCall) -> Any:
        target = self.visit(node.target)
        if target is None:
            if node.null_safe:
                return None
            raise EvaluationFailure(f"cannot call method '{node.name}' on null")
        args = [self.visit(arg) for arg in node.args]
        self._charge(target, *args)
        return self._built(call_method(target, node.name, args))

    # --- operators ---------------------------------------------------------------------------

    def _unary(self, node: Unary) -> Any:
        value = self.visit(node.operand)
        if node.op == "-":
            return self.ops.negate(value)
        if node.op == "empty":
            return _is_empty(value)
        truth = self.ops.truth(value)
        return None if truth is None else not truth

    def _binary(self, node: Binary) -> Any:
        if node.op in ("and", "or"):
            return self._logic(node)
        left = self.visit(node.left)
        if node.op == "?:":  # SpEL Elvis: the left side unless it is null or ""
            return left if left not in (None, "") else self.visit(node.right)
        right = self.visit(node.right)
        self._charge(left, right)
        return self._built(self.ops.binary(node.op, left, right))

    def _logic(self, node: Binary) -> bool | None:
        """Short-circuit ``and``/``or``; FEEL's unknown (None) wins over nothing decisive."""
        decisive = node.op == "or"  # the value that settles the outcome on its own
        left = self.ops.truth(self.visit(node.left))
        if left is decisive:
            return decisive
        right = self.ops.truth(self.visit(node.right))
        if right is decisive:
            return decisive
        return None if left is None or right is None else not decisive

    def _conditional(self, node: Conditional) -> Any:
        chosen = node.then if self.ops.truth(self.visit(node.condition)) else node.otherwise
        return self.visit(chosen)

    def _between(self, node: Between) -> Any:
        value = self.visit(node.value)
        low = self.ops.compare(">=", value, self.visit(node.low))
        high = self.ops.compare("<=", value, self.visit(node.high))
        if low is False or high is False:
            return False
        return None if low is None or high is None else True

    def _in_test(self, node: InTest) -> Any:
        value = self.visit(node.value)
        unknown = False
        for test in node.tests:
            verdict = self._passes(value, test)
            if verdict is True:
                return True
            unknown = unknown or verdict is None
        return None if unknown else False

    def _passes(self, value: Any, test: Node) -> bool | None:
        """One FEEL positive unary test: ``< 5``, ``[1..5]``, a list to be in, or a value."""
        if isinstance(test, UnaryTest):
            verdict: bool | None = self.ops.binary(test.op, value, self.visit(test.operand))
            return verdict
        if isinstance(test, Range):
            return self._in_range(value, test)
        expected = self.visit(test)
        self._charge(expected)
        if is_list(expected):
            return any(self.ops.equal(value, item) is True for item in expected)
        return self.ops.equal(value, expected)

    def _in_range(self, value: Any, test: Range) -> bool | None:
        low_op, high_op = (
            (">=" if test.low_inclusive else ">"),
            ("<=" if test.high_inclusive else "<"),
        )
        low = self.ops.compare(low_op, value, self.visit(test.low))
        high = self.ops.compare(high_op, value, self.visit(test.high))
        if low is False or high is False:
            return False
        return None if low is None or high is None else True

    def _misplaced(self, node: Node) -> Any:
        raise EvaluationFailure("a range or unary test can only follow 'in'")

    # --- literals and loops ------------------------------------------------------------------

    def _list(self, node: ListLiteral) -> Any:
        return [self.visit(item) for item in node.items]

    def _context(self, node: ContextLiteral) -> Any:
        built: dict[str, Any] = {}
        if self.dialect != "feel":  # a SpEL or Camunda 7 map: its keys are not names
            for entry in node.entries:
                built[entry.key] = self.visit(entry.value)
            return built
        with self._scope(built):  # later entries may use earlier ones: {a: 1, b: a + 1}
            for entry in node.entries:
                built[entry.key] = self.visit(entry.value)
        return built

    def _quantified(self, node: Quantified) -> Any:
        wanted = node.quantifier == "some"
        for bindings in self._combinations(node.iterations):
            with self._scope(bindings):
                if (self.visit(node.condition) is True) is wanted:
                    return wanted
        return not wanted

    def _for(self, node: ForLoop) -> Any:
        results = []
        for bindings in self._combinations(node.iterations):
            with self._scope(bindings):
                results.append(self.visit(node.body))
        return _capped(results)

    def _combinations(
        self, iterations: Sequence[Iteration], bound: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every binding of the iteration variables; later sources may use earlier variables."""
        bound = bound or {}
        if not iterations:
            yield dict(bound)
            return
        first, rest = iterations[0], iterations[1:]
        with self._scope(bound):
            values = self._source(first.source)
        for value in values:
            self._tick()
            yield from self._combinations(rest, {**bound, first.name: value})

    def _source(self, node: Node) -> Iterator[Any]:
        """What a ``for``/``some``/``every`` iterates: a list, a value, or a lazy integer range."""
        if isinstance(node, Range):
            low, high = self.visit(node.low), self.visit(node.high)
            if not (isinstance(low, int) and isinstance(high, int)) or isinstance(low, bool):
                raise EvaluationFailure("a 'for' range needs whole numbers, like 1..10")
            step = 1 if high >= low else -1
            return iter(range(low, high + step, step))
        value = self.visit(node)
        return iter(value if is_list(value) else [] if value is None else [value])

    def _template(self, node: Template) -> Any:
        return self._built("".join(self.ops.text(self.visit(part)) for part in node.parts))

    # --- scopes ------------------------------------------------------------------------------

    @contextmanager
    def _scope(self, bindings: Mapping[str, Any]) -> Iterator[None]:
        """FEEL local names (iteration variables, filter items) while the block runs."""
        self.scopes.append(bindings)
        try:
            yield
        finally:
            self.scopes.pop()


def _capped(value: Any) -> Any:
    """``value`` unless it is a string too long; lists need no cap of their own, as every item
    a loop adds or a function copies is charged as a step."""
    if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
        raise EvaluationFailure(f"the result is a string longer than {MAX_STRING_LENGTH}")
    return value


def _whole_number(text: str) -> int | str:
    """``text`` as an integer if it is one, else unchanged."""
    try:
        return int(text.strip(), 10)
    except ValueError:
        return text


def _size(value: Any) -> int:
    """Rough cost of walking ``value``: its items, or its characters by the hundred."""
    if isinstance(value, str):
        return len(value) // 100
    if is_list(value) or is_map(value):
        return len(value)
    return 0


def _is_empty(value: Any) -> bool:
    """JUEL ``empty``: null, or an empty string, list or map."""
    if value is None:
        return True
    return (isinstance(value, str) or is_list(value) or is_map(value)) and not value
