"""The errors the external-task API answers with, in Camunda 7's status codes and bodies.

Camunda's REST API answers an error with a JSON body ``{"type": ..., "message": ..., "code": 0}``
where ``type`` is the Java exception's simple name. The external-task resource turns the
engine's ``NotFoundException`` into 404 and ``BadUserRequestException`` (wrong worker, expired
lock) into 400, both as ``RestException``; malformed requests are ``InvalidRequestException``
(400). The messages below are Camunda's own, so clients that log or match them see the same.

Exception tree::

    ExternalTaskApiError            status, type, message -> the HTTP answer
"""

from __future__ import annotations

from enum import Enum
from typing import Any

REST_EXCEPTION = "RestException"
INVALID_REQUEST_EXCEPTION = "InvalidRequestException"
PROCESS_ENGINE_EXCEPTION = "ProcessEngineException"


class ExternalTaskApiError(Exception):
    """A request the API refuses, answered with Camunda's status code and JSON body."""

    def __init__(self, status: int, type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Camunda 7 sends for this error."""
        return {"type": self.type, "message": self.message, "code": 0}


class Action(Enum):
    """What a worker tried to do to a task, for Camunda's "wrong worker" message."""

    COMPLETE = "complete"
    FAILURE = "failure"
    BPMN_ERROR = "bpmnError"
    EXTEND_LOCK = "extendLock"

    def refused(self, task_id: str, worker_id: str, locked_by: str | None) -> ExternalTaskApiError:
        """Camunda's 400 when ``worker_id`` does not hold the task's lock."""
        what = {
            Action.COMPLETE: "External Task {} cannot be completed",
            Action.FAILURE: "Failure of External Task {} cannot be reported",
            Action.BPMN_ERROR: "Bpmn error of External Task {} cannot be reported",
            Action.EXTEND_LOCK: "The lock of the External Task {} cannot be extended",
        }[self].format(task_id)
        holder = "null" if locked_by is None else locked_by  # as Java prints it
        return bad_request(f"{what} by worker '{worker_id}'. It is locked by worker '{holder}'.")


def task_not_found(task_id: str) -> ExternalTaskApiError:
    """Camunda's 404 for a task that does not exist (or no longer does)."""
    return ExternalTaskApiError(
        404, REST_EXCEPTION, f"External task with id {task_id} does not exist"
    )


def lock_expired(now_ms: int) -> ExternalTaskApiError:
    """Camunda's 400 for ``extendLock`` on a lock that has expired."""
    return bad_request(
        "Cannot extend a lock that expired: lockExpirationTime is not greater than or equal to "
        f"{now_ms}"
    )


def bad_request(message: str) -> ExternalTaskApiError:
    """A ``BadUserRequestException`` as the external-task resource answers it: 400."""
    return ExternalTaskApiError(400, REST_EXCEPTION, message)


def invalid_request(message: str) -> ExternalTaskApiError:
    """A request Camunda's REST layer refuses before the engine sees it: 400."""
    return ExternalTaskApiError(400, INVALID_REQUEST_EXCEPTION, message)


def engine_error(message: str) -> ExternalTaskApiError:
    """Anything else that went wrong on our side (say, Temporal unreachable): 500."""
    return ExternalTaskApiError(500, PROCESS_ENGINE_EXCEPTION, message)
