"""The HTTP routes: Camunda 7's external-task REST API, under ``/engine-rest`` by default.

=========================================  ==============================================
``POST /external-task/fetchAndLock``       200, the locked tasks (long polling)
``GET  /external-task/{id}``               200, a task this service holds
``POST /external-task/{id}/complete``      204
``POST /external-task/{id}/failure``       204
``POST /external-task/{id}/bpmnError``     204
``POST /external-task/{id}/extendLock``    204
``POST /external-task/{id}/unlock``        204
=========================================  ==============================================

Errors are answered with Camunda's status codes and ``{"type", "message", "code"}`` bodies.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from activities.external_tasks._errors import (
    PROCESS_ENGINE_EXCEPTION,
    ExternalTaskApiError,
    invalid_request,
)
from activities.external_tasks._models import (
    BpmnErrorRequest,
    CompleteRequest,
    ExtendLockRequest,
    FailureRequest,
    FetchAndLockRequest,
    external_task_dto,
    locked_task_dto,
    parse,
)
from activities.external_tasks._service import ExternalTaskService

logger = logging.getLogger(__name__)

SERVICE = web.AppKey("external_task_service", ExternalTaskService)

NO_CONTENT = 204


def create_app(service: ExternalTaskService, base_path: str = "/engine-rest") -> web.Application:
    """The aiohttp application serving ``service`` under ``base_path``."""
    app = web.Application(middlewares=[_camunda_errors])
    app[SERVICE] = service
    tasks = f"{base_path.rstrip('/')}/external-task"
    app.router.add_post(f"{tasks}/fetchAndLock", _fetch_and_lock)
    app.router.add_get(f"{tasks}/{{id}}", _get)
    app.router.add_post(f"{tasks}/{{id}}/complete", _complete)
    app.router.add_post(f"{tasks}/{{id}}/failure", _failure)
    app.router.add_post(f"{tasks}/{{id}}/bpmnError", _bpmn_error)
    app.router.add_post(f"{tasks}/{{id}}/extendLock", _extend_lock)
    app.router.add_post(f"{tasks}/{{id}}/unlock", _unlock)
    return app


@web.middleware
async def _camunda_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ExternalTaskApiError as error:
        return web.json_response(error.body(), status=error.status)
    except web.HTTPException:
        raise
    except Exception as error:
        logger.exception("external task API: %s %s failed", request.method, request.path)
        body = {"type": PROCESS_ENGINE_EXCEPTION, "message": str(error), "code": 0}
        return web.json_response(body, status=500)
    return response


async def _body(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    text = await request.text()
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise invalid_request(f"The request body is not valid JSON: {error}") from None


async def _fetch_and_lock(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    fetch = parse(FetchAndLockRequest, await _body(request))
    transport = request.transport

    def connected() -> bool:
        return transport is not None and not transport.is_closing()

    locked = await service.fetch_and_lock(fetch, connected)
    response = web.json_response([locked_task_dto(task, topic) for task, topic in locked])
    try:
        await response.prepare(request)
        await response.write_eof()
    except BaseException:
        # The client has gone: its tasks are free again for the next fetch.
        service.unlock_all([task for task, _ in locked])
        raise
    return response


async def _get(request: web.Request) -> web.StreamResponse:
    task = request.app[SERVICE].get(request.match_info["id"])
    return web.json_response(external_task_dto(task))


async def _complete(request: web.Request) -> web.StreamResponse:
    body = parse(CompleteRequest, await _body(request))
    await request.app[SERVICE].complete(request.match_info["id"], body)
    return web.Response(status=NO_CONTENT)


async def _failure(request: web.Request) -> web.StreamResponse:
    body = parse(FailureRequest, await _body(request))
    await request.app[SERVICE].failure(request.match_info["id"], body)
    return web.Response(status=NO_CONTENT)


async def _bpmn_error(request: web.Request) -> web.StreamResponse:
    body = parse(BpmnErrorRequest, await _body(request))
    await request.app[SERVICE].bpmn_error(request.match_info["id"], body)
    return web.Response(status=NO_CONTENT)


async def _extend_lock(request: web.Request) -> web.StreamResponse:
    body = parse(ExtendLockRequest, await _body(request))
    request.app[SERVICE].extend_lock(request.match_info["id"], body)
    return web.Response(status=NO_CONTENT)


async def _unlock(request: web.Request) -> web.StreamResponse:
    request.app[SERVICE].unlock(request.match_info["id"])
    return web.Response(status=NO_CONTENT)
