"""compile_dmn_bytes / compile_dmn_file: DMN XML in, a validated ``DecisionGraph`` out.

DMN 1.1 to 1.5, as Camunda Modeler writes it for Zeebe and Camunda 7: decision tables (every
hit policy, COLLECT aggregations) and literal expressions, in FEEL, and decisions that require
other decisions. What cannot be evaluated here (business knowledge models, boxed contexts,
invocations, other expression languages) is refused by name; input data, knowledge sources,
annotations and diagrams say nothing about evaluation and are skipped. All problems of a file
are reported in one ``TranslationError``, like a BPMN file's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from translator._context import CompileContext
from translator._dmn_model import (
    Decision,
    DecisionGraph,
    DecisionInput,
    DecisionLogic,
    DecisionOutput,
    DecisionRule,
    DecisionTable,
    HitPolicy,
    LiteralDecision,
)
from translator._errors import TranslationError
from translator._namespaces import local_name, zeebe
from translator._xml import parse_xml, read_model_file
from translator.expressions import (
    Expression,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    compile_expression,
    evaluate,
)
from translator.expressions._unary_tests import compile_unary_tests

DMN_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",  # 1.1
        "http://www.omg.org/spec/DMN/20180521/MODEL/",  # 1.2
        "https://www.omg.org/spec/DMN/20191111/MODEL/",  # 1.3, Camunda Modeler's default
        "https://www.omg.org/spec/DMN/20211108/MODEL/",  # 1.4
        "https://www.omg.org/spec/DMN/20230324/MODEL/",  # 1.5
    }
)
HIT_POLICIES: tuple[HitPolicy, ...] = (
    "UNIQUE",
    "FIRST",
    "PRIORITY",
    "ANY",
    "COLLECT",
    "RULE ORDER",
    "OUTPUT ORDER",
)
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")
RANKED = frozenset({"PRIORITY", "OUTPUT ORDER"})
ZEEBE_VERSION_TAG = zeebe("versionTag")
CAMUNDA_VERSION_TAG = "{http://camunda.org/schema/1.0/dmn}versionTag"
"""Camunda 7's DMN extension namespace (not its BPMN one)."""
SKIPPED = frozenset(
    {
        "inputData",
        "knowledgeSource",
        "businessKnowledgeModel",  # only refused where a decision invokes one
        "decisionService",
        "textAnnotation",
        "association",
        "itemDefinition",
        "extensionElements",
        "description",
        "import",
        "group",
    }
)
OTHER_LOGIC = frozenset(
    {
        "context",
        "invocation",
        "relation",
        "list",
        "functionDefinition",
        "conditional",
        "filter",
        "for",
        "every",
        "some",
    }
)


def compile_dmn_file(path: str | Path) -> DecisionGraph:
    """Compile the decisions of a ``.dmn`` file.

    Raises:
        TranslationError: the file cannot be read or has problems; ``problems`` lists them all.
    """
    path = Path(path)
    data = read_model_file(path)
    return compile_dmn_bytes(data, str(path))


def compile_dmn_bytes(data: bytes, name: str) -> DecisionGraph:
    """Compile the decisions in ``data``; ``name`` is used in messages.

    Raises:
        TranslationError: the XML is not DMN or a decision has problems; all are listed.
    """
    ctx = CompileContext(name)
    root = parse_xml(ctx, data)
    if root is None:
        raise TranslationError(ctx.problems)
    namespace = _namespace(root)
    if local_name(root.tag) != "definitions" or namespace not in DMN_NAMESPACES:
        ctx.problem(root, f"root element is <{local_name(root.tag)}>, expected DMN <definitions>")
        raise TranslationError(ctx.problems)
    reader = _Reader(ctx, namespace, root.get("expressionLanguage"))
    decisions: dict[str, Decision] = {}
    for child in _elements(root, namespace):
        kind = local_name(child.tag)
        if kind == "decision":
            decision = reader.decision(child)
            if decision is not None and decision.id in decisions:
                ctx.problem(child, f"decision id {decision.id!r} is used twice")
            elif decision is not None:
                decisions[decision.id] = decision
        elif kind not in SKIPPED:
            ctx.problem(child, f"{kind} is not supported in a DMN file here")
    _check_requirements(ctx, decisions)
    if not decisions and not ctx.problems:
        ctx.problem(root, "the file has no decision")
    if ctx.problems:
        raise TranslationError(ctx.problems)
    return DecisionGraph(
        id=root.get("id") or Path(name).stem,
        name=root.get("name"),
        source=name,
        decisions=decisions,
    ).with_content_hash()


def _namespace(element: etree._Element) -> str:
    tag = element.tag
    return tag[1 : tag.index("}")] if isinstance(tag, str) and tag.startswith("{") else ""


def _elements(parent: etree._Element, namespace: str) -> Iterator[etree._Element]:
    """The child elements of ``parent`` in the DMN namespace (diagrams and extensions of
    other namespaces say nothing about evaluation)."""
    prefix = f"{{{namespace}}}"
    for child in parent:
        if isinstance(child.tag, str) and child.tag.startswith(prefix):
            yield child


class _Reader:
    def __init__(self, ctx: CompileContext, namespace: str, language: str | None) -> None:
        self.ctx = ctx
        self.ns = f"{{{namespace}}}"
        self.language = language

    def decision(self, element: etree._Element) -> Decision | None:
        decision_id = element.get("id", "").strip()
        if not decision_id:
            self.ctx.problem(element, "decision has no id")
            return None
        required = []
        for requirement in self._all(element, "informationRequirement"):
            for reference in self._all(requirement, "requiredDecision"):
                href = reference.get("href", "")
                required.append(href.rpartition("#")[2].strip())
        if self._first(element, "knowledgeRequirement") is not None:
            self.ctx.problem(
                element,
                "decision invokes a business knowledge model, which is not supported here; "
                "write its logic in the decision (a decision table or a literal expression)",
            )
        logic = self._logic(element)
        if logic is None:
            return None
        line = element.sourceline
        variable = self._first(element, "variable")
        result_name = (variable.get("name") or "").strip() if variable is not None else ""
        return Decision(
            id=decision_id,
            name=element.get("name"),
            line=line if isinstance(line, int) else None,
            required=tuple(required),
            result_name=result_name if result_name and result_name != decision_id else None,
            version_tag=self._version_tag(element),
            logic=logic,
        )

    def _version_tag(self, decision: etree._Element) -> str | None:
        """``zeebe:versionTag value`` among its extension elements, or ``camunda:versionTag``."""
        extensions = self._first(decision, "extensionElements")
        tag = extensions.find(ZEEBE_VERSION_TAG) if extensions is not None else None
        value = tag.get("value") if tag is not None else decision.get(CAMUNDA_VERSION_TAG)
        return value.strip() or None if value is not None else None

    def _logic(self, decision: etree._Element) -> DecisionLogic | None:
        table = self._first(decision, "decisionTable")
        if table is not None:
            return self._table(table)
        literal = self._first(decision, "literalExpression")
        if literal is not None:
            expression = self._expression(literal, self._text(literal), "literal expression")
            return None if expression is None else LiteralDecision(expression=expression)
        other = next(
            (
                local_name(c.tag)
                for c in _elements(decision, self.ns[1:-1])
                if local_name(c.tag) in OTHER_LOGIC
            ),
            None,
        )
        if other is not None:
            self.ctx.problem(
                decision,
                f"decision logic <{other}> is not supported here; use a decision table or a "
                "literal expression",
            )
        else:
            self.ctx.problem(decision, "decision has no decision table or literal expression")
        return None

    def _table(self, table: etree._Element) -> DecisionTable | None:
        ok = True
        hit_policy = " ".join((table.get("hitPolicy") or "UNIQUE").split()).upper()
        aggregation = (table.get("aggregation") or "").strip().upper() or None
        if hit_policy not in HIT_POLICIES:
            self.ctx.problem(table, f"hit policy {hit_policy!r} is not a DMN hit policy")
            return None
        outputs_written = self._all(table, "output")
        if aggregation is not None and (hit_policy != "COLLECT" or aggregation not in AGGREGATIONS):
            self.ctx.problem(
                table,
                f"aggregation {aggregation!r} needs hit policy COLLECT and one of "
                f"{', '.join(AGGREGATIONS)}",
            )
            ok = False
        elif aggregation is not None and len(outputs_written) != 1:
            self.ctx.problem(table, f"aggregation {aggregation} needs a table with one output")
            ok = False
        inputs = []
        for element in self._all(table, "input"):
            source = self._first(element, "inputExpression")
            text = self._text(source) if source is not None else ""
            if not text.strip():
                self.ctx.problem(element, "input has no input expression")
                ok = False
                continue
            assert source is not None
            expression = self._expression(source, text, "input expression")
            ok = ok and expression is not None
            if expression is not None:
                inputs.append(DecisionInput(expression=expression, label=element.get("label")))
        outputs = [self._output(element, hit_policy in RANKED) for element in outputs_written]
        if not outputs:
            self.ctx.problem(table, "decision table has no output")
            return None
        names = [output.name for output in outputs if output is not None]
        if len(outputs) > 1 and None in names:
            self.ctx.problem(table, "each output of a table with several outputs needs a name")
            ok = False
        elif len(set(names)) != len(names):
            self.ctx.problem(table, "two outputs of the table have the same name")
            ok = False
        if hit_policy in RANKED and not any(o is not None and o.priorities for o in outputs):
            self.ctx.problem(
                table,
                f"hit policy {hit_policy} ranks matches by output values: list them on an "
                'output, highest priority first ("high","medium","low")',
            )
            ok = False
        if not ok:  # the rules would only repeat the table's problems
            return None
        rules = [
            self._rule(element, len(inputs), len(outputs)) for element in self._all(table, "rule")
        ]
        if not ok or any(o is None for o in outputs) or any(r is None for r in rules):
            return None
        return DecisionTable(
            hit_policy=hit_policy,
            aggregation=aggregation,
            inputs=tuple(inputs),
            outputs=tuple(o for o in outputs if o is not None),
            rules=tuple(r for r in rules if r is not None),
        )

    def _output(self, element: etree._Element, ranked: bool) -> DecisionOutput | None:
        """An output; its output values are read (as priorities) only where the hit policy
        ranks by them: elsewhere they are a constraint, not checked here."""
        name = (element.get("name") or "").strip() or None
        values = self._first(element, "outputValues")
        text = self._text(values).strip() if values is not None else ""
        priorities = self._priorities(element, text) if text and ranked else ()
        default_entry = self._first(element, "defaultOutputEntry")
        default_text = self._text(default_entry) if default_entry is not None else ""
        default = None
        if default_entry is not None and default_text.strip():
            default = self._expression(default_entry, default_text, "default output entry")
            if default is None:
                return None
        if priorities is None:
            return None
        return DecisionOutput(
            name=name, label=element.get("label"), priorities=priorities, default=default
        )

    def _priorities(
        self, element: etree._Element, text: str
    ) -> tuple[str | int | float | bool | None, ...] | None:
        try:
            values = evaluate(compile_expression(f"[{text}]", "feel"), {})
        except (ExpressionSyntaxError, ExpressionEvaluationError):
            values = None
        if not isinstance(values, list) or not all(
            v is None or isinstance(v, str | int | float | bool) for v in values
        ):
            self.ctx.problem(
                element, f'output values {text!r} are not a list of literals like "a","b"'
            )
            return None
        return tuple(values)

    def _rule(self, element: etree._Element, inputs: int, outputs: int) -> DecisionRule | None:
        rule_id = element.get("id") or f"rule{element.sourceline}"
        entries = self._all(element, "inputEntry")
        results = self._all(element, "outputEntry")
        if len(entries) != inputs or len(results) != outputs:
            self.ctx.problem(
                element,
                f"rule has {len(entries)} input and {len(results)} output entries; the table "
                f"has {inputs} inputs and {outputs} outputs",
            )
            return None
        tests = [self._unary_tests(entry) for entry in entries]
        values = [
            self._expression(entry, text, "output entry")
            if (text := self._text(entry)).strip()
            else None
            for entry in results
        ]
        failed = any(t is None for t in tests) or any(
            v is None and self._text(e).strip() for v, e in zip(values, results, strict=True)
        )
        if failed:
            return None
        return DecisionRule(
            id=rule_id,
            tests=tuple(t for t in tests if t is not None),
            outputs=tuple(values),
        )

    def _unary_tests(self, entry: etree._Element) -> Expression | None:
        if not self._feel(entry):
            return None
        text = self._text(entry)
        try:
            return compile_unary_tests(text)
        except ExpressionSyntaxError as error:
            self.ctx.problem(entry, f"input entry is not valid FEEL unary tests: {error}")
            return None

    def _expression(self, element: etree._Element, text: str, what: str) -> Expression | None:
        if not self._feel(element):
            return None
        if not text.strip():
            self.ctx.problem(element, f"{what} is empty")
            return None
        try:
            return compile_expression(text, "feel")
        except ExpressionSyntaxError as error:
            self.ctx.problem(element, f"{what} is not valid FEEL: {error}")
            return None

    def _feel(self, element: etree._Element) -> bool:
        """Whether ``element`` is written in FEEL (its own language, else the file's)."""
        language = element.get("expressionLanguage") or self.language
        if language is None or "feel" in language.lower():
            return True
        self.ctx.problem(
            element,
            f"{local_name(element.tag)} is written in {language!r}, which cannot be evaluated "
            "here; write it in FEEL",
        )
        return False

    def _text(self, element: etree._Element | None) -> str:
        text = self._first(element, "text") if element is not None else None
        return (text.text or "") if text is not None else ""

    def _first(self, element: etree._Element, name: str) -> etree._Element | None:
        return element.find(f"{self.ns}{name}")

    def _all(self, element: etree._Element, name: str) -> list[etree._Element]:
        return element.findall(f"{self.ns}{name}")


def _check_requirements(ctx: CompileContext, decisions: dict[str, Decision]) -> None:
    """Required decisions exist in the file and no decision requires itself, even through
    others (evaluation would never end)."""
    for decision in decisions.values():
        for required in decision.required:
            if required not in decisions:
                ctx.problem_at(
                    decision.id,
                    decision.line,
                    f"decision requires {required!r}, which is not a decision of this file",
                )
    cycle = _cycle(decisions)
    if cycle:
        first = decisions[cycle[0]]
        ctx.problem_at(
            first.id,
            first.line,
            f"decisions require each other in a cycle: {' → '.join([*cycle, cycle[0]])}",
        )


def _cycle(decisions: dict[str, Decision]) -> list[str]:
    """A cycle of requirements, or an empty list (depth first, each decision visited once)."""
    finished: set[str] = set()
    for root in decisions:
        if root in finished:
            continue
        path = [root]
        pending = [iter(decisions[root].required)]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                finished.add(path.pop())
                pending.pop()
            elif following in path:
                return path[path.index(following) :]
            elif following in decisions and following not in finished:
                path.append(following)
                pending.append(iter(decisions[following].required))
    return []
