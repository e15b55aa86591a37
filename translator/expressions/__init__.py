"""Expressions in BPMN models: FEEL (Zeebe), JUEL (Camunda 7) and SpEL (tSM).

``compile_expression`` parses text into an ``Expression`` (a frozen pydantic model that is
stored in the process IR); ``evaluate`` runs it against process variables with a safe, bounded,
deterministic evaluator: no ``eval``, no I/O, no clock but the one passed in.

Example:
    >>> from translator.expressions import compile_expression, evaluate
    >>> evaluate(compile_expression("=amount > 100", "feel"), {"amount": 150})
    True
"""

from translator.expressions._ast import Dialect
from translator.expressions._errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
)
from translator.expressions._evaluate import EvaluationContext, evaluate
from translator.expressions._expression import Expression, compile_expression
from translator.expressions._values import VariableWrites

__all__ = [
    "Dialect",
    "EvaluationContext",
    "Expression",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "VariableWrites",
    "compile_expression",
    "evaluate",
]
