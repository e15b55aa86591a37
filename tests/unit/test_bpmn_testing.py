"""The pytest toolkit for users' process tests (bpmn_testing): its fixtures in use, and, through
pytester, how it reports bad models and instances a test left waiting."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import bpmn_testing
from activities import Job, MessageNotCorrelated
from bpmn_testing import BpmnTestContext, ClockBlockedError, KafkaRecord, ProcessAssertionError
from tests.helpers import ORDER_PROCESS
from tests.helpers.bpmn import chain, error, error_boundary, events, flow, model, service
from tests.helpers.models import kafka_task_process

pytest_plugins = ["pytester"]


def timer_boundary(element_id: str, attached_to: str, duration: str) -> str:
    return (
        f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}">'
        f"<bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    )


def with_retries(task: str, retries: int) -> str:
    return task.replace('retries="1"', f'retries="{retries}"')


HEADERS = '<zeebe:taskHeaders><zeebe:header key="{key}" value="{value}" /></zeebe:taskHeaders>'

THREE_JOBS = model(
    "three-jobs",
    events("start", kind="startEvent"),
    service("a"),
    service(
        "b", io='<zeebe:taskHeaders><zeebe:header key="mode" value="fast" /></zeebe:taskHeaders>'
    ),
    service("c"),
    events("end"),
    chain("start", "a", "b", "c", "end"),
)

SLOW_WORK = model(
    "slow-work",
    events("start", kind="startEvent"),
    with_retries(service("work"), 3),
    timer_boundary("too_slow", "work", "PT2H"),
    events("done", "timed_out"),
    chain("start", "work", "done"),
    flow("too_slow", "timed_out"),
)

CAUGHT_ERROR = model(
    "caught-error",
    events("start", kind="startEvent"),
    service("charge"),
    error_boundary("declined", "charge", "card_declined"),
    events("paid", "not_paid"),
    chain("start", "charge", "paid"),
    flow("declined", "not_paid"),
    extra=error("card_declined", "CARD_DECLINED"),
)

KAFKA_SEND = model(
    "kafka-send",
    events("start", kind="startEvent"),
    service(
        "announce",
        "kafka",
        io='<zeebe:taskHeaders><zeebe:header key="kafka-topic" value="orders" />'
        '<zeebe:header key="kafka-key" value="k-1" /></zeebe:taskHeaders>',
    ),
    events("end"),
    chain("start", "announce", "end"),
)

PAYMENT = model(
    "payment",
    events("start", kind="startEvent"),
    '<bpmn:receiveTask id="wait" messageRef="paid" />',
    events("end"),
    chain("start", "wait", "end"),
    extra='<bpmn:message id="paid" name="payment-received"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=orderId" /></bpmn:extensionElements></bpmn:message>',
)


REVIEW = model(
    "review",
    events("start", kind="startEvent"),
    '<bpmn:userTask id="review" />',
    events("end"),
    chain("start", "review", "end"),
)


def test_the_public_api_is_pinned() -> None:
    assert set(bpmn_testing.__all__) == {
        "HOLD_BACKOFF",
        "BpmnTestContext",
        "BpmnTestEnvironment",
        "BpmnTestingError",
        "ClockBlockedError",
        "FakeKafka",
        "InstanceLeftWaitingWarning",
        "JobStub",
        "KafkaRecord",
        "ProcessAssertionError",
        "ProcessInstance",
        "find_test_server",
    }


async def test_jobs_are_answered_by_decorated_handlers_plain_functions_and_canned_answers(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(THREE_JOBS)

    @bpmn.job("a")
    async def a(job: Job) -> dict[str, Any]:
        return {"a": job.variables["n"] + 1}

    bpmn.job("b")(lambda job: {"b": job.variables["a"] * 10})
    bpmn.job("c").complete({"c": "done"})

    instance = await bpmn.start("three-jobs", {"n": 1}, business_key="k-1")

    assert await instance.assert_completed({"a": 2, "b": 20, "c": "done"}) == {
        "n": 1,
        "businessKey": "k-1",
        "a": 2,
        "b": 20,
        "c": "done",
    }
    b = await bpmn.job("b").assert_received(variables={"a": 2}, headers={"mode": "fast"}, times=1)
    assert (b.element_id, b.process_instance_id, b.bpmn_process_id) == (
        "b",
        instance.id,
        "three-jobs",
    )
    assert bpmn.job("c").last.variables == {"n": 1, "businessKey": "k-1", "a": 2, "b": 20}
    assert a.__name__ == "a", "the decorator returns the handler as it was"


async def test_a_user_task_is_completed_and_variables_are_set_through_updates(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(REVIEW)
    instance = await bpmn.start("review", amount=3)
    await instance.assert_waiting_at("review")

    await instance.set_variables({"amount": 4})
    await instance.assert_variables({"amount": 4})
    await instance.complete_user_task("review", {"approved": True})

    await instance.assert_completed({"amount": 4, "approved": True})


async def test_a_thrown_bpmn_error_takes_the_error_boundary(bpmn: BpmnTestContext) -> None:
    bpmn.deploy_xml(CAUGHT_ERROR)
    bpmn.job("charge").throw_error("CARD_DECLINED", "insufficient funds", {"declined": True})

    instance = await bpmn.start("caught-error")

    await instance.assert_completed({"declined": True})
    await instance.assert_passed("charge", "declined", "not_paid")
    await instance.assert_not_passed("paid")


async def test_a_failed_job_is_an_incident_that_resolving_retries(bpmn: BpmnTestContext) -> None:
    bpmn.deploy_xml(CAUGHT_ERROR)
    bpmn.job("charge").fail("payment service down")
    instance = await bpmn.start("caught-error")

    incident = await instance.assert_incident("charge", "payment service down")
    assert incident.type == "JOB_NO_RETRIES"

    bpmn.job("charge").complete({"charged": True})
    await instance.resolve_incident("charge", {"fixed": True})
    await instance.assert_completed({"charged": True, "fixed": True})


async def test_a_held_job_lets_its_boundary_timer_fire_on_skipped_time(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(SLOW_WORK)
    bpmn.job("work").hold()
    instance = await bpmn.start("slow-work")
    await instance.assert_waiting_at("work")
    before = await bpmn.now()

    await bpmn.skip("PT2H")

    await instance.assert_completed()
    await instance.assert_passed("too_slow", "timed_out")
    await instance.assert_not_passed("done")
    assert await bpmn.now() - before >= timedelta(hours=2)
    assert [job.attempt for job in bpmn.job("work").jobs] == [1]


async def test_skip_to_next_timer_moves_the_clock_to_the_boundary_timer(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(SLOW_WORK)
    bpmn.job("work").hold()
    instance = await bpmn.start("slow-work")
    await instance.assert_waiting_at("work")

    moved = await bpmn.skip_to_next_timer()

    assert timedelta(hours=1, minutes=59) < moved <= timedelta(hours=2)
    await instance.assert_passed("too_slow", "timed_out")


async def test_time_cannot_move_while_a_job_nobody_answers_is_pending(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(SLOW_WORK)
    instance = await bpmn.start("slow-work")
    await instance.assert_waiting_at("work")

    with pytest.raises(ClockBlockedError, match=r"(?s)job 'work' at element work .*hold\(\)"):
        await bpmn.skip("PT2H")
    await instance.cancel()


async def test_skip_to_next_timer_without_a_timer_says_where_the_instances_wait(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(PAYMENT)
    instance = await bpmn.start("payment", orderId="o-1")
    await instance.assert_waiting_at("wait")

    with pytest.raises(ProcessAssertionError, match=r"no timer(.|\n)*waiting:   wait"):
        await bpmn.skip_to_next_timer()


async def test_a_message_published_before_the_wait_is_buffered(bpmn: BpmnTestContext) -> None:
    bpmn.deploy_xml(PAYMENT)
    await bpmn.publish_message("payment-received", "o-2", {"amount": 42}, time_to_live="PT1H")

    instance = await bpmn.start("payment", orderId="o-2")

    await instance.assert_completed({"amount": 42})


async def test_correlate_names_the_waiting_instance_and_a_signal_reaches_its_wait(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(PAYMENT)
    instance = await bpmn.start("payment", orderId="o-3")
    await instance.assert_waiting_at("wait")
    for _ in range(100):  # until the wait has subscribed at its mailbox
        try:
            result = await bpmn.correlate_message("payment-received", "o-3", {"amount": 1})
            break
        except MessageNotCorrelated:
            await asyncio.sleep(0.05)
    assert result.workflow_id == instance.id
    await instance.assert_completed({"amount": 1})


async def test_kafka_requests_are_recorded_and_answered_as_they_are_published(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy(ORDER_PROCESS)
    bpmn.job("check-order").complete({"approvalRequest": {"size": "large"}})
    bpmn.job("send-confirmation").complete()

    def approve(record: KafkaRecord) -> dict[str, Any]:
        return {"approved": record.payload == {"size": "large"}}

    bpmn.kafka.auto_respond("tsm-process-request", approve)

    instance = await bpmn.start("order-process", orderId=1, amount=500, business_key="b-1")

    await instance.assert_completed({"approved": True})
    [record] = bpmn.kafka.published("tsm-process-request")
    assert record.key == "b-1" and record.process_instance_id == instance.id
    assert record.correlation_id and record.headers["ownerId"] == "b-1"


async def test_a_kafka_send_task_publishes_without_a_broker(bpmn: BpmnTestContext) -> None:
    bpmn.deploy_xml(KAFKA_SEND)

    instance = await bpmn.start("kafka-send", orderId=3)

    await instance.assert_completed()
    [record] = bpmn.kafka.records
    assert (record.topic, record.key, record.payload) == ("orders", "k-1", {"orderId": 3})
    assert record.headers["elementId"] == "announce" and record.correlation_id is None


async def test_a_failed_assertion_shows_the_path_and_the_variables_at_once(
    bpmn: BpmnTestContext,
) -> None:
    bpmn.deploy_xml(CAUGHT_ERROR)
    bpmn.job("charge").complete({"charged": 12})
    instance = await bpmn.start("caught-error", orderId=9)
    await instance.assert_completed()

    with pytest.raises(ProcessAssertionError) as raised:
        await instance.assert_waiting_at("charge", timeout=30)

    message = str(raised.value)
    assert f"caught-error instance {instance.id} is not waiting at charge" in message
    assert "path:      start -> charge -> paid" in message
    assert '"charged": 12' in message and '"orderId": 9' in message
    assert "within" not in message, "a completed instance fails at once, not after 30 s"


# --- through pytester: what a user sees ---------------------------------------------------

PYTEST_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
bpmn_left_waiting = {mode}
# In-process runs inherit this project's filterwarnings = error: show the warning as a
# project with pytest's defaults would.
filterwarnings = default::bpmn_testing.InstanceLeftWaitingWarning
"""

ORDER_TEST = f"""
from pathlib import Path

ORDER_PROCESS = Path({str(ORDER_PROCESS)!r})
"""


def make_suite(pytester: pytest.Pytester, mode: str, tests: str) -> None:
    pytester.makeini(PYTEST_INI.format(mode=mode))
    pytester.makepyfile(test_suite=ORDER_TEST + textwrap.dedent(tests))


def test_a_model_with_problems_fails_the_test_with_every_problem(
    pytester: pytest.Pytester,
) -> None:
    broken = ORDER_PROCESS.read_text().replace(
        '<zeebe:taskDefinition type="check-order" retries="3" />', ""
    )
    pytester.makefile(".bpmn", broken=broken)
    make_suite(
        pytester,
        "warn",
        """
        async def test_deploys(bpmn):
            bpmn.deploy("broken.bpmn", "missing-folder")
        """,
    )

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*2 problems deploying BPMN models:",
            "*missing-folder: no such file or folder",
            "*broken.bpmn:17 [[]check_order[]]: serviceTask has no job type*",
        ]
    )
    output = result.stdout.str()
    assert "Traceback" not in output and "bpmn_testing" not in output


def test_an_instance_left_waiting_is_reported_with_the_element_it_waits_at(
    pytester: pytest.Pytester,
) -> None:
    tests = """
        async def test_forgets_the_instance(bpmn):
            bpmn.deploy(ORDER_PROCESS)
            instance = await bpmn.start("order-process", orderId=1, amount=5)
            await instance.assert_passed("order_received")

        async def test_says_where_it_stops(bpmn):
            bpmn.deploy(ORDER_PROCESS)
            instance = await bpmn.start("order-process", orderId=2, amount=5)
            await instance.assert_waiting_at("check_order")
        """
    make_suite(pytester, "warn", tests)
    warned = pytester.runpytest()
    warned.assert_outcomes(passed=2, warnings=1)
    warned.stdout.fnmatch_lines(
        [
            "*InstanceLeftWaitingWarning: order-process instance order-process-* was left "
            "waiting at check_order (serviceTask) when the test ended*",
            "*path:      order_received",
        ]
    )

    make_suite(pytester, "fail", tests)
    failed = pytester.runpytest()
    failed.assert_outcomes(passed=2, errors=1)
    failed.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_forgets_the_instance*", "*left waiting at check_order*"]
    )
    assert "test_says_where_it_stops" not in failed.stdout.str().split("short test summary")[-1]


def test_a_job_no_worker_ever_took_does_not_stop_the_next_tests_clock(
    pytester: pytest.Pytester,
) -> None:
    # The Java test server keeps its clock locked for such a job even after its instance is
    # gone; the plugin gives the next test a fresh server.
    make_suite(
        pytester,
        "fail",
        f"""
        SLOW_WORK = {SLOW_WORK!r}

        async def test_leaves_a_job_untaken(bpmn):
            bpmn.deploy_xml(SLOW_WORK)
            instance = await bpmn.start("slow-work")
            await instance.assert_waiting_at("work")
            await instance.cancel()

        async def test_moves_the_clock(bpmn):
            bpmn.deploy_xml(SLOW_WORK)
            bpmn.job("work").hold()
            instance = await bpmn.start("slow-work")
            await bpmn.skip("PT2H")
            await instance.assert_passed("too_slow")
        """,
    )

    pytester.runpytest().assert_outcomes(passed=2)


KAFKA_TASK_WITH_PARAMETERS = (
    kafka_task_process(
        "refund-over-kafka",
    )
    .replace(
        '<camunda:field name="payload" stringValue="#{#variables.n}" />',
        '<camunda:field name="payload" stringValue="#{#variables.request}" />'
        '<camunda:field name="key" stringValue="#{#variables.request.orderId}" />',
    )
    .replace(
        "</camunda:executionListener>",
        "</camunda:executionListener><camunda:inputOutput>"
        '<camunda:inputParameter name="request"><camunda:map>'
        '<camunda:entry key="orderId">${orderId}</camunda:entry>'
        '<camunda:entry key="kind">refund</camunda:entry></camunda:map></camunda:inputParameter>'
        '<camunda:outputParameter name="refunded">${status == "done"}</camunda:outputParameter>'
        "</camunda:inputOutput>",
    )
)


async def test_a_kafka_tasks_input_parameters_are_its_own_variables(bpmn: BpmnTestContext) -> None:
    """Camunda 7's rule, which tSM runs on: the key and payload see them, the process never."""
    bpmn.deploy_xml(KAFKA_TASK_WITH_PARAMETERS)
    bpmn.kafka.auto_respond("tsm-process-request", {"status": "done"})

    instance = await bpmn.start("refund-over-kafka", orderId=7)

    await instance.assert_completed({"orderId": 7, "refunded": True})
    [record] = bpmn.kafka.published("tsm-process-request")
    assert (record.key, record.payload) == ("7", {"orderId": 7, "kind": "refund"})
    assert "request" not in await instance.variables()


DINNER_DMN = Path(__file__).resolve().parents[1] / "fixtures" / "dmn" / "dinner.dmn"


async def test_decisions_deploy_with_the_processes_that_evaluate_them(
    bpmn: BpmnTestContext, tmp_path: Path
) -> None:
    (tmp_path / "dinner.dmn").write_bytes(DINNER_DMN.read_bytes())
    (tmp_path / "dinner.bpmn").write_text(
        model(
            "dinner-kit",
            events("start", kind="startEvent"),
            '<bpmn:businessRuleTask id="pick"><bpmn:extensionElements>'
            '<zeebe:calledDecision decisionId="dish" resultVariable="dish" />'
            "</bpmn:extensionElements></bpmn:businessRuleTask>",
            events("end"),
            chain("start", "pick", "end"),
        )
    )
    bpmn.deploy(tmp_path)
    bpmn.deploy_xml(
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="x" '
        'namespace="n"><decision id="tip"><literalExpression><text>5</text>'
        "</literalExpression></decision></definitions>",
        "tip.dmn",
    )

    instance = await bpmn.start("dinner-kit", month=10, guestCount=2)

    await instance.assert_completed({"dish": "Spareribs"})


async def test_a_kafka_response_is_mapped_again_after_its_output_incident(
    bpmn: BpmnTestContext,
) -> None:
    """The response is consumed once its outputs are mapped: resolving the incident maps the
    same response again instead of waiting forever for one that already came."""
    bpmn.deploy_xml(
        KAFKA_TASK_WITH_PARAMETERS.replace(
            '${status == "done"}', "${status.length() / divisor}"
        ).replace("refund-over-kafka", "refund-mapped-again")
    )
    bpmn.kafka.auto_respond("tsm-process-request", {"status": "done"})

    instance = await bpmn.start("refund-mapped-again", orderId=7)

    await instance.assert_incident("ask", type="EXPRESSION_EVALUATION_FAILED")
    await instance.resolve_incident("ask", {"divisor": 2})
    await instance.assert_completed({"refunded": 2})
    assert len(bpmn.kafka.published("tsm-process-request")) == 1
