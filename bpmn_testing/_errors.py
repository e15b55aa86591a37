"""What the toolkit raises and warns.

::

    AssertionError
     └── ProcessAssertionError      a BPMN assertion did not hold (path and variables attached)
    BpmnTemporalError               the project's root
     └── BpmnTestingError
          └── ClockBlockedError     time cannot move: something outstanding holds the clock
    UserWarning
     └── InstanceLeftWaitingWarning a test ended while an instance was still waiting
"""

from __future__ import annotations

from translator import BpmnTemporalError


class ProcessAssertionError(AssertionError):
    """A BPMN assertion did not hold; the message shows the instance's path and variables."""


class BpmnTestingError(BpmnTemporalError):
    """The toolkit cannot do what the test asked (the message says why and what to do)."""


class ClockBlockedError(BpmnTestingError):
    """Time cannot be skipped: Temporal's time-skipping test server moves its clock only while
    no activity is outstanding, and a job is pending that nothing answers."""


class InstanceLeftWaitingWarning(UserWarning):
    """A test ended while one of its process instances was still waiting (or had an incident)."""
