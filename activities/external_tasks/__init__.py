"""Camunda 7 external-task clients, unchanged, on Temporal.

``ExternalTaskApi`` serves the external-task subset of Camunda 7's REST API (under
``/engine-rest``): ``fetchAndLock`` with long polling, ``complete``, ``failure``, ``bpmnError``,
``extendLock``, ``unlock`` and ``GET /external-task/{id}``. A fetched task is a running Temporal
activity attempt (job type = topic), completed asynchronously with its task token; see
``_service`` for how locks, retries and demand-bounded polling map onto Temporal.
"""

from activities.external_tasks._errors import ExternalTaskApiError
from activities.external_tasks._server import ExternalTaskApi, serve_external_task_api
from activities.external_tasks._service import (
    RELEASED_ERROR_TYPE,
    ExternalTaskConfig,
    ExternalTaskService,
)
from activities.external_tasks._variables import from_camunda, to_camunda

__all__ = [
    "RELEASED_ERROR_TYPE",
    "ExternalTaskApi",
    "ExternalTaskApiError",
    "ExternalTaskConfig",
    "ExternalTaskService",
    "from_camunda",
    "serve_external_task_api",
    "to_camunda",
]
