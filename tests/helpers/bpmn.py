"""A few builders that keep BPMN test models short and readable (Zeebe dialect)."""

from __future__ import annotations

import itertools

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="definitions">
"""


def model(process_id: str, *elements: str, extra: str = "") -> str:
    """A file with one executable process made of ``elements`` (plus top-level ``extra``)."""
    body = "\n".join(elements)
    return (
        f'{HEADER}{extra}\n  <bpmn:process id="{process_id}" isExecutable="true">\n{body}\n'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )


def service(element_id: str, job_type: str | None = None, io: str = "", extra: str = "") -> str:
    return (
        f'<bpmn:serviceTask id="{element_id}"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type or element_id}" retries="1" />{io}'
        f"</bpmn:extensionElements>{extra}</bpmn:serviceTask>"
    )


def io_mapping(inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None) -> str:
    """``{target: source}`` input and output mappings."""
    parts = [f'<zeebe:input source="{s}" target="{t}" />' for t, s in (inputs or {}).items()]
    parts += [f'<zeebe:output source="{s}" target="{t}" />' for t, s in (outputs or {}).items()]
    return f"<zeebe:ioMapping>{''.join(parts)}</zeebe:ioMapping>"


def chain(*element_ids: str) -> str:
    """Sequence flows linking the elements in order (ids ``a_b``)."""
    return "\n".join(flow(source, target) for source, target in itertools.pairwise(element_ids))


def flow(source: str, target: str, condition: str | None = None, flow_id: str = "") -> str:
    flow_id = flow_id or f"{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>"
        "</bpmn:sequenceFlow>"
    )


def events(*ids: str, kind: str = "endEvent") -> str:
    return "\n".join(f'<bpmn:{kind} id="{element_id}" />' for element_id in ids)


def error_boundary(element_id: str, attached_to: str, error_ref: str | None = None) -> str:
    ref = f' errorRef="{error_ref}"' if error_ref else ""
    return (
        f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}">'
        f"<bpmn:errorEventDefinition{ref} /></bpmn:boundaryEvent>"
    )


def error(error_id: str, code: str) -> str:
    return f'<bpmn:error id="{error_id}" errorCode="{code}" />'


def condition(expression: str) -> str:
    """A conditional event definition (``expression`` XML-escaped already)."""
    return (
        "<bpmn:conditionalEventDefinition><bpmn:condition>"
        f"{expression}</bpmn:condition></bpmn:conditionalEventDefinition>"
    )


def conditionally_started(process_id: str, expression: str) -> str:
    """A process started by a conditional start event ``when``, then a job ``<id>-handle``."""
    return model(
        process_id,
        f'<bpmn:startEvent id="when">{condition(expression)}</bpmn:startEvent>',
        service("handle", job_type=f"{process_id}-handle"),
        events("end"),
        chain("when", "handle", "end"),
    )


def undone_by(activity: str, handler: str) -> str:
    """A compensation boundary event on ``activity``, associated with ``handler``, a service
    task (job type: its id) marked for compensation."""
    return (
        f'<bpmn:boundaryEvent id="{activity}_compensation" attachedToRef="{activity}">'
        "<bpmn:compensateEventDefinition /></bpmn:boundaryEvent>"
        + service(handler).replace(
            "<bpmn:serviceTask ", '<bpmn:serviceTask isForCompensation="true" '
        )
        + f'<bpmn:association id="{activity}_handler" sourceRef="{activity}_compensation" '
        f'targetRef="{handler}" />'
    )
