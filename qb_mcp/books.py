"""The Python API: `open_books` (async) and `open_books_sync` (threads), one company's books.

The CRM's own code reaches the same operations an assistant does, wired the same way: the
company, database, limiter, token manager and ledger are opened by `server.open_state`, the
function `qb-mcp serve` opens them with (QBO_ settings, QBO_REALM_ID or the only connected
company, else the built-in emulator's demo company). Each method is a tool: a call runs the
tool's own path (`tools.base.execute_tool`: the tool's input model, its body, the audit log), so
writes keep their idempotency keys and critical sections, and a tool's result model is the
method's result. What differs from MCP is only the edges: arguments are Python values (keyword
arguments or the input model itself), and a failure is raised as the `qb_mcp.errors` exception
it is, with `explanation` holding the text an MCP client would read (also added as a note, so
a traceback shows it); an exception outside `qb_mcp.errors` is a bug and propagates
unchanged. Writes are not confirmed (QBO_CONFIRM_WRITES asks an assistant's user; here the
calling code is the user), and with QBO_READ_ONLY a write method refuses to run. The periodic
loops of a long-running server (webhook worker, catch-up, event forwarding) are not run here;
`recent_changes(catch_up=True)` catches up on demand.

The methods come from the tool specs: each is declared once below as `tool(InputModel,
ResultModel)`, which gives it its static type (keyword arguments checked against the input
model's fields) and nothing else; name, models, body and annotations are the spec's, looked up
by the attribute's name. A tool spec with no declaration still works, untyped (`__getattr__`);
a test requires every spec to be declared with its own models.

`open_books_sync` runs one `open_books` on a private event loop thread (anyio's blocking
portal): every method blocks until its result, calls from many threads run concurrently on that
loop, and `close()` (or leaving the `with` block) closes the company on the loop that opened it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast, overload

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp.server.mcpserver import Context
from pydantic import BaseModel

from qb_mcp.bookkeeping.corrections import (
    DeleteResult,
    DeleteTransactionInput,
    VoidResult,
    VoidTransactionInput,
)
from qb_mcp.bookkeeping.credits import (
    CreateCreditMemoInput,
    CreditMemoView,
    RefundInput,
    RefundView,
)
from qb_mcp.bookkeeping.customers import (
    CustomerContact,
    FindCustomerInput,
    FindCustomerResult,
    UpsertCustomerResult,
    UpsertCustomersInput,
    UpsertCustomersResult,
)
from qb_mcp.bookkeeping.documents import GetInvoicePdfInput, InvoicePdf
from qb_mcp.bookkeeping.items import UpsertItemInput, UpsertItemResult
from qb_mcp.bookkeeping.payments import PaymentResult, RecordPaymentInput
from qb_mcp.bookkeeping.reads import (
    FindItemsInput,
    FindItemsResult,
    GetTransactionInput,
    ListOpenInvoicesInput,
    OpenInvoicesResult,
    QueryResult,
    RunQueryInput,
    TransactionResult,
)
from qb_mcp.bookkeeping.receipts import CreateSalesReceiptInput, SalesReceiptView
from qb_mcp.bookkeeping.reports import ReportInput, ReportResult
from qb_mcp.bookkeeping.sales import (
    ConvertEstimateInput,
    ConvertEstimateResult,
    CreateEstimateInput,
    EstimateView,
)
from qb_mcp.bookkeeping.sending import SendInvoiceInput, SendInvoiceResult
from qb_mcp.config import Settings
from qb_mcp.errors import ConfigError, InvalidArgumentError, QbMcpError
from qb_mcp.tools.events_models import Change, RecentChangesInput, RecentChangesResult
from qb_mcp.tools.support_models import (
    CompanyList,
    CompanyStatus,
    ConnectionStatusInput,
    ExplainFaultInput,
    ExplainFaultOutput,
    ListCompaniesInput,
)

if TYPE_CHECKING:
    from typing import Self

    import httpx2

    from qb_mcp.emulator import Emulator
    from qb_mcp.qbo.limiter import RealmLimiter
    from qb_mcp.tools.base import AppState, ToolSpec

__all__ = ["Books", "SyncBooks", "open_books", "open_books_sync"]

P = ParamSpec("P")
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
T = TypeVar("T")

# How often `events(follow=True)` looks for new events (other processes store them too).
EVENTS_POLL_SECONDS = 1.0
EVENTS_PAGE = 100
CLOSE_TIMEOUT = 30.0  # seconds `SyncBooks.close` lets calls in flight finish

Progress = Callable[[float, float | None, str | None], Awaitable[None] | None]


# ---- one declaration per tool --------------------------------------------------------------------


class tool(Generic[P, In, Out]):
    """A tool as a method of `Books` and `SyncBooks`, named by the attribute it is assigned to.

    `input_model` and `output_model` type the method (the input model's fields are its keyword
    arguments); at run time the spec of the same name decides everything.
    """

    def __init__(self, input_model: Callable[P, In], output_model: type[Out]) -> None:
        self.input_model = input_model
        self.output_model = output_model
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: Books, owner: type[Any]) -> AsyncMethod[P, In, Out]: ...
    @overload
    def __get__(self, instance: SyncBooks, owner: type[Any]) -> SyncMethod[P, In, Out]: ...
    def __get__(self, instance: object, owner: type[Any]) -> Any:
        if instance is None:
            return self
        assert isinstance(instance, Books | SyncBooks)
        return instance._method(self.name)


class AsyncMethod(Generic[P, In, Out]):
    """A tool bound to a `Books`: `await books.find_customer(name=...)` or `(FindCustomerInput)`."""

    def __init__(self, books: Books, spec: ToolSpec) -> None:
        self._books = books
        self._spec = spec
        self.__name__ = spec.name
        self.__doc__ = spec.description

    @overload
    async def __call__(self, arguments: In, /) -> Out: ...
    @overload
    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Out: ...
    async def __call__(self, *args: Any, **kwargs: Any) -> Out:
        return cast(Out, await self._books.call(self._spec.name, *args, **kwargs))


class SyncMethod(Generic[P, In, Out]):
    """A tool bound to a `SyncBooks`: blocks until the result."""

    def __init__(self, books: SyncBooks, spec: ToolSpec) -> None:
        self._books = books
        self._spec = spec
        self.__name__ = spec.name
        self.__doc__ = spec.description

    @overload
    def __call__(self, arguments: In, /) -> Out: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Out: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Out:
        return cast(Out, self._books.call(self._spec.name, *args, **kwargs))


class ToolMethods:
    """Every tool, declared once for both `Books` and `SyncBooks` (see `tool`)."""

    find_customer = tool(FindCustomerInput, FindCustomerResult)
    upsert_customer = tool(CustomerContact, UpsertCustomerResult)
    upsert_customers = tool(UpsertCustomersInput, UpsertCustomersResult)
    create_estimate = tool(CreateEstimateInput, EstimateView)
    convert_estimate = tool(ConvertEstimateInput, ConvertEstimateResult)
    record_payment = tool(RecordPaymentInput, PaymentResult)
    create_sales_receipt = tool(CreateSalesReceiptInput, SalesReceiptView)
    create_credit_memo = tool(CreateCreditMemoInput, CreditMemoView)
    refund = tool(RefundInput, RefundView)
    send_invoice = tool(SendInvoiceInput, SendInvoiceResult)
    get_invoice_pdf = tool(GetInvoicePdfInput, InvoicePdf)
    void_transaction = tool(VoidTransactionInput, VoidResult)
    delete_transaction = tool(DeleteTransactionInput, DeleteResult)
    upsert_item = tool(UpsertItemInput, UpsertItemResult)
    find_items = tool(FindItemsInput, FindItemsResult)
    list_open_invoices = tool(ListOpenInvoicesInput, OpenInvoicesResult)
    get_transaction = tool(GetTransactionInput, TransactionResult)
    query = tool(RunQueryInput, QueryResult)
    report = tool(ReportInput, ReportResult)
    recent_changes = tool(RecentChangesInput, RecentChangesResult)
    explain_fault = tool(ExplainFaultInput, ExplainFaultOutput)
    connection_status = tool(ConnectionStatusInput, CompanyStatus)
    list_companies = tool(ListCompaniesInput, CompanyList)

    def _method(self, name: str) -> Any:
        raise NotImplementedError

    if not TYPE_CHECKING:  # so that a type checker still reports a misspelt method

        def __getattr__(self, name: str) -> Any:
            # A tool spec added without a declaration above: callable, untyped.
            if not name.startswith("_") and name in _specs():
                return self._method(name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _specs() -> dict[str, ToolSpec]:
    from qb_mcp.tools import all_specs

    return {spec.name: spec for spec in all_specs()}


def declared_tools() -> dict[str, tool[Any, Any, Any]]:
    """The tools declared on `Books` and `SyncBooks`, by name (for the test that holds them to
    the specs)."""
    return {name: value for name, value in vars(ToolMethods).items() if isinstance(value, tool)}


# ---- the async API -------------------------------------------------------------------------------


class _OutsideMcp(Context[Any, Any]):
    """What a tool body gets as its MCP context when called from Python: progress goes to the
    caller's callback (or nowhere); anything that needs an MCP client says it is not available."""

    def __init__(self, progress: Progress | None) -> None:
        super().__init__()
        self._progress_callback = progress

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        if self._progress_callback is not None:
            answer = self._progress_callback(progress, total, message)
            if answer is not None:
                await answer


class Books(ToolMethods):
    """One company's books, for Python code: one method per tool (see the module docstring).

    Made by `open_books`; valid until its `async with` block ends.
    """

    def __init__(self, state: AppState, *, progress: Progress | None = None) -> None:
        self._state = state
        self._specs = _specs()
        self._context = _OutsideMcp(progress)
        # Set when the books close: `events(follow=True)` loops end instead of outliving them.
        self._closing = anyio.Event()

    @property
    def settings(self) -> Settings:
        """The settings the books were opened with."""
        return self._state.settings

    @property
    def source(self) -> str:
        """Which company this is: `connection` (connected with `qb-mcp auth login`),
        `emulator` (the built-in demo company), or `none` (QBO_ENVIRONMENT chose an
        environment with no company connected: every call raises `NotConnectedError`)."""
        return self._state.source

    async def realm_id(self) -> str:
        """The company's realm id (for the demo company, known once it is opened)."""
        if self._state.realm_id is None:
            await self._state.qbo()
        assert self._state.realm_id is not None
        return self._state.realm_id

    def _method(self, name: str) -> AsyncMethod[Any, Any, Any]:
        return AsyncMethod(self, self._spec(name))

    def _spec(self, name: str) -> ToolSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise AttributeError(f"no tool {name!r}") from None

    async def call(
        self, name: str, arguments: BaseModel | Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> BaseModel:
        """Call the tool `name` with the input model, a mapping, or keyword arguments."""
        from qb_mcp.tools.base import execute_tool, failure_text

        spec = self._spec(name)
        try:
            given = _arguments(name, arguments, kwargs)
            if not spec.read_only and self._state.settings.read_only:
                raise ConfigError(
                    f"{name} writes to QuickBooks and QBO_READ_ONLY is on: nothing was written "
                    "(unset QBO_READ_ONLY to allow writes)"
                )
            result = await execute_tool(spec, self._state, given, self._context, confirm=False)
        except QbMcpError as exc:
            text = failure_text(exc, tool=name, state=self._state)
            exc.explanation = text
            exc.add_note(text)
            raise
        assert isinstance(result, BaseModel)
        return result

    async def events(
        self,
        since: str | datetime | None = None,
        *,
        follow: bool = False,
        poll_interval: float = EVENTS_POLL_SECONDS,
    ) -> AsyncGenerator[Change, None]:
        """The company's stored events (webhooks and catch-up), oldest first, as `Change`s.

        `since`: an event id (events stored after it: keep the last id you handled), or a time
        (events of changes at or after it); None: from the first stored. With `follow`, wait for
        new events once caught up (looked for every `poll_interval` seconds) instead of ending.
        """
        from qb_mcp.tools.events import _change
        from qb_mcp.webhooks.feed import events_after, get_event

        database = self._state.database
        realm_id = await self.realm_id()
        seq, not_before = 0, None
        if isinstance(since, str):
            found = await get_event(database, since)
            if found is None:
                raise InvalidArgumentError(f"since: no stored event has the id {since[:60]!r}")
            seq = found.seq
        elif isinstance(since, datetime):
            if since.tzinfo is None:
                raise InvalidArgumentError("since: give a time with its time zone (e.g. UTC)")
            not_before = since
        elif since is not None:
            raise InvalidArgumentError("since: give an event id, a datetime or None")
        while True:
            page = await events_after(database, seq, limit=EVENTS_PAGE)
            for event in page:
                seq = event.seq
                if event.realm_id != realm_id:
                    continue
                if not_before is not None and event.occurred_at < not_before:
                    continue
                yield _change(event)
            if len(page) < EVENTS_PAGE:
                if not follow or self._closing.is_set():
                    return
                with anyio.move_on_after(poll_interval):
                    await self._closing.wait()


def _arguments(
    name: str, arguments: BaseModel | Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> BaseModel | Mapping[str, Any]:
    if arguments is None:
        return dict(kwargs)
    if kwargs:
        raise InvalidArgumentError(
            f"{name}: give the input model (or a mapping) or keyword arguments, not both"
        )
    if not isinstance(arguments, BaseModel | Mapping):
        raise InvalidArgumentError(
            f"{name}: arguments must be the tool's input model or a mapping; "
            f"got {type(arguments).__name__}"
        )
    return arguments


@asynccontextmanager
async def open_books(
    settings: Settings | None = None,
    *,
    company: str | None = None,
    progress: Progress | None = None,
    emulator: Emulator | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    limiter: RealmLimiter | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Books]:
    """One company's books, wired as `qb-mcp serve` wires them.

    `settings`: default `Settings.from_env()` (the QBO_ variables). `company`: the realm id of a
    connected company (overrides QBO_REALM_ID). `progress`: called with (done, total, message)
    during bulk work (`upsert_customers`).

    For the CRM's own tests, as `serve`'s: `emulator` opens that emulator's demo company
    (`qb_mcp.emulator.Emulator`, with its fault injection) whatever is connected; `transport`
    carries a connected company's API and OAuth calls; `limiter` replaces the realm's request
    budget; `clock` is the time source.
    """
    from qb_mcp.server import open_state, served_catch_up

    settings = Settings.from_env() if settings is None else settings
    if company is not None:
        if not company.isdigit():
            raise ConfigError(f"company must be a numeric realm id; got {company[:40]!r}")
        settings = dataclasses.replace(settings, realm_id=company)
    try:
        async with open_state(
            settings, emulator=emulator, transport=transport, limiter=limiter, clock=clock
        ) as companies:
            # recent_changes(catch_up=True) works here as under `serve`; the periodic loops
            # (worker, catch-up, event forwarding) belong to the long-running processes.
            companies.catch_up = served_catch_up(companies)
            try:
                state = await companies.pick(None, None)
            except InvalidArgumentError as exc:
                raise ConfigError(f"{exc} (open_books: give company=REALM_ID)") from None
            books = Books(state, progress=progress)
            try:
                yield books
            finally:
                books._closing.set()
    except BaseExceptionGroup as group:
        # open_state's task group wraps whatever crosses it (a bad QBO_REALM_ID, the caller's
        # own exception from the `async with` block): the caller gets the exception itself.
        raise _alone(group) from None


def _alone(group: BaseExceptionGroup[Any]) -> BaseException:
    """The one exception in `group` (however nested), else the group."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else group


# ---- the sync API --------------------------------------------------------------------------------

_OPEN: weakref.WeakSet[SyncBooks] = weakref.WeakSet()


class SyncBooks(ToolMethods):
    """`Books` for synchronous code: the same methods, blocking; safe to share between threads.

    Made by `open_books_sync`; close it with `close()` or a `with` block (books still open when
    the interpreter exits are closed then). Opened before a fork (a pre-fork server, Celery's
    prefork pool), it refuses to run in the child: open it in each worker process.
    """

    def __init__(self, opening: contextlib.AbstractAsyncContextManager[Books]) -> None:
        """Enter `opening` (an `open_books(...)`) on a new event-loop thread."""
        self._pid = os.getpid()
        self._closed = False
        self._lock = threading.Condition()
        self._running = 0  # calls in flight, which close() lets finish
        self._stack = contextlib.ExitStack()
        try:
            self._portal: BlockingPortal = self._stack.enter_context(
                start_blocking_portal(backend="asyncio", name="qb-mcp-books")
            )
            self._loop_thread = self._portal.call(threading.get_ident)
            self._books: Books = self._stack.enter_context(
                self._portal.wrap_async_context_manager(opening)
            )
        except BaseException:
            self._stack.close()
            raise
        _OPEN.add(self)

    @property
    def settings(self) -> Settings:
        """The settings the books were opened with."""
        return self._books.settings

    @property
    def source(self) -> str:
        """Which company this is: `connection`, `emulator` or `none` (see `Books.source`)."""
        return self._books.source

    def realm_id(self) -> str:
        """The company's realm id."""
        return self._run(self._books.realm_id)

    def _method(self, name: str) -> SyncMethod[Any, Any, Any]:
        return SyncMethod(self, self._books._spec(name))

    def call(
        self, name: str, arguments: BaseModel | Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> BaseModel:
        """Call the tool `name` (see `Books.call`), blocking until its result."""
        return self._run(lambda: self._books.call(name, arguments, **kwargs))

    def events(
        self,
        since: str | datetime | None = None,
        *,
        follow: bool = False,
        poll_interval: float = EVENTS_POLL_SECONDS,
    ) -> Iterator[Change]:
        """`Books.events`, blocking: a plain iterator."""
        stream = self._books.events(since, follow=follow, poll_interval=poll_interval)
        try:
            while True:
                try:
                    yield self._run(stream.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            if not self._closed:
                self._run(stream.aclose)

    def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        if os.getpid() != self._pid:
            raise ConfigError(
                "these books were opened in another process (before a fork): call "
                "open_books_sync in each worker process"
            )
        with self._lock:
            if self._closed:
                raise ConfigError("these books are closed: open them again with open_books_sync")
            self._running += 1
        try:
            if threading.get_ident() == self._loop_thread:
                # Blocking the loop on itself would never return.
                raise ConfigError(
                    "open_books_sync's methods block; from async code use open_books instead"
                )
            return self._portal.call(call)
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close the company (the emulator's state is saved) and stop the loop thread.

        New calls are refused at once, `events(follow=True)` iterators end, and calls in flight
        get up to `timeout` seconds to finish. Calling it again does nothing.
        """
        with self._lock:
            if self._closed or os.getpid() != self._pid:
                return
            self._closed = True
            self._portal.call(self._books._closing.set)  # followers end
            self._lock.wait_for(lambda: self._running == 0, timeout=timeout)
        _OPEN.discard(self)
        self._stack.close()

    def __enter__(self) -> SyncBooks:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_books_sync(
    settings: Settings | None = None,
    *,
    company: str | None = None,
    progress: Callable[[float, float | None, str | None], None] | None = None,
    emulator: Emulator | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    limiter: RealmLimiter | None = None,
    clock: Callable[[], float] = time.time,
) -> SyncBooks:
    """One company's books for synchronous code (arguments as `open_books`; `progress` is
    called on the books' loop thread); use it in a `with` block, or keep it for the process
    and call `close()` at shutdown."""
    return SyncBooks(
        open_books(
            settings,
            company=company,
            progress=progress,
            emulator=emulator,
            transport=transport,
            limiter=limiter,
            clock=clock,
        )
    )


@atexit.register
def _close_open_books() -> None:
    for books in list(_OPEN):
        with contextlib.suppress(Exception):
            books.close()
