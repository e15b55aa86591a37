"""Compensation on the time-skipping server, as Zeebe runs it: a compensation throw or end event
invokes the handlers of the activities that completed in its scope (all, or its
``activityRef``'s), at once, and completes when they have; each completion is undone once."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

import translator
from activities import BpmnError, Job
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
from workflows import STATE_QUERY


def compensation(element_id: str, kind: str = "intermediateThrowEvent", activity: str = "") -> str:
    ref = f' activityRef="{activity}"' if activity else ""
    return f'<bpmn:{kind} id="{element_id}"><bpmn:compensateEventDefinition{ref} /></bpmn:{kind}>'


class Calls:
    """Job handlers that record which jobs ran, in order, with their variables."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.variables: dict[str, list[dict[str, Any]]] = {}

    def job(self, name: str, result: dict[str, Any] | None = None) -> Any:
        def handle(job: Job) -> dict[str, Any]:
            self.order.append(name)
            self.variables.setdefault(name, []).append(dict(job.variables))
            return dict(result or {})

        return handle

    def jobs(self, *names: str) -> dict[str, Any]:
        return {name: self.job(name) for name in names}


async def run(
    env: WorkflowEnvironment, task_queue: str, process_id: str, jobs: dict[str, Any], **kw: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the process to its end; its history must replay (handlers run concurrently)."""
    async with running_interpreter(env.client, task_queue, jobs):
        handle = await start_process(env.client, task_queue, process_id, **kw)
        result = await handle.result()
        state = await handle.query(STATE_QUERY)
    await replayer().replay_workflow(await handle.fetch_history())
    return result, state


def completed(state: dict[str, Any]) -> list[str]:
    return [e["element_id"] for e in state["completed"] if e["state"] == "completed"]


TRIP = model(
    "trip",
    events("start", kind="startEvent"),
    service("book_hotel"),
    undone_by("book_hotel", "cancel_hotel"),
    service("book_flight"),
    undone_by("book_flight", "cancel_flight"),
    service("notify"),
    compensation("undo_all"),
    events("end"),
    chain("start", "book_hotel", "book_flight", "notify", "undo_all", "end"),
)


async def test_a_compensation_throw_event_undoes_every_completed_activity_then_goes_on(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(TRIP)
    calls = Calls()
    jobs = {
        "book_hotel": calls.job("book_hotel", {"hotel": "H1"}),
        "book_flight": calls.job("book_flight", {"flight": "F1"}),
        "notify": calls.job("notify"),
        "cancel_hotel": calls.job("cancel_hotel", {"hotel": None}),
        "cancel_flight": calls.job("cancel_flight", {"flight": None}),
    }
    result, state = await run(time_skipping_env, task_queue, "trip", jobs)
    assert Counter(calls.order) == Counter(
        ["book_hotel", "book_flight", "notify", "cancel_hotel", "cancel_flight"]
    )
    assert calls.variables["cancel_flight"] == [{"hotel": "H1", "flight": "F1"}]
    assert result == {"hotel": None, "flight": None}
    # The throw event completes after its handlers, then the token goes on.
    path = completed(state)
    assert path.index("undo_all") > max(path.index("cancel_hotel"), path.index("cancel_flight"))
    assert path[-1] == "end"


ORDERED = model(
    "trip-ordered",
    events("start", kind="startEvent"),
    service("book_hotel"),
    undone_by("book_hotel", "cancel_hotel"),
    service("book_flight"),
    undone_by("book_flight", "cancel_flight"),
    compensation("undo_flight", activity="book_flight"),
    compensation("undo_hotel", activity="book_hotel"),
    compensation("undo_rest"),
    events("end"),
    chain("start", "book_hotel", "book_flight", "undo_flight", "undo_hotel", "undo_rest", "end"),
)


async def test_compensating_one_activity_at_a_time_orders_the_handlers_and_uses_each_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(ORDERED)
    calls = Calls()
    jobs = calls.jobs("book_hotel", "book_flight", "cancel_hotel", "cancel_flight")
    await run(time_skipping_env, task_queue, "trip-ordered", jobs)
    # undo_rest finds nothing left: each completion is compensated once.
    assert calls.order == ["book_hotel", "book_flight", "cancel_flight", "cancel_hotel"]


SAGA = model(
    "saga",
    events("start", kind="startEvent"),
    service("reserve"),
    undone_by("reserve", "release"),
    service("charge"),
    undone_by("charge", "refund"),
    error_boundary("declined", "charge", "e_declined"),
    compensation("roll_back", kind="endEvent"),
    events("end"),
    chain("start", "reserve", "charge", "end"),
    flow("declined", "roll_back"),
    extra=error("e_declined", "DECLINED"),
)


async def test_an_activity_that_did_not_complete_is_not_compensated(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(SAGA)
    calls = Calls()

    def charge(job: Job) -> dict[str, Any]:
        calls.order.append("charge")
        raise BpmnError("DECLINED", "card declined")

    jobs = {**calls.jobs("reserve", "release", "refund"), "charge": charge}
    _, state = await run(time_skipping_env, task_queue, "saga", jobs)
    assert calls.order == ["reserve", "charge", "release"]  # no refund: charge never completed
    assert completed(state)[-1] == "roll_back"


LOOPED = model(
    "booked-twice",
    events("start", kind="startEvent"),
    service("book"),
    undone_by("book", "cancel"),
    '<bpmn:exclusiveGateway id="again" default="again_done" />',
    compensation("undo"),
    events("end"),
    chain("start", "book", "again"),
    flow("again", "book", "=count &lt; 2"),
    flow("again", "undo", flow_id="again_done"),
    chain("undo", "end"),
)


async def test_an_activity_completed_twice_is_compensated_twice(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(LOOPED)
    calls = Calls()

    def book(job: Job) -> dict[str, Any]:
        calls.order.append("book")
        return {"count": job.variables["count"] + 1}

    jobs = {"book": book, "cancel": calls.job("cancel")}
    await run(time_skipping_env, task_queue, "booked-twice", jobs, count=0)
    assert calls.order == ["book", "book", "cancel", "cancel"]


NESTED = model(
    "nested-trip",
    events("start", kind="startEvent"),
    '<bpmn:subProcess id="leg"><bpmn:extensionElements>'
    + io_mapping(inputs={"direction": "outbound"})
    + "</bpmn:extensionElements>",
    events("leg_start", kind="startEvent"),
    service("book_seat"),
    undone_by("book_seat", "cancel_seat"),
    events("leg_end"),
    chain("leg_start", "book_seat", "leg_end"),
    "</bpmn:subProcess>",
    compensation("undo"),
    events("end"),
    chain("start", "leg", "undo", "end"),
)


async def test_handlers_inside_a_completed_sub_process_see_its_variables_as_they_were(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(NESTED)
    calls = Calls()
    jobs = calls.jobs("book_seat", "cancel_seat")
    result, _ = await run(time_skipping_env, task_queue, "nested-trip", jobs, traveller="ada")
    assert calls.order == ["book_seat", "cancel_seat"]
    # The sub-process's input is gone from the process, yet its handler sees it.
    assert "direction" not in result
    assert calls.variables["cancel_seat"] == [{"traveller": "ada", "direction": "outbound"}]


ERROR_HANDLED = model(
    "saga-on-error",
    events("start", kind="startEvent"),
    service("reserve"),
    undone_by("reserve", "release"),
    service("charge"),
    events("end"),
    chain("start", "reserve", "charge", "end"),
    '<bpmn:subProcess id="on_failure" triggeredByEvent="true">',
    '<bpmn:startEvent id="failed"><bpmn:errorEventDefinition errorRef="e_any" /></bpmn:startEvent>',
    compensation("undo_everything", kind="endEvent"),
    chain("failed", "undo_everything"),
    "</bpmn:subProcess>",
    extra=error("e_any", "FAILED"),
)


async def test_an_error_event_sub_process_compensates_the_scope_it_runs_in(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The saga pattern: an error anywhere undoes what completed, from an event sub-process."""
    deploy(ERROR_HANDLED)
    calls = Calls()

    def charge(job: Job) -> dict[str, Any]:
        raise BpmnError("FAILED", "payment service gave up")

    jobs = {**calls.jobs("reserve", "release"), "charge": charge}
    _, state = await run(time_skipping_env, task_queue, "saga-on-error", jobs)
    assert calls.order == ["reserve", "release"]
    assert completed(state)[-2:] == ["undo_everything", "on_failure"]


MULTI = model(
    "multi-booking",
    events("start", kind="startEvent"),
    service(
        "book",
        extra="<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
        '<zeebe:loopCharacteristics inputCollection="=rooms" inputElement="room" />'
        "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>",
    ),
    undone_by("book", "cancel_all"),
    compensation("undo"),
    events("end"),
    chain("start", "book", "undo", "end"),
)


async def test_a_multi_instance_activity_is_compensated_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Zeebe: its handler undoes all instances (or is multi-instance itself)."""
    deploy(MULTI)
    calls = Calls()
    jobs = calls.jobs("book", "cancel_all")
    await run(time_skipping_env, task_queue, "multi-booking", jobs, rooms=[1, 2, 3])
    assert Counter(calls.order) == Counter({"book": 3, "cancel_all": 1})


LONG = model(
    "long-saga",
    events("start", kind="startEvent"),
    service("reserve"),
    undone_by("reserve", "release"),
    '<bpmn:exclusiveGateway id="again" default="again_done" />',
    service("tick"),
    compensation("undo"),
    events("end"),
    chain("start", "reserve", "again"),
    flow("again", "tick", "=count &lt; 150"),
    flow("again", "undo", flow_id="again_done"),
    chain("tick", "again"),
    chain("undo", "end"),
)


async def test_what_can_be_compensated_survives_continue_as_new(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(LONG)
    calls = Calls()
    client = time_skipping_env.client

    def tick(job: Job) -> dict[str, Any]:
        return {"count": job.variables["count"] + 1}

    jobs = {**calls.jobs("reserve", "release"), "tick": tick}
    async with running_interpreter(client, task_queue, jobs, continue_as_new_after_events=200):
        handle = await client.start_workflow(
            "long-saga", {"count": 0}, id=f"long-saga-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.result()
        history = await client.get_workflow_handle(handle.id).fetch_history()
    first = history.events[0].workflow_execution_started_event_attributes
    assert first.continued_execution_run_id, "the instance continued as new before the throw"
    assert calls.order == ["reserve", "release"]


# --- what the translator refuses --------------------------------------------------------------


def saga_with(boundary_and_handler: str, throw: str = "") -> str:
    return model(
        "bad-saga",
        events("start", kind="startEvent"),
        service("book"),
        boundary_and_handler,
        throw or compensation("undo"),
        events("end"),
        chain("start", "book", "undo", "end"),
    )


@pytest.mark.parametrize(
    ("xml", "element_id", "message"),
    [
        (
            saga_with(
                '<bpmn:boundaryEvent id="on_undo" attachedToRef="book">'
                "<bpmn:compensateEventDefinition /></bpmn:boundaryEvent>"
            ),
            "on_undo",
            "compensation boundary event has no handler",
        ),
        (
            saga_with(undone_by("book", "cancel").replace(' isForCompensation="true"', "")),
            "book_compensation",
            "compensation handler 'cancel' is not marked isForCompensation",
        ),
        (
            saga_with(undone_by("book", "cancel") + flow("cancel", "end")),
            "cancel",
            "a compensation handler (isForCompensation) is started by compensation only",
        ),
        (
            saga_with(undone_by("book", "cancel"), compensation("undo", activity="nowhere")),
            "undo",
            "compensation activityRef 'nowhere' is unknown",
        ),
        (
            saga_with(undone_by("book", "cancel"), compensation("undo", activity="end")),
            "undo",
            "compensation activityRef 'end' has no compensation boundary event",
        ),
    ],
)
def test_compensation_models_that_cannot_work_are_refused(
    xml: str, element_id: str, message: str
) -> None:
    problems = problems_of(xml)
    assert any(p.element_id == element_id and message in p.message for p in problems), problems


def test_an_event_sub_process_throw_refers_to_the_scope_around_it() -> None:
    xml = ERROR_HANDLED.replace(
        "<bpmn:compensateEventDefinition /></bpmn:endEvent>",
        '<bpmn:compensateEventDefinition activityRef="reserve" /></bpmn:endEvent>',
    )
    [definition] = translator.compile_bytes(xml.encode(), "m.bpmn")
    assert definition.id == "saga-on-error"


SUB_PROCESS_HANDLER = model(
    "undo-in-steps",
    events("start", kind="startEvent"),
    service("ship"),
    '<bpmn:boundaryEvent id="ship_compensation" attachedToRef="ship">'
    "<bpmn:compensateEventDefinition /></bpmn:boundaryEvent>",
    '<bpmn:subProcess id="recall" isForCompensation="true">',
    events("recall_start", kind="startEvent"),
    service("stop_parcel"),
    service("refund"),
    events("recall_end"),
    chain("recall_start", "stop_parcel", "refund", "recall_end"),
    "</bpmn:subProcess>",
    '<bpmn:association id="ship_handler" sourceRef="ship_compensation" targetRef="recall" />',
    compensation("undo"),
    events("end"),
    chain("start", "ship", "undo", "end"),
)


async def test_a_sub_process_can_be_a_compensation_handler(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    deploy(SUB_PROCESS_HANDLER)
    calls = Calls()
    jobs = calls.jobs("ship", "stop_parcel", "refund")
    _, state = await run(time_skipping_env, task_queue, "undo-in-steps", jobs)
    assert calls.order == ["ship", "stop_parcel", "refund"]
    path = completed(state)
    assert path.index("recall") < path.index("undo")


COMPENSATED_BY_EVENT_SUB_PROCESS = model(
    "trip-with-own-undo",
    events("start", kind="startEvent"),
    '<bpmn:subProcess id="trip"><bpmn:extensionElements>'
    + io_mapping(inputs={"trip_id": "T-1"})
    + "</bpmn:extensionElements>",
    events("trip_start", kind="startEvent"),
    service("book_hotel"),
    undone_by("book_hotel", "cancel_hotel"),
    service("book_flight"),
    undone_by("book_flight", "cancel_flight"),
    events("trip_end"),
    chain("trip_start", "book_hotel", "book_flight", "trip_end"),
    '<bpmn:subProcess id="undo_trip" triggeredByEvent="true">',
    '<bpmn:startEvent id="undoing"><bpmn:compensateEventDefinition /></bpmn:startEvent>',
    compensation("flight_first", activity="book_flight"),
    compensation("then_hotel", activity="book_hotel"),
    service("tell_traveller"),
    events("undone"),
    chain("undoing", "flight_first", "then_hotel", "tell_traveller", "undone"),
    "</bpmn:subProcess>",
    "</bpmn:subProcess>",
    compensation("cancel_trip"),
    events("end"),
    chain("start", "trip", "cancel_trip", "end"),
)


async def test_a_sub_processes_compensation_event_sub_process_undoes_it_in_its_own_order(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The event sub-process is the sub-process's handler: the compensation stops there, and
    its own throw events undo the activities inside, in the order it chooses."""
    deploy(COMPENSATED_BY_EVENT_SUB_PROCESS)
    calls = Calls()
    names = ("book_hotel", "book_flight", "cancel_hotel", "cancel_flight", "tell_traveller")
    await run(time_skipping_env, task_queue, "trip-with-own-undo", calls.jobs(*names))
    assert calls.order == [
        "book_hotel",
        "book_flight",
        "cancel_flight",
        "cancel_hotel",
        "tell_traveller",
    ]
    assert calls.variables["tell_traveller"] == [{"trip_id": "T-1"}]


def test_a_compensation_event_sub_process_of_a_process_is_not_deployed(tmp_path: Path) -> None:
    from activities import load_definitions
    from workflows import DefinitionRegistry

    xml = TRIP.replace(
        "</bpmn:process>",
        '<bpmn:subProcess id="undo_all_of_it" triggeredByEvent="true">'
        '<bpmn:startEvent id="undoing"><bpmn:compensateEventDefinition /></bpmn:startEvent>'
        '<bpmn:endEvent id="done" /><bpmn:sequenceFlow id="u" sourceRef="undoing" '
        'targetRef="done" /></bpmn:subProcess></bpmn:process>',
    )
    (tmp_path / "trip.bpmn").write_text(xml)
    report = load_definitions(tmp_path, registry=DefinitionRegistry())
    assert report.deployed == []
    [problem] = report.problems
    assert problem.element_id == "undo_all_of_it"
    assert "compensation event sub-processes of a process" in problem.message


HANDLER_FAILS_IN_A_COMPLETED_SUB_PROCESS = model(
    "undo-fails",
    events("start", kind="startEvent"),
    '<bpmn:subProcess id="leg">',
    events("leg_start", kind="startEvent"),
    service("book"),
    undone_by("book", "cancel"),
    events("leg_end"),
    chain("leg_start", "book", "leg_end"),
    "</bpmn:subProcess>",
    error_boundary("leg_failed", "leg", "e_x"),
    events("leg_failed_end"),
    flow("leg_failed", "leg_failed_end"),
    compensation("undo"),
    events("end"),
    chain("start", "leg", "undo", "end"),
    extra=error("e_x", "X"),
)


async def test_an_error_from_a_handler_passes_the_completed_sub_process_by(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The sub-process completed: its error boundary cannot catch any more. Nothing else
    does, so the error is an incident at the handler (not a workflow task failing forever)."""
    deploy(HANDLER_FAILS_IN_A_COMPLETED_SUB_PROCESS)

    def cancel(job: Job) -> dict[str, Any]:
        raise BpmnError("X", "cannot cancel")

    jobs = {"book": lambda job: {}, "cancel": cancel}
    client = time_skipping_env.client
    async with running_interpreter(client, task_queue, jobs):
        handle = await start_process(client, task_queue, "undo-fails")
        state = await wait_for(lambda s: s["incidents"], handle)
    [incident] = state["incidents"]
    assert (incident["type"], incident["element_id"]) == ("UNHANDLED_ERROR_EVENT", "cancel")
    assert "leg_failed" not in [e["element_id"] for e in state["completed"]]


def test_a_boundary_event_on_a_compensation_handler_is_refused() -> None:
    xml = TRIP.replace(
        "</bpmn:process>",
        error_boundary("cancel_failed", "cancel_hotel") + "</bpmn:process>",
    )
    problems = problems_of(xml)
    assert any(
        p.element_id == "cancel_failed"
        and "boundary event on the compensation handler" in p.message
        for p in problems
    ), problems
