"""The QBO v3 API over HTTP: `/v3/company/{realmId}/...`, as a raw ASGI handler.

A raw handler (not Starlette's request/response helpers) because it must control exactly how the
body is read (at most `MAX_BODY_BYTES`), and be able to cut a connection after the answer's
status line went out (fault injection: "drop").

Each request goes through the same steps, in the order a real gateway and API would apply them:
route -> bearer token -> realm -> forced throttle -> rate limits -> latency -> injected failure ->
body -> requestid replay -> backend -> remember -> answer (or drop).

Choices where Intuit's documents are silent (also listed in docs/emulator.md):
- The answer is JSON whatever the `Accept` header says (real QBO answers XML without
  `Accept: application/json`); only the throttle fault is XML, as in real QBO, and
  `GET {entity}/{id}/pdf` answers `application/pdf` (documents.py).
- `minorversion` is not checked: any value, a missing one or garbage is served as 75.
- An unknown realm answers 403, code 3100 `ApplicationAuthorizationFailed` in the gateway's
  lower-case shape: what QBO sends when a token has no access to the company.
- A method the path does not support (PUT, DELETE, GET on `customer` without id, ...) answers
  400, code 500 "Unsupported Operation", like an unknown path (QBO routes by method and path).
- A body over 10 MB, not UTF-8 JSON, not a JSON object, or sent with a Content-Type other than
  `application/json` (`application/text` or `text/plain` for POST query) answers 400, code 2010
  "Request has invalid or unsupported property", and nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

import anyio
import httpx2

from qb_mcp.emulator.faults import (
    ErrorItem,
    QBOFault,
    qbo_time,
    render,
    server_error,
    throttled,
    unsupported_operation,
)
from qb_mcp.emulator.replay import Answer, check_request_id, fingerprint
from qb_mcp.emulator.wire import dumps, invalid_body, parse_object

if TYPE_CHECKING:
    from qb_mcp.emulator.app import Emulator

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PREFIX = "/v3/company/"
MAX_BODY_BYTES = 10 * 1024 * 1024  # QBO's own limit is undocumented; 10 MB is far above any sale
JSON_TYPE = "application/json;charset=UTF-8"
QUERY_TEXT_TYPES = ("application/text", "text/plain")
WRITE_OPERATIONS = ("delete", "void", "update")

# What Intuit's load balancer answers during an outage (captured in minimul/qbo_api#81).
SERVICE_UNAVAILABLE_HTML = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b'<body bgcolor="white">\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n'
    b"</body>\r\n</html>\r\n"
)

Kind = Literal["read", "write", "query", "batch", "cdc", "companyinfo", "report", "send", "pdf"]


class DroppedConnection(httpx2.ReadError):
    """Raised after the status line went out, so the client sees a reset connection."""


class _ClientGone(Exception):
    """The client disconnected before its body arrived: nothing to answer, nothing changed."""


class _Request:
    """What the steps need to know about one API request."""

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"].upper()
        self.path: str = scope["path"]
        self.query: list[tuple[str, str]] = parse_qsl(
            scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )
        self.headers: dict[str, str] = {}
        for key, value in scope.get("headers", []):
            # Later duplicates lose; HTTP clients send each of these headers once.
            self.headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))

    def param(self, name: str) -> str | None:
        # QBO's own parameters are matched case-insensitively (requestId, RequestId, ...).
        for key, value in self.query:
            if key.lower() == name.lower():
                return value
        return None


class Route:
    """A parsed API path: which realm, what kind of call, and on which entity."""

    def __init__(self, realm_id: str, kind: Kind, entity: str = "", entity_id: str = "") -> None:
        self.realm_id = realm_id
        self.kind: Kind = kind
        self.entity = entity
        self.entity_id = entity_id


def unsupported_path(request: _Request) -> QBOFault:
    """QBO's 400 / code 500 for a path (or method on a path) it has no resource for."""
    return unsupported_operation(
        f"Operation {request.method} {request.path} is not supported."
        if request.path.startswith(PREFIX)
        else f"Operation Could not find resource for relative : {request.path} is not supported."
    )


def resolve(request: _Request) -> Route:
    """The route for a request, or the code-500 fault; looks at no state."""
    if not request.path.startswith(PREFIX):
        raise unsupported_path(request)
    parts = request.path[len(PREFIX) :].split("/")
    if parts and parts[-1] == "":
        parts.pop()  # a trailing slash is harmless
    if len(parts) < 2 or not parts[0] or not all(parts):
        raise unsupported_path(request)
    realm_id, name, rest = parts[0], parts[1].lower(), parts[2:]
    method = request.method
    if not rest:
        if name == "query" and method in ("GET", "POST"):
            return Route(realm_id, "query")
        if name == "batch" and method == "POST":
            return Route(realm_id, "batch")
        if name == "cdc" and method == "GET":
            return Route(realm_id, "cdc")
        if name not in ("query", "batch", "cdc") and method == "POST":
            return Route(realm_id, "write", parts[1])
    elif len(rest) == 2 and rest[1].lower() == "send" and method == "POST":
        return Route(realm_id, "send", parts[1], rest[0])
    elif len(rest) == 2 and rest[1].lower() == "pdf" and method == "GET":
        return Route(realm_id, "pdf", parts[1], rest[0])
    elif len(rest) == 1 and method == "GET":
        if name == "reports":
            return Route(realm_id, "report", rest[0])
        if name == "companyinfo":
            return Route(realm_id, "companyinfo", "CompanyInfo", rest[0])
        if name not in ("query", "batch", "cdc"):
            return Route(realm_id, "read", parts[1], rest[0])
    raise unsupported_path(request)


def unknown_realm(realm_id: str) -> QBOFault:
    """403 / 3100 from the gateway: the company is not one this emulator serves."""
    return QBOFault(
        errors=[
            ErrorItem(
                "3100",
                "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                f"No company with realm id {realm_id}",
            )
        ],
        status=403,
        fault_type="SERVICE",
        shape="gateway",
    )


def _not_found(detail: str) -> QBOFault:
    return QBOFault.one("610", "Object Not Found", detail)


def _missing_param(name: str) -> QBOFault:
    return QBOFault.one(
        "2020", "Required param missing, need to supply the required value for the API", name
    )


class ApiHandler:
    """The ASGI app behind `/v3/...` (routed to by `app.Emulator`)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.emulator.clock(), UTC)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _Request(scope)
        drop = False
        headers: dict[str, str] = {}
        try:
            answer, drop = await self._handle(request, receive)
        except _ClientGone:
            return
        except QBOFault as fault:
            answer = Answer(*render(fault, self._now()))
            headers = dict(fault.headers)
        except Exception:
            # A bug in the emulator: QBO's own 500, never a traceback to the client.
            log.exception("unexpected error in %s %s", request.method, request.path)
            answer = Answer(*render(server_error(), self._now()))
        raw_headers = [
            (b"content-type", answer.content_type.encode()),
            (b"content-length", str(len(answer.body)).encode()),
        ] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
        if drop:
            # The write is committed and the status line is out: cut the connection now.
            raise DroppedConnection("connection dropped by the emulator")
        await send({"type": "http.response.body", "body": answer.body})

    async def _handle(self, request: _Request, receive: Receive) -> tuple[Answer, bool]:
        emulator = self.emulator
        route = resolve(request)
        if emulator.config.require_auth:
            emulator.oauth.check_bearer(request.headers.get("authorization"), route.realm_id)
        if not emulator.backend.has_company(route.realm_id):
            raise unknown_realm(route.realm_id)
        if emulator.chaos.take_throttle():
            raise throttled()
        with emulator.limiter.slot(route.realm_id, batch=route.kind == "batch"):
            if emulator.chaos.latency > 0:
                await anyio.sleep(emulator.chaos.latency)
            failure = emulator.chaos.take_failure()
            if failure == 503:
                return Answer(503, "text/html", SERVICE_UNAVAILABLE_HTML), False
            if failure == 500:
                raise server_error()
            body = await self._read_body(request, receive)
            request_id = request.param("requestid") if request.method == "POST" else None
            if request_id is None:
                answer = self._run(route, request, body)
                return answer, self._drop(request, answer)
            check_request_id(request_id)
            print_ = fingerprint(request.method, request.path, request.query, body)
            # No await between lookup and remember: two identical requests cannot both write.
            replayed = emulator.request_ids.lookup(route.realm_id, request_id, print_)
            if replayed is not None:
                return replayed, self._drop(request, replayed)
            answer = self._run(route, request, body)
            emulator.request_ids.remember(route.realm_id, request_id, print_, answer)
            return answer, self._drop(request, answer)

    def _drop(self, request: _Request, answer: Answer) -> bool:
        # Only a successful answer to a POST is dropped: "the write committed, the answer was
        # lost". Reads are left alone so a drop count is not used up by them.
        return (
            request.method == "POST"
            and 200 <= answer.status < 300
            and self.emulator.chaos.take_drop()
        )

    def _run(self, route: Route, request: _Request, body: bytes) -> Answer:
        """Call the backend; a `QBOFault` becomes the rendered fault answer (never remembered)."""
        now = self._now()
        if route.kind == "pdf":
            # The one answer that is not JSON (faults still are, as QuickBooks sends them).
            try:
                document = self.emulator.backend.pdf(route.realm_id, route.entity, route.entity_id)
            except QBOFault as fault:
                return Answer(*render(fault, now))
            return Answer(200, "application/pdf", document)
        try:
            result = self._dispatch(route, request, body)
        except QBOFault as fault:
            status, content_type, payload = render(fault, now)
            return Answer(status, content_type, payload)
        if route.kind != "report":  # a report's Header carries its Time instead
            result = {**result, "time": qbo_time(now)}
        return Answer(200, JSON_TYPE, dumps(result))

    def _dispatch(self, route: Route, request: _Request, body: bytes) -> dict[str, Any]:
        backend = self.emulator.backend
        realm_id = route.realm_id
        if route.kind == "read":
            return backend.read(realm_id, route.entity, route.entity_id)
        if route.kind == "companyinfo":
            if route.entity_id != realm_id:
                raise _not_found(f"Object Not Found : CompanyInfo {route.entity_id}")
            return backend.company_info(realm_id)
        if route.kind == "cdc":
            entities = request.param("entities")
            changed_since = request.param("changedSince")
            if not entities:
                raise _missing_param("entities")
            if not changed_since:
                raise _missing_param("changedSince")
            return backend.cdc(realm_id, entities, changed_since)
        if route.kind == "query":
            return backend.query(realm_id, self._query_text(request, body))
        if route.kind == "send":
            # The body is empty (application/octet-stream); only sendTo matters.
            return backend.send(
                realm_id,
                route.entity,
                route.entity_id,
                request.param("sendTo"),
                qbo_time(self._now()),
            )
        if route.kind == "report":
            params = {key.lower(): value for key, value in request.query}
            return backend.report(realm_id, route.entity, params, qbo_time(self._now()))
        if route.kind == "batch":
            self._require_json(request)
            return backend.batch(realm_id, parse_object(body))
        # write
        operation = request.param("operation")
        op: Literal["create", "update", "delete", "void"] | None = None
        if operation is not None:
            lowered = operation.lower()
            if lowered not in WRITE_OPERATIONS:
                raise unsupported_operation(f"operation={operation} is not supported")
            op = lowered  # type: ignore[assignment]
        self._require_json(request)
        return backend.write(
            realm_id, route.entity, parse_object(body), op, include=request.param("include")
        )

    @staticmethod
    def _media_type(request: _Request) -> str:
        return request.headers.get("content-type", "").split(";")[0].strip().lower()

    def _require_json(self, request: _Request) -> None:
        media_type = self._media_type(request)
        if media_type != "application/json":
            raise invalid_body(
                f"Content-Type {media_type or '(none)'} is not supported; send application/json"
            )

    def _query_text(self, request: _Request, body: bytes) -> str:
        if request.method == "GET":
            text = request.param("query")
            if text is None:
                raise _missing_param("query")
            return text
        media_type = self._media_type(request)
        if media_type not in QUERY_TEXT_TYPES:
            raise invalid_body(
                f"Content-Type {media_type or '(none)'} is not supported for a query; "
                "send application/text"
            )
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_body("the query is not UTF-8 text") from None

    async def _read_body(self, request: _Request, receive: Receive) -> bytes:
        """The whole body, refusing (before reading it) anything over MAX_BODY_BYTES."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise invalid_body(f"the request body is over {MAX_BODY_BYTES} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise invalid_body(f"the request body is over {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
