"""SpiffWorkflow (PyPI ``spiffworkflow``), the Python BPMN engine we compare against.

Two small adapters let it run our Zeebe models unchanged: a service-task parser that reads
``zeebe:taskDefinition``/``zeebe:taskHeaders`` and calls the same job handler our workers run,
and an expression engine that drops FEEL's ``=`` prefix (the loop model's conditions are
plain comparisons, the same in FEEL and Python). SpiffWorkflow is untyped, hence the ignores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.parser import BpmnParser  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

from bench._models import ZEEBE_NS

Handler = Callable[[Mapping[str, Any], Mapping[str, str]], Mapping[str, Any] | None]
"""A job handler as SpiffWorkflow calls it: (variables, headers) -> variables to merge."""


def parse_file_specs(data: bytes, name: str) -> dict[str, Any]:
    """SpiffWorkflow's stock BPMN parser: every process spec in ``data`` (raises on problems)."""
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(data), filename=name)
    return dict(parser.find_all_specs())


class _JobTask(ServiceTask):  # type: ignore[misc]
    """A service task that calls the bench's job handler, as our job workers do."""

    def __init__(
        self, wf_spec: Any, bpmn_id: str, handler: Handler, headers: dict[str, str], **kw: Any
    ) -> None:
        super().__init__(wf_spec, bpmn_id, **kw)
        self.handler = handler
        self.headers = headers

    def _execute(self, task: Any) -> bool:
        result = self.handler(task.data, self.headers)
        if result:
            task.data.update(result)
        return True


class _ZeebeTaskParser(TaskParser):  # type: ignore[misc]
    def create_task(self) -> Any:
        headers = {
            str(header.get("key")): str(header.get("value"))
            for header in self.node.iterfind(f".//{{{ZEEBE_NS}}}header")
        }
        handler = self.process_parser.parser.handler
        return self.spec_class(
            self.spec, self.bpmn_id, handler=handler, headers=headers, **self.bpmn_attributes
        )


class _ZeebeParser(BpmnParser):  # type: ignore[misc]
    # SpiffWorkflow's own extension point: a registry keyed by tag, overridden per dialect.
    OVERRIDE_PARSER_CLASSES = {  # noqa: RUF012 (the base class reads it as a class attribute)
        "{http://www.omg.org/spec/BPMN/20100524/MODEL}serviceTask": (_ZeebeTaskParser, _JobTask)
    }

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler


class _FeelComparisons(PythonScriptEngine):  # type: ignore[misc]
    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        return super().evaluate(task, expression.removeprefix("="), external_context)


class SpiffRunner:
    """Runs one process of a model in-process with SpiffWorkflow, start to end."""

    def __init__(self, xml: str, process_id: str, handler: Handler) -> None:
        parser = _ZeebeParser(handler)
        parser.add_bpmn_xml(etree.fromstring(xml.encode()), filename=f"{process_id}.bpmn")
        self._spec = parser.get_spec(process_id)
        self._engine = _FeelComparisons()

    def run(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Execute an instance to its end; returns its final variables."""
        workflow = BpmnWorkflow(self._spec, script_engine=self._engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(variables)
        workflow.do_engine_steps()
        if not workflow.is_completed():
            raise RuntimeError("SpiffWorkflow did not complete the instance")
        return dict(workflow.data)


__all__ = ["Handler", "SpiffRunner", "parse_file_specs"]
