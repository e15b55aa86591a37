"""Operator semantics, one class per dialect: where the three languages really differ.

FEEL answers null for what it cannot compute (``"a" < 1``, ``1 / 0``); JUEL coerces like Java EL
(``null`` counts as 0 or false, ``"2" * 3`` is 6); SpEL is strict and fails instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from translator.expressions import _temporal
from translator.expressions._ast import BinaryOp, Dialect
from translator.expressions._errors import EvaluationFailure
from translator.expressions._limits import MAX_INTEGER_BITS
from translator.expressions._values import (
    check_number,
    equal,
    feel_text,
    is_number,
    java_text,
    kind,
    order,
)

Number = int | float
_COMPARISONS: dict[str, Callable[[int], bool]] = {
    "<": lambda sign: sign < 0,
    "<=": lambda sign: sign <= 0,
    ">": lambda sign: sign > 0,
    ">=": lambda sign: sign >= 0,
}


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
        raise EvaluationFailure(f"the result is a number larger than {MAX_INTEGER_BITS} bits")
    return check_number(value)


def _arithmetic(op: str, left: Number, right: Number) -> Number:
    """``+ - * **`` on two numbers; integers stay integers."""
    if op == "+":
        return _checked(left + right)
    if op == "-":
        return _checked(left - right)
    if op == "*":
        return _checked(left * right)
    return _power(left, right)


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if base.bit_length() * exponent > MAX_INTEGER_BITS and abs(base) > 1:
            raise EvaluationFailure(f"the result is a number larger than {MAX_INTEGER_BITS} bits")
        result: int = base**exponent
        return result
    try:
        return check_number(math.pow(base, exponent))
    except (OverflowError, ValueError, ZeroDivisionError):
        raise EvaluationFailure(f"cannot raise {base} to the power {exponent}") from None


def _java_division(left: Number, right: Number, op: str) -> Number:
    """Java ``/`` and ``%``: integer operands truncate towards zero; no division by zero."""
    if right == 0:
        raise EvaluationFailure("division by zero")
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
        return quotient if op == "/" else left - quotient * right
    return check_number(left / right if op == "/" else math.fmod(left, right))


def _unsupported(op: str, left: Any, right: Any) -> EvaluationFailure:
    return EvaluationFailure(f"operator '{op}' cannot be applied to {kind(left)} and {kind(right)}")


class Operators:
    """How a dialect applies operators; the evaluator asks the instance for its dialect."""

    def binary(self, op: BinaryOp, left: Any, right: Any) -> Any:
        if op == "=":
            return self.equal(left, right)
        if op == "!=":
            same = self.equal(left, right)
            return None if same is None else not same
        if op in _COMPARISONS:
            return self.compare(op, left, right)
        return self.arithmetic(op, left, right)

    def equal(self, left: Any, right: Any) -> bool | None:
        raise NotImplementedError

    def compare(self, op: str, left: Any, right: Any) -> bool | None:
        raise NotImplementedError

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        raise NotImplementedError

    def negate(self, value: Any) -> Any:
        raise NotImplementedError

    def truth(self, value: Any) -> bool | None:
        """How ``and``/``or``/``not``/conditions read a value; None is FEEL's unknown."""
        raise NotImplementedError

    def text(self, value: Any) -> str:
        """A value spliced into a template (``"Hello ${name}"``)."""
        return "" if value is None else java_text(value)


class FeelOperators(Operators):
    """FEEL: three-valued logic, null for anything undefined, temporal arithmetic."""

    def equal(self, left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            return left is None and right is None
        if kind(left) != kind(right):
            return None
        return equal(left, right)

    def compare(self, op: str, left: Any, right: Any) -> bool | None:
        sign = order(left, right)
        return None if sign is None else _COMPARISONS[op](sign)

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        if is_number(left) and is_number(right):
            return self._numbers(op, left, right)
        if op == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right
        try:
            return self._temporal(op, left, right)
        except (OverflowError, ValueError):  # outside the calendar
            return None

    def _numbers(self, op: str, left: Number, right: Number) -> Number | None:
        if op != "/":
            return _arithmetic(op, left, right)
        if right == 0:
            return None
        if isinstance(left, int) and isinstance(right, int) and left % right == 0:
            return left // right
        try:
            return check_number(left / right)
        except OverflowError:
            return None

    def _temporal(self, op: str, left: Any, right: Any) -> Any:
        if op == "+":
            return _temporal.add(left, right)
        if op == "-":
            return _temporal.subtract(left, right)
        if op == "*":
            if is_number(left):
                left, right = right, left
            return _temporal.scale(left, right, divide=False)
        if op == "/":
            return _temporal.scale(left, right, divide=True)
        return None

    def negate(self, value: Any) -> Any:
        if is_number(value):
            return -value
        return _temporal.negate(value)

    def truth(self, value: Any) -> bool | None:
        return value if isinstance(value, bool) else None

    def text(self, value: Any) -> str:
        return feel_text(value)


class JuelOperators(Operators):
    """Java EL: coercions, ``null`` as 0/false, ``+`` is numeric only."""

    def equal(self, left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            return left is None and right is None
        if is_number(left) or is_number(right):
            return self.number(left) == self.number(right)
        if isinstance(left, bool) or isinstance(right, bool):
            return self.truth(left) == self.truth(right)
        if isinstance(left, str) or isinstance(right, str):
            return java_text(left) == java_text(right)
        return equal(left, right)

    def compare(self, op: str, left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            return False
        if is_number(left) or is_number(right):
            left, right = self.number(left), self.number(right)
        elif isinstance(left, str) or isinstance(right, str):
            left, right = java_text(left), java_text(right)
        sign = order(left, right)
        if sign is None:
            raise EvaluationFailure(f"cannot compare {kind(left)} with {kind(right)}")
        return _COMPARISONS[op](sign)

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        left, right = self.number(left), self.number(right)
        if op == "/":
            return _java_division(float(left), float(right), op)
        if op == "%":
            return _java_division(left, right, op)
        return _arithmetic(op, left, right)

    def negate(self, value: Any) -> Any:
        return -self.number(value)

    def truth(self, value: Any) -> bool | None:
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() == "true"
        raise EvaluationFailure(f"cannot use {kind(value)} {java_text(value)!r} as a boolean")

    @staticmethod
    def number(value: Any) -> Number:
        """EL coercion to a number: null and "" are 0, numeric text is parsed."""
        if is_number(value):
            return value
        if value is None or value == "":
            return 0
        if isinstance(value, str):
            try:
                return float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                pass
        raise EvaluationFailure(f"cannot coerce {kind(value)} {java_text(value)!r} to a number")


class SpelOperators(Operators):
    """SpEL: strict types; ``+`` concatenates when either side is text; null sorts first."""

    def equal(self, left: Any, right: Any) -> bool | None:
        return equal(left, right)

    def compare(self, op: str, left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            sign = (left is not None) - (right is not None)
        else:
            found = order(left, right)
            if found is None:
                raise EvaluationFailure(f"cannot compare {kind(left)} with {kind(right)}")
            sign = found
        return _COMPARISONS[op](sign)

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        if op == "+" and (isinstance(left, str) or isinstance(right, str)):
            return java_text(left) + java_text(right)
        if not (is_number(left) and is_number(right)):
            raise _unsupported(op, left, right)
        if op in ("/", "%"):
            return _java_division(left, right, op)
        return _arithmetic(op, left, right)

    def negate(self, value: Any) -> Any:
        if not is_number(value):
            raise EvaluationFailure(f"cannot negate {kind(value)}")
        return -value

    def truth(self, value: Any) -> bool | None:
        if not isinstance(value, bool):
            raise EvaluationFailure(f"cannot convert {kind(value)} to a boolean")
        return value


OPERATORS: dict[Dialect, Operators] = {
    "feel": FeelOperators(),
    "juel": JuelOperators(),
    "spel": SpelOperators(),
}
