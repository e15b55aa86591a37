"""DMN decisions: compiling DMN files (what is refused, and how it is said), FEEL unary tests,
and evaluating decision tables (every hit policy) and literal expressions with the decisions
they require."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import translator
from tests.helpers.dmn import dmn, literal, table
from tests.helpers.fuzz import EDITS, fuzz
from translator.expressions import ExpressionSyntaxError, evaluate
from translator.expressions._unary_tests import compile_unary_tests
from workflows._decisions import DecisionFailure, evaluate_decision

DINNER = Path(__file__).resolve().parents[1] / "fixtures" / "dmn" / "dinner.dmn"


def decide(xml: str, decision_id: str, **variables: Any) -> Any:
    graph = translator.compile_dmn_bytes(xml.encode(), "d.dmn")
    return evaluate_decision(graph, decision_id, variables).value


def refusals(xml: str) -> list[str]:
    with pytest.raises(translator.TranslationError) as refused:
        translator.compile_dmn_bytes(xml.encode(), "d.dmn")
    return [f"[{p.element_id}] {p.message}" for p in refused.value.problems]


# --- unary tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tests", "value", "passes"),
    [
        ("-", 5, True),
        ("", None, True),
        ("< 10", 5, True),
        ("< 10", 15, False),
        ('"Fall","Winter"', "Winter", True),
        ('"Fall","Winter"', "Spring", False),
        ("[1..5]", 5, True),
        ("(1..5)", 5, False),
        ("> 10, < 0", -1, True),
        ('not("Fall")', "Fall", False),
        ('not("Fall")', "Winter", True),
        ("not(< 5, > 10)", 7, True),
        ("limit", 3, True),
        ("? > limit", 4, True),
        ("? > limit", 2, False),
        ('starts with(?, "A")', "Anna", True),
        ("true", True, True),
        ("true", "true", False),
        ("null", None, True),
        ("< 10", "text", False),
        ('not ("Fall")', "Fall", False),  # feel-scala allows the space
        ("limit > 2", "anything", True),  # an expression that is true passes whatever the input
        ("limit > 5", 3, False),
        ("limit + 1", 4, True),  # otherwise the input is compared with its value
        ("false", True, False),
        ("[limit, 7]", 7, True),
        ('upper case("a")', "b", False),  # a value the input is not: false, not null
        ("limit > 5", "x", False),
    ],
)
def test_unary_tests_pass_as_feel_says(tests: str, value: Any, passes: bool) -> None:
    verdict = evaluate(compile_unary_tests(tests), {"?": value, "limit": 3})
    assert (verdict is True) is passes  # null (types that do not compare) does not pass


@pytest.mark.parametrize(
    ("tests", "column", "message"),
    [
        ("< ", 2, "end too early"),
        ('"a" "b"', 5, "expected ')'"),
        ("  >= 1 +", 9, "end too early"),
        ("a ? b", 3, "found '?'"),
        ("1) or (true", None, "unbalanced parentheses"),
    ],
)
def test_bad_unary_tests_say_where(tests: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as refused:
        compile_unary_tests(tests)
    assert refused.value.column == column
    assert message in refused.value.message


# --- evaluating --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "guests", "children", "dish", "beverages"),
    [
        (10, 4, False, "Spareribs", ["Aecht Schlenkerla Rauchbier", "Water"]),
        (1, 10, True, "Stew", ["Guiness", "Apple Juice", "Water"]),
        (4, 6, False, "Steak", ["Pinot Noir", "Water"]),
    ],
)
def test_a_modelers_file_evaluates_with_its_required_decisions(
    month: int, guests: int, children: bool, dish: str, beverages: list[str]
) -> None:
    graph = translator.compile_dmn_file(DINNER)
    assert set(graph.decisions) == {"dish", "season", "beverages"}
    assert graph.decisions["beverages"].required == ("dish",)
    variables = {"month": month, "guestCount": guests, "guestsWithChildren": children}
    assert evaluate_decision(graph, "dish", variables).value == dish
    result = evaluate_decision(graph, "beverages", variables)
    assert result.value == beverages
    assert result.rules == [{"beverage": b} for b in beverages]


RISK_RULES = [
    (["< 18"], ['"high"']),
    (["< 25"], ['"medium"']),
    (["-"], ['"low"']),
]


@pytest.mark.parametrize(
    ("hit_policy", "age", "expected"),
    [
        ("FIRST", 16, "high"),
        ("FIRST", 30, "low"),
        ("RULE ORDER", 16, ["high", "medium", "low"]),
        ("COLLECT", 20, ["medium", "low"]),
        ("PRIORITY", 20, "medium"),
        ("OUTPUT ORDER", 16, ["high", "medium", "low"]),
    ],
)
def test_hit_policies_pick_their_matches(hit_policy: str, age: int, expected: Any) -> None:
    rules = RISK_RULES if hit_policy != "OUTPUT ORDER" else list(reversed(RISK_RULES))
    xml = dmn(
        table(
            "risk",
            ["age"],
            ["risk"],
            rules,
            hit_policy=hit_policy,
            output_values={"risk": '"high","medium","low"'},
        )
    )
    assert decide(xml, "risk", age=age) == expected


def test_unique_with_two_matches_and_any_with_different_outputs_fail() -> None:
    unique = dmn(table("risk", ["age"], ["risk"], RISK_RULES))
    assert decide(unique, "risk", age=30) == "low"
    with pytest.raises(DecisionFailure, match="several rules match: risk_r1, risk_r2"):
        decide(unique, "risk", age=20)
    any_ = dmn(table("risk", ["age"], ["risk"], RISK_RULES, hit_policy="ANY"))
    with pytest.raises(DecisionFailure, match="different outputs"):
        decide(any_, "risk", age=20)
    same = [(["< 18"], ['"x"']), (["< 25"], ['"x"'])]
    assert decide(dmn(table("same", ["age"], ["v"], same, hit_policy="ANY")), "same", age=1) == "x"


@pytest.mark.parametrize(
    ("aggregation", "expected"), [("SUM", 60), ("MIN", 10), ("MAX", 30), ("COUNT", 3)]
)
def test_collect_aggregates(aggregation: str, expected: int) -> None:
    rules = [(["-"], ["10"]), (["-"], ["20"]), (["-"], ["30"]), (["> 100"], ["1000"])]
    xml = dmn(
        table("fee", ["amount"], ["fee"], rules, hit_policy="COLLECT", aggregation=aggregation)
    )
    graph = translator.compile_dmn_bytes(xml.encode(), "d.dmn")
    result = evaluate_decision(graph, "fee", {"amount": 5})
    assert result.value == expected
    assert result.rules == [{"fee": expected}]


def test_no_match_several_outputs_and_empty_output_entries() -> None:
    xml = dmn(
        table(
            "offer",
            ["tier", "amount"],
            ["discount", "note"],
            [(['"gold"', ">= 100"], ["0.1", ""]), (['"gold"', "< 100"], ["0.05", '"small"'])],
        )
    )
    assert decide(xml, "offer", tier="gold", amount=150) == {"discount": 0.1, "note": None}
    assert decide(xml, "offer", tier="silver", amount=150) is None
    collected = xml.replace('hitPolicy="UNIQUE"', 'hitPolicy="COLLECT"')
    assert decide(collected, "offer", tier="silver", amount=1) is None  # dmn-scala: null too


def test_default_output_entries_answer_when_no_rule_matches() -> None:
    xml = dmn(
        table("dish", ["season"], ["dish", "side"], [(['"Fall"'], ['"Ribs"', '"Fries"'])])
    ).replace(
        '<output id="dish_dish" name="dish">',
        '<output id="dish_dish" name="dish"><defaultOutputEntry><text>"Salad"</text>'
        "</defaultOutputEntry>",
    )
    graph = translator.compile_dmn_bytes(xml.encode(), "d.dmn")
    matched = evaluate_decision(graph, "dish", {"season": "Fall"})
    assert matched.value == {"dish": "Ribs", "side": "Fries"}
    # Only one output has a default: the result is its value (dmn-scala), the rule map its own.
    unmatched = evaluate_decision(graph, "dish", {"season": "Spring"})
    assert (unmatched.value, unmatched.rules) == ("Salad", [{"dish": "Salad"}])


def test_an_input_entry_that_is_neither_true_nor_false_fails_the_decision() -> None:
    xml = dmn(
        table("size", ["weight"], ["size"], [(["< 10"], ['"small"']), ([">= 10"], ['"big"'])])
    )
    assert decide(xml, "size", weight=3) == "small"
    with pytest.raises(DecisionFailure, match="input entry '< 10' of rule 'size_r0' is None"):
        decide(xml, "size")  # no weight: null < 10 is null, as in Zeebe an evaluation failure


def test_a_false_condition_is_a_rule_that_does_not_match() -> None:
    rules = [(['"gold"', "amount > 100"], ['"big gold"']), (["-", "-"], ['"other"'])]
    xml = dmn(table("tier", ["tier", "amount"], ["label"], rules, hit_policy="FIRST"))
    assert decide(xml, "tier", tier="gold", amount=50) == "other"
    assert decide(xml, "tier", tier="gold", amount=500) == "big gold"


def test_output_values_only_matter_where_the_hit_policy_ranks() -> None:
    xml = dmn(
        table("score", ["x"], ["score"], [(["-"], ["5"])], output_values={"score": "[1..10]"})
    )
    assert decide(xml, "score", x=1) == 5


def test_a_required_decision_is_seen_by_its_variable_name() -> None:
    xml = dmn(
        literal("base", "2").replace('<variable name="base" />', '<variable name="basePrice" />'),
        literal("total", "basePrice + 1", requires=["base"]),
    )
    assert decide(xml, "total") == 3


def test_a_literal_expression_and_a_chain_of_required_decisions() -> None:
    xml = dmn(
        literal("base", "price * quantity"),
        literal("taxed", "base * 1.2", requires=["base"]),
        table(
            "label",
            ["taxed"],
            ["label"],
            [([">= 100"], ['"big"']), (["< 100"], ['"small"'])],
            requires=["taxed", "base"],
        ),
    )
    assert decide(xml, "taxed", price=10, quantity=5) == 60
    assert decide(xml, "label", price=10, quantity=10) == "big"


def test_an_expression_that_fails_names_the_decision() -> None:
    xml = dmn(literal("broken", "for i in 1..n return i"))
    with pytest.raises(DecisionFailure, match="decision 'broken': failed to evaluate"):
        decide(xml, "broken")


def test_an_unknown_decision_lists_the_known_ones() -> None:
    with pytest.raises(DecisionFailure, match="its decisions: a, b"):
        decide(dmn(literal("a", "1"), literal("b", "2")), "c")


# --- refusing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (
            dmn(literal("a", "1", requires=["b"]), literal("b", "2", requires=["a"])),
            "[a] decisions require each other in a cycle: a → b → a",
        ),
        (dmn(literal("a", "1", requires=["zzz"])), "[a] decision requires 'zzz', which is not"),
        (
            dmn(table("t", ["x"], ["y"], [(["< 1", "2"], ['"a"'])])),
            "[t_r0] rule has 2 input and 1 output entries; the table has 1 inputs and 1 outputs",
        ),
        (
            dmn(table("t", ["x"], ["y"], [(["<< 1"], ['"a"'])])),
            "input entry is not valid FEEL unary tests",
        ),
        (dmn(table("t", ["x +"], ["y"], [])), "input expression is not valid FEEL"),
        (
            dmn(table("t", ["x"], ["y"], [], hit_policy="PRIORITY")),
            "[t_table] hit policy PRIORITY ranks matches by output values: list them on an output",
        ),
        (
            dmn(table("t", ["x"], ["y"], [], aggregation="SUM")),
            "[t_table] aggregation 'SUM' needs hit policy COLLECT",
        ),
        (dmn(table("t", ["x"], ["y"], [], hit_policy="SOMETIMES")), "'SOMETIMES' is not a DMN"),
        (
            dmn(literal("a", "1")).replace(
                "<literalExpression>", '<literalExpression expressionLanguage="javascript">'
            ),
            "literalExpression is written in 'javascript', which cannot be evaluated here",
        ),
        (
            dmn('<decision id="ctx"><context /></decision>'),
            "[ctx] decision logic <context> is not supported here",
        ),
        (
            dmn(
                '<decision id="k"><knowledgeRequirement><requiredKnowledge href="#bkm" />'
                "</knowledgeRequirement><literalExpression><text>1</text></literalExpression>"
                "</decision>"
            ),
            "[k] decision invokes a business knowledge model",
        ),
        (dmn(literal("a", "1"), literal("a", "2")), "[a] decision id 'a' is used twice"),
        (dmn(), "the file has no decision"),
        (
            dmn(table("t", ["x"], ["a", "b"], [])).replace('name="b"', 'name="a"'),
            "[t_table] two outputs of the table have the same name",
        ),
        (
            dmn(table("t", ["x"], ["a", "b"], [], hit_policy="COLLECT", aggregation="SUM")),
            "[t_table] aggregation SUM needs a table with one output",
        ),
        (
            dmn(table("t", ["x +"], ["y"], [(["1"], ["2"])])),
            "input expression is not valid FEEL",
        ),
        (
            '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn='
            '"http://www.omg.org/spec/BPMN/20100524/MODEL" />',
            "root element is <definitions>, expected DMN <definitions>",
        ),
        (
            dmn(table("t", ["x"], ["a", "b"], [])).replace(' name="b"', ""),
            "each output of a table with several outputs needs a name",
        ),
    ],
)
def test_what_cannot_be_evaluated_is_refused_by_name(xml: str, expected: str) -> None:
    messages = refusals(xml)
    assert any(expected in message for message in messages), messages


def test_camunda_7_decisions_carry_their_version_tag() -> None:
    xml = dmn(literal("fee", "1")).replace(
        '<decision id="fee" name="fee">',
        '<decision id="fee" name="fee" xmlns:camunda="http://camunda.org/schema/1.0/dmn" '
        'camunda:versionTag="2025">',
    )
    graph = translator.compile_dmn_bytes(xml.encode(), "d.dmn")
    assert graph.decisions["fee"].version_tag == "2025"


def test_a_failed_input_is_reported_once_not_again_by_every_rule() -> None:
    messages = refusals(dmn(table("t", ["x +", "y"], ["z"], [(["1", "2"], ["3"])] * 3)))
    assert len(messages) == 1 and "input expression is not valid FEEL" in messages[0]


def test_the_content_hash_ignores_where_the_file_lay() -> None:
    data = DINNER.read_bytes()
    first = translator.compile_dmn_bytes(data, "a/dinner.dmn")
    second = translator.compile_dmn_bytes(data, "b/dinner.dmn")
    assert first.content_hash == second.content_hash
    changed = translator.compile_dmn_bytes(data.replace(b"Spareribs", b"Ribs"), "dinner.dmn")
    assert changed.content_hash != first.content_hash


# --- fuzzing -----------------------------------------------------------------------------------

DMN_TAGS = [
    "decision",
    "decisionTable",
    "input",
    "inputExpression",
    "output",
    "rule",
    "inputEntry",
    "outputEntry",
    "text",
    "literalExpression",
    "informationRequirement",
    "requiredDecision",
    "variable",
    "outputValues",
    "knowledgeRequirement",
]
DMN_ATTRIBUTES = ["id", "name", "href", "hitPolicy", "aggregation", "expressionLanguage"]


def random_dmn(rng: random.Random, _: bytes) -> bytes:
    values = ["a", "#a", "COLLECT", "SUM", "PRIORITY", "", "feel", "juel", "RULE ORDER"]

    def element(depth: int) -> str:
        tag = rng.choice(DMN_TAGS)
        attributes = " ".join(
            f'{rng.choice(DMN_ATTRIBUTES)}="{rng.choice(values)}"' for _ in range(rng.randint(0, 3))
        )
        children = "".join(element(depth + 1) for _ in range(rng.randint(0, 3 if depth < 4 else 0)))
        text = rng.choice(["", "&lt; 10", '"a","b"', "x +", "-", "not(", "[1..", "?"])
        return f"<{tag} {attributes}>{text}{children}</{tag}>"

    return dmn(*(element(0) for _ in range(rng.randint(1, 4)))).encode()


def test_fuzzed_decision_files_only_ever_raise_translation_error() -> None:
    policies = ["UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"]
    synthesized = dmn(
        *(
            table(
                f"t{index}",
                ["age", "tier"],
                ["risk"],
                [(["< 18", '"gold"'], ['"high"']), (["-", "-"], ['"low"'])],
                hit_policy=policy,
                output_values={"risk": '"high","low"'},
            )
            for index, policy in enumerate(policies)
        ),
        literal("sum", "t0 + 1", requires=["t0"]),
    )
    seeds = [DINNER.read_bytes(), synthesized.encode()]
    ran = fuzz(
        translator.compile_dmn_bytes,
        seeds,
        [*EDITS, random_dmn],
        seed=20261125,
        cases=2000,
        budget_seconds=3.0,
    )
    assert ran > 100
