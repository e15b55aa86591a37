"""Translation problems: every one names the file, the element and the line.

Exception tree::

    BpmnTemporalError            (translator.BpmnTemporalError, the project's root)
    └── TranslationError         one or more Problems found while compiling a file
"""

from __future__ import annotations

from dataclasses import dataclass


class BpmnTemporalError(Exception):
    """Root of every error this project raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a model, in words a modeler understands."""

    file: str
    message: str
    element_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        element = f" [{self.element_id}]" if self.element_id else ""
        return f"{where}{element}: {self.message}"


class TranslationError(BpmnTemporalError):
    """A BPMN file could not be compiled; ``problems`` lists everything found in one pass."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self._summary())

    def _summary(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in BPMN model"
        return head + ":\n" + "\n".join(f"  - {problem}" for problem in self.problems)
