"""Compiling the models a test deploys: every problem is collected and reported at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import translator
from translator import DecisionGraph, Problem, ProcessDefinition, TranslationError
from workflows import unrunnable_nodes, unrunnable_reason

Compile = Callable[[Path], list[ProcessDefinition]]


class DeploymentProblems(Exception):
    """The models could not be deployed; ``problems`` lists everything found."""

    def __init__(self, problems: list[Problem | str]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} deploying BPMN models:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def model_files(paths: Iterable[Path], root: Path) -> tuple[list[Path], list[Problem | str]]:
    """The ``.bpmn`` and ``.dmn`` files named, folders searched recursively; relative paths
    from ``root``. Also the paths that name nothing to deploy."""
    files: list[Path] = []
    missing: list[Problem | str] = []
    for given in paths:
        path = given if given.is_absolute() else root / given
        if path.is_dir():
            found = sorted([*path.rglob("*.bpmn"), *path.rglob("*.dmn")])
            if not found:
                missing.append(f"{path}: the folder holds no .bpmn or .dmn file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(f"{path}: no such file or folder")
    return files, missing


def compile_models(
    files: Iterable[Path], compile_file: Compile, problems: Iterable[Problem | str] = ()
) -> list[ProcessDefinition]:
    """Compile every file; raise ``DeploymentProblems`` with every problem of every file
    (after ``problems`` found before)."""
    definitions: list[ProcessDefinition] = []
    problems = list(problems)
    for path in files:
        try:
            compiled = compile_file(path)
        except TranslationError as error:
            problems.extend(error.problems)
            continue
        for definition in compiled:
            refused = runnable_problems(definition)
            problems.extend(refused)
            if not refused:
                definitions.append(definition)
    if problems:
        raise DeploymentProblems(problems)
    return definitions


def compile_decisions(
    files: Iterable[Path], read: Callable[[Path], DecisionGraph]
) -> tuple[list[DecisionGraph], list[Problem | str]]:
    """Compile DMN files: the decisions, and every problem found."""
    graphs: list[DecisionGraph] = []
    problems: list[Problem | str] = []
    for path in files:
        try:
            graphs.append(read(path))
        except TranslationError as error:
            problems.extend(error.problems)
    return graphs, problems


def compile_text(xml: str, name: str) -> list[ProcessDefinition]:
    """Compile XML text; problems as for files."""
    return compile_models([Path(name)], lambda _: translator.compile_bytes(xml.encode(), name))


def runnable_problems(definition: ProcessDefinition) -> list[Problem]:
    """What keeps this interpreter from running ``definition`` (worker.py refuses the same)."""
    return [
        Problem(
            definition.source,
            f"process {definition.id!r} cannot be deployed: this interpreter cannot run "
            f"{unrunnable_reason(node, definition)} yet",
            node.id,
            node.line,
        )
        for node in unrunnable_nodes(definition)
    ]
