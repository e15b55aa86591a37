"""worker.py against the real Temporal dev server and the real Kafka broker: no mocks."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

import bpmn_cli
import translator
from activities import (
    DLT_REASON_HEADER,
    Job,
    JobWorker,
    ensure_topics,
    sync_timer_start_schedules,
    timer_schedule_id,
)
from tests.conftest import BIN
from tests.helpers import ORDER_PROCESS, wait_for
from tests.helpers.bpmn import chain, events, model
from tests.helpers.models import CATCH_PAYMENT, timer_started
from tests.helpers.processes import worker_process
from workflows import (
    ACTIVATE_AD_HOC_ELEMENTS_UPDATE,
    CANCEL_UPDATE,
    STATE_QUERY,
    make_correlation_id,
)

pytestmark = pytest.mark.integration

REQUEST_TOPIC, RESPONSE_TOPIC = "tsm-process-request", "tsm-process-response"
TIMER_STARTED = f"timer-started-{uuid.uuid4().hex[:8]}"
"""Unique per run: the dev server keeps schedules, and a finished R2 schedule starts nothing."""

BROKEN_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="broken-process" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="no_type" name="Task without a job type" />
    <bpmn:sequenceFlow id="f" sourceRef="start" targetRef="no_type" />
  </bpmn:process>
</bpmn:definitions>
"""


DINNER_DECISIONS = Path(__file__).resolve().parents[1] / "fixtures" / "dmn" / "dinner.dmn"
SUPPER = model(
    "supper",
    events("start", kind="startEvent"),
    '<bpmn:businessRuleTask id="pick"><bpmn:extensionElements>'
    '<zeebe:calledDecision decisionId="beverages" resultVariable="drinks" />'
    "</bpmn:extensionElements></bpmn:businessRuleTask>",
    events("end"),
    chain("start", "pick", "end"),
)


def script(element_id: str, expression: str, result: str, extra: str = "") -> str:
    return (
        f'<bpmn:scriptTask id="{element_id}"{extra}><bpmn:extensionElements>'
        f'<zeebe:script expression="{expression}" resultVariable="{result}" />'
        "</bpmn:extensionElements></bpmn:scriptTask>"
    )


SCRIPTED_SAGA = model(
    "saga",
    events("start", kind="startEvent"),
    script("reserve", "=true", "reserved"),
    '<bpmn:boundaryEvent id="undo_reserve" attachedToRef="reserve">'
    "<bpmn:compensateEventDefinition /></bpmn:boundaryEvent>",
    script("release", "=false", "reserved", ' isForCompensation="true"'),
    '<bpmn:association id="a" sourceRef="undo_reserve" targetRef="release" />',
    '<bpmn:intermediateThrowEvent id="roll_back"><bpmn:compensateEventDefinition />'
    "</bpmn:intermediateThrowEvent>",
    events("end"),
    chain("start", "reserve", "roll_back", "end"),
)


AD_HOC = model(
    "ad-hoc-tools",
    events("start", kind="startEvent"),
    '<bpmn:adHocSubProcess id="tools"><bpmn:extensionElements>'
    '<zeebe:adHoc activeElementsCollection="=[&quot;double&quot;]" outputCollection="results"'
    ' outputElement="=result" /></bpmn:extensionElements>'
    + script("double", "=n * 2", "result")
    + script("triple", "=n * 3", "result")
    + "<bpmn:completionCondition>=count(results) &gt;= 2</bpmn:completionCondition>"
    "</bpmn:adHocSubProcess>",
    events("end"),
    chain("start", "tools", "end"),
)


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("definitions")
    shutil.copy(ORDER_PROCESS, folder)
    (folder / "broken.bpmn").write_text(BROKEN_BPMN)
    (folder / "await-payment.bpmn").write_text(CATCH_PAYMENT)
    (folder / "timer-started.bpmn").write_text(timer_started(TIMER_STARTED))
    shutil.copy(DINNER_DECISIONS, folder / "supper.dmn")
    (folder / "supper.bpmn").write_text(SUPPER)
    (folder / "saga.bpmn").write_text(SCRIPTED_SAGA)
    (folder / "ad-hoc-tools.bpmn").write_text(AD_HOC)
    return folder


@pytest.fixture(scope="module")
def worker_log(
    dev_stack: Any, definitions: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("logs") / "worker.log"
    with worker_process(definitions, log, dev_stack.temporal_address, dev_stack.kafka_bootstrap):
        yield log


@pytest.fixture
async def client(dev_stack: Any) -> Client:
    return await Client.connect(dev_stack.temporal_address)


@pytest.fixture
async def job_workers(client: Client, worker_log: Path) -> AsyncIterator[None]:
    jobs = JobWorker(client)

    @jobs.job("check-order")
    def check_order(job: Job) -> dict[str, Any]:
        return {"approvalRequest": {"orderId": job.variables["orderId"]}}

    @jobs.job("send-confirmation")
    def send_confirmation(job: Job) -> dict[str, Any]:
        return {"confirmed": True}

    task = asyncio.create_task(jobs.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def consume_until(bootstrap: str, topic: str, match: Any, timeout: float = 30.0) -> Any:
    """The first record on ``topic`` for which ``match(record)`` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await ensure_topics(bootstrap, [topic])
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            async for record in consumer:
                if match(record):
                    return record
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, value: bytes, headers: dict[str, str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, headers=[(k, v.encode()) for k, v in headers.items()]
        )
    finally:
        await producer.stop()


def headers_of(record: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


async def test_kafka_task_round_trip_through_the_bridge(
    dev_stack: Any, client: Client, job_workers: None
) -> None:
    instance_id = f"it-order-{uuid.uuid4()}"
    handle = await client.start_workflow(
        "order-process",
        {"orderId": 42, "amount": 5000, "businessKey": "BK-42", "ownerType": "Order"},
        id=instance_id,
        task_queue="bpmn",
    )
    request = await consume_until(
        dev_stack.kafka_bootstrap,
        REQUEST_TOPIC,
        lambda r: headers_of(r).get("processInstanceId") == instance_id,
    )
    headers = headers_of(request)
    assert request.key == b"BK-42"
    assert json.loads(request.value) == {"orderId": 42}
    assert headers["ownerType"] == "Order" and headers["ownerId"] == "BK-42"
    assert headers["traceId"]
    # Only correlationId is required on the response.
    await produce(
        dev_stack.kafka_bootstrap,
        RESPONSE_TOPIC,
        json.dumps({"approved": True, "limit": 9000}).encode(),
        {"correlationId": headers["correlationId"]},
    )
    result = await asyncio.wait_for(handle.result(), 60)
    assert result["approved"] is True and result["limit"] == 9000 and result["confirmed"]


async def test_unroutable_responses_go_to_the_dead_letter_topic(
    dev_stack: Any, worker_log: Path
) -> None:
    marker = uuid.uuid4().hex
    gone = make_correlation_id(str(uuid.uuid4()), f"no-such-instance-{marker}")
    cases = {
        "no-correlation": (b'{"a": 1}', {}),
        "garbled": (b'{"a": 1}', {"correlationId": "not-one-of-ours"}),
        "not-json": (b"{oops", {"correlationId": gone}),
        "gone": (b'{"a": 1}', {"correlationId": gone}),
    }
    for case, (value, headers) in cases.items():
        await produce(
            dev_stack.kafka_bootstrap,
            RESPONSE_TOPIC,
            value,
            {**headers, "case": f"{marker}-{case}"},
        )
    reasons: dict[str, str] = {}

    def collect(record: Any) -> bool:
        headers = headers_of(record)
        if headers.get("case", "").startswith(marker):
            reasons[headers["case"].split("-", 1)[1]] = headers[DLT_REASON_HEADER]
        return len(reasons) == len(cases)

    await consume_until(dev_stack.kafka_bootstrap, RESPONSE_TOPIC + ".DLT", collect, timeout=60)
    assert "no correlationId" in reasons["no-correlation"]
    assert "not issued by this engine" in reasons["garbled"]
    assert "not JSON" in reasons["not-json"]
    assert "not running" in reasons["gone"]


async def test_start_from_the_temporal_cli(
    dev_stack: Any, client: Client, job_workers: None
) -> None:
    instance_id = f"cli-order-{uuid.uuid4()}"
    command = [
        str(BIN / "temporal"),
        "workflow",
        "start",
        "--address",
        dev_stack.temporal_address,
        "--type",
        "order-process",
        "--task-queue",
        "bpmn",
        "--workflow-id",
        instance_id,
        "--input",
        '{"orderId": 7, "amount": 20}',
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    result = await asyncio.wait_for(client.get_workflow_handle(instance_id).result(), 60)
    assert result == {
        "orderId": 7,
        "amount": 20,
        "approvalRequest": {"orderId": 7},
        "confirmed": True,
    }
    state = await client.get_workflow_handle(instance_id).query(STATE_QUERY)
    assert "approve_order" not in [c["element_id"] for c in state["completed"]]


@pytest.mark.parametrize("started_by", ["workflow type", "bpmn start --definitions"])
async def test_instances_are_found_by_process_id_hash_and_business_key(
    dev_stack: Any, client: Client, job_workers: None, definitions: Path, started_by: str
) -> None:
    business_key = f"order-{uuid.uuid4()}"
    variables = {"orderId": 8, "amount": 10, "businessKey": business_key}
    instance_id = f"find-{uuid.uuid4()}"
    if started_by == "workflow type":  # the instance pins itself and upserts them
        await client.start_workflow("order-process", variables, id=instance_id, task_queue="bpmn")
    else:  # pinned at start: the CLI sets them, the instance records nothing
        argv = ["--address", dev_stack.temporal_address, "start", "order-process", "--id"]
        argv += [instance_id, "--definitions", str(definitions)]
        argv += ["--variables", json.dumps(variables)]
        assert await bpmn_cli.run(bpmn_cli.parse_args(argv)) == 0
    handle = client.get_workflow_handle(instance_id)
    await asyncio.wait_for(handle.result(), 60)
    memo = await (await handle.describe()).memo()
    assert memo["bpmnProcessId"] == "order-process"
    assert memo["businessKey"] == business_key
    query = f'BpmnBusinessKey="{business_key}" AND BpmnProcessId="order-process"'
    command = [str(BIN / "temporal"), "workflow", "list", "--address"]
    command += [dev_stack.temporal_address, "--query", query, "--output", "json"]
    listed = ""
    for _ in range(100):  # visibility is eventually consistent
        process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        listed = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
        if handle.id in listed:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"{handle.id} not listed by {query!r}: {listed}")
    assert memo["definitionHash"] in listed


async def test_a_message_published_on_the_kafka_message_topic_is_correlated(
    dev_stack: Any, client: Client, worker_log: Path
) -> None:
    order = str(uuid.uuid4())
    handle = await client.start_workflow(
        "await-payment", {"orderId": order}, id=f"pay-{order}", task_queue="bpmn"
    )
    await wait_for(lambda state: state["active"], handle, timeout=30)
    message = {"name": "payment-received", "correlationKey": order, "variables": {"paid": 9}}
    await produce(dev_stack.kafka_bootstrap, "bpmn-messages", json.dumps(message).encode(), {})
    result = await asyncio.wait_for(handle.result(), 60)
    assert result["paid"] == 9


def test_a_broken_model_is_reported_and_the_others_deploy(worker_log: Path) -> None:
    log = worker_log.read_text()
    assert "broken.bpmn:5 [no_type]" in log
    assert "has no job type" in log
    assert "processes: ad-hoc-tools, await-payment, order-process, saga, supper" in log
    assert "decisions: dish, season, beverages" in log


async def test_a_business_rule_task_evaluates_a_deployed_dmn_file(
    worker_log: Path, client: Client
) -> None:
    variables = {"month": 1, "guestCount": 10, "guestsWithChildren": True}
    result = await client.execute_workflow(
        "supper", variables, id=f"supper-{uuid.uuid4()}", task_queue="bpmn"
    )
    assert result == {**variables, "drinks": ["Guiness", "Apple Juice", "Water"]}


async def test_a_compensation_throw_event_runs_the_handler_of_what_completed(
    worker_log: Path, client: Client
) -> None:
    handle = await client.start_workflow("saga", {}, id=f"saga-{uuid.uuid4()}", task_queue="bpmn")
    assert await asyncio.wait_for(handle.result(), 60) == {"reserved": False}
    state = await handle.query(STATE_QUERY)
    completed = [c["element_id"] for c in state["completed"]]
    assert completed.index("release") < completed.index("roll_back")


async def test_an_ad_hoc_sub_process_runs_what_it_and_an_operator_activate(
    worker_log: Path, client: Client
) -> None:
    handle = await client.start_workflow(
        "ad-hoc-tools", {"n": 5}, id=f"ad-hoc-{uuid.uuid4()}", task_queue="bpmn"
    )
    # The first path ends without meeting the condition: the sub-process stays open.
    await wait_for(
        lambda s: "double" in [c["element_id"] for c in s["completed"]], handle, timeout=60
    )
    request = {"element_id": "tools", "elements": [{"element_id": "triple", "variables": {"n": 7}}]}
    await handle.execute_update(ACTIVATE_AD_HOC_ELEMENTS_UPDATE, request)
    assert await asyncio.wait_for(handle.result(), 60) == {"n": 5, "results": [10, 21]}


def test_strict_refuses_a_folder_with_a_broken_model(definitions: Path) -> None:
    completed = subprocess.run(
        [str(BIN / "python"), "worker.py", "--definitions", str(definitions), "--strict"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert completed.returncode == 1
    assert "broken.bpmn" in completed.stderr and "Traceback" not in completed.stderr


async def test_unreachable_kafka_does_not_stop_processes_without_kafka_tasks(
    dev_stack: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "defs"
    folder.mkdir()
    shutil.copy(ORDER_PROCESS, folder)
    log = tmp_path / "worker.log"
    queue = f"no-kafka-{uuid.uuid4()}"
    client = await Client.connect(dev_stack.temporal_address)
    jobs = JobWorker(client)
    jobs.job("check-order")(lambda job: {"checked": True})
    jobs.job("send-confirmation")(lambda job: {"confirmed": True})
    job_task = asyncio.create_task(jobs.run())
    try:
        with worker_process(
            folder, log, dev_stack.temporal_address, "127.0.0.1:1", "--task-queue", queue
        ):
            handle = await client.start_workflow(
                "order-process",
                {"orderId": 1, "amount": 3},
                id=f"nk-{uuid.uuid4()}",
                task_queue=queue,
            )
            result = await asyncio.wait_for(handle.result(), 60)
    finally:
        job_task.cancel()
        await asyncio.gather(job_task, return_exceptions=True)
    assert result["confirmed"] is True
    assert "bridge retries" in log.read_text()


async def test_a_timer_start_event_is_a_schedule_that_starts_instances(
    worker_log: Path, client: Client
) -> None:
    schedule = client.get_schedule_handle(
        timer_schedule_id("bpmn", TIMER_STARTED, "every_two_seconds")
    )
    query = f'WorkflowType="{TIMER_STARTED}" AND ExecutionStatus="Completed"'
    for _ in range(100):
        completed = [w async for w in client.list_workflows(query)]
        if len(completed) >= 2:
            break
        await asyncio.sleep(0.2)
    assert len(completed) == 2, f"instances started by the schedule: {completed}"
    assert all(w.id.startswith(f"{TIMER_STARTED}/timer/every_two_seconds") for w in completed)
    described = await schedule.describe()
    assert described.info.num_actions == 2
    assert described.schedule.state.remaining_actions == 0


async def test_a_schedule_whose_start_event_is_gone_is_deleted(client: Client) -> None:
    task_queue = f"schedules-{uuid.uuid4()}"
    definitions = translator.compile_bytes(timer_started("short-lived", "R/PT1H").encode(), "t")
    report = await sync_timer_start_schedules(client, definitions, task_queue)
    assert report.created == [timer_schedule_id(task_queue, "short-lived", "every_two_seconds")]
    again = await sync_timer_start_schedules(client, definitions, task_queue)
    assert again.unchanged == report.created and not again.created
    for _ in range(50):  # listing schedules is eventually consistent
        removed = await sync_timer_start_schedules(client, [], task_queue)
        if removed.deleted:
            break
        await asyncio.sleep(0.2)
    assert removed.deleted == report.created


async def test_the_cancel_update_ends_the_instance_as_canceled(
    worker_log: Path, client: Client
) -> None:
    # No job worker runs in this test: the instance waits at its first job until cancelled.
    handle = await client.start_workflow(
        "order-process", {"orderId": 9, "amount": 5}, id=f"cancel-{uuid.uuid4()}", task_queue="bpmn"
    )
    await wait_for(lambda s: bool(s["active"]), handle, timeout=30)
    await handle.execute_update(CANCEL_UPDATE, {"reason": "customer withdrew"})
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), 30)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
