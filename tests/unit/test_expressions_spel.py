"""SpEL (tSM ``#{...}``) expressions: ``#variables``, ``#name``, ``execution``, safe navigation."""

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
    "requestPayload": {"orderId": 7, "lines": [{"qty": 1}, {"qty": 5}]},
    "amount": 150,
    "name": "Ada",
    "flag": True,
    "items": [3, 1, 2],
    "nothing": None,
}
EXECUTION = {"processBusinessKey": "order-7", "processInstanceId": "pi-1", "id": 99}


def spel(source: str, variables: dict[str, Any] | None = None) -> Any:
    expression = compile_expression(source, "spel")
    context = EvaluationContext(execution=EXECUTION)
    return evaluate(expression, VARIABLES if variables is None else variables, context)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("#{#variables.requestPayload}", VARIABLES["requestPayload"]),
        ("#{#variables['amount']}", 150),
        ("#{#variables.missing}", None),
        ("#{#variables}", VARIABLES),
        ("#{#amount}", 150),
        ("#{#missing}", None),
        ("#{#requestPayload.orderId}", 7),
        ("#{#requestPayload['lines'][1]['qty']}", 5),
        ("#{#requestPayload.missing}", None),
        ("#{execution.processBusinessKey}", "order-7"),
        ("#{execution.id}", 99),
        ("#{execution.getVariable('amount')}", 150),
        ("#{execution.missing}", None),
        ("#{#nothing?.foo}", None),
        ("#{#nothing?.foo?.bar}", None),
        ("#{#nothing?.toString()}", None),
        ("#{#requestPayload?.orderId}", 7),
        ("#{'it''s'}", "it's"),
        ('#{"say ""hi"""}', 'say "hi"'),
        ("#{42}", 42),
        ("#{10L}", 10),
        ("#{2.5d}", 2.5),
        ("#{true}", True),
        ("#{TRUE}", True),
        ("#{null}", None),
        ("#{#amount > 100}", True),
        ("#{#amount gt 100 AND #flag}", True),
        ("#{#amount == 150}", True),
        ("#{#amount eq 150.0}", True),
        ("#{#amount != 150}", False),
        ("#{#nothing == null}", True),
        ("#{#nothing < 1}", True),
        ("#{1 < #nothing}", False),
        ("#{'a' < 'b'}", True),
        ("#{#flag and false}", False),
        ("#{#flag && true}", True),
        ("#{false or #flag}", True),
        ("#{!#flag}", False),
        ("#{not #flag}", False),
        ("#{#amount > 100 ? 'big' : 'small'}", "big"),
        ("#{#nothing ?: 'default'}", "default"),
        ("#{'' ?: 'default'}", "default"),
        ("#{#name ?: 'default'}", "Ada"),
        ("#{'Hello ' + #name}", "Hello Ada"),
        ("#{'n=' + 1}", "n=1"),
        ("#{'x' + #nothing}", "xnull"),
        ("#{'flag=' + #flag}", "flag=true"),
        ("#{1 + 2 * 3}", 7),
        ("#{7 / 2}", 3),
        ("#{-7 / 2}", -3),
        ("#{7.0 / 2}", 3.5),
        ("#{7 % 3}", 1),
        ("#{2 ^ 10}", 1024),
        ("#{-#amount}", -150),
        ("#{#name.toUpperCase()}", "ADA"),
        ("#{#name.length()}", 3),
        ("#{#items.size()}", 3),
        ("#{#items[0]}", 3),
        ("#{#name[0]}", "A"),
        ("#{{1, 2, 3}}", [1, 2, 3]),
        ("#{{}}", []),
        ("#{{:}}", {}),
        ("#{{a: 1, 'b c': #amount}}", {"a": 1, "b c": 150}),
        ("#{#items.?[#this > 1]}", [3, 2]),
        ("#{#requestPayload.lines.?[qty > 1]}", [{"qty": 5}]),
        ("#{#items.![#this * 10]}", [30, 10, 20]),
        ("#{#requestPayload.lines.![qty]}", [1, 5]),
        ("#{#variables.requestPayload.orderId + 1}", 8),
        (
            "Order #{#requestPayload.orderId} for #{execution.processBusinessKey}",
            "Order 7 for order-7",
        ),
        ("#{#nothing} left", " left"),
        ("no marker", "no marker"),
    ],
)
def test_constructs(source: str, expected: Any) -> None:
    result = spel(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("#{#nothing.foo}", "cannot read property 'foo' of null"),
        ("#{#nothing?.foo.bar}", "cannot read property 'bar' of null"),  # as in Spring
        ("#{#nothing.toString()}", "cannot call method 'toString' on null"),
        ("#{#items[5]}", "index 5 is out of range for size 3"),
        ("#{#nothing[0]}", "cannot index null"),
        ("#{#nothing and true}", "cannot convert null to a boolean"),
        ("#{#amount ? 1 : 2}", "cannot convert number to a boolean"),
        ("#{1 - 'a'}", "operator '-' cannot be applied to number and string"),
        ("#{1 / 0}", "division by zero"),
        ("#{1 < 'a'}", "cannot compare number with string"),
        ("#{-'a'}", "cannot negate string"),
        ("#{amount}", "unknown name 'amount' (process variables are written #amount)"),
        ("#{#amount.?[true]}", "selection and projection need a list"),
    ],
)
def test_evaluation_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        spel(source)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("#{T(java.lang.Runtime).getRuntime()}", "type references and constructors", 3),
        ("#{new java.io.File('x')}", "type references and constructors", 3),
        ("#{@bean.call()}", "bean references (@name) are not supported", 3),
        ("#{#fn(1)}", "functions (#fn(...)) are not supported", 3),
        ("#{doIt()}", "unknown function 'doIt'", 3),
        ("#{#a matches 'x'}", "the 'matches' operator is not supported", 6),
        ("#{#a instanceof T(String)}", "the 'instanceof' operator is not supported", 6),
        ("#{#}", "expected a variable name after '#'", 4),
        ("#{1 +}", "unexpected end of expression", 6),
        ("#{{a: 1}", "missing '}' to close '#{'", 1),
        ("#{{1, 2}", "missing '}'", 1),
        ("#{'open}", "missing '}'", 1),
        ("#{#a ? 1}", "expected ':'", 9),
        ("#{{1 2}}", "expected '}', found '2'", 6),
        ("#{{a: 1, 2: 3}}", "expected a map key, found '2'", 10),
        ("#{#a.}", "expected a property name after '.', found end of expression", 6),
    ],
)
def test_syntax_errors(source: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source, "spel")
    assert message in caught.value.message
    assert caught.value.column == column
