"""Kafka Task templates: loaded from JSON, named by models (camunda:modelerTemplate), their
topics, key and payload used unless the model sets its own, defaults filled into the payload,
and a payload without a required field an incident instead of a request nobody can use."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

import translator
from activities import load_definitions
from tests.helpers import PublishedRequests, running_interpreter, start_process, wait_for
from translator import KafkaTask, TranslationError, parse_template
from workflows import REGISTRY, RESOLVE_INCIDENT_UPDATE, DefinitionRegistry

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_FILE = ROOT / "examples" / "templates" / "currency-conversion.json"
TEMPLATES = {"currency-conversion": parse_template(TEMPLATE_FILE.read_bytes(), "t.json")}


def model(task: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="convert" isExecutable="true">
    <bpmn:startEvent id="start" />
    {task}
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="convert_amount" />
    <bpmn:sequenceFlow id="f2" sourceRef="convert_amount" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


FROM_TEMPLATE = model(
    '<bpmn:receiveTask id="convert_amount" camunda:modelerTemplate="currency-conversion" />'
)
OVERRIDDEN = model(
    '<bpmn:receiveTask id="convert_amount" camunda:modelerTemplate="currency-conversion">'
    '<bpmn:extensionElements><camunda:executionListener event="start" '
    'delegateExpression="#{tsmKafkaTaskExecutor}">'
    '<camunda:field name="requestTopic" stringValue="eu-conversion-request" />'
    "</camunda:executionListener></bpmn:extensionElements></bpmn:receiveTask>"
)


def kafka_task(xml: str) -> KafkaTask:
    (definition,) = translator.compile_bytes(xml.encode(), "m.bpmn", templates=TEMPLATES)
    task = definition.nodes["convert_amount"]
    assert isinstance(task, KafkaTask)
    return task


def test_a_receive_task_naming_a_template_is_its_kafka_task() -> None:
    task = kafka_task(FROM_TEMPLATE)
    assert (task.request_topic, task.response_topic) == (
        "currency-conversion-request",
        "currency-conversion-response",
    )
    assert task.payload is not None and task.payload.source == "#{#variables.conversion}"
    assert task.template == "currency-conversion"
    assert task.payload_defaults == {"action": "convertCurrency", "sourceCurrency": "USD"}
    assert task.payload_required == ("amount", "sourceCurrency", "targetCurrency")


def test_a_field_set_in_the_model_wins_over_the_template() -> None:
    task = kafka_task(OVERRIDDEN)
    assert task.request_topic == "eu-conversion-request"
    assert task.response_topic == "currency-conversion-response"


def test_a_template_that_is_not_loaded_is_named_in_the_error() -> None:
    with pytest.raises(TranslationError, match="'currency-conversion', which is not loaded"):
        translator.compile_bytes(FROM_TEMPLATE.encode(), "m.bpmn")


def test_a_broken_template_file_is_reported_and_the_others_load(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "ok.json").write_bytes(TEMPLATE_FILE.read_bytes())
    (tmp_path / "templates" / "broken.json").write_text('{"id": "x", "kafkaTask": {"topic": 1}}')
    (tmp_path / "convert.bpmn").write_text(FROM_TEMPLATE)
    report = load_definitions(tmp_path, registry=DefinitionRegistry())
    assert [d.id for d in report.deployed] == ["convert"]
    assert any("broken.json" in p.file and "topic" in p.message for p in report.problems)


async def test_defaults_fill_the_payload_and_a_missing_required_field_is_an_incident(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    for definition in translator.compile_bytes(FROM_TEMPLATE.encode(), "m", templates=TEMPLATES):
        REGISTRY.add(definition)
    client = time_skipping_env.client
    published = PublishedRequests()
    async with running_interpreter(client, task_queue, publish_activity=published.activity()):
        handle = await start_process(
            client, task_queue, "convert", conversion={"amount": 100}, businessKey="T-1"
        )
        state = await wait_for(lambda s: s["incidents"], handle)
        (incident,) = state["incidents"]
        assert incident["element_id"] == "convert_amount"
        assert (
            "'targetCurrency'" in incident["message"]
            and "currency-conversion" in incident["message"]
        )
        assert published.requests == []  # nothing a consumer could not use was sent
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {
                "incident_key": incident["key"],
                "variables": {"conversion": {"amount": 100, "targetCurrency": "CZK"}},
            },
        )
        await wait_for(lambda s: s["awaiting_correlations"], handle)
        await handle.terminate("test over")
    (request,) = published.requests
    assert request["topic"] == "currency-conversion-request"
    assert request["key"] == "T-1"
    assert request["payload"] == {
        "action": "convertCurrency",
        "sourceCurrency": "USD",
        "amount": 100,
        "targetCurrency": "CZK",
    }
