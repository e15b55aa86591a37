"""Benchmarks: ``python -m bench`` (``--quick`` for the fast mode) writes BENCHMARKS.md.

The BPMN interpreter (A) against a hand-written Temporal workflow calling the same activities
(B) on the local dev server, in replay with no server, against SpiffWorkflow's engine, and
the translator against SpiffWorkflow's parser. Every number reported is a median of
repeated, interleaved runs, and every comparison a ratio. See README, "Benchmarks".

Nothing is imported here: the hand-written workflows (``bench._baseline``) are loaded into
the workflow sandbox, which runs this package's ``__init__`` too.
"""
