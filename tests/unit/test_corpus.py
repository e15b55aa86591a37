"""Every real .bpmn file of ../shared/corpus compiles or is refused with TranslationErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

import translator

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FILES = sorted(CORPUS.glob("*.bpmn")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not FILES, reason="../shared/corpus is not next to this checkout")
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
        assert definition.start_event in definition.nodes
