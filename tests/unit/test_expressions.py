"""The expressions package as a whole: public API, errors, JSON storage, cost caps, safety."""

from __future__ import annotations

import ast
import random
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from lark.exceptions import LarkError

import translator.expressions as expressions
from translator.expressions import (
    Dialect,
    EvaluationContext,
    Expression,
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    _feel,
    _juel,
    _spel,
    compile_expression,
    evaluate,
)
from translator.expressions._ast import Constant, FunctionCall
from translator.expressions._functions import FUNCTIONS, SPECIAL_FORMS, arity
from translator.expressions._parsing import DialectParser, SyntaxRefusal, _Reading

SAMPLES: list[tuple[str, Dialect]] = [
    ("=amount > 100", "feel"),
    ('=if x.y then "a\\nb" else [1, 2.5, null, true]', "feel"),
    ("=items[price > 10 and item.sku != null].sku", "feel"),
    ("={a: 1, b: a + 1, c: for i in 1..3 return i ** 2}", "feel"),
    ("=some x in xs, y in ys satisfies x in (1, > 5, [2..3))", "feel"),
    ('=x between -1 and 1e3 or is defined(y) and string length("é") = 1', "feel"),
    ('=@"2024-01-01" + duration("P1D")', "feel"),
    ("${amount > 100 && !empty customer.name ? 'yes' : \"no\"}", "juel"),
    ("Dear ${name.toUpperCase()}, #{total div 2}", "juel"),
    ("#{#variables.requestPayload}", "spel"),
    ("#{#a?.b?.c() ?: {1, 'x'}.![#this] + {k: -2.5}['k']}", "spel"),
    ("Key #{execution.processBusinessKey}: #{#items.?[#this > 1].size()}", "spel"),
    ("just text", "spel"),
]


def test_public_surface_is_pinned() -> None:
    assert sorted(expressions.__all__) == [
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


@pytest.mark.parametrize(("source", "dialect"), SAMPLES)
def test_expression_round_trips_through_json(source: str, dialect: Dialect) -> None:
    expression = compile_expression(source, dialect)
    assert Expression.model_validate_json(expression.model_dump_json()) == expression
    assert expression.source == source
    assert expression.dialect == dialect
    assert str(expression) == source


def test_expression_is_frozen_and_hashable() -> None:
    expression = compile_expression("=[1, {a: 2}]", "feel")
    with pytest.raises(ValueError, match="frozen"):
        expression.source = "=2"  # type: ignore[misc]
    assert hash(expression) == hash(compile_expression("=[1, {a: 2}]", "feel"))


def test_stored_tree_is_validated() -> None:
    with pytest.raises(ValueError, match="kind"):
        Expression.model_validate(
            {"dialect": "feel", "source": "=1", "ast": {"kind": "nope", "value": 1}}
        )


def test_literal_types_survive_json() -> None:
    expression = compile_expression('=[1, 1.0, true, null, "1"]', "feel")
    restored = Expression.model_validate_json(expression.model_dump_json())
    result = evaluate(restored, {})
    assert [type(item) for item in result] == [int, float, bool, type(None), str]


def test_errors_share_a_root_and_read_well() -> None:
    syntax = ExpressionSyntaxError("expected ')'", "=foo(1", 7)
    failure = ExpressionEvaluationError("boom", "=x")
    assert isinstance(syntax, ExpressionError)
    assert isinstance(failure, ExpressionError)
    assert str(syntax) == "expected ')' at column 7 in '=foo(1'"
    assert str(failure) == "boom in '=x'"
    assert (syntax.message, syntax.source, syntax.column) == ("expected ')'", "=foo(1", 7)
    assert str(ExpressionSyntaxError("too long", "=1")) == "too long in '=1'"


def test_unknown_dialect_is_a_syntax_error() -> None:
    with pytest.raises(ExpressionSyntaxError, match="unknown expression dialect 'mvel'"):
        compile_expression("1", "mvel")  # type: ignore[arg-type]


def test_source_that_json_cannot_hold_is_rejected() -> None:
    with pytest.raises(ExpressionSyntaxError, match="invalid character"):
        compile_expression('="\ud800"', "feel")
    with pytest.raises(ExpressionSyntaxError, match="surrogate"):
        compile_expression('="\\ud800"', "feel")


def test_variables_may_be_any_mapping() -> None:
    expression = compile_expression("=a + 1", "feel")
    assert evaluate(expression, MappingProxyType({"a": 1})) == 2


def test_context_now_drives_feel_clock_functions() -> None:
    context = EvaluationContext(now=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert evaluate(compile_expression("=today()", "feel"), {}, context) == "2030-01-02"


def test_default_context_has_an_empty_execution() -> None:
    expression = compile_expression("${execution.processBusinessKey}", "juel")
    assert evaluate(expression, {}) is None
    assert EvaluationContext().execution == {}


# --- cost caps -------------------------------------------------------------------------------


def test_source_length_is_capped() -> None:
    with pytest.raises(ExpressionSyntaxError, match="longer than 10000 characters"):
        compile_expression("=" + "1 + " * 2_500 + "1", "feel")


@pytest.mark.parametrize(
    ("source", "dialect"),
    [
        ("=" + "(" * 150 + "1" + ")" * 150, "feel"),
        ("=" + "-" * 150 + "1", "feel"),
        ("=" + " + ".join(["1"] * 150), "feel"),
        ("=a" + ".b" * 150, "feel"),
        ("=" + "[" * 150 + "]" * 150, "feel"),
        ("${" + "!" * 150 + "true}", "juel"),
        ("${" + " + ".join(["1"] * 150) + "}", "juel"),
        ("#{" + "{" * 150 + "}" * 150 + "}", "spel"),
        ("#{#a" + "?.b" * 150 + "}", "spel"),
    ],
)
def test_nesting_depth_is_capped(source: str, dialect: Dialect) -> None:
    with pytest.raises(ExpressionSyntaxError, match="nested more than 100 levels"):
        compile_expression(source, dialect)


_NESTED_SHAPES: list[tuple[Dialect, str, str, str]] = [
    # dialect, opening repeated, core, closing repeated
    ("feel", "(", "1", ")"),
    ("feel", "1 + ", "1", ""),
    ("feel", "abs(", "1", ")"),
    ("feel", "{a: ", "1", "}"),
    ("feel", "[", "1", "]"),
    ("feel", "for x in [1] return ", "1", ""),
    ("feel", "some x in [1] satisfies ", "true", ""),
    ("feel", "if true then ", "1", " else 0"),
    ("juel", "!", "true", ""),
    ("spel", "{a: ", "1", "}"),
]
_MARKERS = {"feel": ("=", ""), "juel": ("${", "}"), "spel": ("#{", "}")}


@pytest.mark.parametrize(("dialect", "opening", "core", "closing"), _NESTED_SHAPES)
def test_deepest_accepted_nesting_still_round_trips_and_evaluates(
    dialect: Dialect, opening: str, core: str, closing: str
) -> None:
    start, end = _MARKERS[dialect]
    deepest = None
    for levels in range(1, 200):
        source = start + opening * levels + core + closing * levels + end
        try:
            deepest = compile_expression(source, dialect)
        except ExpressionSyntaxError as error:
            assert "nested more than 100 levels" in error.message
            break
    else:
        pytest.fail("the nesting cap was never reached")
    assert deepest is not None
    assert Expression.model_validate_json(deepest.model_dump_json()) == deepest
    evaluate(deepest, {})


@pytest.mark.parametrize(
    ("source", "dialect"),
    [
        ("=" + "(" * 4_000 + "1" + ")" * 4_000, "feel"),
        ("=" + "-" * 9_000 + "1", "feel"),
        ("=" + "not(" * 1_900 + "true" + ")" * 1_900, "feel"),
        ("=" + "[" * 4_000 + "]" * 4_000, "feel"),
        ("=" + "1+" * 4_000 + "1", "feel"),
        ("=a" + ".b" * 4_000, "feel"),
        ("=" + "if a then " * 500 + "1" + " else 2" * 500, "feel"),
        ("=" + "{a: " * 1_900 + "1" + "}" * 1_900, "feel"),
        ("${" + "!" * 9_000 + "x}", "juel"),
        ("${" + "(" * 4_000 + "x" + ")" * 4_000 + "}", "juel"),
        ("#{" + "{" * 4_000 + "}" * 4_001, "spel"),
        ("#{#a" + ".![#this" * 1_000 + "]" * 1_000 + "}", "spel"),
    ],
)
def test_hostile_nesting_is_refused_without_recursion(source: str, dialect: Dialect) -> None:
    with pytest.raises(ExpressionSyntaxError, match="nested more than 100 levels"):
        compile_expression(source, dialect)


def test_long_sources_are_shortened_in_messages() -> None:
    source = "=" + "1 + " * 60 + "(" + "1 + " * 60 + "1"
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source, "feel")
    text = str(caught.value)
    assert text.startswith(f"expected ')', found end of expression at column {len(source) + 1}")
    assert len(text) < 200
    assert caught.value.source == source


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("=for x in 1..1000, y in 1..1000 return 1", "more than 100000 steps"),
        ("=count(for i in 1..1000000 return i)", "more than 100000 steps"),
        ("=some x in 1..1000000 satisfies false", "more than 100000 steps"),
        (
            '={a: "' + "x" * 1000 + '", b: a+a, c: b+b, d: c+c, e: d+d, f: e+e, g: f+f, '
            "h: g+g, i: h+h, j: i+i, k: j+j}",
            "string longer than 1000000",
        ),
        (
            "={a: for i in 1..20000 return i, b: concatenate(a, a, a, a, a, a)}",
            "more than 100000 steps",
        ),
        ("=2 ** 5000", "larger than 1024 bits"),
        ("={a: 2 ** 1000, b: a * a}", "larger than 1024 bits"),
        ("=for x in 1..500 return list contains(big, x)", "more than 100000 steps"),
    ],
)
def test_evaluation_cost_is_capped(source: str, message: str) -> None:
    expression = compile_expression(source, "feel")
    with pytest.raises(ExpressionEvaluationError, match=message):
        evaluate(expression, {"big": list(range(1000))})


def test_deep_data_fails_cleanly() -> None:
    deep: Any = []
    for _ in range(5_000):
        deep = [deep]
    for source in ("=x = x", "=x", "=string(x)"):
        with pytest.raises(ExpressionEvaluationError):
            evaluate(compile_expression(source, "feel"), {"x": deep})


def test_unexpected_failures_are_wrapped() -> None:
    class Hostile(dict[str, Any]):
        def __contains__(self, key: object) -> bool:
            raise RuntimeError("no")

    with pytest.raises(ExpressionEvaluationError, match="internal error: RuntimeError: no"):
        evaluate(compile_expression("=a", "feel"), Hostile())


def test_values_json_cannot_hold_are_rejected() -> None:
    with pytest.raises(ExpressionEvaluationError, match="cannot be returned"):
        evaluate(compile_expression("=a", "feel"), {"a": {1, 2}})
    with pytest.raises(ExpressionEvaluationError, match="not a finite number"):
        evaluate(compile_expression("=a * 10", "feel"), {"a": 1e308})


# --- safety ----------------------------------------------------------------------------------

_FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "open", "getattr", "setattr"}
_CLOCK_CALLS = {"now", "today", "utcnow", "time", "monotonic"}
_FORBIDDEN_MODULES = {"temporalio", "random", "time", "os", "subprocess", "socket", "importlib"}
_ALLOWED_MODULES = {"importlib.resources"}  # _parsing.py reads the package's own grammar files


def test_package_has_no_dynamic_code_io_clock_or_randomness() -> None:
    package = Path(expressions.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in _FORBIDDEN_CALLS, f"{path.name}: {node.func.id}()"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in _CLOCK_CALLS, f"{path.name}: .{node.func.attr}()"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names]
                modules = names if isinstance(node, ast.Import) else [node.module or ""]
                for module in set(modules) - _ALLOWED_MODULES:
                    assert module.split(".")[0] not in _FORBIDDEN_MODULES, f"{path.name}: {module}"


_FUZZ_PIECES = [
    *"()[]{}.,:?!#$@=<>+-*/%^'\"`\\ \n~",
    *("..", "**", "?.", "?:", ".?[", ".![", "${", "#{", "}", "&&", "||", "==", "!="),
    *("and", "or", "not", "if", "then", "else", "for", "in", "return", "some", "every"),
    *("satisfies", "between", "null", "true", "empty", "div", "mod", "eq", "T(", "new"),
    *("x", "items", "item", "a.b", "#this", "#variables", "execution", "count(", "sum("),
    *("string length(", "date(", "now()", "is defined(", "1", "0", "-1", "2.5", "1e999"),
    *('"s"', "'s'", "999999999999999999999", "1..3", "[1,2]", "{a:1}", "\\u12", "é"),
]
_FUZZ_VARIABLES = {
    "x": 3,
    "items": [{"a": {"b": 1}}, 2, "s", None, [1]],
    "a": {"b": [1, 2]},
    "execution": "shadowed",
}


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        position = rng.randint(0, len(chars))
        action = rng.choice(("insert", "delete", "swap"))
        if action == "insert":
            chars.insert(position, rng.choice(_FUZZ_PIECES))
        elif chars and action == "delete":
            del chars[min(position, len(chars) - 1)]
        elif len(chars) > 1:
            other = rng.randrange(len(chars))
            chars[min(position, len(chars) - 1)], chars[other] = chars[other], chars[0]
    return "".join(chars)


@pytest.mark.parametrize("dialect", ["feel", "juel", "spel"])
def test_fuzzed_text_only_raises_expression_errors(dialect: Dialect) -> None:
    rng = random.Random(f"expressions-{dialect}")
    marker = {"feel": "=", "juel": "${", "spel": "#{"}[dialect]
    context = EvaluationContext(execution={"id": 1}, now=datetime(2024, 1, 1, tzinfo=UTC))
    compiled = 0
    for round_number in range(1_500):
        if round_number % 2:
            text = _mutate(rng, rng.choice(SAMPLES)[0])
        else:
            pieces = rng.choices(_FUZZ_PIECES, k=rng.randint(1, 12))
            text = marker + " ".join(pieces) + ("}" if marker != "=" else "")
        try:
            expression = compile_expression(text, dialect)
            compiled += 1
            evaluate(expression, _FUZZ_VARIABLES, context)
        except ExpressionError:
            pass
    assert compiled > 50  # the fuzzer also reaches the evaluator


def _by_lark_alone(parser: DialectParser, text: str) -> Any:
    """What Lark's own parser loop builds for ``text`` (None if it refuses it)."""
    try:
        return _Reading(parser._wording).run(parser._lark, text)
    except (LarkError, SyntaxRefusal):
        return None


@pytest.mark.parametrize("dialect", ["feel", "juel", "spel"])
def test_the_fast_path_builds_what_lark_builds_and_refuses_nothing_it_accepts(
    dialect: Dialect,
) -> None:
    """The fast path drives Lark's table with a loop of its own: on every text, fuzzed too,
    it builds the very tree Lark's loop builds, or leaves the text to it (None)."""
    parser = {"feel": _feel.PARSER, "juel": _juel.PARSER, "spel": _spel.PARSER}[dialect]
    rng = random.Random(f"fast-path-{dialect}")
    marker = {"feel": "", "juel": "${", "spel": "#{"}[dialect]
    texts = [text.removeprefix("=") for text, sample in SAMPLES if sample == dialect]
    texts += [_mutate(rng, rng.choice(texts)) for _ in range(1_000)]
    texts += [marker + " ".join(rng.choices(_FUZZ_PIECES, k=8)) for _ in range(1_000)]
    accepted = 0
    for text in texts:
        expected = _by_lark_alone(parser, text)
        assert parser._fast.parse(text) == expected, text
        accepted += expected is not None
    assert accepted > 100


# --- the grammars ----------------------------------------------------------------------------


@pytest.mark.parametrize("parser", [_feel.PARSER, _juel.PARSER, _spel.PARSER])
def test_every_grammar_rule_has_a_builder_method(parser: DialectParser) -> None:
    """A rule without one would leave a Lark tree where an AST node belongs."""
    lark = parser._lark
    builder = lark.options.transformer
    for rule in lark.rules:
        name = rule.alias or rule.origin.name
        kept = [symbol for symbol in rule.expansion if not getattr(symbol, "filter_out", False)]
        inlined = name.startswith("_") or (rule.options.expand1 and len(kept) == 1)
        assert inlined or callable(getattr(builder, name, None)), f"rule {name!r} has no builder"


@pytest.mark.parametrize("name", sorted({*FUNCTIONS, *SPECIAL_FORMS}))
def test_every_builtin_function_name_parses_as_a_call(name: str) -> None:
    least, _ = arity(name) or (0, None)
    spaced = name.replace(" ", "  \n ")  # FEEL names with spaces may break anywhere
    arguments = ", ".join(["1"] * least)
    node = compile_expression(f"={spaced}({arguments})", "feel").ast
    assert node == FunctionCall(name=name, args=tuple(Constant(value=1) for _ in range(least)))


@pytest.mark.parametrize(
    ("source", "dialect", "variables", "expected"),
    [
        ("=orange or andy", "feel", {"orange": False, "andy": True}, True),
        ("=iffy + nullable", "feel", {"iffy": 1, "nullable": 2}, 3),
        ("={then: 1, else: 2, in: 3}.else", "feel", {}, 2),
        ("=order.and", "feel", {"order": {"and": 2}}, 2),
        ("=for then in [1, 2] return 1", "feel", {}, [1, 1]),
        ("${orange || andy}", "juel", {"orange": False, "andy": True}, True),
        ("#{#orange OR #andy}", "spel", {"orange": False, "andy": True}, True),
    ],
)
def test_keywords_are_whole_words_and_names_where_no_keyword_can_stand(
    source: str, dialect: Dialect, variables: dict[str, Any], expected: Any
) -> None:
    assert evaluate(compile_expression(source, dialect), variables) == expected
