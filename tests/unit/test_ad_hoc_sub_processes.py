"""Ad-hoc sub-processes as Zeebe runs them itself: compiled from ``zeebe:adHoc`` and the standard
completion condition, then run on the time-skipping server (activation, paths, output
collection, completion condition, cancelling the rest, incidents, errors, events)."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import translator
from activities import BpmnError, Job
from bpmn_testing import BpmnTestContext, ProcessAssertionError
from tests.helpers import (
    deploy,
    problems_of,
    replayer,
    running_interpreter,
    start_process,
    wait_for,
)
from tests.helpers.bpmn import (
    chain,
    error,
    error_boundary,
    events,
    flow,
    io_mapping,
    model,
    service,
    undone_by,
)
from workflows import ACTIVATE_AD_HOC_ELEMENTS_UPDATE, RESOLVE_INCIDENT_UPDATE, STATE_QUERY

OWN_TIME_SKIPPING_SERVER = True  # paths wait on timers


def ad_hoc(
    *elements: str,
    active: str | None = "=toActivate",
    condition: str | None = None,
    cancel_remaining: bool | None = None,
    collect: tuple[str, str] | None = None,
    element_id: str = "tools",
    extensions: str = "",
) -> str:
    """An ad-hoc sub-process holding ``elements``."""
    attributes = [f'activeElementsCollection="{active}"'] if active is not None else []
    if collect is not None:
        attributes += [f'outputCollection="{collect[0]}"', f'outputElement="{collect[1]}"']
    cancel = (
        ""
        if cancel_remaining is None
        else f' cancelRemainingInstances="{str(cancel_remaining).lower()}"'
    )
    completion = (
        ""
        if condition is None
        else f"<bpmn:completionCondition>{condition}</bpmn:completionCondition>"
    )
    return (
        f'<bpmn:adHocSubProcess id="{element_id}"{cancel}><bpmn:extensionElements>'
        f"<zeebe:adHoc {' '.join(attributes)} />{extensions}</bpmn:extensionElements>"
        + "\n".join(elements)
        + f"{completion}</bpmn:adHocSubProcess>"
    )


def around(*inner: str, process_id: str = "adhoc", after: str = "", **options: Any) -> str:
    """start → the ad-hoc sub-process → end."""
    return model(
        process_id,
        events("start", kind="startEvent"),
        ad_hoc(*inner, **options),
        events("end"),
        chain("start", "tools", "end"),
        after,
    )


def timer_catch(element_id: str, duration: str = "PT1H") -> str:
    return (
        f'<bpmn:intermediateCatchEvent id="{element_id}"><bpmn:timerEventDefinition>'
        f"<bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )


def documented(element_id: str) -> str:
    return (
        f'<bpmn:serviceTask id="{element_id}" name="Look up"><bpmn:documentation>Finds the '
        "order</bpmn:documentation><bpmn:extensionElements>"
        f'<zeebe:taskDefinition type="{element_id}" /><zeebe:properties>'
        '<zeebe:property name="cost" value="low" /></zeebe:properties>'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )


class Calls:
    def __init__(self) -> None:
        self.order: list[str] = []
        self.seen: dict[str, dict[str, Any]] = {}

    def job(self, name: str, result: dict[str, Any] | None = None) -> Any:
        def handle(job: Job) -> dict[str, Any]:
            self.order.append(name)
            self.seen[name] = dict(job.variables)
            return dict(result or {})

        return handle


async def finish(env: WorkflowEnvironment, task_queue: str, jobs: dict[str, Any], **kw: Any) -> Any:
    async with running_interpreter(env.client, task_queue, jobs):
        handle = await start_process(env.client, task_queue, "adhoc", **kw)
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    await replayer().replay_workflow(await handle.fetch_history())
    return result, state


def states(state: dict[str, Any], element_id: str) -> list[str]:
    return [e["state"] for e in state["completed"] if e["element_id"] == element_id]


# --- translator -------------------------------------------------------------------------------


def test_an_ad_hoc_sub_process_compiles_with_what_it_can_activate() -> None:
    xml = around(
        documented("lookup"),
        service("draft"),
        service("send"),
        flow("draft", "send"),
        error_boundary("failed", "draft"),
        service("fallback"),
        flow("failed", "fallback"),
        condition="=done",
        collect=("results", "=result"),
    )
    [definition] = translator.compile_bytes(xml.encode(), "adhoc.bpmn")
    node = definition.nodes["tools"]
    assert isinstance(node, translator.AdHocSubProcess)
    # Elements reached by a sequence flow, and boundary events, are not activatable.
    assert [e.element_id for e in node.elements] == ["lookup", "draft"]
    assert node.elements[0] == translator.AdHocElement(
        element_id="lookup",
        name="Look up",
        documentation="Finds the order",
        properties={"cost": "low"},
    )
    assert node.cancel_remaining_instances is True
    assert node.output_collection == "results"
    assert node.active_elements is not None and node.active_elements.source == "=toActivate"
    assert node.completion_condition is not None


@pytest.mark.parametrize(
    ("inner", "options", "expected"),
    [
        (events("begin", kind="startEvent") + service("a"), {}, "has no startEvents"),
        (service("a") + events("stop"), {}, "has no endEvents"),
        (service("a"), {"collect": ("results", "")}, "outputCollection and outputElement"),
        (service("a"), {"active": "=[1"}, "activeElementsCollection is not a valid expression"),
        (
            service("a"),
            {"extensions": '<zeebe:taskDefinition type="agent" />'},
            "job worker implementation",
        ),
        (service("a") + service("b") + flow("b", "a") + flow("a", "b"), {}, "no element to"),
    ],
)
def test_ad_hoc_sub_processes_zeebe_refuses_are_refused_clearly(
    inner: str, options: dict[str, Any], expected: str
) -> None:
    problems = problems_of(around(inner, **options))
    assert any(expected in p.message for p in problems), problems


def test_sequential_ordering_is_refused_rather_than_ignored() -> None:
    xml = around(service("a")).replace(
        "<bpmn:adHocSubProcess ", '<bpmn:adHocSubProcess ordering="Sequential" '
    )
    [problem] = problems_of(xml)
    assert 'ordering="Sequential"' in problem.message and problem.element_id == "tools"


# --- runtime ----------------------------------------------------------------------------------


async def test_it_runs_the_activated_paths_collects_their_outputs_and_completes_after_all(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(
        around(
            documented("lookup"),
            service("draft"),
            service("send"),
            flow("draft", "send"),
            service("unused"),
            collect=("results", "=result"),
        )
    )
    calls = Calls()
    jobs = {
        "lookup": calls.job("lookup", {"result": "order 7"}),
        "draft": calls.job("draft", {"result": "draft 1"}),
        "send": calls.job("send", {"sent": True}),
        "unused": calls.job("unused"),
    }
    result, state = await finish(
        time_skipping_env, task_queue, jobs, toActivate=["lookup", "draft", "lookup"]
    )
    assert sorted(calls.order) == ["draft", "lookup", "lookup", "send"]
    # Each path adds its own result (the variable is local to its activation), in the order
    # the paths ended; the collection reaches the process, the path-local results do not.
    assert sorted(result["results"]) == ["draft 1", "order 7", "order 7"]
    assert "result" not in result and result["sent"] is True
    assert calls.seen["lookup"]["adHocSubProcessElements"][0] == {
        "elementId": "lookup",
        "elementName": "Look up",
        "documentation": "Finds the order",
        "properties": {"cost": "low"},
        "parameters": [],
    }
    assert "adHocSubProcessElements" not in result
    assert states(state, "tools") == ["completed"] and states(state, "end") == ["completed"]


@pytest.mark.parametrize("cancel_remaining", [True, False])
async def test_when_the_completion_condition_holds_it_ends_or_waits_for_the_other_paths(
    time_skipping_env: WorkflowEnvironment, task_queue: str, cancel_remaining: bool
) -> None:
    deploy(
        around(
            service("quick"),
            timer_catch("slow"),
            service("after_slow"),
            flow("slow", "after_slow"),
            condition="=count(results) &gt;= 1",
            cancel_remaining=cancel_remaining,
            collect=("results", "=&quot;done&quot;"),
        )
    )
    calls = Calls()
    jobs = {"quick": calls.job("quick"), "after_slow": calls.job("after_slow")}
    result, state = await finish(time_skipping_env, task_queue, jobs, toActivate=["quick", "slow"])
    assert states(state, "tools") == ["completed"]
    if cancel_remaining:
        assert result["results"] == ["done"]
        assert calls.order == ["quick"]
        assert states(state, "slow") == ["terminated"]
    else:
        assert result["results"] == ["done", "done"]
        assert calls.order == ["quick", "after_slow"]
        assert states(state, "slow") == ["completed"]


async def test_with_nothing_to_activate_it_stays_active_until_an_event_ends_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    boundary = (
        '<bpmn:boundaryEvent id="deadline" attachedToRef="tools"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:boundaryEvent>" + events("late") + flow("deadline", "late")
    )
    deploy(around(service("a"), after=boundary))
    _, state = await finish(time_skipping_env, task_queue, {}, toActivate=[])
    assert states(state, "tools") == ["terminated"]
    assert states(state, "late") == ["completed"]


async def test_a_condition_that_never_holds_keeps_it_open_after_its_paths_end(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(around(service("a"), condition="=false"))
    async with running_interpreter(time_skipping_env.client, task_queue, {"a": Calls().job("a")}):
        handle = await start_process(
            time_skipping_env.client, task_queue, "adhoc", toActivate=["a"]
        )
        state = await wait_for(lambda s: "a" in [e["element_id"] for e in s["completed"]], handle)
        assert [e["element_id"] for e in state["active"]] == ["tools"]
        await handle.terminate("test over")


async def test_an_unknown_element_to_activate_is_an_incident_that_a_fix_resolves(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(around(service("a")))
    calls = Calls()
    async with running_interpreter(time_skipping_env.client, task_queue, {"a": calls.job("a")}):
        handle = await start_process(
            time_skipping_env.client, task_queue, "adhoc", toActivate=["a", "nope"]
        )
        state = await wait_for(lambda s: s["incidents"], handle)
        [incident] = state["incidents"]
        assert incident["type"] == "EXTRACT_VALUE_ERROR" and incident["element_id"] == "tools"
        assert "'nope'" in incident["message"] and "'a'" in incident["message"]
        await handle.execute_update(
            RESOLVE_INCIDENT_UPDATE,
            {"incident_key": incident["key"], "variables": {"toActivate": ["a"]}},
        )
        await handle.result()
    assert calls.order == ["a"]


async def test_an_error_in_a_path_is_caught_by_a_boundary_event_of_the_sub_process(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    caught = (
        error_boundary("failed", "tools", "e_failed")
        + events("handled")
        + flow("failed", "handled")
    )
    xml = around(service("risky"), timer_catch("slow"), after=caught).replace(
        "</bpmn:definitions>", error("e_failed", "FAILED") + "</bpmn:definitions>"
    )
    deploy(xml)

    def risky(job: Job) -> dict[str, Any]:
        raise BpmnError("FAILED", "no luck")

    _, state = await finish(
        time_skipping_env, task_queue, {"risky": risky}, toActivate=["risky", "slow"]
    )
    assert states(state, "slow") == ["terminated"]
    assert states(state, "tools") == ["terminated"]
    assert states(state, "handled") == ["completed"]


async def test_an_error_event_sub_process_inside_runs_once_for_the_sub_process(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    handler = (
        '<bpmn:subProcess id="on_error" triggeredByEvent="true">'
        '<bpmn:startEvent id="error_start"><bpmn:errorEventDefinition /></bpmn:startEvent>'
        + service("recover")
        + events("recovered")
        + chain("error_start", "recover", "recovered")
        + "</bpmn:subProcess>"
    )
    deploy(around(service("risky"), timer_catch("slow"), handler))
    calls = Calls()

    def risky(job: Job) -> dict[str, Any]:
        raise BpmnError("ANY", "no luck")

    jobs = {"risky": risky, "recover": calls.job("recover")}
    _, state = await finish(time_skipping_env, task_queue, jobs, toActivate=["risky", "slow"])
    assert calls.order == ["recover"]
    assert states(state, "slow") == ["terminated"]
    # The interrupting event sub-process completes the ad-hoc sub-process, which goes on.
    assert states(state, "tools") == ["completed"] and states(state, "end") == ["completed"]


# --- activating elements from outside (Zeebe's activation API) --------------------------------


async def test_elements_activated_by_update_run_with_their_local_variables(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(around(service("call_tool"), service("other"), active=None))
    calls = Calls()
    jobs = {"call_tool": calls.job("call_tool", {"answer": 42}), "other": calls.job("other")}
    async with running_interpreter(time_skipping_env.client, task_queue, jobs):
        handle = await start_process(time_skipping_env.client, task_queue, "adhoc")
        await wait_for(lambda s: "tools" in [e["element_id"] for e in s["active"]], handle)
        request = {
            "element_id": "tools",
            "elements": [{"element_id": "call_tool", "variables": {"toolCall": {"q": "?"}}}],
        }
        key = await handle.execute_update(ACTIVATE_AD_HOC_ELEMENTS_UPDATE, request)
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    assert [e["key"] for e in state["completed"] if e["element_id"] == "tools"] == [key]
    assert calls.order == ["call_tool"]
    assert calls.seen["call_tool"]["toolCall"] == {"q": "?"}
    # The activation's own variables end with it; the job's result propagates as usual.
    assert result == {"answer": 42}
    await replayer().replay_workflow(await handle.fetch_history())


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"element_id": "tools", "elements": [{"element_id": "nope"}]}, "no element to activate"),
        ({"element_id": "a", "elements": [{"element_id": "a"}]}, "no active ad-hoc sub-process"),
        ({"element_id": "tools", "elements": []}, "invalid activate_ad_hoc_elements request"),
    ],
)
async def test_an_activation_that_names_nothing_activatable_is_rejected(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    request_: dict[str, Any],
    expected: str,
) -> None:
    deploy(around(service("a"), active=None))
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, {"a": Calls().job("a")}):
        handle = await start_process(client, task_queue, "adhoc")
        await wait_for(lambda s: "tools" in [e["element_id"] for e in s["active"]], handle)
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(ACTIVATE_AD_HOC_ELEMENTS_UPDATE, request_)
        assert expected in str(failed.value.cause)
        await handle.terminate("test over")


async def test_the_test_kit_activates_elements(bpmn: BpmnTestContext) -> None:
    bpmn.deploy_xml(around(service("a"), service("b"), active=None))
    bpmn.job("a").complete({"fromA": 1})
    bpmn.job("b").complete()
    instance = await bpmn.start("adhoc")
    await instance.assert_waiting_at("tools")
    await instance.activate_ad_hoc_elements("tools", "a", variables={"hint": "x"})
    await instance.assert_completed({"fromA": 1})
    await bpmn.job("a").assert_received(variables={"hint": "x"}, times=1)


INTERRUPTING_TIMER = (
    '<bpmn:subProcess id="overtime" triggeredByEvent="true">'
    '<bpmn:startEvent id="overtime_start"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>"
    + timer_catch("wrap_up", "PT2H")
    + events("wrapped_up")
    + chain("overtime_start", "wrap_up", "wrapped_up")
    + "</bpmn:subProcess>"
)


async def test_no_activation_is_accepted_while_an_interrupting_event_ends_it(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(around(service("a"), INTERRUPTING_TIMER, active=None))
    bpmn.job("a").complete()
    instance = await bpmn.start("adhoc")
    await instance.assert_waiting_at("tools")
    await bpmn.skip("PT61M")
    await instance.assert_waiting_at("wrap_up")
    with pytest.raises(ProcessAssertionError, match="no active ad-hoc sub-process 'tools'"):
        await instance.activate_ad_hoc_elements("tools", "a")
    await bpmn.skip("PT2H")
    await instance.assert_completed()
    assert bpmn.job("a").jobs == []
    assert (await instance.state()).active == []


async def test_a_resolution_reaches_an_overwritten_output_collection(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(around(service("a"), collect=("results", "=1")))
    bpmn.job("a").complete({"results": "overwritten"})  # the path writes the local collection
    instance = await bpmn.start("adhoc", toActivate=["a"])
    incident = await instance.assert_incident("tools")
    assert "the output collection 'results' is str, expected a list" in incident.message
    await instance.resolve_incident(variables={"results": []})
    await instance.assert_completed({"toActivate": ["a"], "results": [1]})


@pytest.mark.parametrize("listeners", [False, True])
async def test_its_input_mappings_see_what_it_can_activate(
    bpmn: BpmnTestContext, listeners: bool
) -> None:
    extensions = io_mapping({"tools": "=count(adHocSubProcessElements)"})
    if listeners:
        extensions += (
            '<zeebe:executionListeners><zeebe:executionListener eventType="start" '
            'type="on_start" /></zeebe:executionListeners>'
        )
        bpmn.job("on_start").complete()
    bpmn.deploy_xml(around(service("a"), service("b"), extensions=extensions))
    bpmn.job("a").complete()
    instance = await bpmn.start("adhoc", toActivate=["a"])
    await instance.assert_completed()
    assert bpmn.job("a").last.variables["tools"] == 2


def test_cancel_remaining_instances_reads_xsd_booleans() -> None:
    xml = around(service("a")).replace(
        "<bpmn:adHocSubProcess ", '<bpmn:adHocSubProcess cancelRemainingInstances="0" '
    )
    [definition] = translator.compile_bytes(xml.encode(), "adhoc.bpmn")
    node = definition.nodes["tools"]
    assert isinstance(node, translator.AdHocSubProcess)
    assert node.cancel_remaining_instances is False


def test_only_flow_nodes_are_activatable() -> None:
    # A sequence flow may share a flow node's id; it is no element to activate.
    flow_named_a = '<bpmn:sequenceFlow id="a" sourceRef="a" targetRef="b" />'
    xml = around(service("a"), service("b"), flow_named_a)
    xml = xml.replace('<bpmn:sequenceFlow id="a" ', '<bpmn:sequenceFlow id="a" name="flow" ')
    definitions = translator.compile_bytes(xml.encode(), "adhoc.bpmn")
    node = definitions[0].nodes["tools"]
    assert isinstance(node, translator.AdHocSubProcess)
    assert [e.element_id for e in node.elements] == ["a"]  # b has an incoming flow


def test_a_completion_condition_elsewhere_is_still_refused() -> None:
    xml = model(
        "p",
        events("start", kind="startEvent"),
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="in" /><bpmn:endEvent id="out" />'
        '<bpmn:sequenceFlow id="in_out" sourceRef="in" targetRef="out" />'
        "<bpmn:completionCondition>=true</bpmn:completionCondition></bpmn:subProcess>",
        events("end"),
        chain("start", "sub", "end"),
    )
    assert any("completionCondition" in p.message for p in problems_of(xml))


LINK = (
    '<bpmn:intermediateThrowEvent id="jump"><bpmn:linkEventDefinition name="L" />'
    "</bpmn:intermediateThrowEvent>"
    '<bpmn:intermediateCatchEvent id="landing"><bpmn:linkEventDefinition name="L" />'
    "</bpmn:intermediateCatchEvent>"
)


@pytest.mark.parametrize("activate", [["a"], ["landing"]])
async def test_a_link_inside_a_path_goes_on_at_its_catch_event(
    bpmn: BpmnTestContext, activate: list[str]
) -> None:
    bpmn.deploy_xml(
        around(service("a"), LINK, service("b"), flow("a", "jump"), flow("landing", "b"))
    )
    bpmn.job("a").complete()
    bpmn.job("b").complete()
    instance = await bpmn.start("adhoc", toActivate=activate)
    await instance.assert_completed()
    assert len(bpmn.job("b").jobs) == 1


COMPENSATE = (
    '<bpmn:intermediateThrowEvent id="{id}"><bpmn:compensateEventDefinition />'
    "</bpmn:intermediateThrowEvent>"
)


async def test_compensation_in_a_path_undoes_that_path_and_after_it_the_whole(
    bpmn: BpmnTestContext,
) -> None:
    after = COMPENSATE.format(id="undo_all")
    xml = model(
        "adhoc",
        events("start", kind="startEvent"),
        ad_hoc(
            service("book"),
            undone_by("book", "undo_book"),
            service("pay"),
            undone_by("pay", "undo_pay"),
            COMPENSATE.format(id="regret"),
            flow("pay", "regret"),
            condition="=count(adHocSubProcessElements) &gt; 0",
            cancel_remaining=False,
        ),
        after,
        events("end"),
        chain("start", "tools", "undo_all", "end"),
    )
    bpmn.deploy_xml(xml)
    undone: list[str] = []
    for name in ("book", "pay"):
        bpmn.job(name).complete()
        bpmn.job(f"undo_{name}")(lambda job, name=name: undone.append(name))
    instance = await bpmn.start("adhoc", toActivate=["book", "pay"])
    await instance.assert_completed()
    # "regret" undid its own path's payment only; the throw after the sub-process undid the
    # booking, which the sub-process handed up (the payment was undone already).
    assert undone == ["pay", "book"]
    path = [e.element_id for e in (await instance.state()).completed]
    assert path.index("undo_pay") < path.index("regret") < path.index("undo_book")
