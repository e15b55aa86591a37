"""Events: reading event definitions (triggers and results) and the event handlers.

Which event definition may stand where is data (``ALLOWED``), taken from the BPMN 2.0 spec's
tables (section 10.5), narrowed for timers by what Zeebe accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from lxml import etree

from translator import _dialects as dialects
from translator._context import CompileContext
from translator._model import (
    BoundaryEvent,
    CompensateEventDefinition,
    ConditionalEventDefinition,
    EndEvent,
    ErrorEventDefinition,
    EscalationEventDefinition,
    EventDefinition,
    FlowNode,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    JobDefinition,
    LinkEventDefinition,
    Mapping,
    MessageEventDefinition,
    ResultEndEvent,
    SignalEventDefinition,
    StartEvent,
    TerminateEventDefinition,
    TimerEventDefinition,
    TriggeredStartEvent,
)
from translator._namespaces import bpmn, local_name, zeebe
from translator._timers import CHECKS, EXAMPLES
from translator._xml import children, first_child
from translator.expressions import Expression

Position = Literal[
    "start", "eventSubProcessStart", "intermediateCatch", "intermediateThrow", "boundary", "end"
]
POSITION_WORDS: dict[Position, str] = {
    "start": "a process start event",
    "eventSubProcessStart": "an event sub-process start event",
    "intermediateCatch": "an intermediate catch event",
    "intermediateThrow": "an intermediate throw event",
    "boundary": "a boundary event",
    "end": "an end event",
}
ALLOWED: dict[Position, frozenset[str]] = {
    "start": frozenset({"message", "timer", "conditional", "signal"}),
    "eventSubProcessStart": frozenset(
        {"message", "timer", "conditional", "signal", "error", "escalation", "compensation"}
    ),
    "intermediateCatch": frozenset({"message", "timer", "conditional", "signal", "link"}),
    "intermediateThrow": frozenset({"message", "signal", "escalation", "compensation", "link"}),
    "boundary": frozenset(
        {"message", "timer", "conditional", "signal", "error", "escalation", "compensation"}
    ),
    "end": frozenset({"message", "error", "escalation", "signal", "terminate", "compensation"}),
}
# Zeebe (and DESIGN.md): a cycle only makes sense where the event can fire more than once.
TIMERS_ALLOWED: dict[Position, frozenset[str]] = {
    "start": frozenset({"date", "cycle"}),
    "eventSubProcessStart": frozenset({"duration", "date", "cycle"}),
    "intermediateCatch": frozenset({"duration", "date"}),
    "boundary": frozenset({"duration", "date"}),
}
NON_INTERRUPTING_BOUNDARY_TIMERS = frozenset({"duration", "date", "cycle"})
TIMER_TAGS = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}

Reader = Callable[[CompileContext, etree._Element, etree._Element, bool], EventDefinition | None]


# --- Event definition readers: (ctx, event element, definition element, catching) -----------


def read_message(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    return message_definition(ctx, event, definition.get("messageRef"), catching)


def message_definition(
    ctx: CompileContext, element: etree._Element, ref: str | None, catching: bool
) -> MessageEventDefinition | None:
    """The message ``ref`` names: its name, and its ``zeebe:subscription`` correlation key."""
    message = ctx.refers_to(element, ref, bpmn("message"))
    name_text = (message.get("name") or "").strip() if message is not None else ""
    if not name_text:
        if catching and not ctx.has_problem(element):
            ctx.problem(
                element,
                "waits for a message without a name: set a messageRef to a "
                "bpmn:message that has a name",
            )
            return None
        return MessageEventDefinition(message_id=ref)
    assert message is not None
    name = ctx.value_or_expression(element, name_text, "message name")
    subscription = dialects.first_extension(message, zeebe("subscription"))
    key_text = subscription.get("correlationKey") if subscription is not None else None
    key = ctx.value_or_expression(element, key_text, "correlation key") if key_text else None
    return MessageEventDefinition(message_id=ref, name=name, correlation_key=key)


def read_timer(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    values = [child for child in definition if local_name(child.tag) in TIMER_TAGS]
    if len(values) != 1:
        ctx.problem(event, "a timer needs exactly one of timeDuration, timeDate or timeCycle")
        return None
    timer = TIMER_TAGS[local_name(values[0].tag)]
    text = "".join(str(part) for part in values[0].itertext()).strip()
    value = _timer_value(ctx, event, timer, text)
    if value is None:
        return None
    return TimerEventDefinition.model_validate({"timer": timer, "value": value})


def _timer_value(
    ctx: CompileContext, event: etree._Element, timer: str, text: str
) -> str | Expression | None:
    if text.startswith("="):
        return ctx.expression(event, text, "feel", f"timer {timer}")
    if "${" in text or "#{" in text:  # Camunda 7 allows JUEL inside the text: 'PT${minutes}M'
        return ctx.expression(event, text.replace("#{", "${"), "juel", f"timer {timer}")
    problem = CHECKS[timer](text)
    if problem:
        ctx.problem(event, f"timer {timer} {text!r} {problem}; write e.g. {EXAMPLES[timer]}")
        return None
    return text


def read_error(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    ref = definition.get("errorRef")
    error = ctx.refers_to(event, ref, bpmn("error"))
    code = error.get("errorCode") if error is not None else None
    if not catching and not code:
        if not ctx.has_problem(event):
            ctx.problem(
                event,
                "throws an error without a code: set an errorRef to a "
                "bpmn:error that has an errorCode",
            )
        return None
    dynamic = _code_expression(ctx, event, code, catching, "error")
    if dynamic is False:
        return None
    return ErrorEventDefinition(
        error_id=ref,
        error_code=code,
        code_variable=dialects.camunda_attribute(definition, "errorCodeVariable"),
        message_variable=dialects.camunda_attribute(definition, "errorMessageVariable"),
        **dynamic,
    )


def _code_expression(
    ctx: CompileContext, event: etree._Element, code: str | None, catching: bool, what: str
) -> dict[str, Expression] | Literal[False]:
    """An error or escalation code written as FEEL (``=...``): Zeebe evaluates it where the
    event throws, and refuses it where one is caught (a catch matches fixed codes). Returns the
    field to set, or False after a problem."""
    if code is None or not code.strip().startswith("="):
        return {}
    if catching:
        ctx.problem(
            event,
            f"a catch event's {what} code {code!r} must be a fixed value: only an event that "
            "throws may compute its code",
        )
        return False
    expression = ctx.expression(event, code.strip(), "feel", f"{what} code")
    return False if expression is None else {"code_expression": expression}


def read_escalation(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    ref = definition.get("escalationRef")
    escalation = ctx.refers_to(event, ref, bpmn("escalation"))
    code = escalation.get("escalationCode") if escalation is not None else None
    if not catching and not code:
        if not ctx.has_problem(event):
            ctx.problem(
                event,
                "throws an escalation without a code: set an escalationRef to "
                "a bpmn:escalation that has an escalationCode",
            )
        return None
    dynamic = _code_expression(ctx, event, code, catching, "escalation")
    if dynamic is False:
        return None
    return EscalationEventDefinition(escalation_id=ref, escalation_code=code, **dynamic)


def read_signal(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    ref = definition.get("signalRef")
    signal = ctx.refers_to(event, ref, bpmn("signal"))
    name = (signal.get("name") or "").strip() if signal is not None else ""
    if not name:
        if not ctx.has_problem(event):
            ctx.problem(
                event,
                "signal event has no signal: set a signalRef to a bpmn:signal that has a name",
            )
        return None
    if not name.startswith("="):
        return SignalEventDefinition(signal_id=ref, name=name)
    if local_name(event.tag) == "startEvent":
        ctx.problem(
            event,
            f"a signal start event's signal name {name!r} must be a fixed value; only "
            "signal catch and throw events may compute theirs",
        )
        return None
    expression = ctx.expression(event, name, "feel", "signal name")
    if expression is None:
        return None
    return SignalEventDefinition(signal_id=ref, name=name, name_expression=expression)


def read_terminate(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    return TerminateEventDefinition()


def read_conditional(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    condition = first_child(definition, bpmn("condition"))
    text = "".join(str(part) for part in condition.itertext()) if condition is not None else ""
    if not text.strip():
        ctx.problem(event, "conditional event has no condition")
        return None
    expression = ctx.marked_expression(event, text, "condition")
    if expression is None:
        return None
    names = dialects.camunda_attribute(definition, "variableName") or ""
    variables = tuple(name.strip() for name in names.split(",") if name.strip())
    return ConditionalEventDefinition(condition=expression, variable_names=variables)


def read_compensation(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    ctx.compensation = True
    wait = definition.get("waitForCompletion", "true").strip().lower() != "false"
    return CompensateEventDefinition(
        activity=definition.get("activityRef"), wait_for_completion=wait
    )


def read_link(
    ctx: CompileContext, event: etree._Element, definition: etree._Element, catching: bool
) -> EventDefinition | None:
    name = (definition.get("name") or "").strip()
    if not name:
        ctx.problem(
            event,
            "link event has no name: a link throw jumps to the link catch event of the same name",
        )
        return None
    return LinkEventDefinition(name=name)


READERS: dict[str, tuple[str, Reader]] = {
    bpmn("messageEventDefinition"): ("message", read_message),
    bpmn("timerEventDefinition"): ("timer", read_timer),
    bpmn("errorEventDefinition"): ("error", read_error),
    bpmn("escalationEventDefinition"): ("escalation", read_escalation),
    bpmn("signalEventDefinition"): ("signal", read_signal),
    bpmn("terminateEventDefinition"): ("terminate", read_terminate),
    bpmn("conditionalEventDefinition"): ("conditional", read_conditional),
    bpmn("compensateEventDefinition"): ("compensation", read_compensation),
    bpmn("linkEventDefinition"): ("link", read_link),
}
EVENT_DEFINITION_REF = bpmn("eventDefinitionRef")
UNSUPPORTED_DEFINITIONS = {
    bpmn("cancelEventDefinition"): "cancel events belong to transaction sub-processes, "
    "which are not supported",
}


def event_definition(
    ctx: CompileContext, event: etree._Element, position: Position
) -> tuple[bool, EventDefinition | None]:
    """The one event definition of ``event`` (None for a none event), checked for
    ``position``; the flag is False when a problem was recorded."""
    by_tag = children(event)
    found = [
        child
        for tag, group in by_tag.items()
        if tag in READERS or tag in UNSUPPORTED_DEFINITIONS
        for child in group
    ]
    if EVENT_DEFINITION_REF in by_tag:
        ctx.problem(
            event,
            "eventDefinitionRef (shared event definitions) is not supported; "
            "put the event definition inside the event",
        )
        return False, None
    if not found:
        return True, None
    if len(found) > 1:
        ctx.problem(
            event,
            "an event with several event definitions (a BPMN 'multiple' event) "
            "is not supported; use one event per trigger",
        )
        return False, None
    tag = found[0].tag
    if tag in UNSUPPORTED_DEFINITIONS:
        ctx.problem(event, UNSUPPORTED_DEFINITIONS[tag])
        return False, None
    kind, reader = READERS[tag]
    if kind not in ALLOWED[position]:
        ctx.problem(
            event,
            f"a {kind} event definition is not allowed on {POSITION_WORDS[position]} (BPMN 2.0)",
        )
        return False, None
    catching = position not in ("intermediateThrow", "end")
    definition = reader(ctx, event, found[0], catching)
    return definition is not None, definition


def _timer_fits(
    ctx: CompileContext,
    event: etree._Element,
    definition: EventDefinition | None,
    allowed: frozenset[str],
    where: str,
) -> bool:
    if not isinstance(definition, TimerEventDefinition) or definition.timer in allowed:
        return True
    ctx.problem(
        event,
        f"a timer {definition.timer} is not allowed on {where}; use {' or '.join(sorted(allowed))}",
    )
    return False


# --- Event handlers --------------------------------------------------------------------------


def _in_event_sub_process(element: etree._Element) -> bool:
    parent = element.getparent()
    return (
        parent is not None
        and parent.tag == bpmn("subProcess")
        and parent.get("triggeredByEvent", "false").strip().lower() == "true"
    )


def start_event(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    position: Position = "eventSubProcessStart" if _in_event_sub_process(element) else "start"
    ok, trigger = event_definition(ctx, element, position)
    if not ok or not _timer_fits(
        ctx, element, trigger, TIMERS_ALLOWED[position], POSITION_WORDS[position]
    ):
        return None
    if trigger is None and position == "eventSubProcessStart":
        ctx.problem(
            element,
            "the start event of an event sub-process needs a trigger "
            "(message, timer, error, signal...)",
        )
        return None
    _, outputs = dialects.io_mappings(ctx, element)
    if trigger is None:
        return StartEvent.model_validate({**common, "outputs": outputs})
    interrupting = element.get("isInterrupting", "true").strip().lower() != "false"
    return TriggeredStartEvent.model_validate(
        {**common, "trigger": trigger, "interrupting": interrupting, "outputs": outputs or None}
    )


def end_event(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    ok, result = event_definition(ctx, element, "end")
    if not ok:
        return None
    if result is None:
        return EndEvent.model_validate(common)
    job, inputs, _ = _throw_parts(ctx, element, result)
    if ctx.has_problem(element):
        return None
    return ResultEndEvent.model_validate({**common, "result": result, "job": job, "inputs": inputs})


def intermediate_throw_event(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    ok, result = event_definition(ctx, element, "intermediateThrow")
    if not ok:
        return None
    job, inputs, outputs = _throw_parts(ctx, element, result)
    if ctx.has_problem(element):
        return None
    return IntermediateThrowEvent.model_validate(
        {**common, "result": result, "job": job, "inputs": inputs, "outputs": outputs}
    )


def _throw_parts(
    ctx: CompileContext, element: etree._Element, result: EventDefinition | None
) -> tuple[JobDefinition | None, tuple[Mapping, ...], tuple[Mapping, ...]]:
    """A throw event's job, input mappings (a signal's variables; what a code expression
    sees; a job's input) and output mappings. A message throw event is a job in Zeebe (like a
    send task); Java is refused."""
    inputs, outputs = dialects.io_mappings(ctx, element)
    if not isinstance(result, MessageEventDefinition):  # a none throw event's too
        return None, inputs, outputs
    java = dialects.camunda_java_implementation(element)
    if java:
        ctx.problem(
            element,
            f"message event is implemented by a Java {java}, which cannot "
            'run here; use camunda:type="external" or a zeebe:taskDefinition',
        )
        return None, (), ()
    job = dialects.zeebe_job(ctx, element) or dialects.camunda_external_job(ctx, element)
    return job, inputs, outputs


def intermediate_catch_event(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    ok, trigger = event_definition(ctx, element, "intermediateCatch")
    if not ok:
        return None
    if trigger is None:
        ctx.problem(
            element,
            "intermediateCatchEvent has no event definition: it would wait "
            "for nothing; add a message, timer, signal, conditional or link",
        )
        return None
    if not _timer_fits(
        ctx,
        element,
        trigger,
        TIMERS_ALLOWED["intermediateCatch"],
        POSITION_WORDS["intermediateCatch"],
    ):
        return None
    _, outputs = dialects.io_mappings(ctx, element)
    return IntermediateCatchEvent.model_validate({**common, "trigger": trigger, "outputs": outputs})


def boundary_event(
    ctx: CompileContext, element: etree._Element, common: dict[str, object]
) -> FlowNode | None:
    ok, trigger = event_definition(ctx, element, "boundary")
    attached_to = (element.get("attachedToRef") or "").strip()
    cancel = element.get("cancelActivity", "true").strip().lower() != "false"
    if not attached_to:
        ctx.problem(element, "boundary event has no attachedToRef: attach it to an activity")
    if ok and trigger is None:
        ctx.problem(
            element,
            "boundary event has no event definition: add a timer, message, "
            "error, signal, escalation, conditional or compensation",
        )
    if isinstance(trigger, ErrorEventDefinition) and not cancel:
        ctx.problem(
            element,
            'an error boundary event always interrupts its activity; remove cancelActivity="false"',
        )
    allowed = TIMERS_ALLOWED["boundary"] if cancel else NON_INTERRUPTING_BOUNDARY_TIMERS
    where = "an interrupting boundary event" if cancel else "a boundary event"
    if (
        not ok
        or trigger is None
        or not attached_to
        or ctx.has_problem(element)
        or not (_timer_fits(ctx, element, trigger, allowed, where))
    ):
        return None
    _, outputs = dialects.io_mappings(ctx, element)
    return BoundaryEvent.model_validate(
        {
            **common,
            "attached_to": attached_to,
            "cancel_activity": cancel,
            "trigger": trigger,
            "compensation_handler": _compensation_handler(element, trigger),
            "outputs": outputs,
        }
    )


def _compensation_handler(element: etree._Element, trigger: EventDefinition) -> str | None:
    """A compensation boundary event names its handler by an association, not a flow."""
    parent = element.getparent()
    if not isinstance(trigger, CompensateEventDefinition) or parent is None:
        return None
    for association in parent.iter(bpmn("association")):
        if association.get("sourceRef") == element.get("id"):
            return association.get("targetRef")
    return None


HANDLERS = {
    bpmn("startEvent"): start_event,
    bpmn("endEvent"): end_event,
    bpmn("intermediateCatchEvent"): intermediate_catch_event,
    bpmn("intermediateThrowEvent"): intermediate_throw_event,
    bpmn("boundaryEvent"): boundary_event,
}
