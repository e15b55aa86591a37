"""The BPMN models the benchmarks run, generated so their size is a parameter.

All are Zeebe-dialect models whose service tasks share one job type, so one job worker serves
a whole model. The loop model's conditions are written so they read the same as FEEL (our
interpreter) and as Python (SpiffWorkflow's expression engine, after the ``=`` prefix).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

CHAIN_PROCESS = "bench-chain-{n}"
LOOP_PROCESS = "bench-loop"
FANOUT_PROCESS = "bench-fanout"
KAFKA_TASK_PROCESS = "bench-kafka-task"

LOOP_BODY_TASKS = 10
"""Service tasks executed per pass through the loop model's body."""

FETCH_VARIABLES_HEADER = "fetchVariables"
"""The interpreter's job header naming the only variables a job receives (as Zeebe's
fetchVariables): without it each of W fan-out jobs would carry the whole W-item collection,
W² items in one workflow task, past gRPC's 4 MB message limit at W = 1,000."""

INCREMENT_HEADER = "increment"
"""A job whose headers carry this key adds one to the ``count`` variable (the loop counter)."""


@dataclass(frozen=True)
class Model:
    process_id: str
    xml: str

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.process_id}.bpmn"
        path.write_text(self.xml)
        return path


def _definitions(process_id: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:zeebe="{ZEEBE_NS}" '
        'id="bench-definitions" targetNamespace="http://bpmn.io/schema/bpmn">\n'
        f'  <bpmn:process id="{process_id}" isExecutable="true">\n{body}'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )


def _service_task(
    task_id: str,
    job_type: str,
    *,
    increment: bool = False,
    fetch: str | None = None,
    extra: str = "",
) -> str:
    pairs = ([(INCREMENT_HEADER, "true")] if increment else []) + (
        [(FETCH_VARIABLES_HEADER, fetch)] if fetch else []
    )
    headers = "".join(f'<zeebe:header key="{key}" value="{value}" />' for key, value in pairs)
    if headers:
        headers = f"<zeebe:taskHeaders>{headers}</zeebe:taskHeaders>"
    return (
        f'    <bpmn:serviceTask id="{task_id}">\n'
        f"      <bpmn:extensionElements>"
        f'<zeebe:taskDefinition type="{job_type}" />{headers}</bpmn:extensionElements>\n'
        f"{extra}    </bpmn:serviceTask>\n"
    )


class _Flows:
    """Collects sequence flows with generated ids."""

    def __init__(self) -> None:
        self.xml: list[str] = []

    def add(self, source: str, target: str, condition: str | None = None) -> str:
        flow_id = f"flow_{len(self.xml) + 1}"
        opening = f'    <bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"'
        if condition is None:
            self.xml.append(f"{opening} />\n")
        else:
            self.xml.append(
                f"{opening}><bpmn:conditionExpression>{condition}</bpmn:conditionExpression>"
                "</bpmn:sequenceFlow>\n"
            )
        return flow_id

    def chain(self, ids: list[str]) -> None:
        for source, target in itertools.pairwise(ids):
            self.add(source, target)


def chain_model(tasks: int, job_type: str) -> Model:
    """start -> ``tasks`` service tasks in a row -> end."""
    ids = [f"task_{i}" for i in range(1, tasks + 1)]
    flows = _Flows()
    flows.chain(["start", *ids, "end"])
    body = '    <bpmn:startEvent id="start" />\n'
    body += "".join(_service_task(task_id, job_type) for task_id in ids)
    body += '    <bpmn:endEvent id="end" />\n' + "".join(flows.xml)
    return Model(CHAIN_PROCESS.format(n=tasks), _definitions(CHAIN_PROCESS.format(n=tasks), body))


def loop_model(job_type: str) -> Model:
    """Ten service tasks per pass, with an exclusive choice, a parallel pair and a loop back.

    ::

        start -> merge -> t1 (count += 1) -> t2 -> choice -+-> a1 -> a2 -+-> joined -> fork
                   ^                                      +-> b1 -> b2 -+
                   |   fork -+-> p1 -> p2 -+-> pjoin -> t9 -> t10 -> again
                   |         +-> q1 -> q2 -+
                   +--- again [count < loops] ; again [default] -> end

    One instance runs ``10 * loops`` tasks (variables ``count`` = 0 and ``loops``).
    """
    flows = _Flows()
    flows.chain(["start", "merge", "t1", "t2", "choice"])
    flows.add("choice", "a1", "=count * 2 &lt;= loops")
    to_b = flows.add("choice", "b1")
    flows.chain(["a1", "a2", "joined"])
    flows.chain(["b1", "b2", "joined"])
    flows.chain(["joined", "fork", "p1", "p2", "pjoin"])
    flows.chain(["fork", "q1", "q2", "pjoin"])
    flows.chain(["pjoin", "t9", "t10", "again"])
    flows.add("again", "merge", "=count &lt; loops")
    to_end = flows.add("again", "end")
    tasks = ["t1", "t2", "a1", "a2", "b1", "b2", "p1", "p2", "q1", "q2", "t9", "t10"]
    body = '    <bpmn:startEvent id="start" />\n'
    body += '    <bpmn:exclusiveGateway id="merge" />\n'
    body += f'    <bpmn:exclusiveGateway id="choice" default="{to_b}" />\n'
    body += '    <bpmn:exclusiveGateway id="joined" />\n'
    body += '    <bpmn:parallelGateway id="fork" />\n'
    body += '    <bpmn:parallelGateway id="pjoin" />\n'
    body += f'    <bpmn:exclusiveGateway id="again" default="{to_end}" />\n'
    body += "".join(_service_task(t, job_type, increment=t == "t1") for t in tasks)
    body += '    <bpmn:endEvent id="end" />\n' + "".join(flows.xml)
    return Model(LOOP_PROCESS, _definitions(LOOP_PROCESS, body))


def fanout_model(job_type: str) -> Model:
    """One service task as a parallel multi-instance over the ``items`` collection; each job
    receives its ``item`` only."""
    loop = (
        "      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
        '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" />'
        "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>\n"
    )
    flows = _Flows()
    flows.chain(["start", "each", "end"])
    body = '    <bpmn:startEvent id="start" />\n'
    body += _service_task("each", job_type, fetch="item", extra=loop)
    body += '    <bpmn:endEvent id="end" />\n' + "".join(flows.xml)
    return Model(FANOUT_PROCESS, _definitions(FANOUT_PROCESS, body))


def kafka_task_model(request_topic: str, response_topic: str) -> Model:
    """start -> one tSM Kafka Task (publishes the variable ``request``, waits for the response
    on ``response_topic``) -> end."""
    listener = (
        f'<camunda:executionListener event="start" delegateExpression="#{{tsmKafkaTaskExecutor}}">'
        f'<camunda:field name="requestTopic" stringValue="{request_topic}" />'
        f'<camunda:field name="responseTopic" stringValue="{response_topic}" />'
        '<camunda:field name="payload" stringValue="#{#variables.request}" />'
        "</camunda:executionListener>"
    )
    flows = _Flows()
    flows.chain(["start", "ask", "end"])
    body = '    <bpmn:startEvent id="start" />\n'
    body += (
        f'    <bpmn:receiveTask id="ask"><bpmn:extensionElements>{listener}'
        "</bpmn:extensionElements></bpmn:receiveTask>\n"
    )
    body += '    <bpmn:endEvent id="end" />\n' + "".join(flows.xml)
    xml = _definitions(KAFKA_TASK_PROCESS, body).replace(
        f'xmlns:zeebe="{ZEEBE_NS}"', f'xmlns:zeebe="{ZEEBE_NS}" xmlns:camunda="{CAMUNDA_NS}"', 1
    )
    return Model(KAFKA_TASK_PROCESS, xml)


def large_model(flow_nodes: int, job_type: str = "work") -> Model:
    """A model of about ``flow_nodes`` flow nodes (plus as many sequence flows) for compile time.

    Wide rather than deep: a parallel fork into branches of 49 nodes, each a run of service
    tasks with an exclusive split/merge in the middle. A single 10,000-task chain would only
    measure recursion limits (SpiffWorkflow's parser walks the graph recursively).
    """
    branch_length = 49  # 23 + 23 tasks, the other task, split and merge
    branches = max(1, (flow_nodes - 4) // branch_length)
    flows = _Flows()
    nodes = [
        '    <bpmn:startEvent id="start" />\n',
        '    <bpmn:parallelGateway id="fork" />\n',
        '    <bpmn:parallelGateway id="join" />\n',
        '    <bpmn:endEvent id="end" />\n',
    ]
    flows.add("start", "fork")
    flows.add("join", "end")
    for b in range(branches):
        first = [f"b{b}_t{i}" for i in range(23)]
        second = [f"b{b}_u{i}" for i in range(23)]
        split, other, merge = f"b{b}_split", f"b{b}_other", f"b{b}_merge"
        nodes.extend(_service_task(t, job_type) for t in [*first, *second, other])
        default = flows.add(split, other)
        nodes.append(f'    <bpmn:exclusiveGateway id="{split}" default="{default}" />\n')
        nodes.append(f'    <bpmn:exclusiveGateway id="{merge}" />\n')
        flows.chain(["fork", *first, split])
        flows.add(split, second[0], "=amount &gt; 100")
        flows.chain([*second, merge])
        flows.chain([other, merge, "join"])
    return Model("bench-large", _definitions("bench-large", "".join(nodes) + "".join(flows.xml)))
