"""Loading a definitions folder: good files deploy, bad ones are reported, versions are kept."""

from __future__ import annotations

import shutil
from pathlib import Path

from activities import load_definitions
from tests.helpers import ORDER_PROCESS
from translator import ProcessDefinition, compile_file
from workflows import RUNNABLE_KINDS, DefinitionRegistry, unrunnable_nodes


def test_a_folder_deploys_and_every_version_is_stored(tmp_path: Path) -> None:
    folder, store = tmp_path / "defs", tmp_path / "store"
    folder.mkdir()
    shutil.copy(ORDER_PROCESS, folder)
    registry = DefinitionRegistry()
    report = load_definitions(folder, store=store, registry=registry)
    (first,) = report.deployed
    assert registry.latest("order-process") == first
    assert (store / f"{first.content_hash}.json").exists()

    changed = ORDER_PROCESS.read_text().replace('name="Check order"', 'name="Check the order"')
    (folder / ORDER_PROCESS.name).write_text(changed)
    restarted = DefinitionRegistry()
    (second,) = load_definitions(folder, store=store, registry=restarted).deployed
    assert second.content_hash != first.content_hash
    assert restarted.latest("order-process") == second
    # The old version is still there for instances that pinned it.
    assert restarted.get(first.content_hash) == first


def test_broken_files_are_reported_and_skipped(tmp_path: Path) -> None:
    shutil.copy(ORDER_PROCESS, tmp_path)
    (tmp_path / "broken.bpmn").write_text("<not-bpmn")
    report = load_definitions(tmp_path, registry=DefinitionRegistry())
    assert [d.id for d in report.deployed] == ["order-process"]
    assert report.files_with_problems == [str(tmp_path / "broken.bpmn")]


def test_processes_with_elements_the_interpreter_cannot_run_are_not_deployed() -> None:
    (definition,) = compile_file(ORDER_PROCESS)
    assert not unrunnable_nodes(definition)
    node = definition.nodes["check_order"]
    fake = node.model_construct(**{**dict(node), "kind": "somethingNew"})
    odd = ProcessDefinition.model_construct(
        **{**dict(definition), "nodes": {**definition.nodes, "check_order": fake}}
    )
    assert [n.id for n in unrunnable_nodes(odd)] == ["check_order"]
    assert "somethingNew" not in RUNNABLE_KINDS


NOT_YET_RUNNABLE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:message id="m" name="hello" />
  <bpmn:process id="says-hello" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:intermediateThrowEvent id="tell">
      <bpmn:messageEventDefinition messageRef="m" />
    </bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="tell" />
    <bpmn:sequenceFlow id="f2" sourceRef="tell" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_compiled_but_not_yet_runnable_elements_are_refused_by_name(tmp_path: Path) -> None:
    """A message throw event with no job to send its message (Camunda 7 without an
    implementation): nothing here would deliver it, so the process is not deployed."""
    (tmp_path / "hello.bpmn").write_text(NOT_YET_RUNNABLE)
    report = load_definitions(tmp_path, registry=DefinitionRegistry())
    assert report.deployed == []
    messages = {problem.element_id: problem.message for problem in report.problems}
    assert set(messages) == {"tell"}
    assert "cannot run message intermediate throw events yet" in messages["tell"]


def test_boundary_events_deploy_and_a_compensation_boundary_needs_its_handler(
    tmp_path: Path,
) -> None:
    from tests.helpers.models import ERROR_BOUNDARIES

    timer = ERROR_BOUNDARIES.replace(
        "<bpmn:errorEventDefinition />",
        "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition>",
    )
    conditional = ERROR_BOUNDARIES.replace(
        "<bpmn:errorEventDefinition />", "<bpmn:compensateEventDefinition />"
    )
    (tmp_path / "ok.bpmn").write_text(ERROR_BOUNDARIES)
    (tmp_path / "timer.bpmn").write_text(timer.replace("error-boundaries", "timer-boundary"))
    (tmp_path / "conditional.bpmn").write_text(conditional.replace("error-boundaries", "cond"))
    report = load_definitions(tmp_path, registry=DefinitionRegistry())
    assert sorted(d.id for d in report.deployed) == ["error-boundaries", "timer-boundary"]
    assert {problem.element_id for problem in report.problems} == {"on_any_error"}
    messages = " ".join(problem.message for problem in report.problems)
    assert "compensation boundary event has no handler" in messages


COMPENSATION = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">
  <bpmn:process id="saga" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="book">
      <bpmn:extensionElements><zeebe:taskDefinition type="book" /></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="on_compensate" attachedToRef="book">
      <bpmn:compensateEventDefinition />
    </bpmn:boundaryEvent>
    <bpmn:serviceTask id="cancel_booking" isForCompensation="true">
      <bpmn:extensionElements><zeebe:taskDefinition type="cancel" /></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:association id="a1" sourceRef="on_compensate" targetRef="cancel_booking" />
    <bpmn:intermediateThrowEvent id="undo">
      <bpmn:compensateEventDefinition />
    </bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="book" />
    <bpmn:sequenceFlow id="f2" sourceRef="book" targetRef="undo" />
    <bpmn:sequenceFlow id="f3" sourceRef="undo" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_compensation_deploys_but_not_without_waiting_for_completion(tmp_path: Path) -> None:
    (tmp_path / "saga.bpmn").write_text(COMPENSATION)
    no_wait = COMPENSATION.replace(
        '<bpmn:intermediateThrowEvent id="undo">\n      <bpmn:compensateEventDefinition />',
        '<bpmn:intermediateThrowEvent id="undo">\n'
        '      <bpmn:compensateEventDefinition waitForCompletion="false" />',
    )
    (tmp_path / "no-wait.bpmn").write_text(no_wait.replace('id="saga"', 'id="saga-no-wait"'))
    report = load_definitions(tmp_path, registry=DefinitionRegistry())
    assert [d.id for d in report.deployed] == ["saga"]
    (problem,) = report.problems
    assert problem.element_id == "undo"
    assert 'compensation throw events with waitForCompletion="false"' in problem.message
