"""Business rule tasks on the time-skipping server: the latest version of a DMN decision is
evaluated in the workflow, its result is the result variable (Zeebe's form, or what Camunda
7's ``mapDecisionResult`` picks), and what goes wrong is an incident to fix and resolve."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

import translator
from activities import load_definitions
from tests.helpers import (
    deploy,
    deploy_decisions,
    problems_of,
    replayer,
    running_interpreter,
    start_process,
    wait_for,
)
from tests.helpers.bpmn import chain, events, io_mapping, model, service
from tests.helpers.dmn import dmn, literal, table
from workflows import RESOLVE_INCIDENT_UPDATE, STATE_QUERY, DefinitionRegistry

DINNER = Path(__file__).resolve().parents[1] / "fixtures" / "dmn" / "dinner.dmn"


def zeebe_rule_task(element_id: str, decision: str, result: str, io: str = "") -> str:
    return (
        f'<bpmn:businessRuleTask id="{element_id}"><bpmn:extensionElements>'
        f'<zeebe:calledDecision decisionId="{decision}" resultVariable="{result}" />{io}'
        "</bpmn:extensionElements></bpmn:businessRuleTask>"
    )


def camunda_rule_task(element_id: str, decision: str, form: str | None, result: str) -> str:
    mapping = f' camunda:mapDecisionResult="{form}"' if form else ""
    return (
        f'<bpmn:businessRuleTask id="{element_id}" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        f'camunda:decisionRef="{decision}" camunda:resultVariable="{result}"{mapping} />'
    )


def deciding(process_id: str, task: str) -> str:
    return model(
        process_id,
        events("start", kind="startEvent"),
        task,
        service("serve"),
        events("end"),
        chain("start", "decide", "serve", "end"),
    )


async def run(
    env: WorkflowEnvironment, task_queue: str, process_id: str, **variables: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run to the end; return the result and what the job after the decision saw."""
    seen: list[dict[str, Any]] = []
    jobs = {"serve": lambda job: seen.append(dict(job.variables))}
    async with running_interpreter(env.client, task_queue, jobs):
        handle = await start_process(env.client, task_queue, process_id, **variables)
        result = await handle.result()
    await replayer().replay_workflow(await handle.fetch_history())
    return result, seen


async def test_a_zeebe_task_sets_the_decision_result_and_maps_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy_decisions(DINNER)
    outputs = io_mapping(outputs={"drinks": "=beverages", "count": "=count(beverages)"})
    deploy(deciding("dinner", zeebe_rule_task("decide", "beverages", "beverages", outputs)))
    variables = {"month": 10, "guestCount": 4, "guestsWithChildren": False}
    result, seen = await run(time_skipping_env, task_queue, "dinner", **variables)
    drinks = ["Aecht Schlenkerla Rauchbier", "Water"]
    # With output mappings only the mapped variables reach the process; the required
    # decisions' results (dish, season) never do.
    assert seen == [{**variables, "drinks": drinks, "count": 2}]
    assert result == {**variables, "drinks": drinks, "count": 2}


RISK = dmn(
    table(
        "risk",
        ["age"],
        ["level", "score"],
        [(["< 18"], ['"high"', "90"]), (["< 25"], ['"medium"', "50"]), (["-"], ['"low"', "10"])],
        hit_policy="RULE ORDER",
    ),
    table("level", ["age"], ["level"], [(["< 25"], ['"young"']), ([">= 25"], ['"adult"'])]),
    definitions_id="riskDecisions",
)


@pytest.mark.parametrize(
    ("decision", "form", "age", "expected"),
    [
        ("risk", None, 20, [{"level": "medium", "score": 50}, {"level": "low", "score": 10}]),
        ("risk", "resultList", 30, [{"level": "low", "score": 10}]),
        ("risk", "singleResult", 30, {"level": "low", "score": 10}),
        ("level", "singleEntry", 30, "adult"),
        ("level", "collectEntries", 30, ["adult"]),
    ],
)
async def test_camunda_7_tasks_map_the_result_as_map_decision_result_says(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    decision: str,
    form: str | None,
    age: int,
    expected: Any,
) -> None:
    deploy_decisions(RISK)
    process_id = f"c7-{decision}-{form or 'default'}"
    deploy(deciding(process_id, camunda_rule_task("decide", decision, form, "outcome")))
    result, _ = await run(time_skipping_env, task_queue, process_id, age=age)
    assert result["outcome"] == expected


async def the_incident(handle: Any, incident_type: str) -> dict[str, Any]:
    """The instance's one incident, once it has it, of ``incident_type``."""
    state = await wait_for(lambda s: s["incidents"], handle)
    [incident] = state["incidents"]
    assert incident["type"] == incident_type
    return dict(incident)


async def test_a_missing_decision_is_an_incident_until_it_is_deployed(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    decision_id = f"fee_{uuid.uuid4().hex[:8]}"
    deploy(deciding("fee-process", zeebe_rule_task("decide", decision_id, "fee")))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"serve": lambda job: {}}):
        handle = await start_process(client, task_queue, "fee-process", amount=200)
        incident = await the_incident(handle, "CALLED_DECISION_ERROR")
        assert f"no decision {decision_id!r} is deployed" in incident["message"]
        deploy_decisions(dmn(literal(decision_id, "amount * 0.01")))
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, {"incident_key": incident["key"]})
        assert (await handle.result())["fee"] == 2


async def test_a_decision_that_fails_is_an_incident_fixed_by_the_variables(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy_decisions(
        dmn(
            table("grade", ["score"], ["grade"], [([">= 50"], ['"pass"']), ([">= 90"], ['"top"'])]),
            definitions_id="grades",
        )
    )
    deploy(deciding("grading", zeebe_rule_task("decide", "grade", "grade")))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"serve": lambda job: {}}):
        handle = await start_process(client, task_queue, "grading", score=95)
        incident = await the_incident(handle, "DECISION_EVALUATION_ERROR")
        assert "hit policy UNIQUE, but several rules match" in incident["message"]
        resolution = {"incident_key": incident["key"], "variables": {"score": 60}}
        await handle.execute_update(RESOLVE_INCIDENT_UPDATE, resolution)
        assert (await handle.result())["grade"] == "pass"
        assert not (await handle.query(STATE_QUERY))["incidents"]


async def test_the_decision_id_may_be_computed(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy_decisions(dmn(literal("expressFee", "5"), literal("standardFee", "1")))
    task = zeebe_rule_task("decide", "=shipping + &quot;Fee&quot;", "fee")
    deploy(deciding("computed-decision", task))
    result, _ = await run(time_skipping_env, task_queue, "computed-decision", shipping="express")
    assert result["fee"] == 5


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (
            zeebe_rule_task("decide", "d", "r").replace(
                'resultVariable="r"', 'resultVariable="r" bindingType="deployment"'
            ),
            "binds the 'deployment' version of its decision",
        ),
        (
            zeebe_rule_task("decide", "d", "r").replace(' resultVariable="r"', ""),
            "businessRuleTask needs a resultVariable",
        ),
        (
            camunda_rule_task("decide", "d", "firstEntry", "r"),
            "camunda:mapDecisionResult 'firstEntry' is not one of",
        ),
    ],
)
def test_what_a_business_rule_task_cannot_do_here_is_refused(task: str, message: str) -> None:
    [problem] = problems_of(deciding("refused", task))
    assert problem.element_id == "decide"
    assert message in problem.message


def test_the_worker_deploys_dmn_files_and_keeps_their_versions(tmp_path: Path) -> None:
    folder, store = tmp_path / "processes", tmp_path / "store"
    folder.mkdir()
    (folder / "dinner.dmn").write_bytes(DINNER.read_bytes())
    (folder / "broken.dmn").write_text(dmn(literal("oops", "1 +")))
    (folder / "dinner.bpmn").write_text(
        deciding("dinner-deployed", zeebe_rule_task("decide", "dish", "dish"))
    )
    registry = DefinitionRegistry()
    report = load_definitions(folder, store=store, registry=registry)
    assert [d.id for d in report.deployed] == ["dinner-deployed"]
    [graph] = report.decisions
    assert registry.latest_decision_graph("dish") == graph
    assert report.files_with_problems == [str(folder / "broken.dmn")]
    assert "literal expression is not valid FEEL" in report.problems[0].message
    # A new version of the file: the old one stays loadable for instances that used it.
    (folder / "dinner.dmn").write_bytes(DINNER.read_bytes().replace(b"Spareribs", b"Ribs"))
    later = DefinitionRegistry()
    newer = load_definitions(folder, store=store, registry=later).decisions[0]
    assert later.decision_graph(graph.content_hash) == graph
    assert later.latest_decision_graph("dish") == newer != graph
    assert isinstance(newer, translator.DecisionGraph)
