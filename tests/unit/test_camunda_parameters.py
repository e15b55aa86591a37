"""Camunda 7 input and output parameters whose value is a ``camunda:list``, a ``camunda:map``
(nested as deep as the model likes) or a ``camunda:script`` in FEEL or JUEL, read as Camunda 7's
``BpmnParseUtil`` reads them: a list's items are its child elements (``<camunda:value>`` text, a
list, a map), a map's entries hold text or one list or map, and empty text is null."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

import translator
from activities import Job
from tests.helpers import deploy, problems_of, running_interpreter, start_process
from translator import JobTask
from translator.expressions import evaluate

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="parameters" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="task" camunda:type="external" camunda:topic="ship">
      <bpmn:extensionElements><camunda:inputOutput>{parameters}</camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

PARAMETERS = """
  <camunda:inputParameter name="recipients">
    <camunda:list>
      <camunda:value>ops@example.com</camunda:value>
      <camunda:value>${customer.email}</camunda:value>
      <camunda:list><camunda:value>${amount * 2}</camunda:value></camunda:list>
      <camunda:value />
    </camunda:list>
  </camunda:inputParameter>
  <camunda:inputParameter name="parcel">
    <camunda:map>
      <camunda:entry key="weight">${amount}</camunda:entry>
      <camunda:entry key="label">Order ${orderId}</camunda:entry>
      <camunda:entry key="amount">#{amount + 1}</camunda:entry>
      <camunda:entry key="sizes">
        <camunda:map><camunda:entry key="small">S</camunda:entry></camunda:map>
      </camunda:entry>
    </camunda:map>
  </camunda:inputParameter>
  <camunda:inputParameter name="doubled">
    <camunda:script scriptFormat="feel">amount * 2</camunda:script>
  </camunda:inputParameter>
  <camunda:outputParameter name="shipment">
    <camunda:map><camunda:entry key="id">${trackingId}</camunda:entry></camunda:map>
  </camunda:outputParameter>
"""


def compile_parameters(parameters: str) -> JobTask:
    xml = HEADER.replace("{parameters}", parameters).encode()
    [definition] = translator.compile_bytes(xml, "parameters.bpmn")
    task = definition.nodes["task"]
    assert isinstance(task, JobTask)
    return task


def test_lists_maps_and_scripts_compile_to_expressions_that_build_them() -> None:
    task = compile_parameters(PARAMETERS)
    variables = {"customer": {"email": "ann@example.com"}, "amount": 3, "orderId": 7}
    inputs = {mapping.target: evaluate(mapping.source, variables) for mapping in task.inputs}
    assert inputs == {
        "recipients": ["ops@example.com", "ann@example.com", [6], None],
        "parcel": {"weight": 3, "label": "Order 7", "amount": 4, "sizes": {"small": "S"}},
        "doubled": 6,
    }
    [shipment] = task.outputs
    assert evaluate(shipment.source, {"trackingId": "T-1"}) == {"id": "T-1"}
    assert task.inputs[1].source.source == (
        "{'weight': ${amount}, 'label': Order ${orderId}, 'amount': #{amount + 1}, "
        "'sizes': {'small': S}}"
    )


def test_an_empty_value_is_null_as_in_camunda_7() -> None:
    task = compile_parameters(
        '<camunda:inputParameter name="nothing" />'
        '<camunda:inputParameter name="m"><camunda:map><camunda:entry key="k" />'
        "</camunda:map></camunda:inputParameter>"
    )
    assert [evaluate(mapping.source, {}) for mapping in task.inputs] == [None, {"k": None}]


def test_map_entries_do_not_see_each_other() -> None:
    task = compile_parameters(
        '<camunda:inputParameter name="m"><camunda:map>'
        '<camunda:entry key="a">first</camunda:entry><camunda:entry key="b">${a}</camunda:entry>'
        "</camunda:map></camunda:inputParameter>"
    )
    assert evaluate(task.inputs[0].source, {"a": "variable"}) == {"a": "first", "b": "variable"}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            '<camunda:inputParameter name="x"><camunda:script scriptFormat="javascript">'
            "1</camunda:script></camunda:inputParameter>",
            "script of parameter 'x' is written in 'javascript', which cannot run here",
        ),
        (
            '<camunda:inputParameter name="x"><camunda:list><camunda:script '
            'scriptFormat="juel">${a}</camunda:script></camunda:list>'
            "</camunda:inputParameter>",
            "parameter 'x' item 1 is a script inside a list or map; use JUEL there",
        ),
        (
            '<camunda:inputParameter name="x"><camunda:map><camunda:entry key="k">${a +'
            "</camunda:entry></camunda:map></camunda:inputParameter>",
            "parameter 'x' entry 'k' is not a valid expression",
        ),
        (
            '<camunda:inputParameter name="x"><camunda:list /><camunda:map />'
            "</camunda:inputParameter>",
            "parameter 'x' holds <list>, <map>; a parameter holds one value",
        ),
        (
            '<camunda:inputParameter name="x"><camunda:map><camunda:entry>v</camunda:entry>'
            "</camunda:map></camunda:inputParameter>",
            "parameter 'x' entry '' has no key",
        ),
        (
            '<camunda:inputParameter name="x"><camunda:map><camunda:entry key="${k}">v'
            "</camunda:entry></camunda:map></camunda:inputParameter>",
            "parameter 'x' entry '${k}' computes its key; write a fixed key",
        ),
    ],
)
def test_what_cannot_run_is_refused_with_the_parameter(parameters: str, message: str) -> None:
    [problem] = problems_of(HEADER.replace("{parameters}", parameters))
    assert problem.element_id == "task"
    assert message in problem.message


async def test_the_worker_receives_the_built_values(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(HEADER.replace("{parameters}", PARAMETERS))
    received: list[dict[str, Any]] = []

    def ship(job: Job) -> dict[str, Any]:
        received.append(dict(job.variables))
        return {"trackingId": "T-9"}

    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"ship": ship}):
        customer = {"email": "b@example.com"}
        handle = await start_process(
            client, task_queue, "parameters", customer=customer, amount=2, orderId=5
        )
        result = await handle.result()
    assert received[0]["recipients"] == ["ops@example.com", "b@example.com", [4], None]
    assert received[0]["parcel"]["label"] == "Order 5"
    assert received[0]["doubled"] == 4
    assert result["shipment"] == {"id": "T-9"}
    assert "trackingId" not in result  # an output mapping maps only what it names
