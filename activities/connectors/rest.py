"""The REST connector: Camunda 8's ``io.camunda:http-json:1``, on httpx.

Its inputs are the task's ``zeebe:ioMapping`` targets, as Camunda's REST connector template
writes them:

- ``url`` (required, ``http(s)://...``) and ``method`` (GET by default, POST, PUT, PATCH,
  DELETE, HEAD, OPTIONS);
- ``headers`` and ``queryParameters``: FEEL contexts (or JSON text);
- ``body``: a context, list or number is sent as JSON, text as it is; a context is sent as a
  form when ``Content-Type`` is ``application/x-www-form-urlencoded`` or ``multipart/form-data``;
  ``ignoreNullValues`` drops null entries from it;
- ``authentication.type``: ``noAuth``; ``basic`` (``username``, ``password``); ``bearer``
  (``token``); ``apiKey`` (``apiKeyLocation`` headers or query, ``name``, ``value``);
  ``oauth-client-credentials-flow`` (``oauthTokenEndpoint``, ``clientId``, ``clientSecret``,
  ``audience``, ``scopes``, ``clientAuthentication`` basicAuthHeader or credentialsBody);
- ``connectionTimeoutInSeconds``, ``readTimeoutInSeconds``: 20 by default, 0 waits without limit.

Other inputs of Camunda's template (``storeResponse``, ``skipEncoding``) are ignored.
The response is ``{status, reason, headers, body}`` (body parsed when it is JSON). Status 4xx
fails the job at once (retrying the same request cannot help), except 408 and 429; 5xx,
408, 429 and network errors (timeouts included) fail the attempt, to be retried.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from activities.connectors._base import ConnectorInputs, ConnectorSpec
from activities.connectors._errors import ConnectorError, ConnectorInputError
from translator import REST_AUTHENTICATION_TYPES, REST_JOB_TYPE, REST_METHODS, timeout_seconds

__all__ = ["CONNECTOR", "REST_JOB_TYPE", "RestConnector", "RestRequest"]

DEFAULT_TIMEOUT_SECONDS = 20.0
"""Camunda's default for both the connection and the read timeout."""
BODY_EXCERPT = 500
"""Characters of a failed response's body kept in the incident message."""
TRANSIENT_STATUSES = frozenset({408, 429})
"""Client errors that a later attempt may not get: retried like server errors."""


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str


@dataclass(frozen=True)
class BearerAuth:
    token: str


@dataclass(frozen=True)
class ApiKeyAuth:
    in_query: bool
    name: str
    value: str


@dataclass(frozen=True)
class OAuthClientCredentials:
    token_endpoint: str
    shown_endpoint: str
    client_id: str
    client_secret: str
    audience: str | None = None
    scopes: str | None = None
    credentials_in_body: bool = False


Authentication = BasicAuth | BearerAuth | ApiKeyAuth | OAuthClientCredentials


@dataclass(frozen=True)
class RestRequest:
    """One call, validated: every problem names the input it comes from."""

    method: str
    url: str
    shown_url: str
    """The URL as the model wrote it, secrets still as placeholders: for messages."""
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str | list[str]] = field(default_factory=dict)
    body: Any = None
    authentication: Authentication | None = None
    connect_timeout: float | None = DEFAULT_TIMEOUT_SECONDS
    read_timeout: float | None = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_inputs(cls, inputs: ConnectorInputs) -> RestRequest:
        url = inputs.get("url")
        shown = inputs.raw("url")
        if url is None or (isinstance(url, str) and not url.strip()):
            raise ConnectorInputError("url", "is not set: map the URL to call to 'url'")
        if not isinstance(url, str):
            raise ConnectorInputError("url", f"is {type(url).__name__}, not text")
        method = inputs.get("method")
        if method is None:
            method = "GET"
        if not isinstance(method, str) or method.strip().upper() not in REST_METHODS:
            raise ConnectorInputError(
                "method", f"is {method!r}, not one of {', '.join(REST_METHODS)}"
            )
        body = inputs.get("body")
        if _flag(inputs.get("ignoreNullValues")):
            body = _without_nulls(body)
        return cls(
            method=method.strip().upper(),
            url=_checked_url(url.strip(), shown),
            shown_url=str(shown).strip(),
            headers=_texts(inputs.get("headers"), "headers"),
            params=_texts(inputs.get("queryParameters"), "queryParameters", lists=True),
            body=body,
            authentication=_authentication(inputs),
            connect_timeout=_timeout(inputs, "connectionTimeoutInSeconds"),
            read_timeout=_timeout(inputs, "readTimeoutInSeconds"),
        )

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def _checked_url(url: str, shown: Any) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise ConnectorInputError("url", f"{shown!r} is not a valid URL: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConnectorInputError("url", f"is {shown!r}: it must start with http(s)://host")
    return url


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _texts(value: Any, name: str, *, lists: bool = False) -> dict[str, Any]:
    """A context of header or query values as text (JSON text is accepted too)."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            value = None
    if not isinstance(value, Mapping):
        raise ConnectorInputError(name, 'must be a context such as {"Accept": "text/plain"}')
    texts: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if lists and isinstance(item, list):
            texts[str(key)] = [_text(i) for i in item if i is not None]
        else:
            texts[str(key)] = _text(item)
    return texts


def _timeout(inputs: ConnectorInputs, name: str) -> float | None:
    value = inputs.get(name)
    if value is None or value == "":
        return DEFAULT_TIMEOUT_SECONDS
    seconds = timeout_seconds(value)
    if seconds is None:
        raise ConnectorInputError(name, f"is {value!r}: give a number of seconds (0 or more)")
    return seconds or None  # 0: no limit, as in Camunda


def _required(inputs: ConnectorInputs, name: str) -> str:
    value = inputs.get(name)
    if value is None or value == "":
        raise ConnectorInputError(name, "is not set, but the authentication type needs it")
    return _text(value)


def _optional(inputs: ConnectorInputs, name: str) -> str | None:
    value = inputs.get(name)
    return None if value is None or value == "" else _text(value)


def _authentication(inputs: ConnectorInputs) -> Authentication | None:
    kind = inputs.get("authentication.type")
    if kind in (None, "", "noAuth"):
        return None
    if kind not in REST_AUTHENTICATION_TYPES:
        raise ConnectorInputError(
            "authentication.type", f"is {kind!r}, not one of {', '.join(REST_AUTHENTICATION_TYPES)}"
        )
    if kind == "basic":
        return BasicAuth(
            _required(inputs, "authentication.username"),
            _optional(inputs, "authentication.password") or "",
        )
    if kind == "bearer":
        return BearerAuth(_required(inputs, "authentication.token"))
    if kind == "apiKey":
        location = _optional(inputs, "authentication.apiKeyLocation") or _optional(
            inputs, "authentication.location"
        )
        return ApiKeyAuth(
            in_query=(location or "headers").lower() == "query",
            name=_required(inputs, "authentication.name"),
            value=_required(inputs, "authentication.value"),
        )
    endpoint = _required(inputs, "authentication.oauthTokenEndpoint")
    return OAuthClientCredentials(
        token_endpoint=_checked_url(endpoint, inputs.raw("authentication.oauthTokenEndpoint")),
        shown_endpoint=str(inputs.raw("authentication.oauthTokenEndpoint")),
        client_id=_required(inputs, "authentication.clientId"),
        client_secret=_required(inputs, "authentication.clientSecret"),
        audience=_optional(inputs, "authentication.audience"),
        scopes=_optional(inputs, "authentication.scopes"),
        credentials_in_body=_optional(inputs, "authentication.clientAuthentication")
        == "credentialsBody",
    )


# --- the call -----------------------------------------------------------------------------------


class RestConnector:
    """Sends one request per job on a shared connection pool; see the module docstring."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(follow_redirects=True)
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._token_lock = asyncio.Lock()

    async def execute(self, inputs: ConnectorInputs) -> dict[str, Any]:
        request = RestRequest.from_inputs(inputs)
        headers = dict(request.headers)
        params = dict(request.params)
        auth: httpx.Auth | None = None
        match request.authentication:
            case BasicAuth(username, password):
                auth = httpx.BasicAuth(username, password)
            case BearerAuth(token):
                headers["Authorization"] = f"Bearer {token}"
            case ApiKeyAuth(in_query, name, value):
                (params if in_query else headers)[name] = value
            case OAuthClientCredentials() as oauth:
                headers["Authorization"] = f"Bearer {await self._token(oauth, request)}"
        content = _content(request, headers)
        what = f"{request.method} {request.shown_url}"
        response = await self._send(
            what,
            request,
            request.method,
            request.url,
            headers=headers,
            params=params,
            auth=auth,
            **content,
        )
        result = _result(response)
        if response.status_code >= 400:
            raise _status_error(what, response, result)
        return result

    async def _send(
        self, what: str, request: RestRequest, method: str, url: str, **options: Any
    ) -> httpx.Response:
        try:
            return await self._client.request(method, url, timeout=request.timeout, **options)
        except httpx.ConnectTimeout:
            raise ConnectorError(
                f"{what}: no connection within {request.connect_timeout} s "
                "(connectionTimeoutInSeconds)",
                code="TIMEOUT",
            ) from None
        except httpx.ReadTimeout:
            raise ConnectorError(
                f"{what}: no response within {request.read_timeout} s (readTimeoutInSeconds)",
                code="TIMEOUT",
            ) from None
        except httpx.TimeoutException as error:
            message = f"{what}: timed out ({type(error).__name__})"
            raise ConnectorError(message, code="TIMEOUT") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            raise ConnectorInputError("url", f"cannot be called: {error}") from None
        except httpx.TransportError as error:
            message = f"{what}: {type(error).__name__}: {error}"
            raise ConnectorError(message, code="NETWORK") from None

    async def _token(self, oauth: OAuthClientCredentials, request: RestRequest) -> str:
        """An access token from the token endpoint, reused until shortly before it expires."""
        key = (
            oauth.token_endpoint,
            oauth.client_id,
            oauth.client_secret,
            oauth.audience or "",
            oauth.scopes or "",
        )
        async with self._token_lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            data = {"grant_type": "client_credentials"}
            if oauth.audience:
                data["audience"] = oauth.audience
            if oauth.scopes:
                data["scope"] = oauth.scopes
            auth: httpx.Auth | None = None
            if oauth.credentials_in_body:
                data.update(client_id=oauth.client_id, client_secret=oauth.client_secret)
            else:
                auth = httpx.BasicAuth(oauth.client_id, oauth.client_secret)
            what = f"OAuth token request to {oauth.shown_endpoint}"
            response = await self._send(
                what, request, "POST", oauth.token_endpoint, data=data, auth=auth
            )
            result = _result(response)
            if response.status_code >= 400:
                raise _status_error(what, response, result)
            body = result["body"]
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise ConnectorError(f"{what}: the answer has no access_token", retryable=False)
            expires_in = body.get("expires_in") if isinstance(body, dict) else None
            if isinstance(expires_in, int | float) and expires_in > 0:
                self._tokens[key] = (token, time.monotonic() + expires_in * 0.9)
            return token

    async def aclose(self) -> None:
        await self._client.aclose()


def _content(request: RestRequest, headers: dict[str, str]) -> dict[str, Any]:
    """The request body as httpx arguments, per its Content-Type (JSON unless it says else)."""
    body = request.body
    if body is None or body == "":
        return {}
    kind = (request.header("Content-Type") or "").lower()
    if isinstance(body, Mapping) and kind.startswith("application/x-www-form-urlencoded"):
        return {"data": {str(k): _text(v) for k, v in body.items()}}
    if isinstance(body, Mapping) and kind.startswith("multipart/form-data"):
        for name in [k for k in headers if k.lower() == "content-type"]:
            del headers[name]  # httpx writes it with the boundary
        return {"files": {str(k): (None, _text(v)) for k, v in body.items()}}
    if not kind:
        headers["Content-Type"] = "application/json"
    return {"content": (body if isinstance(body, str) else json.dumps(body)).encode()}


def _result(response: httpx.Response) -> dict[str, Any]:
    """What resultVariable/resultExpression see: Camunda's status, headers and body."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in response.headers.raw:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "headers": headers,
        "body": _body(response),
    }


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    text = response.text
    kind = response.headers.get("content-type", "").lower()
    if "json" in kind or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _status_error(what: str, response: httpx.Response, result: dict[str, Any]) -> ConnectorError:
    status = response.status_code
    message = f"HTTP {status} {response.reason_phrase} from {what}"
    if response.content:
        text = response.text
        excerpt = text if len(text) <= BODY_EXCERPT else text[:BODY_EXCERPT] + "…"
        message += f": {excerpt}"
    retry_after = response.headers.get("retry-after", "").strip()
    return ConnectorError(
        message,
        code=str(status),
        retryable=status >= 500 or status in TRANSIENT_STATUSES,
        response=result,
        retry_after=timedelta(seconds=int(retry_after)) if retry_after.isdigit() else None,
    )


CONNECTOR = ConnectorSpec(REST_JOB_TYPE, RestConnector)
