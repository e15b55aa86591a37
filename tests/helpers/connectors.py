"""REST connector tests: a process around one connector task, and a real HTTP server to call.

The server is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with a port of its own; each test
says how each path answers (``routes``) and reads back what was received (``requests``).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REST = "io.camunda:http-json:1"


def rest_process(
    process_id: str,
    inputs: dict[str, str],
    headers: dict[str, str] | None = None,
    *,
    retries: int = 3,
    catch_error: str | None = None,
) -> str:
    """start → REST connector task ``call`` → ``done``; with ``catch_error``, an error boundary
    event catching that code leads to ``caught``."""
    mapping = "".join(
        f'<zeebe:input source="{escape(source)}" target="{target}" />'
        for target, source in inputs.items()
    )
    task_headers = "".join(
        f'<zeebe:header key="{key}" value="{escape(value)}" />'
        for key, value in (headers or {}).items()
    )
    boundary = ""
    errors = ""
    if catch_error is not None:
        errors = f'<bpmn:error id="err" errorCode="{catch_error}" />'
        boundary = """
    <bpmn:boundaryEvent id="on_error" attachedToRef="call">
      <bpmn:errorEventDefinition errorRef="err" />
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="caught" />
    <bpmn:sequenceFlow id="f_error" sourceRef="on_error" targetRef="caught" />"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="definitions">
  {errors}
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="call">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="{REST}" retries="{retries}" />
        <zeebe:ioMapping>{mapping}</zeebe:ioMapping>
        <zeebe:taskHeaders>{task_headers}</zeebe:taskHeaders>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="done" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="done" />{boundary}
  </bpmn:process>
</bpmn:definitions>
"""


def readable_history(history: dict[str, Any]) -> str:
    """A workflow history's JSON with every payload decoded (they are base64 in the JSON), so
    that a search finds what any event carries."""
    texts = [json.dumps(history)]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, str):
                with suppress(binascii.Error, ValueError):
                    texts.append(base64.b64decode(data, validate=True).decode("utf-8", "replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(history)
    return "\n".join(texts)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    """JSON-encoded unless it is ``bytes`` or ``str``."""
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    """Answer only once this is set (a request that outlasts the client's read timeout)."""


Route = Callable[[Received], Reply]


class HttpServer:
    """What a test's HTTP API does; use through ``http_server()``."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Received] = []
        self.released = threading.Event()
        self._holds: set[threading.Event] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, method: str, path: str, answer: Route | Reply) -> None:
        self.routes[(method, path)] = answer if callable(answer) else (lambda _r, a=answer: a)

    def received(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def _answer(self, request: Received) -> Reply:
        self.requests.append(request)
        route = self.routes.get((request.method, request.path))
        return route(request) if route else Reply(404, {"error": f"no route {request.path}"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = server._answer(request)
                if reply.hold is not None:
                    server._holds.add(reply.hold)
                    reply.hold.wait()
                    if server.released.is_set():
                        return
                body = reply.body
                if isinstance(body, str):
                    data, kind = body.encode(), "text/plain"
                elif isinstance(body, bytes):
                    data, kind = body, "application/octet-stream"
                else:
                    data, kind = json.dumps(body).encode(), "application/json"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.headers.get("Content-Type", kind))
                    for name, value in reply.headers.items():
                        if name != "Content-Type":
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its read timeout): nothing to answer

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.released.set()
        for hold in list(self._holds):
            hold.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def http_server() -> Iterator[HttpServer]:
    """A real HTTP server on 127.0.0.1 (random port) for the block; stopped at its end."""
    server = HttpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
