"""Loop and multi-instance characteristics, on any activity: they wrap the compiled activity
in a ``MultiInstanceActivity`` or ``LoopActivity`` node with the activity's id."""

from __future__ import annotations

from lxml import etree

from translator import _dialects as dialects
from translator._context import CompileContext
from translator._model import (
    FlowNode,
    LoopActivity,
    MultiInstance,
    MultiInstanceActivity,
    StandardLoop,
)
from translator._namespaces import bpmn, zeebe
from translator._xml import children, first_child
from translator.expressions import Expression

MULTI_INSTANCE = bpmn("multiInstanceLoopCharacteristics")
STANDARD_LOOP = bpmn("standardLoopCharacteristics")


def with_loop(
    ctx: CompileContext, element: etree._Element, node: FlowNode, common: dict[str, object]
) -> FlowNode | None:
    """``node`` wrapped in its loop characteristics, or as is when it has none."""
    multi, loop = _loop_elements(element)
    if multi is not None:
        characteristics = multi_instance(ctx, element, multi)
        if characteristics is None:
            return None
        return MultiInstanceActivity.model_validate(
            {**common, "activity": node, "multi_instance": characteristics}
        )
    if loop is not None:
        standard = standard_loop(ctx, element, loop)
        if standard is None:
            return None
        return LoopActivity.model_validate({**common, "activity": node, "loop": standard})
    return node


def _loop_elements(
    element: etree._Element,
) -> tuple[etree._Element | None, etree._Element | None]:
    """The first multi-instance and the first standard loop child of ``element``; when it has
    both, only the multi-instance one is read."""
    found = children(element)
    multi = found.get(MULTI_INSTANCE)
    if multi:
        return multi[0], None
    loop = found.get(STANDARD_LOOP)
    return None, loop[0] if loop else None


def multi_instance(
    ctx: CompileContext, element: etree._Element, loop: etree._Element
) -> MultiInstance | None:
    """Zeebe's ``zeebe:loopCharacteristics`` or Camunda 7's ``camunda:collection`` and
    ``camunda:elementVariable``, plus the standard cardinality and completion condition."""
    zeebe_loop = dialects.first_extension(loop, zeebe("loopCharacteristics"))
    problems_before = len(ctx.problems)
    if zeebe_loop is not None:
        collection = optional_feel(
            ctx, element, zeebe_loop.get("inputCollection"), "inputCollection"
        )
        element_variable = zeebe_loop.get("inputElement")
        output_collection = zeebe_loop.get("outputCollection")
        output_element = optional_feel(
            ctx, element, zeebe_loop.get("outputElement"), "outputElement"
        )
    else:
        collection = _camunda_collection(ctx, element, loop)
        element_variable = dialects.camunda_attribute(loop, "elementVariable")
        output_collection = output_element = None
    cardinality = _cardinality(ctx, element, child_text(loop, "loopCardinality"))
    completion = _condition(ctx, element, child_text(loop, "completionCondition"))
    if len(ctx.problems) > problems_before:
        return None
    if collection is None and cardinality is None:
        ctx.problem(
            element,
            "multi-instance activity has neither an input collection nor a "
            "loop cardinality: it cannot know how many instances to start",
        )
        return None
    return MultiInstance(
        sequential=loop.get("isSequential", "false").strip().lower() == "true",
        input_collection=collection,
        input_element=element_variable or None,
        output_collection=output_collection or None,
        output_element=output_element,
        cardinality=cardinality,
        completion_condition=completion,
        counters="camunda" if _camunda_loop(zeebe_loop, loop, cardinality, completion) else None,
    )


def _camunda_loop(
    zeebe_loop: etree._Element | None, loop: etree._Element, *expressions: Expression | None
) -> bool:
    """Whether a multi-instance activity is Camunda 7's: no ``zeebe:loopCharacteristics``, and
    a ``camunda:`` attribute or a JUEL expression says so."""
    if zeebe_loop is not None:
        return False
    if any(dialects.camunda_attribute(loop, name) for name in ("collection", "elementVariable")):
        return True
    return any(e is not None and e.dialect == "juel" for e in expressions)


def _camunda_collection(
    ctx: CompileContext, element: etree._Element, loop: etree._Element
) -> Expression | None:
    text = (dialects.camunda_attribute(loop, "collection") or "").strip()
    if not text:
        return None
    # Camunda 7 takes a bare collection as the name of a variable.
    if not text.startswith(("${", "#{")):
        text = "${" + text + "}"
    return ctx.marked_expression(element, text, "multi-instance collection")


def optional_feel(
    ctx: CompileContext, element: etree._Element, text: str | None, what: str
) -> Expression | None:
    if text is None or not text.strip():
        return None
    return ctx.expression(element, text.strip(), "feel", what)


def _cardinality(
    ctx: CompileContext, element: etree._Element, text: str | None
) -> Expression | None:
    if text is None:
        return None
    if text.isdigit():
        return ctx.expression(element, "=" + text, "feel", "loop cardinality")
    return ctx.marked_expression(element, text, "loop cardinality")


def _condition(ctx: CompileContext, element: etree._Element, text: str | None) -> Expression | None:
    return None if text is None else ctx.marked_expression(element, text, "condition")


def child_text(parent: etree._Element, local: str) -> str | None:
    child = first_child(parent, bpmn(local))
    if child is None:
        return None
    text = "".join(str(part) for part in child.itertext()).strip()
    return text or None


def standard_loop(
    ctx: CompileContext, element: etree._Element, loop: etree._Element
) -> StandardLoop | None:
    maximum_text = (loop.get("loopMaximum") or "").strip()
    if maximum_text and not maximum_text.isdigit():
        ctx.problem(element, f"loopMaximum {maximum_text!r} is not a whole number")
        return None
    condition_text = child_text(loop, "loopCondition")
    condition = _condition(ctx, element, condition_text)
    if condition_text is not None and condition is None:
        return None
    return StandardLoop(
        test_before=loop.get("testBefore", "false").strip().lower() == "true",
        condition=condition,
        maximum=int(maximum_text) if maximum_text else None,
    )
