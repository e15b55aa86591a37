"""Request and response bodies of Camunda 7's external-task REST API (the subset clients use).

Requests are pydantic models with Camunda's camelCase names; fields clients send that this
service has no use for (``usePriority``, ``sorting``, ``deserializeValues``...) are accepted and
ignored. Filters that would need the service to look into a task before taking it from
Temporal (``businessKey``, ``processDefinitionKey``, ``processVariables``, tenants...) are
refused with a 400 rather than silently ignored: a worker must never get tasks it filtered out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from activities.external_tasks._errors import bad_request, invalid_request
from activities.external_tasks._locks import TaskInHand
from activities.external_tasks._variables import to_camunda

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_ASYNC_RESPONSE_TIMEOUT_MS = 1_800_000
"""Camunda's cap on long polling: 30 minutes."""

MAX_ERROR_MESSAGE_LENGTH = 666
"""Camunda stores at most this many characters of a failure's ``errorMessage``."""

BUSINESS_KEY_VARIABLE = "businessKey"
"""The documented variable holding an instance's business key."""

_UNSUPPORTED_FILTERS = (
    "business_key",
    "process_definition_id",
    "process_definition_id_in",
    "process_definition_key",
    "process_definition_key_in",
    "process_definition_version_tag",
    "process_variables",
    "tenant_id_in",
)


class _Camunda(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TopicRequest(_Camunda):
    """One entry of ``fetchAndLock``'s ``topics``."""

    topic_name: str
    lock_duration: int | None = None
    variables: list[str] | None = None
    """Names of the variables to fetch; null for all of them."""
    local_variables: bool = False
    include_extension_properties: bool = False
    business_key: str | None = None
    process_definition_id: str | None = None
    process_definition_id_in: list[str] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_version_tag: str | None = None
    process_variables: dict[str, Any] | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool = False

    def check(self) -> None:
        if self.lock_duration is None or self.lock_duration <= 0:
            raise bad_request("lockDuration is not greater than 0")
        for name in _UNSUPPORTED_FILTERS:
            if getattr(self, name):
                raise invalid_request(
                    f"The filter '{to_camel(name)}' of topic '{self.topic_name}' is not supported "
                    "by this service: tasks stay in Temporal's task queue until fetched, so they "
                    "cannot be filtered before they are locked. Use a topic of its own instead."
                )


class FetchAndLockRequest(_Camunda):
    """``POST /external-task/fetchAndLock``."""

    worker_id: str | None = None
    max_tasks: int = 0
    use_priority: bool = False
    async_response_timeout: int | None = None
    topics: list[TopicRequest] | None = None

    def check(self) -> None:
        if self.worker_id is None:
            raise bad_request("workerId is null")
        timeout = self.async_response_timeout
        if timeout is not None and timeout > MAX_ASYNC_RESPONSE_TIMEOUT_MS:
            raise invalid_request(
                "The asynchronous response timeout cannot be set to a value greater than "
                f"{MAX_ASYNC_RESPONSE_TIMEOUT_MS} milliseconds"
            )
        for topic in self.topics or []:
            topic.check()


class CompleteRequest(_Camunda):
    """``POST /external-task/{id}/complete``."""

    worker_id: str | None = None
    variables: dict[str, Any] | None = None
    local_variables: dict[str, Any] | None = None


class FailureRequest(_Camunda):
    """``POST /external-task/{id}/failure``. Camunda's defaults: ``retries`` 0 (an incident),
    ``retryTimeout`` 0."""

    worker_id: str | None = None
    error_message: str | None = None
    error_details: str | None = None
    retries: int = 0
    retry_timeout: int = 0

    def check(self) -> None:
        if self.retries < 0:
            raise bad_request("retries is not greater than or equal to 0")
        if self.retry_timeout < 0:
            raise bad_request("retryDuration is not greater than or equal to 0")

    @property
    def message(self) -> str:
        return (self.error_message or "")[:MAX_ERROR_MESSAGE_LENGTH]


class BpmnErrorRequest(_Camunda):
    """``POST /external-task/{id}/bpmnError``."""

    worker_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    variables: dict[str, Any] | None = None


class ExtendLockRequest(_Camunda):
    """``POST /external-task/{id}/extendLock``."""

    worker_id: str | None = None
    new_duration: int = 0

    def check(self) -> None:
        if self.new_duration <= 0:
            raise bad_request("lockTime is not greater than 0")


def parse(model: type[ModelT], body: Any) -> ModelT:
    """Validate a request body; a body that does not fit is Camunda's 400."""
    try:
        return model.model_validate({} if body is None else body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise invalid_request(f"Invalid request body: {problems}") from None


def worker_of(
    request: CompleteRequest | BpmnErrorRequest | FailureRequest | ExtendLockRequest,
) -> str:
    if request.worker_id is None:
        raise bad_request("workerId is null")
    return request.worker_id


def camunda_time(epoch_seconds: float | None) -> str | None:
    """Camunda's date format, ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``."""
    if epoch_seconds is None:
        return None
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def locked_task_dto(task: TaskInHand, topic: TopicRequest) -> dict[str, Any]:
    """A fetched task as ``fetchAndLock`` answers it (Camunda's ``LockedExternalTaskDto``)."""
    variables = task.variables
    if topic.variables is not None:
        variables = {name: variables[name] for name in topic.variables if name in variables}
    return {
        **external_task_dto(task),
        "variables": to_camunda(variables),
        "extensionProperties": task.headers if topic.include_extension_properties else {},
        "errorDetails": task.failure.error_details,
    }


def external_task_dto(task: TaskInHand) -> dict[str, Any]:
    """A task as ``GET /external-task/{id}`` answers it (Camunda's ``ExternalTaskDto``)."""
    job = task.job
    element_id = job.get("element_id")
    instance_key = job.get("element_instance_key")
    business_key = task.variables.get(BUSINESS_KEY_VARIABLE)
    return {
        "id": task.id,
        "topicName": task.topic,
        "workerId": task.worker_id,
        "lockExpirationTime": camunda_time(task.lock_expires),
        "createTime": camunda_time(task.created.timestamp()),
        "retries": task.failure.retries,
        "errorMessage": task.failure.error_message,
        "suspended": False,
        "priority": 0,
        "activityId": element_id,
        "activityInstanceId": f"{element_id}:{instance_key}" if element_id else None,
        "executionId": job.get("key"),
        "processInstanceId": job.get("process_instance_id"),
        "processDefinitionId": job.get("bpmn_process_id"),
        "processDefinitionKey": job.get("bpmn_process_id"),
        "processDefinitionVersionTag": None,
        "tenantId": None,
        "businessKey": None if business_key is None else str(business_key),
    }
