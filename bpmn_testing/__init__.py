"""Test BPMN models with pytest, on Temporal's time-skipping test server.

Installing the project registers the pytest plugin (``bpmn_testing.plugin``); a test asks for
the ``bpmn`` fixture::

    async def test_small_order(bpmn: BpmnTestContext) -> None:
        bpmn.deploy("processes/order-process.bpmn")
        bpmn.job("check-order").complete({"checked": True})
        bpmn.job("send-confirmation").complete()

        instance = await bpmn.start("order-process", orderId=7, amount=40)

        await instance.assert_completed({"checked": True})
        await instance.assert_passed("check_order", "send_confirmation")
"""

from bpmn_testing._context import BpmnTestContext
from bpmn_testing._environment import BpmnTestEnvironment, find_test_server
from bpmn_testing._errors import (
    BpmnTestingError,
    ClockBlockedError,
    InstanceLeftWaitingWarning,
    ProcessAssertionError,
)
from bpmn_testing._instance import ProcessInstance
from bpmn_testing._jobs import HOLD_BACKOFF, JobStub
from bpmn_testing._kafka import FakeKafka, KafkaRecord

__all__ = [
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
]
