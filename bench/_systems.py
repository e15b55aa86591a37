"""The two systems under test on a live server: A (the BPMN interpreter) and B (hand-written)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from activities import load_definitions, start_instance
from bench import _baseline
from bench._models import CHAIN_PROCESS, FANOUT_PROCESS, LOOP_PROCESS, Model
from bench._models import chain_model as _chain_model
from bench._models import fanout_model as _fanout_model
from bench._models import loop_model as _loop_model
from bench._worker import A_JOB_TYPE, A_TASK_QUEUE
from translator import ProcessDefinition
from workflows import DefinitionRegistry


@dataclass(frozen=True)
class System:
    key: str
    """``A`` or ``B``."""
    label: str
    task_queue: str
    chain_type: str
    loop_type: str
    fanout_type: str

    def chain(self, tasks: int) -> str:
        return self.chain_type.format(n=tasks)

    async def start(
        self, client: Client, workflow_type: str, variables: dict[str, Any]
    ) -> WorkflowHandle[Any, Any]:
        instance_id = f"bench-{self.key.lower()}-{uuid.uuid4()}"
        if self.key == "A":
            # As a production starter would: the version pinned at start (and the memo set), so
            # the instance records no pin marker and no memo upsert.
            definition = _A_DEFINITIONS[workflow_type]
            return await start_instance(
                client, definition, variables, instance_id=instance_id, task_queue=self.task_queue
            )
        return await client.start_workflow(
            workflow_type, variables, id=instance_id, task_queue=self.task_queue
        )


A = System(
    key="A",
    label="BPMN interpreter",
    task_queue=A_TASK_QUEUE,
    chain_type=CHAIN_PROCESS,
    loop_type=LOOP_PROCESS,
    fanout_type=FANOUT_PROCESS,
)
B = System(
    key="B",
    label="hand-written workflow",
    task_queue=_baseline.TASK_QUEUE,
    chain_type=_baseline.CHAIN_WORKFLOW,
    loop_type=_baseline.LOOP_WORKFLOW,
    fanout_type=_baseline.FANOUT_WORKFLOW,
)
SYSTEMS = (A, B)

CHAIN_LENGTHS = (1, 3, 5, 20)
"""Chain models deployed for A: workload 1's lengths and the saturation workload's 3."""


def a_models() -> list[Model]:
    """Every model A's worker deploys (the fan-out one may be refused by this interpreter)."""
    return [
        *(_chain_model(n, A_JOB_TYPE) for n in CHAIN_LENGTHS),
        _loop_model(A_JOB_TYPE),
        _fanout_model(A_JOB_TYPE),
    ]


_A_DEFINITIONS: dict[str, ProcessDefinition] = {}
"""A's models as its worker loads them (same files, same loader, so the same version hashes)."""


def write_models(folder: Path) -> None:
    for model in a_models():
        model.write(folder)
    report = load_definitions(folder, registry=DefinitionRegistry())
    _A_DEFINITIONS.update((definition.id, definition) for definition in report.deployed)
