"""Multi-instance activities: the activity runs once per element of a collection (or
``cardinality`` times), in parallel or one after another.

As in Zeebe, each inner instance gets local variables ``loopCounter`` (1-based) and the input
element; the body holds ``numberOfInstances``, ``numberOfActiveInstances``,
``numberOfCompletedInstances`` and ``numberOfTerminatedInstances`` for the completion
condition, which is checked after each inner instance completes; when it holds, the remaining
instances are cancelled. The output collection is local to the body, filled at each inner
instance's index, and propagates when the body completes. An output element that names one
variable makes that variable local to each inner instance, so results do not overwrite each
other. A Camunda 7 model (no ``zeebe:loopCharacteristics``) also gets Camunda 7's
``nrOfInstances``, ``nrOfActiveInstances`` and ``nrOfCompletedInstances``, and its
``loopCounter`` counts from 0, as Camunda 7's does.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from translator import MultiInstanceActivity
    from translator.expressions import Expression
    from workflows._concurrency import while_running
    from workflows._contracts import ElementInstance, ScopeFrame
    from workflows._scope import Scope

if TYPE_CHECKING:
    from workflows._engine import Engine


_VARIABLE_REFERENCE = re.compile(r"=?\s*([A-Za-z_][A-Za-z0-9_]*)\s*")


@dataclass
class _Body:
    scope: Scope
    total: int
    outputs: list[Any]
    completed: int = 0
    active: int = 0
    done_early: bool = False
    failure: BaseException | None = None
    finished: set[int] = field(default_factory=set)

    camunda: bool = False
    """Camunda 7's counters too (a model without ``zeebe:loopCharacteristics``)."""

    def publish_counters(self) -> None:
        self.scope.variables.update(
            numberOfInstances=self.total,
            numberOfActiveInstances=self.active,
            numberOfCompletedInstances=self.completed,
            numberOfTerminatedInstances=0,
        )
        if self.camunda:
            self.scope.variables.update(
                nrOfInstances=self.total,
                nrOfActiveInstances=self.active,
                nrOfCompletedInstances=self.completed,
            )


async def run_multi_instance(
    engine: Engine, scope: Scope, node: MultiInstanceActivity, instance: ElementInstance
) -> None:
    from workflows._engine import IncidentRaised

    spec = node.multi_instance

    async def input_items() -> list[Any]:
        variables = scope.visible()
        if spec.input_collection is not None:
            value = engine.evaluate(spec.input_collection, variables)
            if not isinstance(value, list):
                raise IncidentRaised(
                    "EXTRACT_VALUE_ERROR",
                    f"the input collection {spec.input_collection.source!r} of {node.id!r} is "
                    f"{type(value).__name__}, expected a list",
                )
            return value
        assert spec.cardinality is not None
        count = engine.evaluate(spec.cardinality, variables)
        if isinstance(count, bool) or not isinstance(count, int | float) or count < 0:
            raise IncidentRaised(
                "EXTRACT_VALUE_ERROR",
                f"the loop cardinality {spec.cardinality.source!r} of {node.id!r} is "
                f"{count!r}, expected a whole number of at least 0",
            )
        return [None] * int(count)

    resumed = engine.resumed_iteration(instance)
    if resumed is not None and resumed.items is not None:  # continued as new mid-way
        items = resumed.items
    else:
        items = await engine.with_incidents(instance, input_items)
    body_scope = scope.child(instance.key, "multiInstanceBody", owner_id=node.id)
    body = _Body(
        scope=body_scope,
        total=len(items),
        outputs=[None] * len(items),
        camunda=spec.counters == "camunda",
    )
    done = 0
    if resumed is not None:
        body_scope.variables = resumed.variables
        done = body.completed = resumed.loop_counter or 0
        body.outputs = body_scope.variables.get(spec.output_collection or "", body.outputs)
        body.finished = set(range(done))
    if spec.output_collection:
        body_scope.variables[spec.output_collection] = body.outputs
    body.publish_counters()
    if spec.sequential:
        for index in range(done, len(items)):
            if index:
                frame = ScopeFrame(
                    instance=instance,
                    variables=body_scope.variables,
                    loop_counter=index,
                    items=items,
                )
                engine.between_iterations(scope, instance, frame)
            await _run_item(engine, body, node, instance, index, items[index])
            if body.done_early:
                break
    else:
        await _run_parallel(engine, body, node, instance, items)
    if spec.output_collection:
        scope.propagate({spec.output_collection: body.outputs})


async def _run_parallel(
    engine: Engine,
    body: _Body,
    node: MultiInstanceActivity,
    instance: ElementInstance,
    items: list[Any],
) -> None:
    async def guarded(index: int, item: Any) -> None:
        try:
            await _run_item(engine, body, node, instance, index, item)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            if body.failure is None:
                body.failure = error

    tasks = [asyncio.create_task(guarded(i, item)) for i, item in enumerate(items)]
    settled = workflow.wait_condition(
        lambda: len(body.finished) == body.total or body.done_early or body.failure is not None
    )
    await while_running(settled, tasks)
    if body.failure is not None:
        raise body.failure


async def _run_item(
    engine: Engine,
    body: _Body,
    node: MultiInstanceActivity,
    instance: ElementInstance,
    index: int,
    item: Any,
) -> None:
    spec = node.multi_instance
    variables: dict[str, Any] = {"loopCounter": index if body.camunda else index + 1}
    if spec.input_element:
        variables[spec.input_element] = item
    kept = output_variable(spec.output_element)
    if kept is not None:
        variables.setdefault(kept, None)
    item_scope = body.scope.child(
        engine.new_key(), "multiInstanceBody", owner_id=node.id, variables=variables
    )
    body.active += 1
    body.publish_counters()
    try:
        await engine.run_inner(item_scope, node.activity)
    finally:
        body.active -= 1
    output_element = spec.output_element
    if output_element is not None:

        async def output() -> Any:
            return engine.evaluate(output_element, item_scope.visible())

        body.outputs[index] = await engine.with_incidents(instance, output)
    body.completed += 1
    body.finished.add(index)
    body.publish_counters()
    condition = spec.completion_condition
    if condition is not None:

        async def satisfied() -> bool:
            return engine.evaluate(condition, item_scope.visible()) is True

        body.done_early = await engine.with_incidents(instance, satisfied) or body.done_early


def output_variable(output_element: Expression | None) -> str | None:
    """The variable an output element names, when it is just one (``=result``): it is made
    local to each inner instance, so that each one's result stays its own."""
    if output_element is None:
        return None
    match = _VARIABLE_REFERENCE.fullmatch(output_element.source)
    return match.group(1) if match else None
