"""The ``bpmn`` command line: check models, start and operate instances, publish, correlate and
broadcast, on the time-skipping server; bad input is one line and exit status 1."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from bpmn_cli import CliError, main, parse_args, run
from tests.helpers import EXAMPLES, deploy, running_interpreter
from tests.helpers.bpmn import conditionally_started
from tests.helpers.models import CATCH_PAYMENT
from workflows import mailbox_id


def test_check_lists_what_deploys_and_what_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(EXAMPLES)]) == 0
    assert "ok       order-process" in capsys.readouterr().out
    broken = tmp_path / "broken.bpmn"
    broken.write_text(CATCH_PAYMENT.replace('sourceRef="start"', 'sourceRef="nowhere"'))
    assert main(["check", str(broken)]) == 1
    assert "problem  " in capsys.readouterr().out


def test_check_lists_the_decisions_of_a_dmn_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dinner = Path(__file__).resolve().parents[1] / "fixtures" / "dmn" / "dinner.dmn"
    (tmp_path / "dinner.dmn").write_bytes(dinner.read_bytes())
    assert main(["check", str(tmp_path / "dinner.dmn")]) == 0
    assert "ok       decisions dish, season, beverages  (" in capsys.readouterr().out
    (tmp_path / "dinner.dmn").write_bytes(dinner.read_bytes().replace(b"&lt;= 8", b"&lt;="))
    assert main(["check", str(tmp_path)]) == 1
    assert "input entry is not valid FEEL unary tests" in capsys.readouterr().out


def test_bad_input_is_one_line_and_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "/no/such/folder"]) == 1
    assert capsys.readouterr().err == "bpmn: /no/such/folder does not exist\n"
    with pytest.raises(CliError, match="must be a JSON object"):
        from bpmn_cli import _json_object

        _json_object("[1]", "--variables")


async def test_start_publish_state_and_correlate(
    time_skipping_env: WorkflowEnvironment, task_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(CATCH_PAYMENT)
    client = time_skipping_env.client
    address = client.service_client.config.target_host
    base = ["--address", address, "--task-queue", task_queue]

    async def bpmn(*argv: str) -> str:
        assert await run(parse_args([*base, *argv])) == 0
        return capsys.readouterr().out

    async with running_interpreter(client, task_queue):
        instance = (
            await bpmn("start", "await-payment", "--variables", '{"orderId": "c-1"}')
        ).strip()
        assert instance.startswith("await-payment-")
        assert '"element_id": "paid"' in await bpmn("state", instance)
        await bpmn("publish", "payment-received", "c-1", "--variables", '{"amount": 3}')
        assert (await client.get_workflow_handle(instance).result())["amount"] == 3
        with pytest.raises(CliError, match="no instance waits"):
            await run(parse_args([*base, "correlate", "payment-received", "nobody"]))
        other = (await bpmn("start", "await-payment", "--variables", '{"orderId": "c-2"}')).strip()
        with pytest.raises(CliError, match="no open incident"):
            await run(parse_args([*base, "resolve", other, "99"]))
        await bpmn("cancel", other, "--reason", "test")
        await client.get_workflow_handle(mailbox_id("payment-received", "c-2")).terminate("done")


async def test_start_pins_the_version_its_definitions_folder_deploys(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "payment.bpmn").write_text(CATCH_PAYMENT)
    [definition] = deploy(CATCH_PAYMENT)  # the worker read it elsewhere: the same version
    client = time_skipping_env.client
    base = ["--address", client.service_client.config.target_host, "--task-queue", task_queue]
    async with running_interpreter(client, task_queue):
        argv = [*base, "start", "await-payment", "--definitions", str(tmp_path)]
        assert await run(parse_args([*argv, "--variables", '{"orderId": "p-1"}'])) == 0
        handle = client.get_workflow_handle(capsys.readouterr().out.strip())
        await handle.cancel()
        # Let the cancellation finish (the wait unsubscribes at its mailbox) before the worker
        # shuts down: a worker stopping mid-way can wait on it.
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(mailbox_id("payment-received", "p-1")).terminate()
        history = await handle.fetch_history()
        with pytest.raises(CliError, match=r"deploys no process 'nope' \(it deploys: await-"):
            await run(parse_args([*base, "start", "nope", "--definitions", str(tmp_path)]))
    started = history.events[0].workflow_execution_started_event_attributes
    assert definition.content_hash in started.input.payloads[1].data.decode()
    kinds = {event.event_type for event in history.events}
    assert EventType.EVENT_TYPE_MARKER_RECORDED not in kinds


def test_check_says_each_problem_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "broken.bpmn").write_text(
        CATCH_PAYMENT.replace('sourceRef="start"', 'sourceRef="nowhere"')
    )
    with caplog.at_level(logging.WARNING):
        assert main(["check", str(tmp_path)]) == 1
    assert capsys.readouterr().out.count("nowhere") == 1
    assert not caplog.records  # the problem is printed, not logged as well


async def test_evaluate_conditions_starts_what_holds_and_prints_it(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    xml = conditionally_started("cli-conditional", "=vip")
    (tmp_path / "conditional.bpmn").write_text(xml)
    deploy(xml)
    client = time_skipping_env.client
    base = ["--address", client.service_client.config.target_host, "--task-queue", task_queue]
    command = [*base, "evaluate-conditions", "--definitions", str(tmp_path)]
    jobs = {"cli-conditional-handle": lambda job: {"welcomed": True}}
    async with running_interpreter(client, task_queue, jobs):
        assert await run(parse_args([*command, "--variables", '{"vip": false}'])) == 0
        assert capsys.readouterr().out == ""
        assert await run(parse_args([*command, "--variables", '{"vip": true}'])) == 0
        started = capsys.readouterr().out.strip()
        assert started.startswith("cli-conditional-")
        assert (await client.get_workflow_handle(started).result())["welcomed"] is True
    with pytest.raises(CliError, match="has no conditional start event"):
        await run(parse_args([*command, "--process-id", "nothing-here"]))
