"""Tools as data: a `ToolSpec` per tool, one wrapper that runs every tool, and the one mapping
from exceptions to `ToolError`.

Every tool call goes through `run_tool`:
  arguments (already checked against the input schema by the SDK) -> the tool's input model
  (its cross-field rules) -> the tool body -> a trimmed output model.
Any exception on the way becomes `ToolError(tool_error_text(exc))` (`to_tool_error`), so the model
always reads what happened and what to do, in the words `explain_fault` uses; a fault is also
remembered in the state so `explain_fault` with no argument lists it.

Writes are observed at the HTTP layer (`ObservingTransport`): every request carrying a
`requestid` is a write, and its requestid and `intuit_tid` are noted for the call that made it
(a context variable scopes them to the call). After a write tool's call each write it sent is
appended to the audit log, whether QuickBooks accepted it or not.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx2
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from qb_mcp.bookkeeping.explain import Explanation, explain_error, explanation_text
from qb_mcp.errors import InvalidArgumentError, QbMcpError
from qb_mcp.store import audit

if TYPE_CHECKING:
    from qb_mcp.config import Settings
    from qb_mcp.emulator import Emulator
    from qb_mcp.qbo.client import QBOClient
    from qb_mcp.store.db import Database

log = logging.getLogger(__name__)

# How many faults `explain_fault` with no argument can list.
RECENT_FAULTS = 20


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """A failure a tool call met, kept for `explain_fault` with no argument."""

    at: float
    tool: str
    explanation: Explanation


@dataclass(slots=True)
class AppState:
    """What the server's lifespan opens once per process; tools reach it through
    `ctx.request_context.lifespan_context`."""

    settings: Settings
    database: Database
    client: QBOClient
    realm_id: str
    source: Literal["connection", "emulator"]
    environment: str
    company_name: str | None = None
    emulator: Emulator | None = None
    clock: Callable[[], float] = time.time
    faults: deque[FaultRecord] = field(default_factory=lambda: deque(maxlen=RECENT_FAULTS))

    def remember_fault(self, tool: str, explanation: Explanation) -> None:
        self.faults.append(FaultRecord(at=self.clock(), tool=tool, explanation=explanation))


# ---- the writes a call sent -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteSeen:
    """One write request as it went over HTTP."""

    entity: str
    request_id: str
    status_code: int | None  # None: no answer (timeout, reset)
    intuit_tid: str | None


@dataclass(slots=True)
class CallLog:
    """The writes one tool call sent, in order (a retry of the same requestid replaces it)."""

    writes: dict[str, WriteSeen] = field(default_factory=dict)

    def add(self, write: WriteSeen) -> None:
        self.writes.pop(write.request_id, None)
        self.writes[write.request_id] = write


_CURRENT_CALL: ContextVar[CallLog | None] = ContextVar("qb_mcp_tool_call", default=None)

# URL path segment -> entity name, for the audit log.
_PATH_ENTITIES = {
    "customer": "Customer",
    "estimate": "Estimate",
    "invoice": "Invoice",
    "payment": "Payment",
    "item": "Item",
    "batch": "Batch",
}


class ObservingTransport(httpx2.AsyncBaseTransport):
    """Wraps the client's transport to note each write's requestid and intuit_tid for the
    current tool call; the request and answer pass through untouched."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request_id = request.url.params.get("requestid")
        calls = _CURRENT_CALL.get()
        if request_id is None or calls is None:
            return await self._inner.handle_async_request(request)
        segment = request.url.path.rstrip("/").rsplit("/", 1)[-1].lower()
        entity = _PATH_ENTITIES.get(segment, segment[:40] or "unknown")
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            calls.add(WriteSeen(entity, request_id, None, None))
            raise
        calls.add(
            WriteSeen(entity, request_id, response.status_code, response.headers.get("intuit_tid"))
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


# ---- specs ------------------------------------------------------------------------------------------

ToolBody = Callable[[AppState, Any, Context[Any, Any]], Awaitable[BaseModel]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: its name, text, schema models, body and the four annotations (all explicit)."""

    name: str
    title: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    body: ToolBody
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    # For the audit log: the ids the result names, by entity ("Invoice" -> "130").
    audit_ids: Callable[[Any], Mapping[str, str | None]] | None = None

    @property
    def writes(self) -> bool:
        return not self.read_only

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )

    def to_tool(self) -> Tool:
        """The SDK's `Tool`: the input model's fields as top-level parameters.

        The published schema is the input model's own. The SDK's argument check is left
        permissive on purpose: `run_tool` validates with the model, so a wrong argument is
        explained like every other failure (what is wrong, the fix) rather than as pydantic's
        raw report, and cross-field rules (one of id or name) are checked in the same place.
        """
        tool = Tool.from_function(
            _entry_point(self),
            name=self.name,
            title=self.title,
            description=self.description,
            context_kwarg="ctx",
            annotations=self.annotations(),
            structured_output=True,
        )
        return tool.model_copy(update={"parameters": self.input_schema()})

    def input_schema(self) -> dict[str, Any]:
        """The JSON schema of the tool's arguments."""
        schema = self.input_model.model_json_schema()
        schema["title"] = f"{self.name}_arguments"
        return schema


def _entry_point(spec: ToolSpec) -> Callable[..., Awaitable[BaseModel]]:
    """A function taking the input model's fields (each optional and untyped here: the model
    checks them in `run_tool`) plus the context. An explicit null counts as not given."""

    async def call(ctx: Context[Any, Any], **arguments: Any) -> BaseModel:
        given = {name: value for name, value in arguments.items() if value is not None}
        return await run_tool(spec, ctx, given)

    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Any)
        for name in spec.input_model.model_fields
    ]
    parameters.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context))
    annotations: dict[str, Any] = dict.fromkeys(spec.input_model.model_fields, Any)
    annotations["ctx"] = Context
    annotations["return"] = spec.output_model
    call.__signature__ = inspect.Signature(parameters, return_annotation=spec.output_model)  # type: ignore[attr-defined]
    call.__annotations__ = annotations
    call.__name__ = spec.name
    call.__qualname__ = spec.name
    call.__doc__ = spec.description
    return call


# ---- running a call --------------------------------------------------------------------------------


async def run_tool(spec: ToolSpec, ctx: Context[Any, Any], arguments: dict[str, Any]) -> BaseModel:
    """Run one call of `spec`: validate, run, audit, and map every failure to a ToolError."""
    state: AppState = ctx.request_context.lifespan_context
    calls = CallLog()
    token = _CURRENT_CALL.set(calls)
    try:
        try:
            args = spec.input_model.model_validate(arguments)
        except PydanticValidationError as exc:
            raise InvalidArgumentError(describe_validation(exc)) from None
        result = await spec.body(state, args, ctx)
    except ToolError:
        raise
    except Exception as exc:
        if calls.writes:
            await _audit(spec, state, calls, None)
        raise to_tool_error(exc, tool=spec.name, state=state) from exc
    finally:
        _CURRENT_CALL.reset(token)
    if calls.writes:
        await _audit(spec, state, calls, result)
    return result


def to_tool_error(exc: BaseException, *, tool: str, state: AppState | None = None) -> ToolError:
    """The one mapping from an exception to what the model reads: the explain engine's words.

    A bug (an exception qb-mcp did not raise on purpose) is logged with its traceback on stderr;
    the model gets the engine's generic text, which never repeats the exception's own words.
    """
    if isinstance(exc, PydanticValidationError):
        exc = InvalidArgumentError(describe_validation(exc))
    explanation = explain_error(exc)
    if not isinstance(exc, QbMcpError):
        log.error("tool %s failed: %s", tool, type(exc).__name__, exc_info=exc)
    if state is not None and not isinstance(exc, InvalidArgumentError):
        state.remember_fault(tool, explanation)
    return ToolError(explanation_text(explanation))


def describe_validation(exc: PydanticValidationError) -> str:
    """Pydantic's errors as one line naming each field (the values are the caller's data)."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    more = len(exc.errors()) - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "invalid arguments: " + "; ".join(parts)


async def _audit(spec: ToolSpec, state: AppState, calls: CallLog, result: Any) -> None:
    ids: Mapping[str, str | None] = {}
    if result is not None and spec.audit_ids is not None:
        ids = spec.audit_ids(result)
    now = state.clock()
    for write in calls.writes.values():
        if write.status_code is None:
            outcome = "no answer"
        elif 200 <= write.status_code < 300:
            outcome = "ok"
        else:
            outcome = f"refused (HTTP {write.status_code})"
        try:
            await audit.append(
                state.database,
                at=now,
                realm_id=state.realm_id,
                tool=spec.name,
                entity=write.entity,
                entity_id=ids.get(write.entity),
                request_id=write.request_id,
                intuit_tid=write.intuit_tid,
                outcome=outcome,
            )
        except Exception:
            # The write itself happened; losing its audit row must not turn it into a failure.
            log.exception("could not append to the audit log")
