"""SpEL (Spring, as tSM uses it): ``#{#amount > 100}`` and text around it.

``#name`` is a process variable, ``#variables`` all of them, a bare name a property of the root
object (``execution.processBusinessKey``). Type references, constructors, bean references and
SpEL functions are refused: they would reach into the JVM in Spring and mean nothing here.
The grammar is ``grammars/spel.lark``; ``SpelBuilder`` turns each rule into ``_ast`` nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from lark import Token, v_args

from translator.expressions._ast import (
    AllVariables,
    BinaryOp,
    Conditional,
    Constant,
    ContextEntry,
    ContextLiteral,
    Index,
    ListLiteral,
    Member,
    MethodCall,
    Node,
    Projection,
    Selection,
    This,
    ThisProperty,
    Unary,
    Variable,
)
from translator.expressions._parsing import (
    JAVA_EL_OPERATORS,
    Builder,
    DialectParser,
    SyntaxRefusal,
    Unexpected,
    Wording,
    number,
)

_CONSTANTS = {"TRUE": True, "FALSE": False, "NULL": None}
_WORDS = frozenset(
    {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "div", "mod", "true", "false"}
    | {"null", "instanceof", "matches", "between", "new"}
)
"""SpEL's reserved words, which it matches ignoring case: never a bare property name."""
_UNSUPPORTED_OPERATORS = frozenset({"instanceof", "matches", "between"})
_TYPES_AND_CONSTRUCTORS = "type references and constructors are not supported"


@v_args(inline=True)
class SpelBuilder(Builder):
    OPERATORS: ClassVar[Mapping[str, BinaryOp]] = {
        **JAVA_EL_OPERATORS,
        "^": "**",
        "?:": "?:",
    }

    def operator(self, op: Token) -> str:
        return str(op).lower()

    def literal(self, token: Token) -> Node:
        if token.type == "NUMBER":
            return number(token, suffixes="lLdDfF")
        if token.type == "STRING":
            return Constant(value=_string(str(token)))
        return Constant(value=_CONSTANTS[token.type])

    def hash_variable(self, _hash: Token, name: Token) -> Node:
        if name == "variables":
            return AllVariables()
        if name in ("this", "root"):
            return This()
        return Variable(name=str(name))

    def hash_function(self, hash_: Token, name: Token, args: tuple[Node, ...] | None) -> Node:
        message = f"functions (#{name}(...)) are not supported"
        raise SyntaxRefusal(message, hash_.start_pos or 0)

    def property(self, name: Token) -> Node:
        if str(name).lower() in _WORDS:
            raise SyntaxRefusal(f"unexpected {str(name)!r}", name.start_pos or 0)
        return ThisProperty(name=str(name))

    def function_call(self, name: Token, args: tuple[Node, ...] | None) -> Node:
        message = _TYPES_AND_CONSTRUCTORS if name == "T" else f"unknown function {str(name)!r}"
        raise SyntaxRefusal(message, name.start_pos or 0)

    def constructor(self, new: Token, _type: Node) -> Node:
        raise SyntaxRefusal(_TYPES_AND_CONSTRUCTORS, new.start_pos or 0)

    def list_literal(self, *items: Node) -> Node:
        """``{1, 2}`` is a list, ``{}`` the empty list."""
        return ListLiteral(items=items)

    def map_entry(self, key: Token, value: Node) -> ContextEntry:
        text = _string(str(key)) if key.type == "STRING" else str(key)
        return ContextEntry(key=text, value=value)

    def map_literal(self, *entries: ContextEntry) -> Node:
        """``{a: 1, 'b': 2}``, ``{:}`` the empty map."""
        return ContextLiteral(entries=entries)

    def conditional(self, condition: Node, then: Node, otherwise: Node) -> Node:
        return Conditional(condition=condition, then=then, otherwise=otherwise)

    def logical_not(self, _not: Token, operand: Node) -> Node:
        return Unary(op="not", operand=operand)

    def member(self, target: Node, dot: Token, name: Token) -> Node:
        return Member(target=target, name=str(name), null_safe=dot.type == "SAFE_DOT")

    def method_call(
        self, target: Node, dot: Token, name: Token, args: tuple[Node, ...] | None
    ) -> Node:
        null_safe = dot.type == "SAFE_DOT"
        return MethodCall(target=target, name=str(name), args=args or (), null_safe=null_safe)

    def index(self, target: Node, index: Node) -> Node:
        return Index(target=target, index=index)

    def selection(self, target: Node, condition: Node) -> Node:
        return Selection(target=target, condition=condition)

    def projection(self, target: Node, body: Node) -> Node:
        return Projection(target=target, body=body)


def _string(text: str) -> str:
    """A quoted literal's text; a doubled quote stands for one (``'it''s'``)."""
    quote = text[0]
    return text[1:-1].replace(quote * 2, quote)


def _special(error: Unexpected) -> SyntaxRefusal | None:
    word = str(error.token).lower()
    if error.token.type == "NAME" and word in _UNSUPPORTED_OPERATORS:
        return SyntaxRefusal(f"the {word!r} operator is not supported", error.position)
    return None


PARSER = DialectParser(
    "spel.lark",
    SpelBuilder(),
    Wording(
        closers=(("RPAR", "')'"), ("RSQB", "']'"), ("RBRACE", "'}'"), ("COLON", "':'")),
        openers=frozenset({"LPAR", "LSQB", "LBRACE", "SELECTION", "PROJECTION", "_MARKER"}),
        closing=frozenset({"RPAR", "RSQB", "RBRACE"}),
        prefixes=frozenset({"MINUS", "NOT"}),
        after={
            "DOT": "a property name after '.'",
            "SAFE_DOT": "a property name after '.'",
            "HASH": "a variable name after '#'",
        },
        key="a map key",
        unexpected_character={"@": "bean references (@name) are not supported"},
        special=_special,
    ),
)
