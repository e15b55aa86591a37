"""Wire contracts: correlation ids and the public surface of each package."""

from __future__ import annotations

import pytest

import activities
import workflows
from workflows import make_correlation_id, workflow_id_of


@pytest.mark.parametrize("workflow_id", ["order-1", "a.b.c", "ünïcode/äöü", "x" * 300, "a:b=c"])
def test_correlation_ids_carry_the_workflow_id(workflow_id: str) -> None:
    correlation_id = make_correlation_id("d4f7a8b1-3c2e-4f5a-9b8d-1e2f3a4b5c6d", workflow_id)
    assert workflow_id_of(correlation_id) == workflow_id
    assert correlation_id.isascii() and " " not in correlation_id


@pytest.mark.parametrize("garbage", ["", "no-dot", ".", "abc.", ".abc", "x.%%%", "x.\xff\xfe"])
def test_foreign_correlation_ids_are_recognised(garbage: str) -> None:
    assert workflow_id_of(garbage) is None


@pytest.mark.parametrize("package", [workflows, activities])
def test_public_names_exist(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        assert hasattr(package, name), name
