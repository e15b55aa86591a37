"""Cost caps: expressions come from uploaded models and run inside workflow code."""

from __future__ import annotations

MAX_SOURCE_LENGTH = 10_000
"""Characters in an expression's text."""

MAX_DEPTH = 100
"""Nesting depth of the syntax tree as stored JSON (a node, a list of arguments and a context
entry each count one). It bounds recursion in the evaluator and keeps the IR well within what
JSON parsers accept (pydantic's stops at 200). The parser does not recurse; it refuses text with
more brackets (or a longer run of prefix operators such as ``- - -1``) open at once."""

MAX_STEPS = 100_000
"""Node visits, loop iterations and the items functions and operators walk, in one evaluation
(this also bounds the length of the lists an expression builds)."""

MAX_STRING_LENGTH = 1_000_000
"""Characters in a string an expression builds."""

MAX_INTEGER_BITS = 1_024
"""Size of an integer an expression builds (Python integers are unbounded)."""
