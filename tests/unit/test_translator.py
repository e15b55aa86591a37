"""The translator: what compiles to which IR, and how bad input is refused."""

from __future__ import annotations

import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import translator
from tests.helpers import ORDER_PROCESS, problems_of
from translator import (
    ExclusiveGateway,
    JobTask,
    KafkaTask,
    ProcessDefinition,
    TranslationError,
    compile_bytes,
)

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">\n'
)


def model(body: str, process_id: str = "p", executable: str = "true") -> bytes:
    return (
        HEADER
        + f'<bpmn:process id="{process_id}" isExecutable="{executable}">\n'
        + textwrap.dedent(body)
        + "</bpmn:process>\n</bpmn:definitions>\n"
    ).encode()


def test_the_public_api_is_pinned() -> None:
    assert set(translator.__all__) >= {"compile_file", "compile_bytes", "TranslationError"}
    for name in translator.__all__:
        assert hasattr(translator, name)


def test_order_process_compiles_to_the_expected_ir() -> None:
    (definition,) = translator.compile_file(ORDER_PROCESS)
    assert definition.id == "order-process"
    assert definition.start_event == "order_received"
    check = definition.nodes["check_order"]
    assert isinstance(check, JobTask)
    assert (check.job.type, check.job.retries, check.job.headers) == (
        "check-order",
        3,
        {"policy": "standard"},
    )
    confirm = definition.nodes["send_confirmation"]
    assert isinstance(confirm, JobTask) and confirm.bpmn_type == "sendTask"
    gateway = definition.nodes["amount_gateway"]
    assert isinstance(gateway, ExclusiveGateway) and gateway.default_flow == "flow_small"
    assert gateway.outgoing == ("flow_large", "flow_small")
    condition = definition.flows["flow_large"].condition
    assert condition is not None and (condition.dialect, condition.source) == (
        "feel",
        "=amount > 100",
    )
    kafka = definition.nodes["approve_order"]
    assert isinstance(kafka, KafkaTask)
    assert (kafka.request_topic, kafka.response_topic) == (
        "tsm-process-request",
        "tsm-process-response",
    )
    assert kafka.key is not None and kafka.key.dialect == "spel"
    assert kafka.payload is not None and kafka.payload.source == "#{#variables.approvalRequest}"
    assert definition.response_topics() == {"tsm-process-response"}


def test_ir_round_trips_through_json_with_a_stable_content_hash() -> None:
    (definition,) = translator.compile_file(ORDER_PROCESS)
    restored = ProcessDefinition.model_validate_json(definition.model_dump_json())
    assert restored == definition
    assert restored.with_content_hash().content_hash == definition.content_hash
    assert len(definition.content_hash) == 64


def test_rehashing_a_definition_gives_the_same_hash() -> None:
    (definition,) = translator.compile_file(ORDER_PROCESS)
    assert definition.with_content_hash() == definition
    unhashed = definition.model_copy(update={"content_hash": ""})
    assert unhashed.with_content_hash() == definition


def test_the_hash_names_the_model_not_where_its_file_lies() -> None:
    data = ORDER_PROCESS.read_bytes()
    (here,) = translator.compile_bytes(data, "/app/processes/order-process.bpmn")
    (there,) = translator.compile_bytes(data, "processes/order-process.bpmn")
    assert here.source != there.source
    assert here.content_hash == there.content_hash
    (changed,) = translator.compile_bytes(data.replace(b'name="Order', b'name="An order'), "x")
    assert changed.content_hash != here.content_hash


def test_files_compiled_at_once_in_threads_give_the_same_ir() -> None:
    """The compiler remembers the last element it read (a per-module memo): threads that
    compile at the same time must still each get their own file's IR."""
    bodies = [
        f"""
        <bpmn:startEvent id="s{i}" />
        <bpmn:serviceTask id="t{i}">
          <bpmn:extensionElements><zeebe:taskDefinition type="job-{i}" /></bpmn:extensionElements>
          <bpmn:multiInstanceLoopCharacteristics>
            <bpmn:loopCardinality>{i + 1}</bpmn:loopCardinality>
          </bpmn:multiInstanceLoopCharacteristics>
        </bpmn:serviceTask>
        <bpmn:endEvent id="e{i}" />
        <bpmn:sequenceFlow id="f{i}a" sourceRef="s{i}" targetRef="t{i}" />
        <bpmn:sequenceFlow id="f{i}b" sourceRef="t{i}" targetRef="e{i}" />
        """
        for i in range(8)
    ]
    files = [model(body, process_id=f"p{i}") for i, body in enumerate(bodies)]
    expected = [compile_bytes(data, "m.bpmn") for data in files]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda data: compile_bytes(data, "m.bpmn"), files * 25))
    finally:
        sys.setswitchinterval(interval)
    assert results == expected * 25


def test_a_changed_model_gets_another_hash() -> None:
    base = """
        <bpmn:startEvent id="s" /><bpmn:endEvent id="e" />
        <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" name="{name}" />
    """
    (one,) = compile_bytes(model(base), "a.bpmn")
    (two,) = compile_bytes(model(base.replace('id="e"', 'id="end"').replace('"e"', '"end"')), "a")
    assert one.content_hash != two.content_hash


def test_camunda7_external_task_and_juel_condition() -> None:
    (definition,) = compile_bytes(
        model("""
            <bpmn:startEvent id="s" />
            <bpmn:serviceTask id="t" camunda:type="external" camunda:topic="charge-card">
              <bpmn:extensionElements><camunda:inputOutput>
                <camunda:inputParameter name="amountCents">${amount * 100}</camunda:inputParameter>
                <camunda:outputParameter name="charged">${result}</camunda:outputParameter>
              </camunda:inputOutput></bpmn:extensionElements>
            </bpmn:serviceTask>
            <bpmn:exclusiveGateway id="g" default="f3" />
            <bpmn:endEvent id="e1" /><bpmn:endEvent id="e2" />
            <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
            <bpmn:sequenceFlow id="f0" sourceRef="t" targetRef="g" />
            <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e1">
              <bpmn:conditionExpression>${charged == true}</bpmn:conditionExpression>
            </bpmn:sequenceFlow>
            <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="e2" />
        """),
        "c7.bpmn",
    )
    task = definition.nodes["t"]
    assert isinstance(task, JobTask) and task.job.type == "charge-card"
    assert [m.target for m in task.inputs] == ["amountCents"]
    assert [m.target for m in task.outputs] == ["charged"]
    condition = definition.flows["f2"].condition
    assert condition is not None and condition.dialect == "juel"


def test_zeebe_io_mappings_distinguish_expressions_and_literals() -> None:
    (definition,) = compile_bytes(
        model("""
            <bpmn:startEvent id="s" />
            <bpmn:serviceTask id="t">
              <bpmn:extensionElements>
                <zeebe:taskDefinition type="x" retries="7" />
                <zeebe:ioMapping>
                  <zeebe:input source="=order.total" target="total" />
                  <zeebe:input source="EUR" target="currency" />
                  <zeebe:output source="=ok" target="approved" />
                </zeebe:ioMapping>
              </bpmn:extensionElements>
            </bpmn:serviceTask>
            <bpmn:endEvent id="e" />
            <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
            <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />
        """),
        "z.bpmn",
    )
    task = definition.nodes["t"]
    assert isinstance(task, JobTask) and task.job.retries == 7
    sources = {m.target: m.source.source for m in task.inputs}
    assert sources["total"] == "=order.total"
    assert sources["currency"] == '="EUR"'


def test_non_executable_processes_are_skipped() -> None:
    body = '<bpmn:startEvent id="s" />'
    assert compile_bytes(model(body, executable="false"), "n.bpmn") == []


def test_every_problem_is_reported_in_one_pass_with_line_and_element() -> None:
    problems = problems_of(
        model("""
            <bpmn:startEvent id="s" />
            <bpmn:serviceTask id="no_type" />
            <bpmn:complexGateway id="complex" />
            <bpmn:exclusiveGateway id="g" />
            <bpmn:endEvent id="e" />
            <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
            <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e">
              <bpmn:conditionExpression>=amount &gt;</bpmn:conditionExpression>
            </bpmn:sequenceFlow>
            <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="ghost" />
        """)
    )
    by_element = {p.element_id: p for p in problems}
    assert "has no job type" in by_element["no_type"].message
    assert "complexGateway is not supported" in by_element["complex"].message
    assert "not a valid expression" in by_element["f2"].message
    assert "unknown element 'ghost'" in by_element["f3"].message
    assert by_element["no_type"].line == 6
    assert all(p.file == "m.bpmn" for p in problems)
    assert "m.bpmn:6 [no_type]" in str(by_element["no_type"])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "not well-formed XML"),
        (b"<not-closed", "not well-formed XML"),
        (b"<html/>", "expected BPMN 2.0 <definitions>"),
        (b"\xff\xfe garbage", "not well-formed XML"),
        (
            b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
            b'<bpmn:process id="p" isExecutable="true"/></bpmn:definitions>',
            "no none start event",
        ),
    ],
)
def test_bad_input_is_a_translation_error_never_a_traceback(data: bytes, expected: str) -> None:
    with pytest.raises(TranslationError) as error:
        compile_bytes(data, "bad.bpmn")
    assert expected in str(error.value)
    assert str(error.value).count("bad.bpmn") == len(error.value.problems)


def test_external_entities_are_never_resolved() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        b'<bpmn:process id="p" isExecutable="true" name="&x;"><bpmn:startEvent id="s"/>'
        b"</bpmn:process></bpmn:definitions>"
    )
    hostname = Path("/etc/hostname").read_text().strip()
    try:
        definitions = compile_bytes(data, "xxe.bpmn")
    except TranslationError as error:
        assert hostname not in str(error)
        return
    assert hostname not in (definitions[0].name or "")


def test_java_delegates_are_refused_with_what_to_do_instead() -> None:
    problems = problems_of(
        model("""
            <bpmn:startEvent id="s" />
            <bpmn:serviceTask id="t" camunda:class="com.example.Charge" />
            <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
        """)
    )
    assert "Java camunda:class" in problems[0].message
    assert "external task" in problems[0].message


def test_conditions_must_be_marked_expressions() -> None:
    problems = problems_of(
        model("""
            <bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="g" /><bpmn:endEvent id="e" />
            <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
            <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e">
              <bpmn:conditionExpression>choice == 'Yes'</bpmn:conditionExpression>
            </bpmn:sequenceFlow>
        """)
    )
    assert "is not an expression" in problems[0].message


def test_compile_file_reports_a_missing_file(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(TranslationError, match="cannot read file"):
        translator.compile_file("/nonexistent/x.bpmn")
