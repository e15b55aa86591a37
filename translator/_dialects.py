"""Readers for vendor extension elements: Zeebe (``zeebe:*``), Camunda 7 (``camunda:*``), tSM.

Each reader takes the BPMN element and returns IR parts; problems go to the context.
Where both dialects say the same thing in different places, the places are data (tables of
``Source``), read by one function.

Camunda 7's ``camunda:asyncBefore``, ``camunda:asyncAfter`` and ``camunda:exclusive`` are
accepted and ignored on purpose: they ask the engine to commit its state before or after a
step and to serialise jobs, and on Temporal every step is already durable (each activity
result and timer is recorded in the workflow history) and one workflow's code never runs
concurrently with itself. ``camunda:failedJobRetryTimeCycle`` (``R5/PT1M``) on an external task
becomes its retries and the wait between them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from lxml import etree
from pydantic import BaseModel

from translator._context import CompileContext, expression_dialect
from translator._model import (
    DEFAULT_JOB_RETRIES,
    KAFKA_DEFAULT_REQUEST_TOPIC,
    KAFKA_DEFAULT_RESPONSE_TOPIC,
    MAX_JOB_RETRIES,
    JobDefinition,
    JobListener,
    Listener,
    Mapping,
)
from translator._namespaces import ACTIVITI, bpmn, camunda, clark, local_name, zeebe
from translator._xml import children
from translator.expressions import Expression
from translator.expressions._ast import (
    Constant,
    ContextEntry,
    ContextLiteral,
    ListLiteral,
    MethodCall,
    depth,
    walk,
)
from translator.expressions._limits import MAX_DEPTH
from translator.expressions._methods import is_known_method
from translator.expressions._temporal import parse_duration

TSM_KAFKA_LISTENER = "tsmKafkaTaskExecutor"

_RETRY_CYCLE = re.compile(r"R(\d+)/(P\S+)")
"""Camunda 7's retry time cycle: how many retries, and the wait before each."""


EXTENSION_ELEMENTS = bpmn("extensionElements")
ZEEBE_HEADER = zeebe("header")
ZEEBE_INPUT = zeebe("input")
ZEEBE_OUTPUT = zeebe("output")
CAMUNDA_INPUT = camunda("inputParameter")
CAMUNDA_OUTPUT = camunda("outputParameter")

_Read = tuple[etree._Element | None, tuple[etree._Element, ...], dict[str, etree._Element]]
_last: _Read = (None, (), {})
"""The last element ``extensions`` read: the element, its extension elements, and the first of
them per tag. The readers of one element ask for its extensions several times in a row, each for
one tag. Holding the element keeps its identity from being reused; the compiler never changes a
tree it reads, so the answer stays right."""


def _read(element: etree._Element) -> _Read:
    global _last
    last = _last
    if last[0] is element:
        return last
    found: list[etree._Element] = []
    first: dict[str, etree._Element] = {}
    for container in _extension_containers(element):
        # A slice is built in C, faster than lxml's child iterator (lxml-stubs lack slicing).
        for child in container[:]:  # type: ignore[index]
            tag = child.tag
            if isinstance(tag, str):
                found.append(child)
                first.setdefault(tag, child)
    last = _last = (element, tuple(found), first)
    return last


_MANY_CHILDREN = 16
"""More children than a task or event has: indexing them all costs more than one lxml pass."""


def _extension_containers(element: etree._Element) -> Iterable[etree._Element]:
    if len(element) > _MANY_CHILDREN:  # a process or sub-process: lxml skips the others in C
        return element.iterchildren(EXTENSION_ELEMENTS)
    return children(element).get(EXTENSION_ELEMENTS, ())


def extensions(element: etree._Element) -> tuple[etree._Element, ...]:
    """Children of ``<bpmn:extensionElements>``, in document order."""
    return _read(element)[1]


def forget_extensions() -> None:
    """Drop the element ``extensions`` remembers (and with it its tree)."""
    global _last
    _last = (None, (), {})


def first_extension(element: etree._Element, tag: str) -> etree._Element | None:
    return _read(element)[2].get(tag)


@cache
def _camunda_names(name: str) -> tuple[str, str]:
    return camunda(name), clark(ACTIVITI, name)


def camunda_attribute(element: etree._Element, name: str) -> str | None:
    """A ``camunda:`` attribute, also under the older ``activiti:`` namespace."""
    current, old = _camunda_names(name)
    value = element.get(current)
    return value if value is not None else element.get(old)


# --- Zeebe -----------------------------------------------------------------------------------


def zeebe_job(ctx: CompileContext, element: etree._Element) -> JobDefinition | None:
    """``zeebe:taskDefinition`` (type, retries) and ``zeebe:taskHeaders``; None if absent."""
    definition = first_extension(element, zeebe("taskDefinition"))
    if definition is None:
        return None
    job_type = (definition.get("type") or "").strip()
    if not job_type:
        ctx.problem(element, "zeebe:taskDefinition has no job type: set the task's type")
        return None
    return _zeebe_job_definition(
        ctx, element, job_type, definition.get("retries"), "job", zeebe_headers(element)
    )


def _zeebe_job_definition(
    ctx: CompileContext,
    element: etree._Element,
    job_type: str,
    retries_text: str | None,
    what: str,
    headers: dict[str, str] | None = None,
) -> JobDefinition | None:
    """A job's type and retries, each fixed or a FEEL expression (``=...``) that Zeebe
    evaluates as each job is created; None if the type's expression is invalid."""
    dynamic: dict[str, Expression | None] = {}  # only when present: most jobs are static
    if job_type.startswith("="):
        dynamic["type_expression"] = ctx.expression(element, job_type, "feel", f"{what} type")
        if dynamic["type_expression"] is None:
            return None
    retries = DEFAULT_JOB_RETRIES
    if retries_text is not None and retries_text.strip().startswith("="):
        text = retries_text.strip()
        dynamic["retries_expression"] = ctx.expression(element, text, "feel", f"{what} retries")
    else:
        retries = _retries(ctx, element, retries_text)
    return JobDefinition(type=job_type, retries=retries, headers=headers or {}, **dynamic)


def _retries(ctx: CompileContext, element: etree._Element, text: str | None) -> int:
    if text is None or not text.strip():
        return DEFAULT_JOB_RETRIES
    try:
        retries = int(text.strip())
    except ValueError:
        ctx.problem(element, f"retries {text!r} is not a whole number")
        return DEFAULT_JOB_RETRIES
    return _bounded_retries(ctx, element, retries)


def _bounded_retries(ctx: CompileContext, element: etree._Element, retries: int) -> int:
    if not 0 <= retries <= MAX_JOB_RETRIES:
        ctx.problem(element, f"retries must be 0 to {MAX_JOB_RETRIES:,}, got {retries:,}")
    return min(max(retries, 0), MAX_JOB_RETRIES)


def zeebe_headers(element: etree._Element) -> dict[str, str]:
    headers: dict[str, str] = {}
    container = first_extension(element, zeebe("taskHeaders"))
    if container is not None:
        for header in children(container).get(ZEEBE_HEADER, ()):
            headers[header.get("key", "")] = header.get("value", "")
    return headers


def io_mappings(
    ctx: CompileContext, element: etree._Element
) -> tuple[tuple[Mapping, ...], tuple[Mapping, ...]]:
    """Inputs and outputs in either dialect (``zeebe:ioMapping``, ``camunda:inputOutput``)."""
    zeebe_in, zeebe_out = zeebe_mappings(ctx, element)
    camunda_in, camunda_out = camunda_mappings(ctx, element)
    return zeebe_in + camunda_in, zeebe_out + camunda_out


def refuse_unread_mappings(ctx: CompileContext, element: etree._Element, node: BaseModel) -> None:
    """Input or output mappings on an element whose node has no place for them are refused:
    dropping them would change what the process computes without a word."""
    io = first_extension(element, zeebe("ioMapping"))
    camunda_io = first_extension(element, camunda("inputOutput"))
    if io is None and camunda_io is None:
        return
    inner = getattr(node, "activity", node)  # the activity a loop or multi-instance wraps
    fields = type(inner).model_fields
    present: set[str] = set()
    for container in (io, camunda_io):
        if container is not None:
            present.update(children(container))
    for field, tags, what in _MAPPING_KINDS:
        if field not in fields and not present.isdisjoint(tags):
            ctx.problem(
                element,
                f"{what} mappings are not supported on {local_name(element.tag)} elements "
                "here: nothing would apply them; move them to a task before or after it",
            )


_MAPPING_KINDS = (
    ("inputs", (ZEEBE_INPUT, CAMUNDA_INPUT), "input"),
    ("outputs", (ZEEBE_OUTPUT, CAMUNDA_OUTPUT), "output"),
)


def zeebe_mappings(
    ctx: CompileContext, element: etree._Element
) -> tuple[tuple[Mapping, ...], tuple[Mapping, ...]]:
    """``zeebe:ioMapping`` inputs and outputs. A source without ``=`` is a literal string."""
    container = first_extension(element, zeebe("ioMapping"))
    if container is None:
        return (), ()
    inputs = _zeebe_mapping_list(ctx, element, children(container).get(ZEEBE_INPUT, []), "input")
    outputs = _zeebe_mapping_list(ctx, element, children(container).get(ZEEBE_OUTPUT, []), "output")
    return inputs, outputs


def _zeebe_mapping_list(
    ctx: CompileContext, element: etree._Element, entries: list[etree._Element], kind: str
) -> tuple[Mapping, ...]:
    mappings: list[Mapping] = []
    for entry in entries:
        target = (entry.get("target") or "").strip()
        if not target:
            ctx.problem(element, f"an {kind} mapping has no target variable")
            continue
        source = entry.get("source") or "=null"
        expression = ctx.value_or_expression(element, source, f"{kind} mapping {target!r}")
        if expression is not None:
            mappings.append(Mapping(source=expression, target=target))
    return tuple(mappings)


# --- Camunda 7 -------------------------------------------------------------------------------


def camunda_external_job(ctx: CompileContext, element: etree._Element) -> JobDefinition | None:
    """``camunda:type="external" camunda:topic="..."``: an external task is a job of that topic."""
    if camunda_attribute(element, "type") != "external":
        return None
    topic = (camunda_attribute(element, "topic") or "").strip()
    if not topic:
        ctx.problem(element, 'camunda:type="external" needs a camunda:topic')
        return None
    retries, backoff = _retry_time_cycle(ctx, element)
    return JobDefinition(type=topic, retries=retries, retry_backoff=backoff)


def _retry_time_cycle(ctx: CompileContext, element: etree._Element) -> tuple[int, timedelta | None]:
    """``camunda:failedJobRetryTimeCycle`` as (retries, wait between them)."""
    cycle = first_extension(element, camunda("failedJobRetryTimeCycle"))
    text = (cycle.text or "").strip() if cycle is not None else ""
    if not text:
        return DEFAULT_JOB_RETRIES, None
    match = _RETRY_CYCLE.fullmatch(text)
    wait = parse_duration(match.group(2)) if match else None
    if match is None or not isinstance(wait, timedelta):
        ctx.problem(
            element,
            f"camunda:failedJobRetryTimeCycle {text!r} is not a cycle like 'R5/PT1M' (five "
            "attempts, a minute apart)",
        )
        return DEFAULT_JOB_RETRIES, None
    return _bounded_retries(ctx, element, int(match.group(1))), wait


def camunda_java_implementation(element: etree._Element) -> str | None:
    """The attribute naming a Java delegate, which cannot run outside a Camunda 7 engine."""
    for name in ("class", "delegateExpression", "expression", "connector"):
        if camunda_attribute(element, name) is not None:
            return f"camunda:{name}"
    if first_extension(element, camunda("connector")) is not None:
        return "camunda:connector"
    return None


def camunda_mappings(
    ctx: CompileContext, element: etree._Element
) -> tuple[tuple[Mapping, ...], tuple[Mapping, ...]]:
    """``camunda:inputOutput`` with text values (expressions or literals)."""
    container = first_extension(element, camunda("inputOutput"))
    if container is None:
        return (), ()
    inputs = _camunda_parameters(ctx, element, children(container).get(CAMUNDA_INPUT, []))
    outputs = _camunda_parameters(ctx, element, children(container).get(CAMUNDA_OUTPUT, []))
    return inputs, outputs


def _camunda_parameters(
    ctx: CompileContext, element: etree._Element, parameters: list[etree._Element]
) -> tuple[Mapping, ...]:
    mappings: list[Mapping] = []
    for parameter in parameters:
        name = parameter.get("name", "")
        value = _parameter_value(ctx, element, parameter, f"parameter {name!r}")
        if value is not None:
            mappings.append(Mapping(source=value, target=name))
    return tuple(mappings)


def _parameter_value(
    ctx: CompileContext, element: etree._Element, parameter: etree._Element, what: str
) -> Expression | None:
    """Text (an expression or a literal; empty is null), or one ``camunda:list``,
    ``camunda:map`` or ``camunda:script`` (FEEL or JUEL): what Camunda 7 reads."""
    nested = _child_elements(parameter)
    if len(nested) > 1:
        written = ", ".join(f"<{local_name(child.tag)}>" for child in nested)
        ctx.problem(element, f"{what} holds {written}; a parameter holds one value")
        return None
    if nested and local_name(nested[0].tag) == "script":
        return camunda_script(ctx, element, nested[0], f"script of {what}")
    if nested:
        return _camunda_value(ctx, element, nested[0], what)
    text = (parameter.text or "").strip()
    if not text:
        return _NULL
    if expression_dialect(text) == "spel":
        text = "$" + text[1:]  # Camunda 7 reads #{...} as deferred JUEL
    return ctx.value_or_expression(element, text, what)


_NULL = Expression(dialect="juel", source="", ast=Constant(value=None))
"""An empty value: Camunda 7 sets the variable to null."""


def _child_elements(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _camunda_value(
    ctx: CompileContext, element: etree._Element, value: etree._Element, what: str
) -> Expression | None:
    """A ``camunda:list`` (each child element is an item: a list, a map or a text value such
    as ``<camunda:value>``), a ``camunda:map`` (``camunda:entry`` by key, each holding text or
    one list or map), or text: JUEL or a literal, empty for null. Built into one JUEL
    expression, as Camunda 7 evaluates it."""
    kind = local_name(value.tag)
    if kind == "script":
        ctx.problem(element, f"{what} is a script inside a list or map; use JUEL there")
        return None
    if kind == "list":
        items = [
            _camunda_value(ctx, element, item, f"{what} item {index + 1}")
            for index, item in enumerate(_child_elements(value))
        ]
        return _built(ctx, element, what, [], items)
    if kind == "map":
        return _camunda_map(ctx, element, value, what)
    text = (value.text or "").strip()
    return ctx.expression(element, text, "juel", what) if text else _NULL


def _camunda_map(
    ctx: CompileContext, element: etree._Element, value: etree._Element, what: str
) -> Expression | None:
    keys: list[str] = []
    values: list[Expression | None] = []
    for entry in children(value).get(camunda("entry"), []):
        key = entry.get("key") or ""
        inner = f"{what} entry {key!r}"
        if not key or "${" in key or "#{" in key:
            problem = "has no key" if not key else "computes its key; write a fixed key"
            ctx.problem(element, f"{inner} {problem}")
            values.append(None)
            continue
        nested = _child_elements(entry)
        if len(nested) > 1:
            ctx.problem(element, f"{inner} holds more than one value")
            values.append(None)
            continue
        keys.append(key)
        values.append(_camunda_value(ctx, element, nested[0] if nested else entry, inner))
    return _built(ctx, element, what, keys, values)


def _built(
    ctx: CompileContext,
    element: etree._Element,
    what: str,
    keys: list[str],
    values: list[Expression | None],
) -> Expression | None:
    """The list (no ``keys``) or map of ``values`` as one expression; None after a problem."""
    found = [value for value in values if value is not None]
    if len(found) < len(values):
        return None
    sources = [value.source or "null" for value in found]
    if keys:
        entries = tuple(ContextEntry(key=k, value=v.ast) for k, v in zip(keys, found, strict=True))
        pairs = ", ".join(f"{k!r}: {s}" for k, s in zip(keys, sources, strict=True))
        built = Expression(
            dialect="juel", source="{" + pairs + "}", ast=ContextLiteral(entries=entries)
        )
    else:
        items = ListLiteral(items=tuple(value.ast for value in found))
        built = Expression(dialect="juel", source="[" + ", ".join(sources) + "]", ast=items)
    if depth(built.ast) > MAX_DEPTH:  # what compile_expression bounds for the evaluator
        ctx.problem(element, f"{what} is nested more than {MAX_DEPTH} levels deep")
        return None
    return built


# --- tSM Kafka Task --------------------------------------------------------------------------


def tsm_kafka_listener(element: etree._Element) -> etree._Element | None:
    """The start execution listener ``#{tsmKafkaTaskExecutor}`` that makes a Kafka Task."""
    for listener in extensions(element):
        if listener.tag != camunda("executionListener"):
            continue
        delegate = (listener.get("delegateExpression") or "").strip()
        if delegate[2:-1].strip() == TSM_KAFKA_LISTENER and listener.get("event", "start") == (
            "start"
        ):
            return listener
    return None


def camunda_fields(listener: etree._Element) -> dict[str, str]:
    """``camunda:field`` values: ``stringValue``/``expression`` attributes or child elements."""
    fields: dict[str, str] = {}
    for field in listener.findall(camunda("field")):
        value = field.get("stringValue", field.get("expression"))
        if value is None:
            child = field.find(camunda("string"))
            if child is None:
                child = field.find(camunda("expression"))
            value = (child.text or "") if child is not None else ""
        fields[field.get("name", "")] = value
    return fields


def tsm_field_expression(
    ctx: CompileContext, element: etree._Element, text: str | None, what: str
) -> Expression | None:
    """A tSM field: ``#{...}`` is SpEL, ``${...}`` JUEL, anything else a literal string."""
    if text is None or not text.strip():
        return None
    return ctx.value_or_expression(element, text.strip(), what)


def tsm_topics(fields: dict[str, str]) -> tuple[str, str]:
    request = fields.get("requestTopic", "").strip() or KAFKA_DEFAULT_REQUEST_TOPIC
    response = fields.get("responseTopic", "").strip() or KAFKA_DEFAULT_RESPONSE_TOPIC
    return request, response


# --- Values both dialects write in their own place -------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where one IR field is written: an attribute of a Zeebe extension element, or a
    ``camunda:`` attribute of the BPMN element itself."""

    zeebe_element: str
    zeebe_attribute: str
    camunda_attribute: str


USER_TASK_SOURCES = {
    "assignee": Source(zeebe("assignmentDefinition"), "assignee", "assignee"),
    "candidate_groups": Source(zeebe("assignmentDefinition"), "candidateGroups", "candidateGroups"),
    "candidate_users": Source(zeebe("assignmentDefinition"), "candidateUsers", "candidateUsers"),
    "due_date": Source(zeebe("taskSchedule"), "dueDate", "dueDate"),
    "follow_up_date": Source(zeebe("taskSchedule"), "followUpDate", "followUpDate"),
    "priority": Source(zeebe("priorityDefinition"), "priority", "priority"),
}
FORM_SOURCES = (
    Source(zeebe("formDefinition"), "formKey", "formKey"),
    Source(zeebe("formDefinition"), "formId", "formRef"),
    Source(zeebe("formDefinition"), "externalReference", "formRef"),
)
SCRIPT_SOURCES = {
    "result_variable": Source(zeebe("script"), "resultVariable", "resultVariable"),
}
DECISION_SOURCES = {
    "decision_id": Source(zeebe("calledDecision"), "decisionId", "decisionRef"),
    "result_variable": Source(zeebe("calledDecision"), "resultVariable", "resultVariable"),
}


def decision_binding(element: etree._Element) -> tuple[str, str | None]:
    """Which version of its decision a business rule task evaluates, and the version tag of
    a ``versionTag`` binding: ``zeebe:calledDecision bindingType``/``versionTag``, or
    ``camunda:decisionRefBinding``/``camunda:decisionRefVersionTag`` (default ``latest``)."""
    extension = first_extension(element, zeebe("calledDecision"))
    if extension is not None and extension.get("bindingType") is not None:
        binding, tag = extension.get("bindingType"), extension.get("versionTag")
    else:
        binding = camunda_attribute(element, "decisionRefBinding")
        tag = camunda_attribute(element, "decisionRefVersionTag")
    return (binding or "").strip() or "latest", tag


def version_tag(element: etree._Element) -> str | None:
    """A process's or decision's own version tag: ``zeebe:versionTag value`` (Zeebe 8.6+) or
    ``camunda:versionTag``."""
    tag = first_extension(element, zeebe("versionTag"))
    value = tag.get("value") if tag is not None else camunda_attribute(element, "versionTag")
    return value.strip() or None if value is not None else None


def pinned_tag(
    ctx: CompileContext, element: etree._Element, binding: str, tag: str | None, what: str
) -> tuple[bool, str | None]:
    """Whether the binding can run here, and the version tag it pins (None: the latest).

    ``deployment`` and ``version`` bindings are refused: the version store knows no
    deployments or version numbers, and silently calling the latest would be wrong."""
    if binding == "latest":
        return True, None
    if binding == "versionTag" and tag and tag.strip():
        return True, tag.strip()
    if binding == "versionTag":
        ctx.problem(element, f"{local_name(element.tag)} binds a version tag but names none")
    else:
        ctx.problem(
            element,
            f"{local_name(element.tag)} binds the {binding!r} version of its {what}; only the "
            "latest version or a version tag can be used here: set the binding to latest or "
            "versionTag",
        )
    return False, None


def read_source(element: etree._Element, source: Source) -> str | None:
    """The value written at ``source`` (Zeebe first), or None; blank counts as absent."""
    extension = first_extension(element, source.zeebe_element)
    value = extension.get(source.zeebe_attribute) if extension is not None else None
    if value is None or not value.strip():
        value = camunda_attribute(element, source.camunda_attribute)
    return value if value is not None and value.strip() else None


def read_sources(element: etree._Element, sources: dict[str, Source]) -> dict[str, str]:
    values = {field: read_source(element, source) for field, source in sources.items()}
    return {field: value for field, value in values.items() if value is not None}


# --- Scripts ---------------------------------------------------------------------------------

# A Camunda 7 script runs only when its language is an expression language we evaluate.
SCRIPT_DIALECTS = {"feel": "feel", "juel": "juel"}


def zeebe_script(ctx: CompileContext, element: etree._Element) -> Expression | bool | None:
    """``zeebe:script expression``: the expression, None after a problem, False if absent."""
    script = first_extension(element, zeebe("script"))
    if script is None:
        return False
    text = (script.get("expression") or "").strip()
    if not text:
        ctx.problem(element, "zeebe:script has no expression")
        return None
    return ctx.expression(element, text, "feel", "script")


def camunda_script(
    ctx: CompileContext, element: etree._Element, script: etree._Element | None, what: str
) -> Expression | None:
    """A BPMN/Camunda script (``scriptFormat`` + text) in FEEL or JUEL; others are refused."""
    language = (element.get("scriptFormat") or "").strip()
    if script is not None and script.tag == camunda("script"):
        language = (script.get("scriptFormat") or "").strip()
    if camunda_attribute(element, "resource") or (script is not None and script.get("resource")):
        ctx.problem(
            element,
            f"{what} loads its script from a resource, which cannot be "
            "read here; write it inline in FEEL or JUEL",
        )
        return None
    dialect = SCRIPT_DIALECTS.get(language.lower())
    if dialect is None:
        ctx.problem(
            element,
            f"{what} is written in {language or 'an unnamed language'!r}, which cannot run "
            'here; use scriptFormat="feel" or "juel" (or a job worker)',
        )
        return None
    text = "".join(str(part) for part in script.itertext()).strip() if script is not None else ""
    if not text:
        ctx.problem(element, f"{what} has no script text")
        return None
    return ctx.expression(element, text, dialect, what)  # type: ignore[arg-type]


# --- Call activities -------------------------------------------------------------------------


@dataclass(frozen=True)
class CalledElement:
    process_id: str
    propagate_parent: bool
    propagate_child: bool
    binding: str = "latest"
    """Which version is called: Zeebe's ``bindingType``, Camunda 7's
    ``camunda:calledElementBinding``; ``latest`` and ``versionTag`` run here."""
    version_tag: str | None = None


def zeebe_called_element(element: etree._Element) -> CalledElement | None:
    called = first_extension(element, zeebe("calledElement"))
    process_id = (called.get("processId") or "").strip() if called is not None else ""
    if called is None or not process_id:
        return None
    # Zeebe propagates every variable both ways unless told otherwise.
    parent = called.get("propagateAllParentVariables", "true").strip().lower() != "false"
    child = called.get("propagateAllChildVariables", "true").strip().lower() != "false"
    binding = (called.get("bindingType") or "latest").strip()
    return CalledElement(process_id, parent, child, binding, called.get("versionTag"))


def camunda_called_element(element: etree._Element) -> CalledElement | None:
    process_id = (element.get("calledElement") or "").strip()
    if not process_id:
        return None
    # Camunda 7 passes nothing unless a camunda:in/out says variables="all".
    parent = any(e.get("variables") == "all" for e in _extensions_named(element, "in"))
    child = any(e.get("variables") == "all" for e in _extensions_named(element, "out"))
    binding = (camunda_attribute(element, "calledElementBinding") or "latest").strip()
    tag = camunda_attribute(element, "calledElementVersionTag")
    return CalledElement(process_id, parent, child, binding, tag)


def _extensions_named(element: etree._Element, name: str) -> list[etree._Element]:
    return [e for e in extensions(element) if e.tag == camunda(name)]


def camunda_variable_passing(
    ctx: CompileContext, element: etree._Element, direction: str
) -> tuple[Mapping, ...]:
    """``camunda:in``/``camunda:out`` with ``source`` (a variable) or ``sourceExpression``."""
    mappings: list[Mapping] = []
    for entry in _extensions_named(element, direction):
        if entry.get("variables") or entry.get("businessKey") is not None:
            continue
        target = (entry.get("target") or "").strip()
        source = (entry.get("source") or "").strip()
        text = entry.get("sourceExpression") or (f"${{{source}}}" if source else "")
        if not target or not text:
            ctx.problem(
                element, f"camunda:{direction} needs a target and a source or sourceExpression"
            )
            continue
        expression = ctx.marked_expression(element, text, f"camunda:{direction} {target!r}")
        if expression is not None:
            mappings.append(Mapping(source=expression, target=target))
    return tuple(mappings)


def camunda_business_key(ctx: CompileContext, element: etree._Element) -> Expression | None:
    for entry in _extensions_named(element, "in"):
        text = entry.get("businessKey")
        if text is not None:
            return ctx.marked_expression(element, text, "business key")
    return None


# --- Listeners -------------------------------------------------------------------------------

LISTENER_TAGS = {camunda("executionListener"): "execution", camunda("taskListener"): "task"}
ZEEBE_TASK_LISTENERS = zeebe("taskListeners")
ZEEBE_EXECUTION_LISTENERS = zeebe("executionListeners")
_GATEWAYS = frozenset(
    bpmn(name)
    for name in (
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
    )
)
_NO_START_LISTENERS = {
    bpmn("startEvent"): "start events (use a start listener of the process or sub-process)",
    bpmn("boundaryEvent"): "boundary events (use a start listener of the activity they are "
    "attached to)",
}
"""Where Zeebe runs no start listener, and what it advises instead."""


def job_listeners(ctx: CompileContext, element: etree._Element) -> tuple[JobListener, ...]:
    """Zeebe's execution listeners (``zeebe:executionListeners``): jobs the element waits for
    as it starts and ends, in model order. Where Zeebe refuses one (a start listener of a
    start or boundary event, an end listener of a gateway or an error end event, the same
    event and type twice) so does the translator."""
    container = first_extension(element, ZEEBE_EXECUTION_LISTENERS)
    if container is None:
        return ()
    found: list[JobListener] = []
    for entry in children(container).get(zeebe("executionListener"), ()):
        listener = _job_listener(ctx, element, entry)
        if listener is None:
            continue
        if any(
            other.event == listener.event and other.job.type == listener.job.type for other in found
        ):
            ctx.problem(
                element,
                f"two {listener.event} execution listeners have the job type "
                f"{listener.job.type!r}; each event and type may be listed once",
            )
            continue
        found.append(listener)
    return tuple(found)


def _job_listener(
    ctx: CompileContext, element: etree._Element, entry: etree._Element
) -> JobListener | None:
    event = (entry.get("eventType") or "start").strip()
    if event not in ("start", "end"):
        ctx.problem(element, f"execution listener eventType {event!r} must be start or end")
        return None
    job_type = (entry.get("type") or "").strip()
    if not job_type:
        ctx.problem(element, f"{event} execution listener has no job type: set its type")
        return None
    unsupported = _listener_placement(element, event)
    if unsupported is not None:
        ctx.problem(element, f"{event} execution listeners are not supported on {unsupported}")
        return None
    what = f"{event} execution listener job"
    job = _zeebe_job_definition(ctx, element, job_type, entry.get("retries"), what)
    return None if job is None else JobListener(event=event, job=job)


def _listener_placement(element: etree._Element, event: str) -> str | None:
    """Why Zeebe runs no ``event`` listener on ``element``, or None if it does."""
    tag = element.tag
    if event == "start":
        return _NO_START_LISTENERS.get(tag) if isinstance(tag, str) else None
    if tag in _GATEWAYS:
        return "gateways (use a start listener of the element after the gateway)"
    if tag == bpmn("endEvent") and children(element).get(bpmn("errorEventDefinition")):
        return "error end events (put it on the catch event of the error)"
    if tag == bpmn("intermediateThrowEvent") and children(element).get(
        bpmn("escalationEventDefinition")
    ):
        return "escalation throw events"
    return None


def listeners(ctx: CompileContext, element: etree._Element) -> tuple[Listener, ...]:
    """Camunda 7 listeners kept as data (expressions, FEEL/JUEL scripts); Java is refused.

    The tSM Kafka listener is not a listener here: it makes a receive task a Kafka Task.
    """
    kept: list[Listener] = []
    for entry in extensions(element):
        if entry.tag == ZEEBE_TASK_LISTENERS:
            ctx.problem(element, "zeebe:taskListeners (user task listeners) are not supported yet")
        elif entry.tag in LISTENER_TAGS and not _is_tsm_kafka_listener(element, entry):
            listener = _listener(ctx, element, entry, LISTENER_TAGS[entry.tag])
            if listener is not None:
                kept.append(listener)
    return tuple(kept)


def refuse_flow_listeners(ctx: CompileContext, flow: etree._Element) -> None:
    """Listeners on a sequence flow (Camunda 7's ``take``): nothing here runs them, so they
    are refused rather than dropped; Zeebe allows none there."""
    for entry in extensions(flow):
        if entry.tag == ZEEBE_EXECUTION_LISTENERS:
            ctx.problem(flow, "Zeebe runs no execution listeners on sequence flows")
        elif entry.tag in LISTENER_TAGS:
            java = _java_listener(entry)
            written = f"Java code (camunda:{java})" if java else "an expression or script"
            ctx.problem(
                flow,
                f"the sequence flow's {entry.get('event') or 'take'} listener is {written}; "
                "listeners on sequence flows cannot run here: move the work to a task",
            )


def _java_listener(entry: etree._Element) -> str | None:
    """The attribute by which a Camunda 7 listener names Java code, if it does."""
    return next((name for name in ("class", "delegateExpression") if entry.get(name)), None)


def _is_tsm_kafka_listener(element: etree._Element, listener: etree._Element) -> bool:
    return element.tag == bpmn("receiveTask") and tsm_kafka_listener(element) is listener


def _listener(
    ctx: CompileContext, element: etree._Element, entry: etree._Element, kind: str
) -> Listener | None:
    what = f"{kind} listener"
    event = (entry.get("event") or "").strip()
    if kind == "execution" and event not in ("start", "end"):
        # Camunda 7 refuses these too; "take" belongs on a sequence flow.
        ctx.problem(
            element,
            f"{what} event {event!r} is not start or end"
            if event
            else f'{what} has no event: set event="start" or event="end"',
        )
        return None
    event = event or "create"
    java = _java_listener(entry)
    if java:
        ctx.problem(
            element,
            f"{what} {entry.get(java)!r} is Java code (camunda:{java}), which cannot run "
            "here; use an expression listener or a job worker instead",
        )
        return None
    if entry.get("expression"):
        expression = ctx.marked_expression(element, entry.get("expression", ""), what)
    else:
        expression = camunda_script(ctx, element, entry.find(camunda("script")), what)
    if expression is None:
        return None
    bean_call = next(
        (
            node.name
            for node in walk(expression.ast)
            if isinstance(node, MethodCall) and not is_known_method(node.name)
        ),
        None,
    )
    if bean_call is not None:
        ctx.problem(
            element,
            f"{what} {expression.source!r} calls {bean_call!r}, a method of Java code (a "
            "bean), which cannot run here; set variables with execution.setVariable, or use "
            "a job worker",
        )
        return None
    return Listener.model_validate({"listener": kind, "event": event, "expression": expression})
