"""FEEL (Zeebe) expressions: each construct, null semantics and the built-in functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from translator.expressions import (
    EvaluationContext,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    compile_expression,
    evaluate,
)

NOW = datetime(2024, 3, 15, 10, 30, tzinfo=UTC)
ORDER = {
    "amount": 150,
    "customer": {"name": "Ada", "address": {"city": "Prague"}, "vip": True},
    "items": [{"sku": "a", "price": 5}, {"sku": "b", "price": 20}, {"sku": "c", "price": 30}],
    "tags": ["x", "y"],
    "nothing": None,
    "n": 2,
}


def feel(source: str, variables: dict[str, Any] | None = None) -> Any:
    expression = compile_expression(source, "feel")
    return evaluate(
        expression, ORDER if variables is None else variables, EvaluationContext(now=NOW)
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=null", None),
        ("=true", True),
        ("=false", False),
        ("=42", 42),
        ("=1.5", 1.5),
        ("=.5", 0.5),
        ('="text"', "text"),
        ('="say \\"hi\\"\\n"', 'say "hi"\n'),
        ('="\\u00e9\\ud83d\\ude00"', "é😀"),
        ('="C:\\\\dir"', "C:\\dir"),
        ('="\\d+"', "\\d+"),
        ("  = 7  ", 7),
        ("7", 7),
        ("=[]", []),
        ("=[1, 2, 3]", [1, 2, 3]),
        ('={a: 1, "b c": 2}', {"a": 1, "b c": 2}),
        ("={a: 1, b: a + 1}", {"a": 1, "b": 2}),
        ("={}", {}),
    ],
)
def test_literals(source: str, expected: Any) -> None:
    assert feel(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=1 + 2", 3),
        ("=7 - 10", -3),
        ("=6 * 7", 42),
        ("=10 / 4", 2.5),
        ("=10 / 2", 5),
        ("=2 ** 10", 1024),
        ("=2 ** -1", 0.5),
        ("=-2 ** 2", -4),
        ("=-amount", -150),
        ("=- (1 + 2)", -3),
        ("=1 + 2 * 3", 7),
        ("=(1 + 2) * 3", 9),
        ("=1.5 + 1", 2.5),
        ("=10 - 2 - 3", 5),
        ('="ab" + "cd"', "abcd"),
        ("=1 / 0", None),
        ("=amount + null", None),
        ("=nothing * 2", None),
        ('="a" + 1', None),
        ("=true + 1", None),
        ('=-"a"', None),
    ],
)
def test_arithmetic(source: str, expected: Any) -> None:
    result = feel(source)
    assert result == expected
    assert type(result) is type(expected)  # ints stay ints


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=amount > 100", True),
        ("=amount >= 150", True),
        ("=amount < 100", False),
        ("=amount <= 149", False),
        ("=amount = 150", True),
        ("=amount != 150", False),
        ("=1 = 1.0", True),
        ('="a" < "b"', True),
        ("=[1, 2] = [1, 2]", True),
        ("={a: 1} = {a: 1}", True),
        ("=nothing = null", True),
        ("=missing = null", True),
        ("=amount = null", False),
        ("=null != 1", True),
        ("=null < 1", None),
        ('="a" < 1', None),
        ('="1" = 1', None),
        ("=true = 1", None),
        ("=1 < 2 = true", True),
    ],
)
def test_comparison(source: str, expected: Any) -> None:
    assert feel(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=true and true", True),
        ("=true and false", False),
        ("=false and null", False),
        ("=null and false", False),
        ("=true and null", None),
        ("=true or null", True),
        ("=null or true", True),
        ("=false or null", None),
        ("=false or false", False),
        ("=1 and true", None),
        ("=not(true)", False),
        ("=not(null)", None),
        ("=not(1)", None),
        ("=amount > 100 and customer.vip", True),
        ('=amount > 1000 or customer.name = "Ada"', True),
    ],
)
def test_three_valued_logic(source: str, expected: Any) -> None:
    assert feel(source) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=customer.name", "Ada"),
        ("=customer.address.city", "Prague"),
        ("=customer.missing", None),
        ("=customer.missing.deeper", None),
        ("=unknown.x", None),
        ("=missing", None),
        ("=items.sku", ["a", "b", "c"]),
        ("=amount.x", None),
        ("=`amount`", 150),
        ("={`a b`: 1}.`a b`", 1),
    ],
)
def test_paths(source: str, expected: Any) -> None:
    assert feel(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=items[1].sku", "a"),
        ("=items[-1].sku", "c"),
        ("=items[0]", None),
        ("=items[4]", None),
        ("=[1, 2, 3][2]", 2),
        ("=[1, 2, 3][1 + 1]", 2),
        ("=items[price > 10].sku", ["b", "c"]),
        ("=items[item.price > 10].sku", ["b", "c"]),
        ("=[1, 5, 10][item >= 5]", [5, 10]),
        ("=[1, 2][item > 5]", []),
        ("=[1, 2][true]", [1, 2]),
        ("=items[price > amount / 10].sku", ["b", "c"]),
        ("=nothing[1]", None),
        ("=5[1]", 5),
        ("=count(items[price > 10])", 2),
    ],
)
def test_filters_and_indexes(source: str, expected: Any) -> None:
    assert feel(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('=if amount > 100 then "big" else "small"', "big"),
        ('=if amount > 1000 then "big" else "small"', "small"),
        ("=if nothing then 1 else 2", 2),
        ("=if 1 then 1 else 2", 2),
        ("=1 + if true then 1 else 2", 2),
        ("=amount between 100 and 200", True),
        ("=amount between 1 + 1 and 100", False),
        ("=nothing between 1 and 2", None),
        ("=5 in [1..10]", True),
        ("=10 in [1..10)", False),
        ("=1 in (1..10]", False),
        ("=1 in ]1..10]", False),
        ("=5 in (1..10)", True),
        ("=2 in [1, 2, 3]", True),
        ("=4 in [1, 2, 3]", False),
        ("=5 in < 10", True),
        ("=5 in (< 3, > 4)", True),
        ("=5 in (1, 2)", False),
        ('="b" in ["a", "b"]', True),
        ("=amount in >= 100 and true", True),
        ("=nothing in (1, 2)", False),
        ("=nothing in < 5", None),
        ("=true in (n > 1, false)", True),
    ],
)
def test_conditionals_and_tests(source: str, expected: Any) -> None:
    assert feel(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=some x in [1, 2, 3] satisfies x > 2", True),
        ("=some x in [1, 2, 3] satisfies x > 3", False),
        ("=every x in [1, 2, 3] satisfies x > 0", True),
        ("=every x in [1, 2, 3] satisfies x > 1", False),
        ("=every x in [] satisfies false", True),
        ("=some i in items satisfies i.price > 25", True),
        ("=for x in [1, 2, 3] return x * 2", [2, 4, 6]),
        ("=for i in 1..3 return i", [1, 2, 3]),
        ("=for i in 3..1 return i", [3, 2, 1]),
        ("=for i in [1..3] return i", [1, 2, 3]),
        ("=for i in 1..n return i", [1, 2]),
        ("=for x in [1, 2], y in [10, 20] return x + y", [11, 21, 12, 22]),
        ("=for x in [[1, 2], [3]], y in x return y", [1, 2, 3]),
        ("=for i in items return i.sku", ["a", "b", "c"]),
        ("=for x in nothing return x", []),
        ("=sum(for i in items return i.price)", 55),
    ],
)
def test_iteration(source: str, expected: Any) -> None:
    assert feel(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('=string length("hello")', 5),
        ('=upper case("abc")', "ABC"),
        ('=lower case("ABC")', "abc"),
        ('=trim("  a ")', "a"),
        ('=substring("foobar", 3)', "obar"),
        ('=substring("foobar", 3, 3)', "oba"),
        ('=substring("foobar", -2, 1)', "a"),
        ('=substring("foobar", 0)', None),
        ('=substring before("foobar", "bar")', "foo"),
        ('=substring after("foobar", "ob")', "ar"),
        ('=contains("foobar", "ob")', True),
        ('=starts with("foobar", "fo")', True),
        ('=ends with("foobar", "r")', True),
        ('=string join(["a", null, "b"], ", ")', "a, b"),
        ('=string join(["a", "b"])', "ab"),
        ("=string(1.5)", "1.5"),
        ("=string(true)", "true"),
        ('=string([1, "a"])', '[1, "a"]'),
        ("=string(null)", None),
        ('=number("42")', 42),
        ('=number("4.5")', 4.5),
        ('=number("x")', None),
        ("=upper case(5)", None),
        ("=abs(-3)", 3),
        ("=floor(1.5)", 1),
        ("=ceiling(1.2)", 2),
        ("=floor(-1.5)", -2),
        ("=decimal(1.125, 2)", 1.12),
        ("=round half up(2.5)", 3),
        ("=round half up(1.125, 2)", 1.13),
        ("=round down(1.9)", 1),
        ("=round up(1.1)", 2),
        ("=modulo(-7, 3)", 2),
        ("=modulo(7, 0)", None),
        ("=sqrt(16)", 4.0),
        ("=sqrt(-1)", None),
        ("=odd(3)", True),
        ("=even(3)", False),
        ("=count([1, 2])", 2),
        ("=count(5)", None),
        ("=sum([1, 2, 3])", 6),
        ("=sum(1, 2, 3)", 6),
        ("=sum([])", None),
        ('=sum([1, "a"])', None),
        ("=min([3, 1, 2])", 1),
        ("=max(3, 1, 2)", 3),
        ('=max(["a", "c", "b"])', "c"),
        ("=min([])", None),
        ('=min([1, "a"])', None),
        ("=mean([1, 2, 3])", 2),
        ("=mean([1, 2])", 1.5),
        ("=all([true, true])", True),
        ("=all([true, null])", None),
        ("=all([false, null])", False),
        ("=any([false, true])", True),
        ("=any([])", False),
        ("=list contains([1, 2], 2)", True),
        ("=list contains([1, null], null)", True),
        ("=append([1], 2, 3)", [1, 2, 3]),
        ("=concatenate([1], [2, 3], 4)", [1, 2, 3, 4]),
        ("=distinct values([1, 2, 1, 1.0])", [1, 2]),
        ("=flatten([1, [2, [3, []]]])", [1, 2, 3]),
        ("=reverse([1, 2, 3])", [3, 2, 1]),
        ("=sublist([1, 2, 3], 2)", [2, 3]),
        ("=sublist([1, 2, 3], -2, 1)", [2]),
        ("=index of([1, 2, 1], 1)", [1, 3]),
        ("=is empty([])", True),
        ('=get value({a: 1}, "a")', 1),
        ("=get entries({a: 1})", [{"key": "a", "value": 1}]),
    ],
)
def test_builtin_functions(source: str, expected: Any) -> None:
    result = feel(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            '=bpmnError("NOT_FOUND", "no such order")',
            {
                "errorType": "bpmnError",
                "code": "NOT_FOUND",
                "message": "no such order",
                "variables": {},
            },
        ),
        (
            '=bpmnError("X", "m", {id: n})',
            {"errorType": "bpmnError", "code": "X", "message": "m", "variables": {"id": 2}},
        ),
        ('=bpmnError(404, "code must be text")', None),
        (
            '=jobError("busy", {}, 2, duration("PT5S"))',
            {
                "errorType": "jobError",
                "message": "busy",
                "variables": {},
                "retries": 2,
                "retryBackoff": "PT5S",
            },
        ),
        (
            '=jobError("busy")',
            {
                "errorType": "jobError",
                "message": "busy",
                "variables": {},
                "retries": None,
                "retryBackoff": None,
            },
        ),
        ('=jobError("busy", {}, 1, "PT5S")', None),
    ],
)
def test_connector_error_functions(source: str, expected: Any) -> None:
    """Camunda's errorExpression functions build the context the connector runtime reads."""
    assert feel(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=is defined(amount)", True),
        ("=is defined(nothing)", True),
        ("=is defined(missing)", False),
        ("=is defined(customer.name)", True),
        ("=is defined(customer.age)", False),
        ("=is defined(missing.age)", False),
        ("=is defined(1 + 1)", True),
        ("=for x in [1] return is defined(x)", [True]),
    ],
)
def test_is_defined(source: str, expected: Any) -> None:
    assert feel(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("=now()", "2024-03-15T10:30:00Z"),
        ("=today()", "2024-03-15"),
        ('=date("2024-01-31")', "2024-01-31"),
        ("=date(2024, 2, 29)", "2024-02-29"),
        ("=date(2023, 2, 29)", None),
        ('=date("nope")', None),
        ('=time("10:15:00")', "10:15:00"),
        ("=time(10, 15, 30)", "10:15:30"),
        ('=date and time("2024-01-31T10:00:00Z")', "2024-01-31T10:00:00Z"),
        ('=date and time(date("2024-01-31"), time("08:00:00"))', "2024-01-31T08:00:00"),
        ('=duration("P1DT2H")', "P1DT2H"),
        ('=duration("P1Y2M")', "P1Y2M"),
        ('=duration("PT90M")', "PT1H30M"),
        ('=duration("P1Y1D")', None),
        ('=@"2024-01-31" + @"P1D"', "2024-02-01"),
        ('=@"2024-01-31" + @"P1M"', "2024-02-29"),
        ('=@"2024-03-01" - @"2024-02-01"', "P29D"),
        ('=@"2024-01-31T10:00:00Z" + @"PT1H30M"', "2024-01-31T11:30:00Z"),
        ('=@"PT1H" * 2', "PT2H"),
        ('=@"PT1H" / 2', "PT30M"),
        ('=@"PT1H" / @"PT30M"', 2.0),
        ('=-@"P1D"', "-P1D"),
        ('=@"10:00:00" + @"PT30M"', "10:30:00"),
        ('=today() > @"2024-01-01"', True),
        ('=now() - @"2024-03-15T10:00:00Z"', "PT30M"),
        ('=@"2024-03-15T10:00:00" < now()', None),
        ('=date("2024-03-15").year', 2024),
        ('=@"2024-03-15".weekday', 5),
        ('=@"PT1H30M".minutes', 30),
        ('=@"P14M".years', 1),
        ('=day of week(@"2024-03-15")', "Friday"),
        ('=month of year(@"2024-03-15")', "March"),
        ("=date(now())", "2024-03-15"),
        ('=date("2024-03-15") = date("2024-03-15")', True),
    ],
)
def test_dates_and_durations(source: str, expected: Any) -> None:
    assert feel(source) == expected


def test_clock_is_required_for_now() -> None:
    expression = compile_expression("=now()", "feel")
    with pytest.raises(ExpressionEvaluationError, match="current time"):
        evaluate(expression, {})


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("=foo(1", "expected ')', found end of expression", 7),
        ("=(1 + 2", "expected ')'", 8),
        ("=1 +", "unexpected end of expression", 5),
        ("=", "expression is empty", 2),
        ("=1 2", "unexpected '2'", 4),
        ("=bar(1)", "unknown function 'bar'", 2),
        ("=count(1, 2)", "function 'count' takes 1 argument, got 2", 2),
        ("=now(1)", "function 'now' takes no arguments, got 1", 2),
        ("=if a then b", "expected 'else'", 13),
        ("=for x in y", "expected 'return'", 12),
        ("=some x in y", "expected 'satisfies'", 13),
        ('="abc', "unterminated string", 2),
        ("=a ~ b", "unexpected character '~'", 4),
        ("={a: 1, a: 2}", "duplicate context key 'a'", 9),
        ("={1: 2}", "expected a context key", 3),
        ("=1 in [1..2", "expected ']' or ')' to close the range", 12),
        ('=@"tomorrow"', "is not a date, time", 3),
        ("=[1..3]", "a range such as [1..10] may only follow 'in'", 2),
        ("=count((1..3))", "a range such as [1..10] may only follow 'in'", 8),
        ("=x in [[1..3]]", "a range such as [1..10] may only follow 'in'", 8),
        ("=a.+", "expected a name after '.'", 4),
        ("=x(1)", "unknown function 'x'", 2),
        ("=(1)(2)", "only built-in functions can be called", 5),
        ("=1 then", "unexpected 'then'", 4),
        ("=then", "unexpected 'then'", 2),
        ('="\\uZZZZ"', "malformed \\u escape", 3),
        ("=12abc", "malformed number", 2),
        ("=10 * and x", "unexpected 'and'", 7),
        ("=x between 1 2", "expected 'and', found '2'", 14),
        ("=x in (1, 2) * 3", "unexpected '*'", 14),
        ("=for 1 in x return 1", "expected a variable name, found '1'", 6),
        ("=a.b.", "expected a name after '.', found end of expression", 6),
        ("=@1", "expected a string after '@'", 3),
        ("={a 1}", "expected ':', found '1'", 5),
        ("=`abc", "unterminated `name`", 2),
    ],
)
def test_syntax_errors_point_at_the_column(source: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source, "feel")
    assert message in caught.value.message
    assert caught.value.column == column
    assert f"at column {column} in {source!r}" in str(caught.value)
