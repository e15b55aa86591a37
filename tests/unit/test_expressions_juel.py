"""JUEL (Camunda 7 ``${...}``) expressions: Java EL operators, coercions and Camunda's errors."""

from __future__ import annotations

from typing import Any

import pytest

from translator.expressions import (
    EvaluationContext,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    compile_expression,
    evaluate,
)

VARIABLES = {
    "amount": 150,
    "approved": True,
    "name": "Ada",
    "count": "3",
    "customer": {"name": "Ada", "address": {"city": "Prague"}},
    "items": [10, 20, 30],
    "nothing": None,
    "blank": "",
}
EXECUTION = {"processBusinessKey": "order-7", "processInstanceId": "pi-1"}


def juel(source: str, variables: dict[str, Any] | None = None) -> Any:
    expression = compile_expression(source, "juel")
    context = EvaluationContext(execution=EXECUTION)
    return evaluate(expression, VARIABLES if variables is None else variables, context)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("${true}", True),
        ("${null}", None),
        ("${42}", 42),
        ("${1.5e2}", 150.0),
        ("${'single'}", "single"),
        ('${"double"}', "double"),
        ("${'it\\'s'}", "it's"),
        ("#{amount}", 150),
        ("  ${amount}  ", 150),
        ("${amount > 100}", True),
        ("${amount gt 100}", True),
        ("${amount == 150}", True),
        ("${amount eq 150}", True),
        ("${amount != 150}", False),
        ("${amount ne 1}", True),
        ("${amount < 100}", False),
        ("${amount lt 200}", True),
        ("${amount <= 150}", True),
        ("${amount le 149}", False),
        ("${amount >= 150}", True),
        ("${amount ge 151}", False),
        ("${approved && amount > 100}", True),
        ("${approved and false}", False),
        ("${false || approved}", True),
        ("${false or false}", False),
        ("${!approved}", False),
        ("${not approved}", False),
        ("${empty nothing}", True),
        ("${empty blank}", True),
        ("${empty items}", False),
        ("${not empty name}", True),
        ("${amount > 100 ? 'big' : 'small'}", "big"),
        ("${false ? 1 : true ? 2 : 3}", 2),
        ("${approved ? name : blank}", "Ada"),
        ("${customer.name}", "Ada"),
        ("${customer.address.city}", "Prague"),
        ("${customer['name']}", "Ada"),
        ("${customer.missing}", None),
        ("${nothing.anything}", None),
        ("${items[1]}", 20),
        ("${items['2']}", 30),
        ("${items[5]}", None),
        ("${amount + 1}", 151),
        ("${amount - 50 * 2}", 50),
        ("${7 / 2}", 3.5),
        ("${8 div 2}", 4.0),
        ("${7 % 3}", 1),
        ("${-7 mod 3}", -1),
        ("${-amount}", -150),
        ("${(1 + 2) * 3}", 9),
        ("${count * 2}", 6),
        ("${count == 3}", True),
        ("${nothing + 1}", 1),
        ("${nothing == null}", True),
        ("${nothing < 1}", False),
        ("${name == 'Ada'}", True),
        ("${'a' < 'b'}", True),
        ("${approved == 'true'}", True),
        ("${execution.processBusinessKey}", "order-7"),
        ("${execution.getVariable('amount')}", 150),
        ("${execution.getProcessBusinessKey()}", "order-7"),
        ("${execution.hasVariable('missing')}", False),
        ("${name.toUpperCase()}", "ADA"),
        ("${name.length()}", 3),
        ("${name.substring(1)}", "da"),
        ("${name.startsWith('A')}", True),
        ("${items.size()}", 3),
        ("${items.contains(20)}", True),
        ("${customer.containsKey('name')}", True),
        ("${amount.toString()}", "150"),
        ("Dear ${name}, you owe ${amount}.", "Dear Ada, you owe 150."),
        ("${name}${nothing}!", "Ada!"),
        ("plain text", "plain text"),
        ("\\${not an expression}", "${not an expression}"),
        ("${'}'}", "}"),
    ],
)
def test_constructs(source: str, expected: Any) -> None:
    result = juel(source)
    assert result == expected
    assert type(result) is type(expected)


def test_unknown_variable_uses_camundas_message() -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        juel("${foo > 1}")
    assert caught.value.message == (
        "Unknown property used in expression: ${foo > 1}. Cause: Cannot resolve identifier 'foo'"
    )
    assert caught.value.source == "${foo > 1}"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("${'abc' + 1}", "cannot coerce string 'abc' to a number"),
        ("${1 / 0}", "division by zero"),
        ("${5 % 0}", "division by zero"),
        ("${approved + 1}", "cannot coerce boolean"),
        ("${items.foo}", "cannot read property 'foo' of list"),
        ("${name.nope()}", "method 'nope' is not available on string"),
        ("${name.substring(9)}", "index 9 is out of range"),
        ("${nothing.toString()}", "cannot call method 'toString' on null"),
        ("${items > 1}", "cannot coerce list"),
        ("${name.length(1)}", "method 'length' takes no arguments, got 1"),
        ("${customer < customer}", "cannot compare map with map"),
        ("${items && true}", "cannot use list"),
    ],
)
def test_evaluation_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        juel(source)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("${amount >}", "unexpected end of expression", 11),
        ("${}", "expression is empty", 3),
        ("${(1 + 2}", "expected ')'", 9),
        ("${a ? b}", "expected ':'", 8),
        ("${amount", "missing '}' to close '${'", 1),
        ("Hi ${name", "missing '}' to close '${'", 4),
        ("${fn:upper(name)}", "functions are not supported", 3),
        ("${upper(name)}", "functions are not supported", 3),
        ("${a instanceof b}", "unexpected 'instanceof'", 5),
        ("${a.}", "expected a property name after '.'", 5),
        ("${'unterminated}", "missing '}'", 1),
        ("${a b}", "unexpected 'b'", 5),
    ],
)
def test_syntax_errors(source: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source, "juel")
    assert message in caught.value.message
    assert caught.value.column == column
