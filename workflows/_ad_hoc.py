"""Ad-hoc sub-processes, as Zeebe runs them itself (its BPMN implementation).

As it starts, the sub-process sets two local variables: ``adHocSubProcessElements`` (what it
can activate: id, name, documentation, properties) and its output collection (empty); then its
input mappings apply and ``activeElementsCollection`` names the elements to activate. Each
activation is an inner scope of its own, holding one path: the element and whatever its
sequence flows lead to. When a path ends, its output element is appended to the collection
and the completion condition is evaluated in the sub-process's scope:

- without a condition, the sub-process completes once a path has ended and none is left;
- with one, it completes the first time the condition holds: at once, ending the paths still
  running (``cancelRemainingInstances``, the default), or once they have ended.

With nothing activated it stays active, as in Zeebe, until an event ends it. As it completes,
the output collection propagates (Zeebe's rules) and then its output mappings apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from translator import AdHocElement, AdHocSubProcess
    from workflows._contracts import ElementInstance
    from workflows._multi_instance import output_variable
    from workflows._scope import Scope

if TYPE_CHECKING:
    from workflows._engine import Engine

ELEMENTS_VARIABLE = "adHocSubProcessElements"


@dataclass
class OpenAdHoc:
    node: AdHocSubProcess
    scope: Scope
    """The sub-process's own scope; each activation is a child of it."""
    instance: ElementInstance
    paths_ended: int = 0
    fulfilled: bool = False

    @property
    def accepts_activations(self) -> bool:
        """Whether it is active: not ending (its last path done, its remaining paths being
        cancelled, an interrupting event sub-process running)."""
        scope = self.scope
        return bool(scope.tokens) and scope.failure is None and not scope.closing

    @property
    def may_complete(self) -> bool:
        """Whether the sub-process completes once its remaining paths have ended."""
        if self.node.completion_condition is None:
            return self.paths_ended > 0
        return self.fulfilled


async def run_ad_hoc(
    engine: Engine, scope: Scope, node: AdHocSubProcess, instance: ElementInstance
) -> Scope:
    """Run the ad-hoc sub-process ``node`` entered in ``scope``; return its finished scope."""
    own = scope.flow().child(instance.key, "adHocSubProcess", container=node, owner_id=node.id)
    # Its input mappings and start listeners' variables (in its local scope, made when it
    # has listeners, with its first locals) are the sub-process's own.
    if scope.kind == "local":
        own.variables = dict(scope.variables)
    else:
        own.variables = initial_locals(node)
        if node.inputs:  # they see its first locals (Zeebe)
            mapped = await engine.with_incidents(
                instance, lambda: engine.mapped_inputs(own, node.inputs)
            )
            own.variables.update(mapped)
    instance.details["variables"] = own.variables
    activations = OpenAdHoc(node, own, instance)
    to_activate = await engine.with_incidents(instance, lambda: _to_activate(engine, node, own))
    engine.track(own, _until_complete(activations), node.id)
    for element_id in to_activate:
        activate(engine, activations, element_id)
    engine.open_ad_hocs[instance.key] = activations
    try:
        await engine.complete_scope(own)
    finally:
        del engine.open_ad_hocs[instance.key]
    if node.output_collection is not None:
        collection = node.output_collection
        scope.flow().propagate({collection: own.variables.get(collection)})
    if node.outputs:
        await engine.with_incidents(
            instance, lambda: engine.propagate_outputs(scope.flow(), node.outputs, own.visible())
        )
    return own


def initial_locals(node: AdHocSubProcess) -> dict[str, Any]:
    """The variables an ad-hoc sub-process sets in its scope as it starts, before its
    inputs: what it can activate, and its output collection, empty."""
    variables: dict[str, Any] = {ELEMENTS_VARIABLE: [_metadata(e) for e in node.elements]}
    if node.output_collection is not None:
        variables[node.output_collection] = []
    return variables


def activate(
    engine: Engine,
    activations: OpenAdHoc,
    element_id: str,
    variables: Mapping[str, Any] | None = None,
) -> None:
    """Start a path at ``element_id`` in an inner scope of its own, which holds
    ``variables``."""
    assert activations.accepts_activations, "the ad-hoc sub-process is ending"
    path = _run_path(engine, activations, element_id, dict(variables or {}))
    engine.track(activations.scope, path, element_id)


def not_activatable(node: AdHocSubProcess, element_ids: list[str]) -> str | None:
    """Why ``node`` cannot activate ``element_ids``, or None if it can activate them all."""
    known = [element.element_id for element in node.elements]
    unknown = [element_id for element_id in element_ids if element_id not in known]
    if not unknown:
        return None
    return (
        f"ad-hoc sub-process {node.id!r} has no element to activate with id "
        f"{', '.join(map(repr, unknown))}; it can activate {', '.join(map(repr, known))}"
    )


async def _to_activate(engine: Engine, node: AdHocSubProcess, scope: Scope) -> list[str]:
    from workflows._engine import IncidentRaised

    if node.active_elements is None:
        return []
    value = engine.evaluate(node.active_elements, scope.visible())
    source = node.active_elements.source
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise IncidentRaised(
            "EXTRACT_VALUE_ERROR",
            f"failed to activate ad-hoc elements: {source!r} is {value!r}, expected a list of "
            "element ids",
        )
    why = not_activatable(node, value)
    if why is not None:
        raise IncidentRaised("EXTRACT_VALUE_ERROR", f"failed to activate ad-hoc elements: {why}")
    return value


async def _until_complete(activations: OpenAdHoc) -> None:
    """The token that keeps the sub-process open until it may complete."""
    await workflow.wait_condition(lambda: activations.may_complete)


async def _run_path(
    engine: Engine, activations: OpenAdHoc, element_id: str, variables: dict[str, Any]
) -> None:
    from workflows._engine import IncidentRaised, ScopeTerminated

    node, own = activations.node, activations.scope
    kept = output_variable(node.output_element)
    if kept is not None:  # each path's result is its own, not the last path's
        variables.setdefault(kept, None)
    inner = own.child(engine.new_key(), "adHocActivation", variables=variables)
    engine.spawn(inner, element_id)
    await engine.complete_scope(inner)
    # A compensation throw event in a path undoes what completed in that path; once it has
    # ended, its records are the sub-process's (Zeebe's inner instance hands them up).
    own.compensable.extend(inner.compensable)
    collection, element = node.output_collection, node.output_element
    if collection is not None and element is not None:

        async def collect() -> None:
            current = own.variables.get(collection)
            if not isinstance(current, list):
                raise IncidentRaised(
                    "EXTRACT_VALUE_ERROR",
                    f"the output collection {collection!r} is {type(current).__name__}, "
                    "expected a list",
                )
            own.variables[collection] = [*current, engine.evaluate(element, inner.visible())]

        await engine.with_incidents(activations.instance, collect)
    activations.paths_ended += 1
    condition = node.completion_condition
    if condition is None:
        return

    async def satisfied() -> bool:
        holds = engine.evaluate(condition, own.visible())
        if not isinstance(holds, bool):
            raise IncidentRaised(
                "EXTRACT_VALUE_ERROR",
                f"failed to evaluate the completion condition {condition.source!r}: it is "
                f"{holds!r}, expected true or false",
            )
        return holds

    if await engine.with_incidents(activations.instance, satisfied):
        activations.fulfilled = True
        if node.cancel_remaining_instances:
            raise ScopeTerminated(own)  # ends the other paths; the sub-process completes


def _metadata(element: AdHocElement) -> dict[str, Any]:
    """Zeebe's form of an activatable element (``parameters`` come from ``fromAi`` calls,
    which only Camunda's AI Agent writes)."""
    return {
        "elementId": element.element_id,
        "elementName": element.name,
        "documentation": element.documentation,
        "properties": dict(element.properties),
        "parameters": [],
    }
