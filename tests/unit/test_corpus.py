"""Every real .bpmn file of ../shared/corpus compiles or is refused with TranslationErrors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import translator

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FILES = sorted(CORPUS.glob("*.bpmn")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not FILES, reason="../shared/corpus is not next to this checkout")


@needs_corpus
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:80])
def test_corpus_file_compiles_or_is_refused_clearly(path: Path) -> None:
    try:
        definitions = translator.compile_file(path)
    except translator.TranslationError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.file == str(path)
            assert problem.message
            assert problem.line is not None or "XML" in problem.message
        return
    for definition in definitions:
        assert definition.content_hash
        assert definition.start_event is None or definition.start_event in definition.nodes


def refusal_kind(message: str) -> str:
    """A problem message without its particulars (quoted names, numbers, advice)."""
    general = re.sub(r"'[^']*'|\"[^\"]*\"", "…", message)
    general = re.sub(r"\d+", "N", general)
    return re.split(r"[:;] ", general, maxsplit=1)[0].strip()


@needs_corpus
def test_corpus_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Compiles the whole corpus once and prints what compiles and why the rest is refused."""
    compiled = refused = 0
    reasons: Counter[str] = Counter()
    for path in FILES:
        try:
            translator.compile_file(path)
            compiled += 1
        except translator.TranslationError as error:
            refused += 1
            reasons.update({refusal_kind(p.message) for p in error.problems})
    lines = [
        f"corpus: {compiled} compile, {refused} refused, of {len(FILES)} files",
        "refusal reasons (files per kind):",
        *(f"  {count:3d}  {reason}" for reason, count in reasons.most_common()),
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert compiled + refused == len(FILES)
