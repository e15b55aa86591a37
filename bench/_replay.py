"""Workloads 2 and 4: replaying stored histories with no server, and SpiffWorkflow in-process.

Histories of the loop model (10 tasks a pass, with an exclusive choice and a parallel pair)
are recorded once on the live server for A and B, stored under the bench's state folder, and
then replayed through temporalio's ``Replayer`` alone: that is the interpreter's own cost per
step, without the server or the network. The same model run by SpiffWorkflow in-process gives
the other Python BPMN engine's cost per step.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bench import _baseline
from bench._config import Config
from bench._jobs import step_result
from bench._live import Live
from bench._models import LOOP_BODY_TASKS, LOOP_PROCESS, loop_model
from bench._report import Section, ms, times
from bench._spiff import SpiffRunner
from bench._stats import median, ratio
from bench._systems import SYSTEMS
from bench._worker import A_JOB_TYPE
from worker import PASSTHROUGH_MODULES, workflow_runner
from workflows import BpmnInterpreter

REPLAY_TITLE = "2. Replay of stored histories (no server)"
SPIFF_TITLE = "4. Engine logic per step: our interpreter in replay vs SpiffWorkflow"


@dataclass(frozen=True)
class Variant:
    """One way to replay: a system and a workflow runner."""

    key: str
    system: str
    label: str
    runner: Callable[[], WorkflowRunner]


def _project_passthrough() -> WorkflowRunner:
    # Our whole workflows package shared with the sandbox, not just the IR and contracts.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            *PASSTHROUGH_MODULES, "workflows"
        )
    )


VARIANTS = (
    Variant("A", "A", "A, shipped sandbox (worker.workflow_runner)", workflow_runner),
    Variant("B", "B", "B, same sandbox", workflow_runner),
    Variant("A-nosandbox", "A", "A, no sandbox", UnsandboxedWorkflowRunner),
    Variant("B-nosandbox", "B", "B, no sandbox", UnsandboxedWorkflowRunner),
    Variant("A-passthrough", "A", "A, sandbox + `workflows` passed through", _project_passthrough),
)


async def _runs(live: Live, workflow_id: str, first_run_id: str) -> list[WorkflowHistory]:
    """Every run of an instance, first to last (the interpreter continues as new when the
    server suggests it, so a long instance is several runs)."""
    runs = []
    run_id: str | None = first_run_id
    while run_id:
        history = await live.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(history)
        last = history.events[-1]
        continued = last.HasField("workflow_execution_continued_as_new_event_attributes")
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = attributes.new_execution_run_id if continued else None
    return runs


async def record_histories(live: Live, config: Config, folder: Path) -> dict[tuple[str, int], Path]:
    """Run one loop instance per (system, size) on the server; store its runs' histories."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before any timing)
    stored = {}
    for tasks in config.replay_tasks:
        for system in SYSTEMS:
            handle = await system.start(
                live.client, system.loop_type, {"count": 0, "loops": tasks // LOOP_BODY_TASKS}
            )
            await handle.result()
            assert handle.first_execution_run_id is not None
            runs = await _runs(live, handle.id, handle.first_execution_run_id)
            path = folder / f"{system.key}-{tasks}.json"
            path.write_text(
                json.dumps(
                    [{"workflow_id": r.workflow_id, "history": r.to_json_dict()} for r in runs]
                )
            )
            stored[system.key, tasks] = path
    return stored


def _load(path: Path) -> list[WorkflowHistory]:
    return [
        WorkflowHistory.from_json(run["workflow_id"], run["history"])
        for run in json.loads(path.read_text())
    ]


async def _replay_seconds(
    variant: Variant, runs: list[WorkflowHistory], min_seconds: float
) -> float:
    """Seconds per replay of an instance (all its runs), replayed back to back for at least
    ``min_seconds`` (one Replayer call, so its start-up is shared as a worker's would be)."""
    workflows = [BpmnInterpreter] if variant.system == "A" else _baseline.WORKFLOWS
    replayer = Replayer(workflows=workflows, workflow_runner=variant.runner())
    began = time.perf_counter()
    for run in runs:
        await replayer.replay_workflow(run)
    once = time.perf_counter() - began
    count = max(1, math.ceil(min_seconds / max(once, 1e-6)))

    async def batch() -> AsyncIterator[WorkflowHistory]:
        for _ in range(count):
            for run in runs:
                yield run

    began = time.perf_counter()
    await replayer.replay_workflows(batch(), raise_on_replay_failure=True)
    return (time.perf_counter() - began) / count


async def run_replay(
    config: Config, histories: dict[tuple[str, int], Path]
) -> tuple[Section, dict[tuple[str, int], float]]:
    section = Section(REPLAY_TITLE)
    section.text(
        f"One instance of the loop model per size ({LOOP_BODY_TASKS} service tasks a pass, an "
        "exclusive choice, a parallel pair, the loop back through an exclusive gateway), "
        "recorded on the dev server, then replayed through `temporalio.worker.Replayer` with "
        "no server. An instance the interpreter continued as new (it does when the server "
        "suggests it) is replayed run by run. Time is per replayed instance, all its runs "
        "(median over interleaved repeats). Target: "
        "A/B ≤ 1.5 with the shipped sandbox. The sandbox rows show what the sandbox costs "
        "and whether passing the project's own `workflows` package through would pay."
    )
    loaded = {key: _load(path) for key, path in histories.items()}
    seconds: dict[tuple[str, int], list[float]] = defaultdict(list)
    for repeat in range(config.repeats):
        order: Sequence[Variant] = VARIANTS if repeat % 2 == 0 else tuple(reversed(VARIANTS))
        for tasks in config.replay_tasks:
            for variant in order:
                history = loaded[variant.system, tasks]
                seconds[variant.key, tasks].append(
                    await _replay_seconds(variant, history, config.replay_min_seconds)
                )
    medians = {key: median(values) for key, values in seconds.items()}
    rows = []
    for tasks in config.replay_tasks:
        m = {v.key: medians[v.key, tasks] for v in VARIANTS}
        events = {key: sum(len(run.events) for run in loaded[key, tasks]) for key in ("A", "B")}
        runs = {key: len(loaded[key, tasks]) for key in ("A", "B")}
        rows.append(
            [
                tasks,
                f"{events['A']} / {events['B']}",
                f"{runs['A']} / {runs['B']}",
                ms(m["A"]),
                ms(m["B"]),
                times(ratio(m["A"], m["B"])),
                times(ratio(m["A"], m["A-nosandbox"])),
                times(ratio(m["B"], m["B-nosandbox"])),
                times(ratio(m["A-nosandbox"], m["B-nosandbox"])),
                times(ratio(m["A-passthrough"], m["A"])),
            ]
        )
        section.numbers[f"replay_ratio_{tasks}"] = ratio(m["A"], m["B"])
        section.numbers[f"sandbox_cost_a_{tasks}"] = ratio(m["A"], m["A-nosandbox"])
        section.numbers[f"passthrough_gain_{tasks}"] = ratio(m["A-passthrough"], m["A"])
    section.table(
        [
            "tasks",
            "events A / B",
            "runs A / B",
            "A replay",
            "B replay",
            "A/B",
            "sandbox cost A (sandboxed/none)",
            "sandbox cost B",
            "A/B without sandbox",
            "A with `workflows` passed through / shipped",
        ],
        rows,
    )
    return section, medians


def run_spiff(config: Config, replay_medians: dict[tuple[str, int], float]) -> Section:
    section = Section(SPIFF_TITLE)
    tasks = config.spiff_tasks
    if ("A", tasks) not in replay_medians:
        section.skipped.append(f"no {tasks}-task replay measured in this mode")
        return section
    model = loop_model(A_JOB_TYPE)
    runner = SpiffRunner(model.xml, LOOP_PROCESS, step_result)
    variables = {"count": 0, "loops": tasks // LOOP_BODY_TASKS}
    runner.run(variables)  # warm-up
    samples = []
    for _ in range(max(3, config.repeats * 5)):
        began = time.perf_counter()
        result = runner.run(variables)
        samples.append(time.perf_counter() - began)
    if result.get("count") != variables["loops"]:
        raise RuntimeError(f"SpiffWorkflow ran the loop model wrong: {result}")
    spiff = median(samples) / tasks
    ours = replay_medians["A", tasks] / tasks
    ours_bare = replay_medians["A-nosandbox", tasks] / tasks
    hand = replay_medians["B", tasks] / tasks
    section.text(
        f"The same file (the loop model, {tasks} service tasks per instance) executed "
        "in-process by SpiffWorkflow (`BpmnWorkflow.do_engine_steps`, the job handler called "
        "from each service task, FEEL's `=` dropped so its Python engine reads the "
        "conditions), against the replay of one instance of it on our interpreter. Per "
        "service task executed, medians:"
    )
    section.table(
        ["engine", "per task", "vs SpiffWorkflow"],
        [
            ["SpiffWorkflow 3 (in-process)", ms(spiff), "1×"],
            ["A in replay, shipped sandbox", ms(ours), times(ratio(ours, spiff))],
            ["A in replay, no sandbox", ms(ours_bare), times(ratio(ours_bare, spiff))],
            ["B (hand-written) in replay, same sandbox", ms(hand), times(ratio(hand, spiff))],
        ],
    )
    section.text(
        "What it means: a replayed step is what a Temporal worker spends on one BPMN step "
        "when it rebuilds or advances an instance, including decoding its history events "
        "(three or more per job) and the SDK's state machines; SpiffWorkflow's step is a pure "
        "in-memory walk with nothing durable (persisting it would add its serializer's cost). "
        "The B row is the floor any Temporal workflow pays for the same steps; the distance "
        "between A and B is what the interpreter itself adds."
    )
    section.numbers["ours_over_spiff"] = ratio(ours, spiff)
    section.numbers["ours_nosandbox_over_spiff"] = ratio(ours_bare, spiff)
    section.numbers["spiff_per_task_s"] = spiff
    return section
