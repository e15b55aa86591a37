"""The BPMN elements beyond the runnable core: what each compiles to, in each dialect."""

from __future__ import annotations

import itertools

import pytest

import translator
from tests.unit.test_translator import model, problems_of
from translator import (
    BoundaryEvent,
    BusinessRuleTask,
    CallActivity,
    EventSubProcess,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    MultiInstanceActivity,
    ProcessDefinition,
    ReceiveTask,
    ResultEndEvent,
    ScriptTask,
    SubProcess,
    TimerEventDefinition,
    TriggeredStartEvent,
    UserTask,
    compile_bytes,
    iter_nodes,
)

MESSAGES = """
<bpmn:message id="paid" name="order-paid">
  <bpmn:extensionElements><zeebe:subscription correlationKey="=orderId" /></bpmn:extensionElements>
</bpmn:message>
<bpmn:error id="err" errorCode="CARD_DECLINED" />
"""


def compile_one(body: str, root_elements: str = "") -> ProcessDefinition:
    data = model(body).replace(
        b"</bpmn:definitions>", root_elements.encode() + b"</bpmn:definitions>"
    )
    (definition,) = compile_bytes(data, "m.bpmn")
    return definition


def chain(*ids: str) -> str:
    return "".join(
        f'<bpmn:sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}" />'
        for a, b in itertools.pairwise(ids)
    )


def test_user_task_is_a_job_of_the_documented_type_with_assignment_kept() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:userTask id="zeebe_task">
          <bpmn:extensionElements>
            <zeebe:assignmentDefinition assignee="=owner" candidateGroups="sales, ops" />
            <zeebe:formDefinition formKey="camunda-forms:bpmn:form1" />
          </bpmn:extensionElements>
        </bpmn:userTask>
        <bpmn:userTask id="c7_task" camunda:assignee="${initiator}" camunda:formKey="embedded:a" />
        <bpmn:endEvent id="e" />
        """
        + chain("s", "zeebe_task", "c7_task", "e")
    )
    zeebe_task, c7_task = definition.nodes["zeebe_task"], definition.nodes["c7_task"]
    assert isinstance(zeebe_task, UserTask) and isinstance(c7_task, UserTask)
    assert zeebe_task.job.type == translator.USER_TASK_JOB_TYPE == "io.camunda.zeebe:userTask"
    assert zeebe_task.assignee is not None and zeebe_task.assignee.source == "=owner"
    assert zeebe_task.candidate_groups is not None
    assert zeebe_task.form_key == "camunda-forms:bpmn:form1"
    assert c7_task.assignee is not None and c7_task.assignee.dialect == "juel"
    assert c7_task.form_key == "embedded:a"


def test_script_tasks_in_feel_or_juel_compile_and_other_languages_are_refused() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:scriptTask id="z"><bpmn:extensionElements>
          <zeebe:script expression="=a + b" resultVariable="sum" />
        </bpmn:extensionElements></bpmn:scriptTask>
        <bpmn:scriptTask id="c" scriptFormat="juel" camunda:resultVariable="total">
          <bpmn:script>${a * 2}</bpmn:script>
        </bpmn:scriptTask>
        <bpmn:endEvent id="e" />
        """
        + chain("s", "z", "c", "e")
    )
    z, c = definition.nodes["z"], definition.nodes["c"]
    assert isinstance(z, ScriptTask) and (z.script.source, z.result_variable) == ("=a + b", "sum")
    assert isinstance(c, ScriptTask) and c.result_variable == "total"
    (problem,) = problems_of(
        model(
            '<bpmn:startEvent id="s" /><bpmn:scriptTask id="g" scriptFormat="groovy">'
            "<bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>" + chain("s", "g")
        )
    )
    assert problem.element_id == "g" and "'groovy', which cannot run here" in problem.message


def test_business_rule_task_keeps_the_decision_or_is_a_job() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:businessRuleTask id="dmn"><bpmn:extensionElements>
          <zeebe:calledDecision decisionId="discount" resultVariable="discount" />
        </bpmn:extensionElements></bpmn:businessRuleTask>
        <bpmn:businessRuleTask id="job"><bpmn:extensionElements>
          <zeebe:taskDefinition type="rules" />
        </bpmn:extensionElements></bpmn:businessRuleTask>
        """
        + chain("s", "dmn", "job")
    )
    dmn = definition.nodes["dmn"]
    assert isinstance(dmn, BusinessRuleTask) and dmn.result_variable == "discount"
    assert definition.nodes["job"].kind == "job"


def test_receive_task_waits_for_a_named_message_with_a_correlation_key() -> None:
    definition = compile_one(
        '<bpmn:startEvent id="s" /><bpmn:receiveTask id="r" messageRef="paid" />' + chain("s", "r"),
        MESSAGES,
    )
    receive = definition.nodes["r"]
    assert isinstance(receive, ReceiveTask)
    assert receive.message.name is not None and receive.message.name.source == '="order-paid"'
    assert receive.message.correlation_key is not None
    assert receive.message.correlation_key.source == "=orderId"


def test_call_activity_in_both_dialects() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:callActivity id="z"><bpmn:extensionElements>
          <zeebe:calledElement processId="child" propagateAllChildVariables="false" />
        </bpmn:extensionElements></bpmn:callActivity>
        <bpmn:callActivity id="c" calledElement="child"><bpmn:extensionElements>
          <camunda:in source="orderId" target="id" />
          <camunda:out variables="all" />
        </bpmn:extensionElements></bpmn:callActivity>
        """
        + chain("s", "z", "c")
    )
    z, c = definition.nodes["z"], definition.nodes["c"]
    assert isinstance(z, CallActivity) and not z.propagate_all_child_variables
    assert z.propagate_all_parent_variables
    assert isinstance(c, CallActivity) and c.propagate_all_child_variables
    assert not c.propagate_all_parent_variables
    assert [(m.source.source, m.target) for m in c.inputs] == [("${orderId}", "id")]


@pytest.mark.parametrize(
    ("call", "binding"),
    [
        (
            '<bpmn:callActivity id="z"><bpmn:extensionElements><zeebe:calledElement '
            'processId="child" bindingType="deployment" /></bpmn:extensionElements>'
            "</bpmn:callActivity>",
            "deployment",
        ),
        (
            '<bpmn:callActivity id="z" calledElement="child" camunda:calledElementBinding='
            '"version" camunda:calledElementVersion="3" />',
            "version",
        ),
    ],
)
def test_a_call_activity_bound_to_a_deployment_or_a_version_number_is_refused(
    call: str, binding: str
) -> None:
    [problem] = problems_of(model('<bpmn:startEvent id="s" />' + call + chain("s", "z")))
    assert problem.element_id == "z"
    assert f"binds the {binding!r} version of its process" in problem.message


@pytest.mark.parametrize(
    "call",
    [
        '<bpmn:callActivity id="z"><bpmn:extensionElements><zeebe:calledElement '
        'processId="child" bindingType="versionTag" versionTag="v1" /></bpmn:extensionElements>'
        "</bpmn:callActivity>",
        '<bpmn:callActivity id="z" calledElement="child" camunda:calledElementBinding='
        '"versionTag" camunda:calledElementVersionTag=" v1 " />',
    ],
)
def test_a_call_activity_may_bind_a_version_tag(call: str) -> None:
    [definition] = compile_bytes(model('<bpmn:startEvent id="s" />' + call + chain("s", "z")), "m")
    z = definition.nodes["z"]
    assert isinstance(z, CallActivity) and z.version_tag == "v1"
    without = call.replace(' versionTag="v1"', "").replace(
        ' camunda:calledElementVersionTag=" v1 "', ""
    )
    [problem] = problems_of(model('<bpmn:startEvent id="s" />' + without + chain("s", "z")))
    assert "binds a version tag but names none" in problem.message


def test_a_call_activity_bound_to_the_latest_version_compiles() -> None:
    call = (
        '<bpmn:callActivity id="z"><bpmn:extensionElements><zeebe:calledElement '
        'processId="child" bindingType="latest" /></bpmn:extensionElements></bpmn:callActivity>'
    )
    definition = compile_one('<bpmn:startEvent id="s" />' + call + chain("s", "z"))
    assert isinstance(definition.nodes["z"], CallActivity)


def test_gateways_inclusive_and_event_based() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:inclusiveGateway id="or" default="f_or_t2" />
        <bpmn:task id="t1" /><bpmn:task id="t2" />
        <bpmn:eventBasedGateway id="eb" />
        <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>
          <bpmn:timeDuration>PT1H</bpmn:timeDuration>
        </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
        <bpmn:intermediateCatchEvent id="msg"><bpmn:messageEventDefinition messageRef="paid" />
        </bpmn:intermediateCatchEvent>
        <bpmn:sequenceFlow id="f_or_t1" sourceRef="or" targetRef="t1">
          <bpmn:conditionExpression>=x &gt; 1</bpmn:conditionExpression>
        </bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="f_or_t2" sourceRef="or" targetRef="t2" />
        """
        + chain("s", "or")
        + chain("t1", "eb", "wait")
        + chain("eb", "msg"),
        MESSAGES,
    )
    assert definition.nodes["or"].kind == "inclusiveGateway"
    assert definition.nodes["eb"].kind == "eventBasedGateway"
    wait = definition.nodes["wait"]
    assert isinstance(wait, IntermediateCatchEvent)
    assert wait.trigger == TimerEventDefinition(timer="duration", value="PT1H")


def test_sub_processes_are_child_scopes_and_iter_nodes_walks_them() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:subProcess id="sub">
          <bpmn:startEvent id="sub_s" /><bpmn:task id="inner" /><bpmn:endEvent id="sub_e" />
          <bpmn:sequenceFlow id="i1" sourceRef="sub_s" targetRef="inner" />
          <bpmn:sequenceFlow id="i2" sourceRef="inner" targetRef="sub_e" />
        </bpmn:subProcess>
        <bpmn:subProcess id="on_error" triggeredByEvent="true">
          <bpmn:startEvent id="err_s"><bpmn:errorEventDefinition errorRef="err" /></bpmn:startEvent>
          <bpmn:endEvent id="err_e"><bpmn:terminateEventDefinition /></bpmn:endEvent>
          <bpmn:sequenceFlow id="i3" sourceRef="err_s" targetRef="err_e" />
        </bpmn:subProcess>
        <bpmn:endEvent id="e" />
        """
        + chain("s", "sub", "e"),
        MESSAGES,
    )
    sub = definition.nodes["sub"]
    assert isinstance(sub, SubProcess) and sub.start_event == "sub_s"
    assert set(sub.flows) == {"i1", "i2"} and sub.nodes["inner"].incoming == ("i1",)
    handler = definition.nodes["on_error"]
    assert isinstance(handler, EventSubProcess)
    start = handler.nodes[handler.start_event]
    assert isinstance(start, TriggeredStartEvent) and start.trigger.kind == "error"
    assert isinstance(handler.nodes["err_e"], ResultEndEvent)
    ids = [node.id for node in iter_nodes(definition)]
    assert set(ids) == {"s", "sub", "sub_s", "inner", "sub_e", "on_error", "err_s", "err_e", "e"}
    assert definition.start_event == "s"


def test_boundary_events_and_several_start_events() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:startEvent id="by_message"><bpmn:messageEventDefinition messageRef="paid" />
        </bpmn:startEvent>
        <bpmn:startEvent id="nightly"><bpmn:timerEventDefinition>
          <bpmn:timeCycle>0 0 2 * * ?</bpmn:timeCycle></bpmn:timerEventDefinition>
        </bpmn:startEvent>
        <bpmn:serviceTask id="t" camunda:type="external" camunda:topic="charge" />
        <bpmn:boundaryEvent id="declined" attachedToRef="t">
          <bpmn:errorEventDefinition errorRef="err" camunda:errorCodeVariable="code" />
        </bpmn:boundaryEvent>
        <bpmn:boundaryEvent id="remind" attachedToRef="t" cancelActivity="false">
          <bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT10M</bpmn:timeCycle>
          </bpmn:timerEventDefinition>
        </bpmn:boundaryEvent>
        <bpmn:endEvent id="e" /><bpmn:endEvent id="failed" /><bpmn:endEvent id="reminded" />
        """
        + chain("s", "t", "e")
        + chain("by_message", "t")
        + chain("nightly", "t")
        + chain("declined", "failed")
        + chain("remind", "reminded"),
        MESSAGES,
    )
    declined, remind = definition.nodes["declined"], definition.nodes["remind"]
    assert isinstance(declined, BoundaryEvent) and declined.attached_to == "t"
    assert declined.trigger.kind == "error" and declined.trigger.error_code == "CARD_DECLINED"
    assert isinstance(remind, BoundaryEvent) and not remind.cancel_activity
    assert definition.start_event == "s"
    assert {n.kind for n in definition.nodes.values()} >= {"triggeredStartEvent", "boundaryEvent"}


def test_a_process_with_only_a_message_start_has_no_plain_start() -> None:
    definition = compile_one(
        '<bpmn:startEvent id="m"><bpmn:messageEventDefinition messageRef="paid" />'
        '</bpmn:startEvent><bpmn:endEvent id="e" />' + chain("m", "e"),
        MESSAGES,
    )
    assert definition.start_event is None


def test_multi_instance_wraps_the_activity_in_both_dialects() -> None:
    definition = compile_one(
        """
        <bpmn:startEvent id="s" />
        <bpmn:serviceTask id="z">
          <bpmn:extensionElements><zeebe:taskDefinition type="notify" /></bpmn:extensionElements>
          <bpmn:multiInstanceLoopCharacteristics isSequential="true">
            <bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=items"
              inputElement="item" outputCollection="results" outputElement="=result" />
            </bpmn:extensionElements>
            <bpmn:completionCondition>=done</bpmn:completionCondition>
          </bpmn:multiInstanceLoopCharacteristics>
        </bpmn:serviceTask>
        <bpmn:userTask id="c">
          <bpmn:multiInstanceLoopCharacteristics camunda:collection="reviewers"
            camunda:elementVariable="reviewer" />
        </bpmn:userTask>
        <bpmn:task id="n"><bpmn:multiInstanceLoopCharacteristics>
          <bpmn:loopCardinality>3</bpmn:loopCardinality>
        </bpmn:multiInstanceLoopCharacteristics></bpmn:task>
        <bpmn:task id="loop"><bpmn:standardLoopCharacteristics loopMaximum="5">
          <bpmn:loopCondition>${again}</bpmn:loopCondition></bpmn:standardLoopCharacteristics>
        </bpmn:task>
        """
        + chain("s", "z", "c", "n", "loop")
    )
    z = definition.nodes["z"]
    assert isinstance(z, MultiInstanceActivity) and z.multi_instance.sequential
    assert z.activity.kind == "job" and z.incoming == ("f_s_z",)
    assert z.multi_instance.input_element == "item" and z.multi_instance.output_collection
    c = definition.nodes["c"]
    assert isinstance(c, MultiInstanceActivity) and c.activity.kind == "userTask"
    assert c.multi_instance.input_collection is not None
    assert c.multi_instance.input_collection.source == "${reviewers}"
    n = definition.nodes["n"]
    assert isinstance(n, MultiInstanceActivity) and n.multi_instance.cardinality is not None
    assert definition.nodes["loop"].kind == "standardLoop"
    assert [node.id for node in iter_nodes(definition)].count("z") == 2


@pytest.mark.parametrize(
    ("timer", "value", "expected"),
    [
        ("timeDuration", "PT15M", None),
        ("timeDuration", "=duration", None),
        ("timeDuration", "PT${minutes}M", None),
        ("timeDuration", "15 minutes", "is not an ISO 8601 duration"),
        ("timeDuration", "P", "is not an ISO 8601 duration"),
        ("timeDate", "2025-06-01T09:00:00Z", None),
        ("timeDate", "2025-06-01T09:00:00+02:00[Europe/Berlin]", None),
        ("timeDate", "tomorrow", "is not an ISO 8601 date-time"),
        ("timeCycle", "R/PT1H", "not allowed on an intermediate catch event"),
    ],
)
def test_timer_values_are_validated_at_compile_time(
    timer: str, value: str, expected: str | None
) -> None:
    body = (
        '<bpmn:startEvent id="s" /><bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition>'
        f"<bpmn:{timer}>{value}</bpmn:{timer}></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>" + chain("s", "t")
    )
    if expected is None:
        compile_one(body)
    else:
        (problem,) = problems_of(model(body))
        assert problem.element_id == "t" and expected in problem.message


@pytest.mark.parametrize(
    ("cycle", "ok"),
    [
        ("R5/PT10S", True),
        ("R/2025-01-01T00:00:00Z/P1D", True),
        ("0 0/5 * * * ?", True),
        ("0 0 9-17 * * MON-FRI", True),
        ("*/5 * * * *", False),
        ("R5/tomorrow", False),
    ],
)
def test_timer_cycles_accept_repeating_intervals_and_cron(cycle: str, ok: bool) -> None:
    body = (
        '<bpmn:startEvent id="s"><bpmn:timerEventDefinition>'
        f"<bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>"
        '<bpmn:endEvent id="e" />' + chain("s", "e")
    )
    if ok:
        compile_one(body)
    else:
        assert "timer cycle" in problems_of(model(body))[0].message


def test_camunda_async_flags_are_accepted_and_java_listeners_refused() -> None:
    definition = compile_one(
        '<bpmn:startEvent id="s" camunda:asyncBefore="true" />'
        '<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="x" '
        'camunda:asyncAfter="true" camunda:exclusive="false"><bpmn:extensionElements>'
        '<camunda:executionListener event="end" expression="${audit}" />'
        "</bpmn:extensionElements></bpmn:serviceTask>" + chain("s", "t")
    )
    (listener,) = definition.nodes["t"].listeners
    assert (listener.event, listener.expression.source) == ("end", "${audit}")
    (problem,) = problems_of(
        model(
            '<bpmn:startEvent id="s"><bpmn:extensionElements>'
            '<camunda:executionListener class="com.example.Audit" event="start" />'
            "</bpmn:extensionElements></bpmn:startEvent>"
        )
    )
    assert "Java code (camunda:class)" in problem.message


def test_lanes_pools_message_flows_and_data_are_ignored() -> None:
    data = (
        b'<?xml version="1.0"?><bpmn:definitions '
        b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
        b'<bpmn:collaboration id="c"><bpmn:participant id="pa" processRef="a" />'
        b'<bpmn:participant id="pb" processRef="b" />'
        b'<bpmn:messageFlow id="mf" sourceRef="ta" targetRef="sb" /></bpmn:collaboration>'
        b'<bpmn:process id="a" isExecutable="true"><bpmn:laneSet id="ls"><bpmn:lane id="l">'
        b"<bpmn:flowNodeRef>sa</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
        b'<bpmn:dataObject id="do" /><bpmn:startEvent id="sa" /><bpmn:task id="ta" />'
        b'<bpmn:sequenceFlow id="fa" sourceRef="sa" targetRef="ta" /></bpmn:process>'
        b'<bpmn:process id="b" isExecutable="true"><bpmn:startEvent id="sb" /></bpmn:process>'
        b"</bpmn:definitions>"
    )
    assert [d.id for d in compile_bytes(data, "pools.bpmn")] == ["a", "b"]


def test_graph_problems_are_all_reported_in_one_pass() -> None:
    problems = problems_of(
        model(
            """
            <bpmn:startEvent id="s" />
            <bpmn:exclusiveGateway id="stuck" />
            <bpmn:task id="orphan" />
            <bpmn:exclusiveGateway id="g" default="nowhere" /><bpmn:endEvent id="e" />
            <bpmn:boundaryEvent id="b1" attachedToRef="ghost"><bpmn:timerEventDefinition>
              <bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition>
            </bpmn:boundaryEvent>
            <bpmn:boundaryEvent id="b2" attachedToRef="g"><bpmn:timerEventDefinition>
              <bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition>
            </bpmn:boundaryEvent>
            <bpmn:scriptTask id="bad"><bpmn:extensionElements>
              <zeebe:script expression="=a +" resultVariable="x" />
            </bpmn:extensionElements></bpmn:scriptTask>
            """
            + chain("s", "stuck")
            + chain("s", "g", "e")
            + chain("s", "bad")
        )
    )
    messages = {(p.element_id, p.message.split(":")[0].split(",")[0]) for p in problems}
    assert ("stuck", "gateway has no outgoing sequence flow") in messages
    assert ("orphan", "task cannot be reached from any start event") in messages
    assert ("g", "default flow 'nowhere' is not an outgoing flow") in messages
    by_id = {p.element_id: p for p in problems}
    assert "unknown" in by_id["b1"].message
    assert "only activities can have boundary events" in by_id["b2"].message
    assert "column 5" in by_id["bad"].message
    assert all(p.line is not None for p in problems)


def test_sequence_flows_cannot_cross_a_sub_process_border() -> None:
    problems = problems_of(
        model(
            """
            <bpmn:startEvent id="s" />
            <bpmn:subProcess id="sub"><bpmn:startEvent id="in" /></bpmn:subProcess>
            <bpmn:sequenceFlow id="cross" sourceRef="s" targetRef="in" />
            """
        )
    )
    assert any(p.element_id == "cross" and "another scope" in p.message for p in problems)


CAMUNDA_RETRIES = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="retrying" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="charge">
      <bpmn:extensionElements>
        <camunda:failedJobRetryTimeCycle>{cycle}</camunda:failedJobRetryTimeCycle>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="charge" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_camunda_retry_time_cycle_sets_retries_and_their_wait() -> None:
    from datetime import timedelta

    import translator

    (definition,) = translator.compile_bytes(CAMUNDA_RETRIES.format(cycle="R5/PT1M").encode(), "r")
    job = definition.nodes["charge"].job  # type: ignore[union-attr]
    assert (job.retries, job.retry_backoff) == (5, timedelta(minutes=1))
    with pytest.raises(translator.TranslationError, match="'every minute' is not a cycle"):
        translator.compile_bytes(CAMUNDA_RETRIES.format(cycle="every minute").encode(), "r")


def test_a_throw_events_mappings_come_from_either_dialect() -> None:
    definition = compile_one(
        '<bpmn:startEvent id="s" />'
        '<bpmn:intermediateThrowEvent id="t"><bpmn:extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="net">${gross - 10}</camunda:inputParameter>'
        '<camunda:outputParameter name="total">${net * 2}</camunda:outputParameter>'
        "</camunda:inputOutput></bpmn:extensionElements></bpmn:intermediateThrowEvent>"
        + chain("s", "t")
    )
    throw = definition.nodes["t"]
    assert isinstance(throw, IntermediateThrowEvent)
    assert [m.target for m in throw.inputs] == ["net"]
    assert [m.target for m in throw.outputs] == ["total"]


@pytest.mark.parametrize(
    ("listener", "expected"),
    [
        (
            '<camunda:executionListener event="take" class="com.example.Audit" />',
            "the sequence flow's take listener is Java code (camunda:class)",
        ),
        (
            '<camunda:executionListener expression="${audit.log()}" />',
            "the sequence flow's take listener is an expression or script",
        ),
        (
            '<zeebe:executionListeners><zeebe:executionListener eventType="start" type="x" />'
            "</zeebe:executionListeners>",
            "Zeebe runs no execution listeners on sequence flows",
        ),
    ],
)
def test_a_listener_on_a_sequence_flow_is_refused_not_dropped(listener: str, expected: str) -> None:
    flow = (
        '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"><bpmn:extensionElements>'
        f"{listener}</bpmn:extensionElements></bpmn:sequenceFlow>"
    )
    [problem] = problems_of(model('<bpmn:startEvent id="s" /><bpmn:endEvent id="e" />' + flow))
    assert problem.element_id == "f"
    assert expected in problem.message
