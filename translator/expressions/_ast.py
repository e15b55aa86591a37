"""The syntax tree shared by the three dialects: small frozen pydantic models.

Every node has a ``kind`` (the discriminator of the ``Node`` union) so a compiled expression
round-trips through the process IR JSON. Operators are normalised by the parsers (JUEL ``eq``
and SpEL ``==`` both become ``"="``), so the evaluator sees one vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Dialect = Literal["feel", "juel", "spel"]
"""FEEL (Zeebe, ``=...``), JUEL (Camunda 7, ``${...}``), SpEL (tSM, ``#{...}``)."""

UnaryOp = Literal["-", "not", "empty"]
BinaryOp = Literal[
    "+", "-", "*", "/", "%", "**", "=", "!=", "<", "<=", ">", ">=", "and", "or", "?:"
]
TestOp = Literal["=", "!=", "<", "<=", ">", ">="]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Constant(_Model):
    """A literal: ``null``, ``true``, ``42``, ``1.5``, ``"text"``."""

    kind: Literal["constant"] = "constant"
    value: bool | int | float | str | None


class Variable(_Model):
    """A process variable by name (FEEL/JUEL ``name``, SpEL ``#name``); FEEL also sees locals."""

    kind: Literal["variable"] = "variable"
    name: str


class AllVariables(_Model):
    """SpEL ``#variables``: every process variable as one map."""

    kind: Literal["all_variables"] = "all_variables"


class This(_Model):
    """SpEL ``#this``/``#root``: the current element of a selection, else the root object."""

    kind: Literal["this"] = "this"


class ThisProperty(_Model):
    """SpEL bare ``name``: a property of ``#this`` (at the top, e.g. ``execution``)."""

    kind: Literal["this_property"] = "this_property"
    name: str


class Member(_Model):
    """``target.name``; ``null_safe`` for SpEL ``target?.name``."""

    kind: Literal["member"] = "member"
    target: Node
    name: str
    null_safe: bool = False


class Index(_Model):
    """``target[index]`` with the dialect's indexing rules (FEEL counts from 1)."""

    kind: Literal["index"] = "index"
    target: Node
    index: Node


class Filter(_Model):
    """FEEL ``list[condition]``: a filter, or an index when the condition is a number."""

    kind: Literal["filter"] = "filter"
    target: Node
    condition: Node


class Selection(_Model):
    """SpEL ``list.?[condition]`` evaluated with ``#this`` bound to each element."""

    kind: Literal["selection"] = "selection"
    target: Node
    condition: Node


class Projection(_Model):
    """SpEL ``list.![expression]`` evaluated with ``#this`` bound to each element."""

    kind: Literal["projection"] = "projection"
    target: Node
    body: Node


class FunctionCall(_Model):
    """A call of a FEEL built-in function such as ``string length(name)``."""

    kind: Literal["function_call"] = "function_call"
    name: str
    args: tuple[Node, ...] = ()


class MethodCall(_Model):
    """JUEL/SpEL ``target.name(args)``, limited to a safe list of methods."""

    kind: Literal["method_call"] = "method_call"
    target: Node
    name: str
    args: tuple[Node, ...] = ()
    null_safe: bool = False


class Unary(_Model):
    """Negation, logical not, JUEL ``empty``."""

    kind: Literal["unary"] = "unary"
    op: UnaryOp
    operand: Node


class Binary(_Model):
    """Arithmetic, comparison, ``and``/``or`` and the SpEL Elvis operator ``?:``."""

    kind: Literal["binary"] = "binary"
    op: BinaryOp
    left: Node
    right: Node


class Conditional(_Model):
    """FEEL ``if c then a else b``; JUEL/SpEL ``c ? a : b``."""

    kind: Literal["conditional"] = "conditional"
    condition: Node
    then: Node
    otherwise: Node


class Between(_Model):
    """FEEL ``value between low and high`` (both ends included)."""

    kind: Literal["between"] = "between"
    value: Node
    low: Node
    high: Node


class UnaryTest(_Model):
    """FEEL ``< 10`` inside ``x in (...)``: compares the tested value with ``operand``."""

    kind: Literal["unary_test"] = "unary_test"
    op: TestOp
    operand: Node


class Range(_Model):
    """FEEL ``[1..10]``, ``(0..1]``; in ``for``/``some`` sources ``1..3`` iterates integers."""

    kind: Literal["range"] = "range"
    low: Node
    high: Node
    low_inclusive: bool = True
    high_inclusive: bool = True


class InTest(_Model):
    """FEEL ``value in tests``: true when any test (range, unary test, value, list) matches."""

    kind: Literal["in_test"] = "in_test"
    value: Node
    tests: tuple[Node, ...]


class ListLiteral(_Model):
    """``[a, b]`` (FEEL) or ``{a, b}`` (SpEL)."""

    kind: Literal["list"] = "list"
    items: tuple[Node, ...] = ()


class ContextEntry(_Model):
    """One ``key: value`` of a context/map literal."""

    key: str
    value: Node


class ContextLiteral(_Model):
    """FEEL ``{a: 1, "b c": a + 1}`` (later entries see earlier ones) or SpEL ``{a: 1}``."""

    kind: Literal["context"] = "context"
    entries: tuple[ContextEntry, ...] = ()


class Iteration(_Model):
    """``name in source`` of a FEEL ``for``/``some``/``every``."""

    name: str
    source: Node


class Quantified(_Model):
    """FEEL ``some x in xs satisfies c`` / ``every x in xs satisfies c``."""

    kind: Literal["quantified"] = "quantified"
    quantifier: Literal["some", "every"]
    iterations: tuple[Iteration, ...]
    condition: Node


class ForLoop(_Model):
    """FEEL ``for x in xs, y in ys return body``: one result per combination."""

    kind: Literal["for"] = "for"
    iterations: tuple[Iteration, ...]
    body: Node


class Template(_Model):
    """JUEL/SpEL composite text ``"Hello ${name}!"``: the parts joined as a string."""

    kind: Literal["template"] = "template"
    parts: tuple[Node, ...]


Node = Annotated[
    Constant
    | Variable
    | AllVariables
    | This
    | ThisProperty
    | Member
    | Index
    | Filter
    | Selection
    | Projection
    | FunctionCall
    | MethodCall
    | Unary
    | Binary
    | Conditional
    | Between
    | UnaryTest
    | Range
    | InTest
    | ListLiteral
    | ContextLiteral
    | Quantified
    | ForLoop
    | Template,
    Field(discriminator="kind"),
]

for _model in list(globals().values()):
    if isinstance(_model, type) and issubclass(_model, _Model) and _model is not _Model:
        _model.model_rebuild()


def walk(root: BaseModel) -> Iterator[BaseModel]:
    """Every node of the tree under ``root`` (itself included), iteratively."""
    pending: list[object] = [root]
    while pending:
        value = pending.pop()
        if isinstance(value, BaseModel):
            yield value
            pending.extend(value.__dict__.values())
        elif isinstance(value, tuple):
            pending.extend(value)


def depth(root: BaseModel) -> int:
    """How deeply the tree nests as JSON (objects and arrays), which is what bounds both the
    evaluator's recursion and whether the IR JSON parser accepts it. Iterative, so hostile
    input cannot overflow the stack here."""
    deepest = 1
    pending: list[tuple[BaseModel | tuple[object, ...], int]] = [(root, 1)]
    while pending:
        value, level = pending.pop()
        # A node's fields are its ``__dict__``: cheaper to read than the model's iterator.
        items = value.__dict__.values() if isinstance(value, BaseModel) else value
        if items and level >= deepest:  # its fields or items lie one level further down
            deepest = level + 1
        pending.extend((item, level + 1) for item in items if isinstance(item, BaseModel | tuple))
    return deepest
