"""Version tags (Zeebe 8.6+, Camunda 7): a process or decision carries one; a call activity or
business rule task bound by ``bindingType="versionTag"`` uses the latest version carrying
it, on the time-skipping server, however many versions were deployed since."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

import translator
from tests.helpers import (
    deploy,
    deploy_decisions,
    running_interpreter,
    start_process,
    wait_for,
)
from tests.helpers.bpmn import chain, events, model
from tests.helpers.dmn import dmn, literal

ZEEBE_TAG = '<bpmn:extensionElements><zeebe:versionTag value="{tag}" /></bpmn:extensionElements>'


def child(result: str, tag: str | None) -> str:
    """The process ``tagged-child``, setting ``answer`` to ``result``; tagged ``tag``."""
    xml = model(
        "tagged-child",
        events("start", kind="startEvent"),
        '<bpmn:scriptTask id="answer"><bpmn:extensionElements>'
        f'<zeebe:script expression="=&quot;{result}&quot;" resultVariable="answer" />'
        "</bpmn:extensionElements></bpmn:scriptTask>",
        events("end"),
        chain("start", "answer", "end"),
    )
    if tag is None:
        return xml
    tagged = '<bpmn:process id="tagged-child" isExecutable="true">' + ZEEBE_TAG.format(tag=tag)
    return xml.replace('<bpmn:process id="tagged-child" isExecutable="true">', tagged)


def caller(process_id: str, binding: str) -> str:
    return model(
        process_id,
        events("start", kind="startEvent"),
        '<bpmn:callActivity id="call"><bpmn:extensionElements>'
        f'<zeebe:calledElement processId="tagged-child" {binding} />'
        "</bpmn:extensionElements></bpmn:callActivity>",
        events("end"),
        chain("start", "call", "end"),
    )


def test_a_process_reads_its_version_tag_in_either_dialect() -> None:
    [zeebe] = translator.compile_bytes(child("one", "v1").encode(), "c.bpmn")
    assert zeebe.version_tag == "v1"
    camunda = child("one", None).replace(
        '<bpmn:process id="tagged-child"',
        '<bpmn:process xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'camunda:versionTag="2.0" id="tagged-child"',
    )
    assert translator.compile_bytes(camunda.encode(), "c.bpmn")[0].version_tag == "2.0"
    [untagged] = translator.compile_bytes(child("one", None).encode(), "c.bpmn")
    assert untagged.version_tag is None


async def test_a_call_activity_calls_the_version_its_tag_names(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    for result, tag in (("one", "v1"), ("two", "v2"), ("three", None)):
        deploy(child(result, tag))
    deploy(caller("calls-v1", 'bindingType="versionTag" versionTag="v1"'))
    deploy(caller("calls-latest", ""))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        tagged = await start_process(client, task_queue, "calls-v1")
        latest = await start_process(client, task_queue, "calls-latest")
        assert (await tagged.result())["answer"] == "one"
        assert (await latest.result())["answer"] == "three"


async def test_a_tag_no_version_carries_is_an_incident_naming_the_tags(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    for result, tag in (("one", "v1"), ("two", "v2")):
        deploy(child(result, tag))
    deploy(caller("calls-v9", 'bindingType="versionTag" versionTag="v9"'))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "calls-v9")
        state = await wait_for(lambda s: s["incidents"], handle)
    [incident] = state["incidents"]
    assert incident["type"] == "CALLED_ELEMENT_FAILED"
    assert "no version of BPMN process 'tagged-child' is tagged 'v9'" in incident["message"]
    assert "its version tags: v1, v2" in incident["message"]


def tagged_decision(value: str, tag: str) -> str:
    return dmn(literal("shipping_fee", value)).replace(
        '<decision id="shipping_fee" name="shipping_fee">',
        '<decision id="shipping_fee" name="shipping_fee">'
        '<extensionElements><zeebe:versionTag xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
        f'value="{tag}" /></extensionElements>',
    )


async def test_a_business_rule_task_evaluates_the_decision_its_tag_names(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    first = deploy_decisions(tagged_decision("5", "2024"))
    deploy_decisions(tagged_decision("7", "2025"))
    assert first.decisions["shipping_fee"].version_tag == "2024"
    deploy(
        model(
            "fee-2024",
            events("start", kind="startEvent"),
            '<bpmn:businessRuleTask id="fee"><bpmn:extensionElements>'
            '<zeebe:calledDecision decisionId="shipping_fee" resultVariable="fee" '
            'bindingType="versionTag" versionTag="2024" />'
            "</bpmn:extensionElements></bpmn:businessRuleTask>",
            events("end"),
            chain("start", "fee", "end"),
        )
    )
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue):
        handle = await start_process(client, task_queue, "fee-2024")
        result: dict[str, Any] = await handle.result()
    assert result["fee"] == 5


@pytest.mark.parametrize("binding", ['bindingType="deployment"', 'bindingType="versionTag"'])
def test_a_business_rule_task_binding_it_cannot_honour_is_refused(binding: str) -> None:
    xml = model(
        "refused",
        events("start", kind="startEvent"),
        '<bpmn:businessRuleTask id="fee"><bpmn:extensionElements>'
        f'<zeebe:calledDecision decisionId="d" resultVariable="r" {binding} />'
        "</bpmn:extensionElements></bpmn:businessRuleTask>",
        events("end"),
        chain("start", "fee", "end"),
    )
    with pytest.raises(translator.TranslationError, match="binds"):
        translator.compile_bytes(xml.encode(), "m.bpmn")


def test_a_deployed_versions_tag_wins_and_among_stored_ones_the_newest() -> None:
    from workflows import DefinitionRegistry

    old, newer, deployed = (
        translator.compile_bytes(child(result, "v1").encode(), "c.bpmn")[0]
        for result in ("old", "newer", "deployed")
    )
    registry = DefinitionRegistry()
    registry.add(deployed)
    registry.add(old, latest=False)
    registry.add(newer, latest=False)
    assert registry.latest("tagged-child", "v1") == deployed
    stored_only = DefinitionRegistry()
    stored_only.add(old, latest=False)
    stored_only.add(newer, latest=False)  # stored versions load oldest first
    assert stored_only.latest("tagged-child", "v1") == newer
    assert stored_only.version_tags("tagged-child") == ["v1"]
