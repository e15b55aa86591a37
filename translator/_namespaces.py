"""XML namespaces of BPMN 2.0 and the dialects we read, with Clark-notation helpers."""

from __future__ import annotations

from functools import cache

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
# Old Camunda Modeler / Activiti files use this one for the same attributes.
ACTIVITI = "http://activiti.org/bpmn"


def clark(namespace: str, local: str) -> str:
    """Return the lxml (Clark notation) name ``{namespace}local``."""
    return f"{{{namespace}}}{local}"


# The handlers name tags with these on every element they read: cached, a name is built once.


@cache
def bpmn(local: str) -> str:
    return clark(BPMN, local)


@cache
def zeebe(local: str) -> str:
    return clark(ZEEBE, local)


@cache
def camunda(local: str) -> str:
    return clark(CAMUNDA, local)


def local_name(tag: object) -> str:
    """The tag without its namespace; comments and processing instructions give ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]
