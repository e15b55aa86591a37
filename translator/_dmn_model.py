"""The decision IR: DMN decisions as the interpreter evaluates them. Frozen pydantic models,
JSON-serialisable and content-addressed like the process IR.

A ``DecisionGraph`` is one DMN file (its decision requirements graph): decisions by id, each
a decision table or a literal expression, and the decisions each one requires. Every
expression is compiled FEEL; a table's input entries are unary tests compiled to expressions
of the variable ``?`` (see ``translator.expressions``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import Field

from translator._model import _Frozen
from translator.expressions import Expression

HitPolicy = Literal["UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"]
Aggregation = Literal["SUM", "MIN", "MAX", "COUNT"]
SINGLE_HIT_POLICIES = frozenset({"UNIQUE", "FIRST", "PRIORITY", "ANY"})


class DecisionInput(_Frozen):
    expression: Expression
    label: str | None = None


class DecisionOutput(_Frozen):
    name: str | None = None
    """The output's name: the key of its value in the result (required with several)."""
    label: str | None = None
    priorities: tuple[str | int | float | bool | None, ...] = ()
    """The output values, highest priority first (PRIORITY and OUTPUT ORDER rank by them)."""
    default: Expression | None = None
    """``<defaultOutputEntry>``: the output when no rule matches."""


class DecisionRule(_Frozen):
    id: str
    tests: tuple[Expression, ...]
    """One per input: true when the input's value (``?``) passes the input entry."""
    outputs: tuple[Expression | None, ...]
    """One per output; None: an empty output entry (null)."""


class DecisionTable(_Frozen):
    kind: Literal["decisionTable"] = "decisionTable"
    hit_policy: HitPolicy = "UNIQUE"
    aggregation: Aggregation | None = None
    """COLLECT only: the matched outputs summed, their minimum, maximum or count."""
    inputs: tuple[DecisionInput, ...]
    outputs: tuple[DecisionOutput, ...]
    rules: tuple[DecisionRule, ...]


class LiteralDecision(_Frozen):
    kind: Literal["literalExpression"] = "literalExpression"
    expression: Expression


DecisionLogic = Annotated[DecisionTable | LiteralDecision, Field(discriminator="kind")]


class Decision(_Frozen):
    id: str
    name: str | None = None
    line: int | None = None
    required: tuple[str, ...] = ()
    """Decisions evaluated first; each one's result is a variable named by its
    ``result_name``."""
    result_name: str | None = None
    """``<variable name>``: the name a decision requiring it sees its result by (None: its
    id, as in Zeebe)."""
    version_tag: str | None = None
    """``zeebe:versionTag`` / ``camunda:versionTag``: business rule tasks may bind to it."""
    logic: DecisionLogic


class DecisionGraph(_Frozen):
    """The decisions of one DMN file."""

    id: str
    name: str | None = None
    source: str = ""
    decisions: dict[str, Decision]
    content_hash: str = ""

    def with_content_hash(self) -> DecisionGraph:
        """A copy whose ``content_hash`` is the hash of everything but ``source``."""
        canonical = self.model_dump_json(exclude={"content_hash", "source"}, exclude_none=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return self.model_copy(update={"content_hash": digest})
